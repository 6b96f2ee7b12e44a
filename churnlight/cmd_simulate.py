"""`churnlight simulate`: write a synthetic B2B SaaS source with its ground truth."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption
from churnlight.progress import COUNTS, progress_bar

if TYPE_CHECKING:
    from simulator.run import SimulationSummary

STEP_NAMES = {
    "accounts": "accounts and events",
    "labels": "labels",
    "oracle": "oracle rollouts",
    "play effects": "play effect rollouts",
}


@app.command("simulate")
@friendly_errors
def simulate_command(
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder to write the tables (<table>.parquet) and _truth/ to."),
    ],
    accounts: Annotated[
        int, typer.Option("--accounts", help="Number of customer accounts.")
    ] = 1000,
    months: Annotated[int, typer.Option("--months", help="Months of history (at least 4).")] = 24,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same files.")] = 0,
    start: Annotated[
        datetime,
        typer.Option(
            "--start", formats=["%Y-%m-%d"], help="First day of history, a first of a month."
        ),
    ] = datetime(2023, 1, 1),
    oracle_rows: Annotated[
        int,
        typer.Option("--oracle-rows", help="(account, snapshot) rows given oracle probabilities."),
    ] = 3000,
    rollouts: Annotated[
        int, typer.Option("--rollouts", help="Monte-Carlo rollouts per oracle row.")
    ] = 300,
    event_scale: Annotated[
        float, typer.Option("--event-scale", help="Multiplies every product-usage event rate.")
    ] = 1.0,
    truth: Annotated[
        bool,
        typer.Option(
            "--truth/--no-truth", help="Write _truth/ (labels, oracle, latent state, rates)."
        ),
    ] = True,
    plays: Annotated[
        bool,
        typer.Option(
            "--plays/--no-plays",
            help="CSMs run plays with true effects (activities.play; _truth/play_*.parquet); "
            "--no-plays simulates the world without them.",
        ),
    ] = True,
    regime_switch: Annotated[
        str | None,
        typer.Option(
            "--regime-switch",
            metavar="START[:MONTHS[:LIFT]]",
            help="A bad spell: from START (a first of a month) for MONTHS months (3), every "
            "account's churn log-odds at a term end rise by LIFT (1.0). E.g. 2025-03-01:3:1.0.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Simulate a B2B SaaS business: every contract table as Parquet, deterministic per seed,
    with churn and expansion driven by a latent account state, and its ground truth."""
    # Imported here: the simulator brings pandas, which no other command needs to start.
    from features.errors import ConfigError
    from simulator.config import make_config
    from simulator.play_catalog import PlayPolicy
    from simulator.run import simulate
    from simulator.shifts import parse_regime_switch

    switch = None
    if regime_switch is not None:
        try:
            switch = parse_regime_switch(regime_switch)
        except ValueError as err:
            raise ConfigError(f"--regime-switch {regime_switch!r}: {err}") from None
        if switch.start.day != 1 or switch.start <= start.date():
            raise ConfigError(
                f"--regime-switch {regime_switch!r}: the spell must start on the first of a "
                f"month after --start {start.date()}"
            )
    config = make_config(
        accounts=accounts,
        months=months,
        seed=seed,
        start_date=start.date(),
        oracle_rows=oracle_rows,
        oracle_rollouts=rollouts,
        event_rate_scale=event_scale,
        plays=PlayPolicy() if plays else None,
        regime_switch=switch,
    )
    with progress_bar(console, hidden=as_json, counts=COUNTS) as bar:
        tasks: dict[str, TaskID] = {}

        def report(step: str, done: int, total: int) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(f"simulate: {STEP_NAMES.get(step, step)}", total=total)
            bar.update(tasks[step], completed=done, total=total)

        summary = simulate(config, out, progress=report, with_truth=truth)
    if as_json:
        print_json(summary.to_dict())
        return
    _print_summary(summary)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_summary(summary: SimulationSummary) -> None:
    console.print(
        f"[green]wrote[/green] {summary.out_dir}: {summary.accounts:,} accounts x "
        f"{summary.months} months, {summary.events:,} events "
        f"({summary.events_per_second:,.0f}/s), as of {summary.as_of}, {summary.seconds:.1f} s"
    )
    rows = Table(title="tables", show_header=True)
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, count in summary.rows.items():
        rows.add_row(name, f"{count:,}")
    console.print(rows)
    truth = summary.truth
    if truth is None:
        return
    rates = Table(title="ground truth (_truth/)", show_header=True)
    rates.add_column("measure")
    rates.add_column("value", justify="right")
    rates.add_column("target", justify="right")
    years = f" ({truth.years_measured} year(s))"
    rates.add_row("annual logo churn" + years, _pct(truth.annual_churn), "10-20%")
    for segment, value in truth.annual_churn_by_segment.items():
        rates.add_row(f"  {segment}", _pct(value), "SMB highest")
    rates.add_row("accounts expanding per year", _pct(truth.annual_expansion_share), "15-25%")
    rates.add_row("churn_180d label rate", _pct(truth.churn_label_rate), "")
    rates.add_row("expand_180d label rate", _pct(truth.expand_label_rate), "")
    rates.add_row(
        f"oracle churn ROC-AUC ({truth.oracle_rows:,} rows x {truth.oracle_rollouts} rollouts)",
        _num(truth.oracle_churn_auc),
        "0.80-0.92",
    )
    rates.add_row("oracle expansion ROC-AUC", _num(truth.oracle_expand_auc), "")
    rates.add_row("labels: chain vs features.build_labels", f"{truth.label_mismatches} differ", "0")
    if summary.play_truth is not None:
        plays = summary.play_truth
        rates.add_row("play runs (activities.play)", f"{plays.runs:,}", "")
        rates.add_row(
            f"play effects: treated rows, sampled rows x {plays.rollouts} rollouts",
            f"{plays.treated_rows:,}, {plays.sample_rows:,}",
            "",
        )
    console.print(rates)
