"""The book's forecast from scored accounts (``forecast.outlook``), with the interval
calibration the backtests wrote when there is one; refuses a score table none of whose
accounts the book knows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from features.errors import ConfigError
from forecast.book import Book
from forecast.conformal import IntervalCalibration
from forecast.outlook import HORIZONS, OutlookRequest, forecast_outlook, latest_scores
from serving.errors import MovementsUnavailable

__all__ = ["HORIZONS", "OutlookRequest", "forecast_book", "read_calibration", "write_calibration"]


def read_calibration(path: Path) -> IntervalCalibration | None:
    """The interval calibration at ``path`` (None when there is no file); a file that is not
    one is refused with a one-line ``ConfigError``."""
    if not path.exists():
        return None
    try:
        return IntervalCalibration.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ConfigError(
            f"forecast calibration {str(path)!r} is not one ({type(err).__name__}: {err}); "
            "write it again with `churnlight forecast --source SRC --backtest N`"
        ) from err


def write_calibration(calibration: IntervalCalibration, path: Path) -> None:
    """Write ``calibration`` as JSON (the folder is created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration.to_dict(), indent=2) + "\n")


def forecast_book(
    book: Book, scores: pd.DataFrame, request: OutlookRequest = OutlookRequest()
) -> dict[str, Any]:
    """Expected churned, contracted and expanded MRR, ending MRR, GRR and NRR of the scored
    accounts over each horizon, with 80% and 90% intervals, overall (or per group)."""
    latest = latest_scores(scores)
    if not latest["account_id"].isin(book.accounts["account_id"]).any():
        raise MovementsUnavailable(
            f"none of the {len(latest):,} scored accounts is in the source's accounts table; "
            "score the source the book is read from"
        )
    return forecast_outlook(book, latest, request)
