"""`churnlight features`: build the point-in-time feature table of a source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.known_plays import known_play_ids
from churnlight.options import AsOfOption, BackendOption, JsonOption
from churnlight.progress import COUNTS, progress_bar, step_reporter
from features.errors import ConfigError, ValidationError
from features.null_features import group_by_cause
from features.pipeline import FeatureOptions, build_features
from features.snapshots import parse_snapshot_dates
from features.transforms import all_feature_specs
from features.validation import ValidationReport


@app.command("features")
@friendly_errors
def features(
    source: Annotated[
        Path | None,
        typer.Option(
            "--source", help="A folder of Parquet/CSV tables or a DuckDB file.", show_default=False
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", help="Parquet file to write; metadata goes to <name>.meta.json."),
    ] = Path("features.parquet"),
    as_of: AsOfOption = None,
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, help="Label horizon H in days.")
    ] = 180,
    grace_days: Annotated[
        int, typer.Option("--grace-days", min=0, help="Days without coverage that make a churn.")
    ] = 30,
    snapshots: Annotated[
        str,
        typer.Option(
            "--snapshots",
            help="'monthly' (first of each month), 'weekly' (Mondays), "
            "or comma-separated dates YYYY-MM-DD.",
        ),
    ] = "monthly",
    latest_only: Annotated[
        bool, typer.Option("--latest-only", help="Only the as-of snapshot (for scoring).")
    ] = False,
    backend: BackendOption = None,
    quarantine: Annotated[
        bool,
        typer.Option(
            "--quarantine",
            help="Write rows breaking row-level rules to "
            "<out>.quarantine/ and go on, instead of stopping.",
        ),
    ] = False,
    describe: Annotated[
        bool, typer.Option("--describe", help="Print every feature's metadata and exit.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Build the feature table: one row per account active on each snapshot date."""
    if describe:
        _describe(as_json)
        return
    if source is None:
        raise ConfigError("give --source (a folder of tables or a DuckDB file), or --describe")
    chosen: str | list = snapshots
    if snapshots not in ("monthly", "weekly"):
        chosen = parse_snapshot_dates(snapshots.split(","))
    options = FeatureOptions(
        as_of=as_of.date() if as_of else None,
        horizon_days=horizon_days,
        grace_days=grace_days,
        snapshots=chosen,
        latest_only=latest_only,
        known_plays=known_play_ids(),
    )
    with progress_bar(console, hidden=as_json or not console.is_terminal, counts=COUNTS) as bar:
        task = bar.add_task("validating source", total=None)
        report = step_reporter(bar, task, "features: ")

        try:
            summary = build_features(
                source,
                out,
                options,
                backend=backend.value if backend else None,
                quarantine=quarantine,
                progress=report,
            )
        except ValidationError as err:
            raise ValidationError(_refusal(source, err.report), err.report) from err
    if as_json:
        payload = {k: v for k, v in summary.facts.items() if k != "features"}
        payload["path"] = str(summary.path)
        print_json(payload)
        return
    console.print(
        f"[green]wrote[/green] {summary.path}: {summary.rows:,} rows x {summary.features} "
        f"features, {summary.snapshots} snapshot(s), as of {summary.as_of}",
        soft_wrap=True,
    )
    for warning in summary.facts["validation_warnings"]:
        console.print(
            f"[yellow]warning[/yellow]: {warning['table']}.{warning['column']}: "
            f"{warning['rows']:,} row(s) break '{warning['rule']}' "
            f"(e.g. {', '.join(warning['examples'])})",
            highlight=False,
            soft_wrap=True,  # one warning, one line, whatever the terminal's width
        )
    if summary.rows_quarantined:
        console.print(
            f"[yellow]{summary.rows_quarantined:,} row(s) quarantined[/yellow] in "
            f"{summary.facts['quarantine_dir']}"
        )
    if summary.rows_after_as_of:
        console.print(
            f"{summary.rows_after_as_of:,} row(s) dated on or after the as-of date left out"
        )
    if summary.null_features:
        console.print(
            f"[yellow]{len(summary.null_features)} of {summary.features} features are null "
            "on every row[/yellow] (they carry nothing in this source):",
            highlight=False,
        )
        for cause, names in group_by_cause(summary.null_features):
            console.print(f"  {cause}: {', '.join(names)}", highlight=False, soft_wrap=True)
    timing = ", ".join(f"{k} {v:.1f}s" for k, v in summary.seconds_per_step.items())
    console.print(f"seconds per step: {timing}", soft_wrap=True)


SHOWN_PROBLEMS = 3


def _refusal(source: Path, report: object) -> str:
    """A source that breaks the contract, in one line: its first problems and what to run
    next (`validate` lists every problem with examples)."""
    if not isinstance(report, ValidationReport):
        return f"source '{source}' breaks the data contract; run `churnlight validate {source}`"
    problems = report.fatal_problems
    parts = []
    for p in problems[:SHOWN_PROBLEMS]:
        where = p.table if p.column is None else f"{p.table}.{p.column}"
        parts.append(f"{where}: {p.rule}" + (f", {p.rows} row(s)" if p.column and p.rows else ""))
    if len(problems) > SHOWN_PROBLEMS:
        parts.append(f"and {len(problems) - SHOWN_PROBLEMS} more")
    hint = f"`churnlight validate {source}` lists them with examples"
    if any(p.quarantinable for p in problems):
        hint += "; --quarantine sets rows breaking row-level rules aside"
    return f"source '{source}' breaks the data contract; rule(s) broken: {'; '.join(parts)}; {hint}"


def _describe(as_json: bool) -> None:
    specs = all_feature_specs()
    if as_json:
        print_json([spec.to_dict() for spec in specs])
        return
    table = Table(title=f"{len(specs)} features")
    for column in ("name", "family", "role", "signal", "unit", "description", "plain words"):
        table.add_column(column, overflow="fold")
    for spec in specs:
        name = f"[bold]{spec.name}[/bold]" if spec.canonical else spec.name
        table.add_row(
            name,
            spec.family,
            spec.role,
            spec.signal,
            spec.unit,
            spec.description,
            spec.template,
        )
    console.print(table)
