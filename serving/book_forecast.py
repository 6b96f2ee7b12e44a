"""The book's forecast from scored accounts (``forecast.outlook``), with the interval
calibration the backtests wrote when there is one; refuses a score table none of whose
accounts the book knows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from forecast.book import Book
from forecast.conformal import IntervalCalibration
from forecast.outlook import HORIZONS, forecast_outlook, latest_scores
from serving.errors import MovementsUnavailable

__all__ = ["HORIZONS", "forecast_book"]


def forecast_book(
    book: Book,
    scores: pd.DataFrame,
    horizons: Sequence[int] = HORIZONS,
    by: str | None = None,
    segment: str | None = None,
    csm: str | None = None,
    simulations: int = 2000,
    seed: int = 0,
    calibration: IntervalCalibration | None = None,
) -> dict[str, Any]:
    """Expected churned, contracted and expanded MRR, ending MRR, GRR and NRR of the scored
    accounts over each horizon, with 80% and 90% intervals, overall (or per group)."""
    latest = latest_scores(scores)
    if not latest["account_id"].isin(book.accounts["account_id"]).any():
        raise MovementsUnavailable(
            f"none of the {len(latest):,} scored accounts is in the source's accounts table; "
            "score the source the book is read from"
        )
    return forecast_outlook(
        book, latest, horizons, by, segment, csm, simulations, seed, calibration
    )
