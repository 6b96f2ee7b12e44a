"""`churnlight book`: the book's monthly MRR movements, GRR and NRR, from a source."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    import pandas as pd


@app.command("book")
@friendly_errors
def book(
    source: Annotated[
        Path, typer.Option("--source", help="Source folder or DuckDB file (the data contract).")
    ],
    by: GroupByOption = None,
    segment: SegmentOption = None,
    csm: CsmOption = None,
    months: Annotated[
        int, typer.Option("--months", min=0, help="Newest whole months shown (0: all).")
    ] = 12,
    grace_days: Annotated[
        int, typer.Option("--grace-days", min=0, help="Days without cover before a churn.")
    ] = 30,
    as_of: AsOfOption = None,
    backend: BackendOption = None,
    as_json: JsonOption = False,
) -> None:
    """Monthly MRR movements of the book (new, expansion, contraction, churned, reactivated),
    gross and net revenue retention and logo churn, overall or per segment or CSM.
    Definitions: docs/forecast.md."""
    from serving.book import read_book

    group = by.value if by else None
    read = read_book(
        source,
        as_of=as_of.date() if as_of else None,
        grace_days=grace_days,
        backend=backend.value if backend else None,
    )
    table = read.movements(by=group, segment=segment, csm=csm, months=months or None)
    if as_json:
        print_json(read.to_dict(table, group))
        return
    title = f"MRR movements as of {read.as_of} (grace {read.grace_days} days)"
    if segment or csm:
        title += " — " + ", ".join(
            f"{name} {value}" for name, value in (("segment", segment), ("csm", csm)) if value
        )
    if group is None:
        console.print(_render(table, title))
    for name in [] if group is None else sorted(table["group"].unique()):
        console.print(_render(table[table["group"] == name], f"{title} — {group} {name}"))
    if table["provisional"].any():
        console.print(
            f"* provisional: the month ended less than {read.grace_days} days before the as-of "
            "date, so a lapse in it may still be closed by a late renewal",
            highlight=False,
        )


def _render(rows: pd.DataFrame, title: str) -> Table:
    table = Table(title=escape(title))
    headers = ("month", "start", "new", "expansion", "contraction", "churned", "reactivated")
    for header in (*headers, "end", "GRR", "NRR", "logo churn"):
        table.add_column(header, justify="left" if header == "month" else "right")
    for r in rows.itertuples(index=False):
        mark = "*" if r.provisional else ""
        table.add_row(
            f"{r.month:%Y-%m}{mark}",
            *(f"{getattr(r, c):,.0f}" for c in ("start_mrr", "new", "expansion", "contraction")),
            *(f"{getattr(r, c):,.0f}" for c in ("churned", "reactivated", "end_mrr")),
            *(_percent(getattr(r, c)) for c in ("grr", "nrr", "logo_churn_rate")),
        )
    return table


def _percent(value: float) -> str:
    return "-" if value != value else f"{value:.1%}"
