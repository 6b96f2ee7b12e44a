"""CLI tests render rich tables: give the shared consoles a fixed, wide width.

Rich reads COLUMNS once, when a Console is created (at import of churnlight.cli), so an
env passed to CliRunner.invoke cannot widen it afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from churnlight import cli


@pytest.fixture(autouse=True)
def wide_consoles() -> Iterator[None]:
    saved = cli.console.width, cli.err_console.width
    cli.console.width = cli.err_console.width = 250
    yield
    cli.console.width, cli.err_console.width = saved
