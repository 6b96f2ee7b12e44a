"""`churnlight keys new`: a fresh API key and the entry to configure (its hash, named)."""

from __future__ import annotations

from typing import Annotated

import typer

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption

keys_app = typer.Typer(help="API keys of the scoring service.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("new")
@friendly_errors
def new(
    name: Annotated[
        str | None,
        typer.Option(
            help="who uses the key (crm, warehouse): in the access log, the metrics and the "
            "per-key limits"
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print a new random key and the entry to configure ([name:]sha256:<hex>); configure
    only the entry."""
    from serving.auth import new_key, split_entry

    key, entry = new_key(name)
    digest = split_entry(entry)[1]
    if as_json:
        print_json({"key": key, "hash": digest, "entry": entry})
        return
    console.print(f"key:   {key}", highlight=False, soft_wrap=True)
    console.print(f"entry: {entry}", highlight=False, soft_wrap=True)
    console.print(
        "Give the key to the client (it is stored nowhere). Add the entry to "
        "CHURNLIGHT_API_KEYS (read) or CHURNLIGHT_ADMIN_KEYS (reload), comma-separated.",
        highlight=False,
    )
