"""Options several commands share, declared once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import typer


class Backend(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


AsOfOption = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="First day outside the run (YYYY-MM-DD); rows dated on or after it are left out. "
        "Default: the day after the latest event (never the clock).",
        show_default=False,
    ),
]
BackendOption = Annotated[
    Backend | None,
    typer.Option(
        "--backend",
        help="Engine that reads the source and computes. Default: CHURNLIGHT_BACKEND, else duckdb.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
