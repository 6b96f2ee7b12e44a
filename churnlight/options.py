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
TuneOption = Annotated[
    int | None,
    typer.Option(
        "--tune",
        min=0,
        help="Optuna trials at most per label (0: no search, the default parameters). "
        "Default: CHURNLIGHT_TUNE_TRIALS, else 100.",
        show_default=False,
    ),
]
TimeBudgetOption = Annotated[
    float | None,
    typer.Option(
        "--time-budget",
        min=1,
        help="Seconds of hyperparameter search, shared by the labels. "
        "Default: CHURNLIGHT_TUNE_SECONDS, else 60.",
        show_default=False,
    ),
]


class GroupBy(StrEnum):
    segment = "segment"
    csm = "csm"


GroupByOption = Annotated[
    GroupBy | None,
    typer.Option("--by", help="One result per segment or per CSM.", show_default=False),
]
SegmentOption = Annotated[
    str | None, typer.Option("--segment", help="Only this segment.", show_default=False)
]
CsmOption = Annotated[
    str | None, typer.Option("--csm", help="Only this CSM (csm_id).", show_default=False)
]
SurvivalOption = Annotated[
    bool,
    typer.Option(
        "--survival/--no-survival",
        help="Also train, gate and register the time-to-churn model (churnlight-survival).",
    ),
]
