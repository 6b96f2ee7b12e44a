"""`churnlight retrain`: features as of the source's latest data, train, gate, promote or keep.

For cron, Airflow or any scheduler: prints one JSON summary on stdout. Exit 0 when the run
completed (promoted or kept), 75 (EX_TEMPFAIL) when another train or retrain holds the lock,
1 on any failure; in every non-zero case the registry and the champion are as they were."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from churnlight.cli import app, err_console, print_json
from churnlight.options import SurvivalOption, TimeBudgetOption, TuneOption
from features.errors import ChurnlightError

EXIT_LOCKED = 75


@app.command("retrain")
def retrain_command(
    source: Annotated[
        Path, typer.Option("--source", help="A folder of Parquet/CSV tables or a DuckDB file.")
    ],
    backtests: Annotated[
        int | None,
        typer.Option("--backtests", min=1, help="Rolling-origin backtest windows (default 3)."),
    ] = None,
    tune: TuneOption = None,
    time_budget: TimeBudgetOption = None,
    survival: SurvivalOption = True,
    quarantine: Annotated[
        bool,
        typer.Option(
            "--quarantine", help="Set rows breaking row-level rules aside instead of stopping."
        ),
    ] = False,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Accepted for symmetry with the other commands: the summary is always one "
            "JSON line on stdout.",
        ),
    ] = False,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            "--work-dir",
            help="Where the temporary feature table goes (default: system temp).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Retrain on a source and promote the new models only if they pass the gate."""
    from training.errors import LockedError
    from training.options import TrainOptions
    from training.retrain import retrain
    from training.settings import get_training_settings

    try:
        settings = get_training_settings()
        options = TrainOptions.from_settings(
            settings,
            backtests=backtests,
            tune_trials=tune,
            tune_seconds=time_budget,
            top_accounts=0,
            survival=survival,
        )
        job = retrain(source, settings, options, work_dir=work_dir, quarantine=quarantine)
    except LockedError as err:
        _print({"status": "locked", "error": str(err), "holder": err.holder})
        err_console.print(f"[yellow]locked:[/yellow] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_LOCKED) from err
    except ChurnlightError as err:
        _print({"status": "failed", "error": str(err), "registry": "unchanged"})
        err_console.print(f"[red]error:[/red] {err}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from err
    except Exception as err:  # MLflow, DuckDB, OS...: the scheduler still gets its summary line
        error = f"{type(err).__name__}: {err}"
        _print({"status": "failed", "error": error, "registry": "unchanged"})
        err_console.print_exception()
        raise typer.Exit(1) from err
    _print(job.payload)


def _print(payload: dict) -> None:
    # One line, so that log collectors and Airflow's XCom (the last line) get it whole.
    print_json(payload)
