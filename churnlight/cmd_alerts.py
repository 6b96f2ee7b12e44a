"""`churnlight alerts test|replay`: check the webhooks, re-send what failed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption
from features.errors import ConfigError

alerts_app = typer.Typer(help="Webhook alerts (CHURNLIGHT_ALERTS_FILE).", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("test")
@friendly_errors
def test(as_json: JsonOption = False) -> None:
    """Send a sample tier_entered event to every subscription of the alerts file, now."""
    from serving.delivery import Policy, load_configured_alerts, send_test
    from serving.settings import load_settings

    settings = load_settings()
    config = load_configured_alerts(settings)
    if config is None or not config.subscriptions:
        raise ConfigError(
            "no subscriptions: set CHURNLIGHT_ALERTS_FILE to a YAML file of subscriptions "
            "(see docs/api.md, 'Webhook alerts')"
        )
    results = send_test(config, Policy.from_settings(settings))
    if as_json:
        print_json({"results": results})
    else:
        for r in results:
            outcome = "[green]ok[/green]" if r["ok"] else f"[red]failed[/red]: {escape(r['error'])}"
            console.print(
                f"{r['subscription_id']} {r['url']}: {outcome} ({r['attempts']} attempt(s))",
                highlight=False,
                soft_wrap=True,
            )
    if not all(r["ok"] for r in results):
        raise typer.Exit(1)


@alerts_app.command("replay")
@friendly_errors
def replay(
    dead_letter: Annotated[
        Path | None,
        typer.Option(
            "--dead-letter",
            help="The dead-letter JSONL (default: CHURNLIGHT_ALERTS_DEAD_LETTER, else "
            "<home>/history/alerts-dead-letter.jsonl).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-send every alert of the dead-letter file; the file keeps what fails again."""
    from serving.delivery import Policy
    from serving.delivery import replay as run_replay
    from serving.settings import load_settings

    settings = load_settings()
    path = dead_letter or settings.resolved_dead_letter()
    summary = run_replay(path, Policy.from_settings(settings))
    if as_json:
        print_json(summary.to_dict())
    else:
        console.print(
            f"{path}: {summary.sent} sent, {summary.failed} failed again, {summary.left} left",
            highlight=False,
            soft_wrap=True,
        )
    if summary.failed:
        raise typer.Exit(1)
