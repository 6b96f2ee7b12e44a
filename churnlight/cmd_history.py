"""`churnlight history --account A`: an account's scores over the snapshots in history."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption


@app.command("history")
@friendly_errors
def history(
    account: Annotated[str, typer.Option("--account", help="The account_id to show.")],
    as_json: JsonOption = False,
) -> None:
    """Print an account's points in the history store, oldest first (the store:
    CHURNLIGHT_HISTORY_URI, default <home>/history/history.duckdb)."""
    from serving.errors import NotInHistory
    from serving.history import HistoryStore, points_as_dicts
    from serving.settings import load_settings

    store = HistoryStore.from_settings(load_settings())
    points = points_as_dicts(store.points([account]))
    for point in points:
        point.pop("account_id", None)
    if not points:
        raise NotInHistory(account)
    if as_json:
        print_json({"account_id": account, "points": points})
        return
    table = Table(title=f"account {account}: {len(points)} point(s) in {store.display}")
    for column in ("snapshot", "churn", "tier", "expansion", "MRR", "revenue at risk", "models"):
        table.add_column(column)
    for p in points:
        table.add_row(
            p["snapshot_date"],
            f"{p['churn_probability']:.3f}",
            p["risk_tier"],
            f"{p['expansion_probability']:.3f}",
            "" if p["mrr"] is None else f"{p['mrr']:,.0f}",
            "" if p["revenue_at_risk"] is None else f"{p['revenue_at_risk']:,.0f}",
            f"{p['churn_model_version']} / {p['expansion_model_version']}",
        )
    console.print(table)
