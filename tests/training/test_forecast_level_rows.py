"""The backtest's churn level (``training.forecast_backtest.recent_dates`` and
``recent_ratios``) on hand-made rows: the snapshot dates it reads end before the first month
the book at T has not confirmed, and each row's expected churned MRR is its probability of
churning by the end of the last confirmed month (placed on its renewal dates), against what
the book at T says it lost in those months; a churn in a month not yet confirmed is not
counted."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from forecast.book import Book
from training.dataset import ModelData
from training.forecast_backtest import recent_dates, recent_ratios

T = date(2024, 7, 1)


def test_the_recent_dates_end_before_the_first_unconfirmed_month() -> None:
    # June ended on the 30th, one day before T: inside the 30-day grace, so not confirmed
    assert recent_dates(T, 30, 3) == [date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)]
    # with a 0-day grace, June is confirmed
    assert recent_dates(T, 0, 1) == [date(2024, 6, 1)]
    # March 1st: February (28 days) ended 29 days before, so January is the last confirmed
    assert recent_dates(date(2025, 3, 1), 30, 1) == [date(2024, 12, 1)]


def test_realised_over_expected_churned_mrr_of_the_recent_rows() -> None:
    """April 1st: a (enterprise, 100 a month, p 0.5, renewal in 10 days) and b (smb, 10,
    p 0.2, renewal in 20 days); May 1st: b again (renewal in 5 days). The window of each row
    ends on June 1st (May is the last confirmed month), every renewal falls inside it and is
    the only one of its 180 days, so each row's probability of churning is its p. a churned
    in April (100); b churned in June, a month the book does not confirm yet."""
    ids = np.array(["a", "b", "b"], dtype=object)
    days = np.array(["2024-04-01", "2024-04-01", "2024-05-01"], dtype="datetime64[D]")
    data = ModelData(
        matrix=np.zeros((3, 0)),
        columns=[],
        labels={},
        label_specs=[],
        raw=pa.table({"days_to_renewal": [10.0, 20.0, 5.0], "term_length_days": [365.0] * 3}),
        ids=ids,
        snapshot_date=days,
        mrr=np.array([100.0, 10.0, 10.0]),
        groups={"segment": np.array(["enterprise", "smb", "smb"], dtype=object)},
    )
    movements = pd.DataFrame(
        {
            "account_id": ["a", "b", "b"],
            "month": [date(2024, 4, 1), date(2024, 5, 1), date(2024, 6, 1)],
            "churned": [100.0, 0.0, 10.0],
        }
    )
    book = Book(T, 30, movements, pd.DataFrame({"account_id": ["a", "b"]}))
    dates = recent_dates(T, 30, 2)
    assert dates == [date(2024, 4, 1), date(2024, 5, 1)]
    ratios = recent_ratios(data, np.ones(3, bool), np.array([0.5, 0.2, 0.2]), book, dates)
    book_ratio = 100.0 / (50.0 + 2.0 + 2.0)
    assert ratios["*"] == pytest.approx(book_ratio)
    # a's own 100 / 50 on one churn, weighted 1 / (1 + 20) against the book's
    assert ratios["enterprise"] == pytest.approx(2.0 / 21 + book_ratio * 20 / 21)
    assert ratios["smb"] == pytest.approx(book_ratio)  # no churn of its own
