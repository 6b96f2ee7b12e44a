"""`churnlight forecast`: the book's next 3, 6 and 12 months from scored accounts."""

from __future__ import annotations

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


@app.command("forecast")
@friendly_errors
def forecast(
    source: Annotated[
        Path, typer.Option("--source", help="Source folder or DuckDB file (the book's history).")
    ],
    scores: Annotated[
        Path,
        typer.Option(
            "--scores", help="Score table written by `churnlight score` (its newest snapshot)."
        ),
    ],
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

    from features.errors import SourceError
    from serving.book import read_book
    from serving.book_forecast import HORIZONS, forecast_book

    if not scores.exists():
        raise SourceError(f"score table {str(scores)!r} does not exist; write it with `score`")
    try:
        table = pd.read_parquet(scores)
    except Exception as err:  # pyarrow raises several kinds for a file that is not Parquet
        raise SourceError(f"cannot read score table {str(scores)!r} as Parquet: {err}") from err
    book = read_book(
        source, as_of=as_of.date() if as_of else None, backend=backend.value if backend else None
    )
    result = forecast_book(
        book,
        table,
        horizons=horizon or HORIZONS,
        by=by.value if by else None,
        segment=segment,
        csm=csm,
        simulations=simulations,
        seed=seed,
    )
    if as_json:
        print_json(result)
        return
    console.print(
        f"[bold]forecast[/bold] of the book scored on {result['snapshot_date']} (history as of "
        f"{result['as_of']}; shared churn shock sd {result['shock_sd']:.2f}); the intervals "
        "are not yet checked on backtests",
        highlight=False,
    )
    for h in result["horizons"]:
        for group in h["groups"]:
            console.print(_render(h["months"], group))


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
