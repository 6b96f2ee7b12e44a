"""`churnlight forecast`: the book's next 3, 6 and 12 months from scored accounts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import (
    AsOfOption,
    BackendOption,
    CsmOption,
    GroupByOption,
    JsonOption,
    SegmentOption,
)
from churnlight.progress import COUNTS, progress_bar


@app.command("forecast")
@friendly_errors
def forecast(
    source: Annotated[
        Path, typer.Option("--source", help="Source folder or DuckDB file (the book's history).")
    ],
    scores: Annotated[
        Path | None,
        typer.Option(
            "--scores",
            help="Score table written by `churnlight score` (its newest snapshot).",
            show_default=False,
        ),
    ] = None,
    backtest: Annotated[
        int | None,
        typer.Option(
            "--backtest",
            min=1,
            help="Replay N monthly as-of dates (models and features of each date only), "
            "report coverage and errors, and write the interval calibration.",
            show_default=False,
        ),
    ] = None,
    calibration: Annotated[
        Path | None,
        typer.Option(
            "--calibration",
            help="Interval calibration to write (--backtest) or to correct the intervals "
            "with. Default: the serving setting forecast_calibration.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int, typer.Option("--jobs", min=1, help="Backtest windows run at once (threads).")
    ] = 2,
    survival: Annotated[
        bool,
        typer.Option(
            "--survival/--no-survival",
            help="Backtest: fit a survival model per window and use its churn curve (about "
            "1.5 times the time); default: the 180-day score at the renewal dates.",
        ),
    ] = False,
    horizon: Annotated[
        list[int] | None,
        typer.Option("--horizon", min=1, max=24, help="Months ahead (repeat). Default: 3, 6, 12."),
    ] = None,
    by: GroupByOption = None,
    segment: SegmentOption = None,
    csm: CsmOption = None,
    simulations: Annotated[
        int, typer.Option("--simulations", min=100, help="Simulated futures.")
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation.")] = 0,
    as_of: AsOfOption = None,
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Expected churned, contracted and expanded MRR, ending MRR, GRR and NRR of the scored
    book over the next months, with 80% and 90% intervals, beside the trailing 3-month
    average and the plain sum of per-account expectations. Method: docs/forecast.md."""
    import pandas as pd

    from features.errors import ConfigError, SourceError
    from serving.book import read_book
    from serving.book_forecast import HORIZONS, OutlookRequest, forecast_book, read_calibration
    from serving.settings import get_serving_settings

    calibration_path = calibration or get_serving_settings().forecast_calibration
    if backtest is not None:
        _backtest(
            source,
            backtest,
            calibration_path,
            horizon or HORIZONS,
            as_of,
            backend,
            simulations,
            seed,
            jobs,
            as_json,
            survival,
        )
        return
    if survival:
        raise ConfigError(
            "--survival is an option of --backtest N; a forecast of --scores uses the curve "
            "columns the score table carries (churnlight score writes them when a survival "
            "model is registered)"
        )
    if scores is None:
        raise ConfigError("give --scores (a score table) to forecast, or --backtest N")
    if not scores.exists():
        raise SourceError(f"score table {str(scores)!r} does not exist; write it with `score`")
    try:
        table = pd.read_parquet(scores)
    except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
        raise SourceError(f"cannot read score table {str(scores)!r} as Parquet: {err}") from err
    book = read_book(
        source, as_of=as_of.date() if as_of else None, backend=backend.value if backend else None
    )
    request = OutlookRequest(
        horizons=horizon or HORIZONS,
        by=by.value if by else None,
        segment=segment,
        csm=csm,
        simulations=simulations,
        seed=seed,
        calibration=read_calibration(calibration_path),
    )
    result = forecast_book(book, table, request)
    if as_json:
        print_json(result)
        return
    checked = (
        f"intervals corrected on {result['backtest_windows']} backtest windows"
        if result["intervals_backtested"]
        else "the intervals are not checked on backtests (run --backtest N)"
    )
    console.print(
        f"[bold]forecast[/bold] of the book scored on {result['snapshot_date']} (history as of "
        f"{result['as_of']}; shared churn shock sd {result['shock_sd']:.2f}); churn timing: "
        f"{result['churn_timing']}; {checked}",
        highlight=False,
    )
    for h in result["horizons"]:
        for group in h["groups"]:
            console.print(_render(h["months"], group))


