"""`churnlight keys new`: a fresh API key and the hash to configure."""

from __future__ import annotations

import typer

from churnlight.cli import app, console, print_json
from churnlight.options import JsonOption

keys_app = typer.Typer(help="API keys of the scoring service.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("new")
def new(as_json: JsonOption = False) -> None:
    """Print a new random key and its sha256 hash; configure only the hash."""
    from serving.auth import new_key

    key, digest = new_key()
    if as_json:
        print_json({"key": key, "hash": digest})
        return
    console.print(f"key:  {key}", highlight=False, soft_wrap=True)
    console.print(f"hash: {digest}", highlight=False, soft_wrap=True)
    console.print(
        "Give the key to the client (it is stored nowhere). Add the hash to "
        "CHURNLIGHT_API_KEYS (read) or CHURNLIGHT_ADMIN_KEYS (reload), comma-separated.",
        highlight=False,
    )
