"""`churnlight serve`: the scoring API over the latest snapshot of a source or feature table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from churnlight.cli import app, console, err_console, friendly_errors
from features.errors import ConfigError


@app.command("serve")
@friendly_errors
def serve(
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            help="Source whose --latest-only features are built and scored on load.",
            show_default=False,
        ),
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="Feature table whose latest snapshot is scored (instead of --source).",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="Interface to listen on. Default: CHURNLIGHT_HOST, else 127.0.0.1."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port. Default: CHURNLIGHT_PORT, else 8000."),
    ] = None,
    demo_key: Annotated[
        bool,
        typer.Option(
            "--demo-key",
            help="Create a read key for this run only and print a curl line that uses it.",
        ),
    ] = False,
) -> None:
    """Serve churn and expansion scores with their reasons and playbooks (HTTP API)."""
    from serving.auth import new_key
    from serving.cache import ServingState
    from serving.server import serve as run
    from serving.settings import load_settings

    if source is not None and features is not None:
        raise ConfigError("give --source or --features, not both")
    for path in (source, features):
        if path is not None and not path.exists():
            raise ConfigError(f"{str(path)!r} does not exist")
    settings = load_settings(
        source=source.resolve() if source else None,
        features=features.resolve() if features else None,
        host=host,
        port=port,
    )
    if settings.source is None and settings.features is None:
        raise ConfigError("give --source SRC or --features FILE (or CHURNLIGHT_SOURCE / _FEATURES)")
    key = None
    if demo_key:
        key, entry = new_key("demo")
        settings = settings.model_copy(update={"api_keys": [*settings.api_keys, entry]})
    elif not settings.api_keys and not settings.admin_keys:
        err_console.print(
            "[yellow]no API keys configured:[/yellow] every /v1 request will get 401; "
            "create one with `churnlight keys new` and set CHURNLIGHT_API_KEYS",
            highlight=False,
            soft_wrap=True,
        )
    base = f"http://{settings.host}:{settings.port}"
    what = f"source {settings.source}" if settings.source else f"features {settings.features}"
    console.print(
        f"serving {what} on {base} (docs: {base}/docs); loading the champion models...",
        highlight=False,
        soft_wrap=True,
    )

    def ready(state: ServingState) -> None:
        order = state.portfolio.orders["revenue_at_risk"]
        account = state.portfolio.batch.account_id[order[0]] if len(order) else "ACCOUNT_ID"
        console.print(
            f"[green]ready[/green]: {state.portfolio.batch.n:,} accounts of "
            f"{state.snapshot_date}, {state.churn.version} / {state.expansion.version}, "
            f"built in {state.seconds['total']:.1f} s",
            highlight=False,
            soft_wrap=True,
        )
        bearer = key or "$CHURNLIGHT_KEY"
        console.print(
            f"try: curl -s -H 'Authorization: Bearer {bearer}' {base}/v1/accounts/{account}",
            highlight=False,
            soft_wrap=True,
        )
        if state.history is not None:
            console.print(
                f"history: {len(state.history.snapshots)} snapshot(s) "
                f"({', '.join(state.history.snapshots[-3:])}); try {base}/v1/accounts/"
                f"{account}/history and {base}/v1/movers?limit=5",
                highlight=False,
                soft_wrap=True,
            )
        elif state.history_error:
            err_console.print(
                f"[yellow]history not recorded:[/yellow] {state.history_error}",
                highlight=False,
                soft_wrap=True,
            )
        sign_in = f"the API key {key}" if key else "a read key (`churnlight keys new`)"
        console.print(
            f"web pages: open {base}/ui and sign in with {sign_in}",
            highlight=False,
            soft_wrap=True,
        )

    def failed(error: BaseException) -> None:
        err_console.print(
            f"[red]models not loaded:[/red] {error}\nthe API answers 503 until "
            "POST /v1/admin/reload succeeds (or the next refresh finds the models)",
            highlight=False,
            soft_wrap=True,
        )

    run(settings, on_ready=ready, on_error=failed)
