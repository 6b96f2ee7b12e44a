"""The trajectory benchmark's candidates at their window edges, and its paired arithmetic
(bench/trajectory_value.py), on hand-made rows. A candidate that saw rows on or after t would
make the measured value of trajectories a leak."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from bench.trajectory_value import candidate_features, paired_differences, window_sums
from tests.features.helpers import write_tables

T = date(2024, 6, 1)


def _event(day: str, user: str | None = "u1", clock: str = "12:00:00") -> dict:
    return {"account_id": "A1", "user_id": user, "ts": f"{day} {clock}", "feature": "reports"}


@pytest.fixture(scope="module")
def sums(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    directory = write_tables(
        tmp_path_factory.mktemp("trajectory"),
        {
            "feature_catalog": [{"feature": "reports", "is_core": True}],
            "subscriptions": [
                {
                    "subscription_id": "S1",
                    "account_id": "A1",
                    "start_date": "2023-03-01",
                    "end_date": "2024-03-01",
                },
                # The current term starts on 2024-03-01: "before the term" is [01-31, 03-01).
                {
                    "subscription_id": "S2",
                    "account_id": "A1",
                    "start_date": "2024-03-01",
                    "end_date": "2025-03-01",
                },
            ],
            "events": [
                _event("2024-06-01", clock="00:00:00"),  # at t: the next snapshot's
                _event("2024-05-31", "u1", "23:59:59"),  # age 1
                _event("2024-05-31", "u2"),  # age 1, a second user that day
                _event("2024-05-02", clock="00:00:00"),  # age 30: the last day of b1
                _event("2024-05-01", clock="23:59:59"),  # age 31: b2
                _event("2024-03-01"),  # the term's first day: not before it (b4)
                _event("2024-02-29"),  # the last day before the term (b4)
                _event("2024-01-30"),  # 31 days before the term: not in its 30 (b4)
                _event("2023-06-02"),  # age 365: the first day of b5
                _event("2023-06-01"),  # age 366: in no window
            ],
            "consumption": [
                {"account_id": "A1", "date": "2024-06-01", "units": 1000.0},  # at t
                {"account_id": "A1", "date": "2024-05-31", "units": 10.0},
                {"account_id": "A1", "date": "2024-02-29", "units": 5.0},
            ],
            "tickets": [
                {
                    "ticket_id": "K1",
                    "account_id": "A1",
                    "opened_at": datetime(2024, 5, 31, 23, 59, 59, 999_999),
                    "priority": "urgent",
                },
                {
                    "ticket_id": "K2",
                    "account_id": "A1",
                    "opened_at": datetime(2024, 6, 1),
                    "priority": "high",
                },
            ],
            "surveys": [
                {"account_id": "A1", "date": "2024-06-01", "kind": "nps", "score": 0.0},
                {"account_id": "A1", "date": "2024-05-31", "kind": "nps", "score": 8.0},
                {"account_id": "A1", "date": "2023-12-03", "kind": "nps", "score": 4.0},
                {"account_id": "A1", "date": "2024-05-31", "kind": "csat", "score": 1.0},
            ],
        },
    )
    keys = pd.DataFrame({"account_id": ["A1"], "snapshot_date": [T]})
    con = duckdb.connect()
    try:
        return window_sums(con, Path(directory), keys)
    finally:
        con.close()


def test_window_sums_keep_the_edges_of_every_window(sums: pd.DataFrame) -> None:
    r = sums.iloc[0]
    assert (r.events_b1, r.events_b2, r.events_b4, r.events_b5) == (3, 1, 3, 1)
    assert "events_b3" not in sums.columns  # no event 61-90 days before t (read as 0)
    assert (r.user_days_b1, r.users_b1) == (3, 2)  # two users on t - 1, one on t - 30
    assert (r.units_b1, r.tickets_b1, r.high_tickets_b1) == (10, 1, 1)
    # Before the term: the event of 2024-02-29 only, and its units.
    assert (r.ev_pre, r.co_pre) == (1, 5)
    # NPS: 8 at age 1 and 4 at age 181 (2023-12-03); the 0 answered at t is not read.
    w1, w181 = 2 ** (-1 / 180), 2 ** (-181 / 180)
    assert r.nps_ewm_180 == pytest.approx((8 * w1 + 4 * w181) / (w1 + w181))
    assert r.nps_mean_all == pytest.approx(6.0)
    assert (r.nps_n_b1, r.nps_n_b5) == (1, 1)


def test_candidates_are_computed_from_the_window_levels(sums: pd.DataFrame) -> None:
    c = candidate_features(sums, date(2023, 6, 1)).iloc[0]
    total = 3 + 1 + 3 + 1
    assert c.events_vs_12m == pytest.approx((3 / 30) / (total / 365))
    assert c.events_vs_6m == pytest.approx((3 / 30) / ((3 + 1 + 3) / 180))
    assert c.events_level_12m == pytest.approx(total / 365 * 30)
    assert c.events_since_renewal == pytest.approx(3.0)
    assert c.consumption_since_renewal == pytest.approx(10 / 5)
    assert c.nps_mean_12m == pytest.approx(6.0)
    assert c.high_tickets_12m == 1
    levels = np.array([3, 1, 0]) / 30
    assert c.events_vol_3m == pytest.approx(levels.std() / levels.mean())
    # Falling usage would slope down; this account's b1 is its busiest month: up.
    assert c.events_slope_6m > 0


def test_windows_that_start_before_the_data_are_null(sums: pd.DataFrame) -> None:
    c = candidate_features(sums, date(2023, 7, 1)).iloc[0]
    assert np.isnan(c.events_vs_12m) and np.isnan(c.nps_ewm_365)
    assert not np.isnan(c.events_vs_6m) and not np.isnan(c.nps_ewm_180)
    late = candidate_features(sums, date(2024, 1, 1)).iloc[0]
    assert np.isnan(late.events_vs_6m) and not np.isnan(late.events_vol_3m)


def test_paired_differences_compare_each_run_with_base_on_the_same_source_and_seed() -> None:
    runs = [
        {"config": "base", "source": "s1", "seed": 1, "auc": 0.80},
        {"config": "base", "source": "s1", "seed": 2, "auc": 0.82},
        {"config": "base", "source": "s2", "seed": 1, "auc": 0.70},
        {"config": "x", "source": "s1", "seed": 1, "auc": 0.81},
        {"config": "x", "source": "s1", "seed": 2, "auc": 0.82},
        {"config": "x", "source": "s2", "seed": 1, "auc": 0.73},
        {"config": "x", "source": "s3", "seed": 1, "auc": 0.99},  # no base: left out
        {"config": "y", "source": "s1", "seed": 1, "auc": None},
    ]
    out = paired_differences(runs, ["auc"])
    diffs = np.array([0.01, 0.0, 0.03])
    assert out["x"]["auc"]["pairs"] == 3
    assert out["x"]["auc"]["mean"] == pytest.approx(diffs.mean())
    assert out["x"]["auc"]["se"] == pytest.approx(diffs.std(ddof=1) / np.sqrt(3))
    assert out["base"]["auc"] == {"mean": 0.0, "se": 0.0, "pairs": 3}
    assert out["y"]["auc"] == {"mean": None, "se": None, "pairs": 0}
