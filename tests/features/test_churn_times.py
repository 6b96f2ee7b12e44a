"""Time to churn on hand-made edge cases (features.labels.churn_times), grace = 30 days.

As-of 2025-06-01, so a churn is confirmed when it falls on or before 2025-05-02 (as-of minus
the grace) and every later row is censored there."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.pipeline import build_churn_times
from features.sources import open_source
from tests.features.helpers import build, row, write_tables

AS_OF = date(2025, 6, 1)
CONFIRM_BY = date(2025, 5, 2)


def _sub(sid: str, account: str, start: str, end: str) -> dict:
    return {
        "subscription_id": sid,
        "account_id": account,
        "start_date": start,
        "end_date": end,
        "mrr": 100.0,
    }


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("churn_times")
    accounts = ["RENEW", "GAP10", "GAP40", "LATE", "EDGE", "PAST_EDGE"]
    return write_tables(
        directory,
        {
            "accounts": [{"account_id": a} for a in accounts],
            "subscriptions": [
                # renewed once on 2024-06-01, gone at the second renewal 2025-01-01
                _sub("a", "RENEW", "2023-06-01", "2024-06-01"),
                _sub("b", "RENEW", "2024-06-01", "2025-01-01"),
                # renewal paperwork 10 days late (inside the grace): the churn is 2025-03-11
                _sub("c", "GAP10", "2023-06-01", "2024-03-01"),
                _sub("d", "GAP10", "2024-03-11", "2025-03-11"),
                # 40 days without cover: a churn on 2024-03-01, a return, a churn on 2024-10-10
                _sub("e", "GAP40", "2023-06-01", "2024-03-01"),
                _sub("f", "GAP40", "2024-04-10", "2024-10-10"),
                # ends inside the last grace before the as-of: not confirmed, censored
                _sub("g", "LATE", "2023-06-01", "2025-05-20"),
                # ends exactly on the last confirmable day, and one day after it
                _sub("h", "EDGE", "2023-06-01", "2025-05-02"),
                _sub("i", "PAST_EDGE", "2023-06-01", "2025-05-03"),
            ],
            "events": [
                {"account_id": "RENEW", "user_id": "u", "ts": "2023-06-01 10:00:00", "feature": "x"}
            ],
        },
    )


@pytest.fixture(scope="module")
def times(source) -> pd.DataFrame:
    return build_churn_times(open_source(source), as_of=AS_OF).to_pyarrow().to_pandas()


def _days(times: pd.DataFrame, account: str, snapshot: str) -> tuple[int, int]:
    hit = row(times, account, snapshot)
    return int(hit.churn_days), int(hit.churn_observed)


def test_a_churn_at_a_renewal_counts_days_to_the_end_of_cover(times) -> None:
    assert _days(times, "RENEW", "2024-09-01") == ((date(2025, 1, 1) - date(2024, 9, 1)).days, 1)
    assert _days(times, "RENEW", "2024-12-01") == (31, 1)
    # the first renewal (cover continues) is no churn
    assert _days(times, "RENEW", "2024-05-01") == ((date(2025, 1, 1) - date(2024, 5, 1)).days, 1)


def test_a_reactivation_inside_the_grace_is_no_churn(times) -> None:
    assert _days(times, "GAP10", "2024-01-01") == ((date(2025, 3, 11) - date(2024, 1, 1)).days, 1)


def test_a_churn_then_a_return_then_a_churn(times) -> None:
    assert _days(times, "GAP40", "2024-01-01") == (60, 1)
    assert _days(times, "GAP40", "2024-03-01") == (0, 1)  # the churn date is the snapshot
    assert _days(times, "GAP40", "2024-05-01") == ((date(2024, 10, 10) - date(2024, 5, 1)).days, 1)


def test_an_unconfirmed_churn_is_censored_at_the_as_of_minus_the_grace(times) -> None:
    assert _days(times, "LATE", "2024-01-01") == ((CONFIRM_BY - date(2024, 1, 1)).days, 0)
    assert _days(times, "LATE", "2025-05-01") == (1, 0)


def test_the_last_confirmable_day_is_inclusive(times) -> None:
    assert _days(times, "EDGE", "2025-01-01") == ((CONFIRM_BY - date(2025, 1, 1)).days, 1)
    assert _days(times, "PAST_EDGE", "2025-01-01") == ((CONFIRM_BY - date(2025, 1, 1)).days, 0)


def test_rows_after_the_last_confirmable_day_are_null(source) -> None:
    dates = [CONFIRM_BY, date(2025, 5, 3), AS_OF]
    out = build_churn_times(open_source(source), as_of=AS_OF, snapshot_dates=dates)
    late = out.to_pyarrow().to_pandas()
    assert _days(late, "LATE", "2025-05-02") == (0, 0)
    assert _days(late, "EDGE", "2025-05-02") == (0, 1)
    gone = late[late.snapshot_date > CONFIRM_BY]
    assert len(gone) > 0
    assert gone.churn_days.isna().all() and gone.churn_observed.isna().all()


def test_it_agrees_with_the_180_day_label_wherever_that_is_known(source, times) -> None:
    table = build(source, as_of=AS_OF)
    labels = table.drop(columns=["churn_days", "churn_observed"])
    both = labels.merge(times, on=["account_id", "snapshot_date"], how="outer", indicator=True)
    assert (both._merge == "both").all()  # the same snapshot rows
    known = both[both.churn_180d.notna()]
    assert len(known) > 0 and known.churn_180d.sum() > 0
    by_180 = (known.churn_observed == 1) & (known.churn_days < 180)
    assert (by_180.astype(int) == known.churn_180d.astype(int)).all()


def test_the_feature_table_carries_the_same_times(source, times) -> None:
    keys = ["account_id", "snapshot_date"]
    table = build(source, as_of=AS_OF).sort_values(keys).reset_index(drop=True)
    want = times.sort_values(keys).reset_index(drop=True)
    assert table[keys].astype(str).equals(want[keys].astype(str))
    for name in ("churn_days", "churn_observed"):
        got = table[name].to_numpy(dtype=float, na_value=np.nan)
        expected = want[name].to_numpy(dtype=float, na_value=np.nan)
        np.testing.assert_array_equal(got, expected)
    assert np.isfinite(want.churn_days.to_numpy(dtype=float, na_value=np.nan)).any()


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.xdist_group("spark")
def test_spark_gives_the_same_times(source, times, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    spark = build_churn_times(open_source(source, backend="spark"), as_of=AS_OF)
    got = spark.to_pyarrow().to_pandas().sort_values(["account_id", "snapshot_date"])
    want = times.sort_values(["account_id", "snapshot_date"])
    assert got.reset_index(drop=True).equals(want.reset_index(drop=True))
