"""Labels on hand-made edge cases (data-contract.md §2-3), H = 180, grace = 30."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from tests.features.helpers import build, row, write_tables

AS_OF = date(2025, 6, 1)


def _sub(sid: str, account: str, start: str, end: str, mrr: float) -> dict:
    return {
        "subscription_id": sid,
        "account_id": account,
        "start_date": start,
        "end_date": end,
        "mrr": mrr,
    }


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("labels")
    accounts = ["GAP10", "GAP40", "PLUS10", "PLUS9", "FREE", "LATE"]
    write_tables(
        directory,
        {
            "accounts": [{"account_id": a} for a in accounts],
            "subscriptions": [
                # renewal paperwork 10 days late: no churn
                _sub("a", "GAP10", "2023-06-01", "2024-03-01", 100),
                _sub("b", "GAP10", "2024-03-11", "2025-03-11", 100),
                # 40 days without cover: a churn on 2024-03-01, then a reactivation
                _sub("c", "GAP40", "2023-06-01", "2024-03-01", 100),
                _sub("d", "GAP40", "2024-04-10", "2024-10-10", 100),
                # an add-on of exactly +10% on 2024-04-15
                _sub("e", "PLUS10", "2023-06-01", "2025-06-01", 100),
                _sub("f", "PLUS10", "2024-04-15", "2025-06-01", 10),
                # +9% is no expansion
                _sub("g", "PLUS9", "2023-06-01", "2025-06-01", 100),
                _sub("h", "PLUS9", "2024-04-15", "2025-06-01", 9),
                # a free account that never pays: no expansion
                _sub("i", "FREE", "2023-06-01", "2025-06-01", 0),
                # covered until after the as-of date, then nothing
                _sub("j", "LATE", "2023-06-01", "2025-05-20", 100),
            ],
            "events": [
                {"account_id": "GAP10", "user_id": "u", "ts": "2023-06-01 10:00:00", "feature": "x"}
            ],
        },
    )
    return build(directory, as_of=AS_OF)


def test_a_ten_day_gap_is_no_churn(labels) -> None:
    assert row(labels, "GAP10", "2024-01-01").churn_180d == 0
    assert row(labels, "GAP10", "2024-03-01").churn_180d == 0  # the gap starts at t
    # covered on every t - 1 (the gap 03-01..03-10 holds no first-of-month eve)
    months = labels[labels.account_id == "GAP10"].snapshot_date
    assert len(months) == len(set(months)) == 19  # 2023-09-01 .. 2025-03-01, no hole


def test_a_forty_day_gap_is_a_churn_then_a_reactivation(labels) -> None:
    assert row(labels, "GAP40", "2024-01-01").churn_180d == 1
    assert row(labels, "GAP40", "2024-03-01").churn_180d == 1  # churn date 03-01 is in [t, t+H)
    gap_rows = labels[(labels.account_id == "GAP40") & (labels.snapshot_date == date(2024, 4, 1))]
    assert gap_rows.empty  # not active on 2024-03-31
    assert row(labels, "GAP40", "2024-05-01").churn_180d == 1  # churns again on 2024-10-10
    # The return after the churn counts as expansion against the MRR of t - 1.
    assert row(labels, "GAP40", "2024-03-01").expand_180d == 0  # back to the same 100


def test_exactly_ten_percent_more_mrr_is_an_expansion(labels) -> None:
    assert row(labels, "PLUS10", "2024-01-01").expand_180d == 1
    assert row(labels, "PLUS10", "2024-05-01").expand_180d == 0  # already at 110
    assert row(labels, "PLUS9", "2024-01-01").expand_180d == 0
    assert row(labels, "FREE", "2024-01-01").expand_180d == 0


def test_censored_horizons_are_null(labels) -> None:
    # churn needs t + 180 + 30 <= as-of (2025-06-01): 2024-11-03 is the last t that qualifies
    assert row(labels, "PLUS10", "2024-11-01").churn_180d == 0
    assert pd.isna(row(labels, "PLUS10", "2024-12-01").churn_180d)
    # expansion needs t + 180 <= as-of: 2024-12-03 is the last
    assert row(labels, "PLUS10", "2024-12-01").expand_180d == 0
    assert pd.isna(row(labels, "PLUS10", "2025-01-01").expand_180d)


def test_a_churn_after_the_as_of_date_stays_censored(labels) -> None:
    late = labels[labels.account_id == "LATE"]
    known = late[late.churn_180d.notna()]
    assert (known.churn_180d == 0).all()
