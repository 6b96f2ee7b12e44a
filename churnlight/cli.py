"""`churnlight`: one command per stage. A command parses, calls one library function, prints.

Project errors become a red message and exit code 1, never a traceback."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from features.errors import ChurnlightError
from features.json_encoding import json_default

app = typer.Typer(
    name="churnlight",
    help="Churn and expansion scores, their reasons and the plays that fit, for B2B SaaS CS teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
PIPED_WIDTH = 120
"""Width of output that is not a terminal (make, CI logs, a file): rich's 80 columns fold
the metric tables; COLUMNS still wins when set."""


def _console(stderr: bool = False) -> Console:
    out = Console(stderr=stderr)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out.width = PIPED_WIDTH
    return out


console = _console()
err_console = _console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


def print_json(payload: Any) -> None:
    """``--json`` output: one line of JSON on stdout (jsonl-safe: a log collector or an
    Airflow XCom reads it whole), never rich's pretty print."""
    typer.echo(json.dumps(payload, default=json_default, separators=(",", ":")))


def friendly_errors(fn: F) -> F:
    """Turn the project's errors into a red message and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChurnlightError as err:
            # escape: a value quoted in the message ("[beta] plan") is text, not rich markup
            err_console.print(
                f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from err

    return wrapper  # type: ignore[return-value]


def _print_version(value: bool) -> None:
    if not value:
        return
    from features.installation import package_version
    from features.settings import get_store_settings

    try:
        state = get_store_settings().state()
    except ChurnlightError as err:
        err_console.print(f"[red]error:[/red] {escape(str(err))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from err
    console.print(f"churnlight {package_version()}", highlight=False)
    console.print(f"state: {state.home} (from {state.home_from})", highlight=False, soft_wrap=True)
    raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_print_version,
            is_eager=True,
            help="Print the version and where the state lives (CHURNLIGHT_HOME), then exit.",
        ),
    ] = False,
) -> None:
    pass


def _register() -> None:
    # Each command lives in its own module and registers itself on `app`.
    from churnlight import (  # noqa: F401
        cmd_alerts,
        cmd_book,
        cmd_evaluate,
        cmd_features,
        cmd_forecast,
        cmd_history,
        cmd_info,
        cmd_keys,
        cmd_monitor,
        cmd_plays,
        cmd_retrain,
        cmd_score,
        cmd_serve,
        cmd_simulate,
        cmd_train,
        cmd_validate,
    )


_register()