def _backtest(
    source: Path,
    windows: int,
    calibration_path: Path,
    horizons: Sequence[int],
    as_of: datetime | None,
    backend: Any,
    simulations: int,
    seed: int,
    jobs: int,
    as_json: bool,
    survival: bool = False,
) -> None:

    from forecast.timing import RENEWALS, SURVIVAL
    from serving.book_forecast import write_calibration
    from training.forecast_backtest import run_backtest

    with progress_bar(console, hidden=as_json or not console.is_terminal, counts=COUNTS) as bar:
        task = bar.add_task("backtest windows", total=windows)
        result = run_backtest(
            source,
            windows,
            calibration_path.parent / "cache",
            horizons=horizons,
            as_of=as_of.date() if as_of else None,
            backend=backend.value if backend else None,
            simulations=min(simulations, 1000),
            seed=seed,
            jobs=jobs,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            timing=SURVIVAL if survival else RENEWALS,
        )
    write_calibration(result.calibration, calibration_path)
    if as_json:
        print_json(result.report)
        return
    dates = result.calibration.facts.get("as_of", [])
    console.print(
        f"[bold]backtest[/bold] of {result.report['windows']} monthly as-of dates "
        f"({dates[0]} to {dates[-1]}); calibration written to {calibration_path}",
        highlight=False,
    )
    table = Table()
    for column in (
        "months",
        "level",
        "coverage",
        "raw",
        *[f"cov {s}" for s in _segments(result.report)],
        "MAE churned",
        "trailing",
        "sum of p",
        "MAE NRR",
        "trailing",
        "sum of p",
    ):
        table.add_column(column, justify="right")
    for h in result.report["horizons"]:
        for level in ("0.8", "0.9"):
            first = level == "0.8"
            table.add_row(
                str(h["months"]) if first else "",
                f"{float(level):.0%}",
                _percent(h["coverage"][level]),
                _percent(h["coverage_raw"][level]),
                *[_percent(v[level]) for v in h["coverage_by_segment"].values()],
                _money(h["mae_churned_mrr"]) if first else "",
                _money(h["baseline_mae_churned_mrr"]) if first else "",
                _money(h["expectations_mae_churned_mrr"]) if first else "",
                _points(h["mae_nrr"]) if first else "",
                _points(h["baseline_mae_nrr"]) if first else "",
                _points(h["expectations_mae_nrr"]) if first else "",
            )
    console.print(table)


def _segments(report: dict[str, Any]) -> list[str]:
    return list(report["horizons"][0]["coverage_by_segment"]) if report["horizons"] else []


def _points(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f} pt"


def _render(months: int, group: dict[str, Any]) -> Table:
    name = f" — {group['group']}" if group["group"] else ""
    table = Table(
        title=escape(
            f"next {months} months{name}: {group['accounts']:,} accounts, "
            f"{group['start_mrr']:,.0f} MRR now"
        )
    )
    for column in ("", "expected", "80% interval", "90% interval", "trailing 3m", "sum of p"):
        table.add_column(column, justify="left" if not column else "right")
    base = group["baselines"]
    for key, label, ratio in (
        ("churned", "churned MRR", False),
        ("contraction", "contraction", False),
        ("expansion", "expansion", False),
        ("end_mrr", "ending MRR", False),
        ("grr", "GRR", True),
        ("nrr", "NRR", True),
    ):
        fmt = _percent if ratio else _money
        value = group[key]
        table.add_row(
            label,
            fmt(value["expected"]),
            f"{fmt(value['0.8'][0])} - {fmt(value['0.8'][1])}",
            f"{fmt(value['0.9'][0])} - {fmt(value['0.9'][1])}",
            fmt(base["trailing_3m"][key]),
            fmt(base["sum_of_expectations"][key]),
        )
    return table


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
