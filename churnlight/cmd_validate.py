"""`churnlight validate`: check a source against the data contract and print the report."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.known_plays import known_play_ids
from churnlight.options import AsOfOption, BackendOption, JsonOption
from features.errors import ValidationError
from features.sources import open_source
from features.validation import validate_source
from features.validation_report import ValidationReport


@app.command("validate")
@friendly_errors
def validate(
    source: Annotated[
        Path,
        typer.Argument(
            help="A folder of <table>.parquet / <table>.csv files, or a DuckDB database file.",
            show_default=False,
        ),
    ],
    as_of: AsOfOption = None,
    quarantine_dir: Annotated[
        Path | None,
        typer.Option(
            "--quarantine-dir",
            help="Write rows that break row-level rules to DIR/<table>.parquet (with a _reason "
            "column) and go on without them, instead of stopping.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a source against the data contract and report every problem at once.

    Exits 1 when a problem stops the run (see docs/validation.md). Activities naming a
    play the playbook library does not know are a warning, not a stop."""
    src = open_source(source, backend=backend.value if backend else None)
    try:
        # A spinner while the tables are read (they may hold 10^8 rows); none under --json.
        status = console.status(f"validating {src.location}") if not as_json else nullcontext()
        with status:
            validated = validate_source(
                src,
                as_of=as_of.date() if as_of else None,
                quarantine_dir=quarantine_dir,
                known_plays=known_play_ids(),
            )
    except ValidationError as err:
        if not isinstance(err.report, ValidationReport):
            raise
        _print_report(err.report, as_json)
        raise typer.Exit(1) from err
    _print_report(validated.report, as_json)


def _print_report(report: ValidationReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_dict())
        return
    if report.problems:
        problems = Table(title="Problems", title_justify="left")
        for name in ("table", "column", "rule"):
            problems.add_column(name)
        problems.add_column("rows", justify="right")
        problems.add_column("stops the run")
        problems.add_column("examples")
        for p in report.problems:
            problems.add_row(
                p.table,
                p.column or "-",
                escape(p.rule),
                str(p.rows),
                "[red]yes[/red]" if p.fatal else ("no, quarantined" if report.ok else "no"),
                escape(", ".join(p.examples)),
            )
        console.print(problems)

    summary = Table(title="Tables", title_justify="left")
    summary.add_column("table")
    for name in ("rows read", "invalid", "after as-of", "quarantined", "kept"):
        summary.add_column(name, justify="right")
    for name, counts in report.tables.items():
        summary.add_row(
            name,
            str(counts.rows_read),
            str(counts.rows_invalid),
            str(counts.rows_after_as_of),
            str(counts.rows_quarantined),
            str(counts.rows_kept) if report.ok else "-",
        )
    console.print(summary)
    if report.absent_tables:
        console.print(f"optional tables absent: {', '.join(report.absent_tables)}")
    if report.quarantine_dir is not None and any(
        c.rows_quarantined for c in report.tables.values()
    ):
        console.print(f"quarantined rows written to {report.quarantine_dir}/<table>.parquet")
    console.print(
        report.verdict(),
        style="green" if report.ok else "red",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
