"""The backtest's churn level (``training.forecast_backtest.recent_dates`` and
``level_ratios``) on hand-made rows: the recent snapshot dates end before the first month
the book at T has not confirmed; the validation rows (closed 180-day labels) are pooled with
the rows of the recent dates after them, each of which expects its probability of churning
by the end of the last confirmed month (placed on its renewal dates) against whether the
book at T says it churned in those months, counted in paying accounts; a churn in a month
not yet confirmed is not counted."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from forecast.book import Book
from training.dataset import ModelData
from training.forecast_backtest import ScoredFit, level_ratios, recent_dates

T = date(2024, 7, 1)


def test_the_recent_dates_end_before_the_first_unconfirmed_month() -> None:
    # June ended on the 30th, one day before T: inside the 30-day grace, so not confirmed
    assert recent_dates(T, 30, 3) == [date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)]
    # with a 0-day grace, June is confirmed
    assert recent_dates(T, 0, 1) == [date(2024, 6, 1)]
    # March 1st: February (28 days) ended 29 days before, so January is the last confirmed
    assert recent_dates(date(2025, 3, 1), 30, 1) == [date(2024, 12, 1)]


def test_validation_rows_pool_with_the_recent_rows_after_them() -> None:
    """March 1st is the newest validation date: a (enterprise, 100 a month, p 0.5) churned
    within its 180 days, b (smb, 10, p 0.2) did not. April 1st: c (enterprise, 200, p 0.25,
    renewal in 10 days) and b (renewal in 20 days); May 1st: b (renewal in 5 days). Each
    recent row's window ends on June 1st (May is the last confirmed month); every renewal
    falls inside it and is the only one of its 180 days, so its probability of churning is
    its p. c churned in April (200); b churned in June, a month the book does not confirm
    yet. March is among the recent dates too, but its rows count once, as validation rows.
    d (smb, no MRR on April 1st, p 0.3) pays nothing, so it counts for nothing. Each paying
    row counts as one account, whatever its MRR."""
    ids = np.array(["a", "b", "c", "b", "b", "d"], dtype=object)
    days = np.array(
        ["2024-03-01", "2024-03-01", "2024-04-01", "2024-04-01", "2024-05-01", "2024-04-01"],
        dtype="datetime64[D]",
    )
    data = ModelData(
        matrix=np.zeros((6, 0)),
        columns=[],
        labels={},
        label_specs=[],
        raw=pa.table(
            {
                "days_to_renewal": [10.0, 20.0, 10.0, 20.0, 5.0, 10.0],
                "term_length_days": [365.0] * 6,
            }
        ),
        ids=ids,
        snapshot_date=days,
        mrr=np.array([100.0, 10.0, 200.0, 10.0, 10.0, 0.0]),
        groups={
            "segment": np.array(["enterprise", "smb", "enterprise", "smb", "smb", "smb"], object)
        },
    )
    label = np.array([1.0, 0.0, np.nan, np.nan, np.nan, np.nan])
    movements = pd.DataFrame(
        {
            "account_id": ["c", "b", "b"],
            "month": [date(2024, 4, 1), date(2024, 5, 1), date(2024, 6, 1)],
            "churned": [200.0, 0.0, 10.0],
        }
    )
    book = Book(T, 30, movements, pd.DataFrame({"account_id": ["a", "b", "c", "d"]}))
    p = np.array([0.5, 0.2, 0.25, 0.2, 0.2, 0.3])
    fit = ScoredFit(
        now=np.zeros(0),
        past=p,
        valid_rows=np.array([0, 1]),
        valid=p[:2],
        valid_until=np.datetime64("2024-03-01"),
    )
    recent = recent_dates(T, 30, 3)
    past = np.isin(days, np.array(recent, dtype="datetime64[D]"))
    assert past.all()

    ratios = level_ratios(data, label, fit, past, book, recent)

    # expected churns: validation 0.5 + 0.2, April 0.25 + 0.2, May 0.2 (d pays nothing);
    # realised: a and c, one account each (by MRR it would be 300 / 106)
    book_ratio = 2.0 / 1.35
    assert ratios["*"] == pytest.approx(book_ratio)
    # enterprise: its own 2 / 0.75 on two churns, weighted 2 / (2 + 20) against the book's
    assert ratios["enterprise"] == pytest.approx(2.0 / 0.75 * 2 / 22 + book_ratio * 20 / 22)
    assert ratios["smb"] == pytest.approx(book_ratio)  # no churn of its own
