"""`churnlight evaluate`: the evaluation table of a registered model version."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.markup import escape

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.metric_tables import ORACLE_RATIO, metric_table
from churnlight.options import JsonOption


class Kind(StrEnum):
    churn = "churn"
    expansion = "expansion"
    both = "both"


@app.command("evaluate")
@friendly_errors
def evaluate(
    model: Annotated[Kind, typer.Option("--model", help="Which model.")] = Kind.both,
    version: Annotated[
        str | None,
        typer.Option(
            "--version", help="A version number (default: the champion).", show_default=False
        ),
    ] = None,
    groups: Annotated[
        bool, typer.Option("--groups/--no-groups", help="Per segment and lifecycle stage too.")
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Print the backtest metrics (model and baselines) a registered version was trained with."""
    from training.settings import get_training_settings
    from training.versions import version_evaluation

    settings = get_training_settings()
    kinds = ["churn", "expansion"] if model == Kind.both else [model.value]
    found = {kind: version_evaluation(settings, kind, version) for kind in kinds}
    if as_json:
        print_json(found)
        return
    for entry in found.values():
        _print_version(entry, groups)


def _print_version(entry: dict[str, Any], groups: bool) -> None:
    aliases = escape(f" [{', '.join(entry['aliases'])}]") if entry["aliases"] else ""
    console.print(
        f"[bold]{entry['name']}[/bold] version {entry['version']}{aliases}: {entry['label']}, "
        f"as of {entry['as_of']}, run {entry['run_id']}"
    )
    windows = entry["evaluation"].get("windows", [])
    rows = [
        (
            [window["name"], str(window.get("test") or "-"), name],
            {**values, ORACLE_RATIO[0]: (window.get("oracle") or {}).get(f"{name}_oracle_ratio")},
        )
        for window in windows
        for name, values in window["metrics"].items()
    ]
    console.print(
        metric_table("backtest windows (latest first)", ["window", "dates", "model"], rows)
    )
    if groups and windows and windows[0].get("groups"):
        groups_rows = [
            ([row["group"], row["value"], str(row["rows"]), str(row["positives"])], row)
            for row in windows[0]["groups"]
        ]
        table = metric_table(
            f"{windows[0]['name']} per group (LightGBM)",
            ["group", "value", "rows", "positives"],
            groups_rows,
            oracle_ratio=False,
        )
        console.print(table)
    if entry.get("gate"):
        console.print(f"gate: {entry['gate']}")
