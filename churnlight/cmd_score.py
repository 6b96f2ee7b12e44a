"""`churnlight score`: batch scores with drivers and playbooks, for CRMs and warehouses."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption
from churnlight.progress import COUNTS, progress_bar


@app.command("score")
@friendly_errors
def score(
    features: Annotated[
        Path,
        typer.Option(
            "--features",
            help="Feature table to score: written by `churnlight features`, or rewritten by "
            "pandas, DuckDB or Spark (a Parquet file or a folder of them).",
        ),
    ],
    out: Annotated[
        Path,
        typer.Option("--out", help="scores.parquet (drivers as nested lists) or scores.csv."),
    ] = Path("scores.parquet"),
    latest_only: Annotated[
        bool,
        typer.Option("--latest-only", help="Score only the latest snapshot date of the table."),
    ] = False,
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="Source whose accounts table gives csm_id (default: the source in the table's "
            "metadata, if it still exists; a csm_id column of the table wins).",
            show_default=False,
        ),
    ] = None,
    last_snapshots: Annotated[
        int | None,
        typer.Option(
            "--last-snapshots",
            min=1,
            help="Score only the N latest snapshot dates of the table.",
            show_default=False,
        ),
    ] = None,
    no_history: Annotated[
        bool,
        typer.Option(
            "--no-history",
            help="Do not record the scores in the history store (nor raise alerts).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Score every row of a feature table (one per account and snapshot date) with the
    champion models, using every core."""
    from serving.batch import score_file
    from serving.settings import load_settings

    settings = load_settings()
    with progress_bar(console, hidden=as_json, counts=COUNTS + " rows", label="scoring") as bar:
        task = bar.add_task("score", total=None)
        summary = score_file(
            features,
            out,
            settings,
            latest_only=latest_only,
            source=source,
            history=not no_history,
            last_snapshots=last_snapshots,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if as_json:
        print_json(summary.to_dict())
        return
    tiers = ", ".join(f"{k} {v:,}" for k, v in summary.tiers.items())
    console.print(
        f"[green]wrote[/green] {summary.path}: {summary.rows:,} rows "
        f"({', '.join(summary.snapshot_dates) or 'no date'}) with "
        f"{summary.churn_model_version} / {summary.expansion_model_version} "
        f"in {summary.seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"risk tiers: {tiers}; revenue at risk ${summary.revenue_at_risk:,.0f} a year",
        highlight=False,
        soft_wrap=True,
    )
    if summary.history:
        console.print(
            f"history: run {summary.history['run_id']} in {summary.history['store']}",
            highlight=False,
            soft_wrap=True,
        )
    if summary.alerts:
        a = summary.alerts
        console.print(
            f"alerts: {a['events']} event(s), {a['skipped']} sent by an earlier run, "
            f"{a['sent']} delivered, {a['dead_lettered']} dead-lettered"
            + (f" to {a['dead_letter']}" if a["dead_letter"] else ""),
            highlight=False,
            soft_wrap=True,
        )
    for note in summary.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
