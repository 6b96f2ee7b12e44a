"""Distinct active days per user (DAU/MAU) by hand, and the segment map they are counted on.

A user's distinct days in a segment are the set bits of the OR of the days' bits, so the
segment map must cut long gaps (no segment longer than the bits of a BIGINT) and give each
day of a segment its own bit."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest

from features.snapshots import MAX_SEGMENT_DAYS, day_segments_table, segment_edges
from tests.features.helpers import build, row, write_tables

T = date(2024, 6, 1)


def test_segment_edges_cut_long_gaps_and_keep_every_window_edge() -> None:
    snapshots = [date(2023, 1, 1), date(2024, 6, 1)]  # 517 days apart
    edges = segment_edges(snapshots, (0, 30, 180))

    gaps = [(b - a).days for a, b in pairwise(edges)]
    assert max(gaps) <= MAX_SEGMENT_DAYS
    assert min(gaps) > 0
    for t in snapshots:
        for n in (0, 30, 180):
            assert t - timedelta(days=n) in edges


def test_each_day_of_a_segment_has_its_own_bit() -> None:
    table = day_segments_table([date(2023, 1, 1), date(2024, 6, 1)]).to_pylist()
    by_segment: dict[int, list[int]] = {}
    for r in table:
        by_segment.setdefault(r["segment_id"], []).append(r["day_bit"])
    for bits in by_segment.values():
        assert bits == [1 << i for i in range(len(bits))]
        assert len(bits) <= MAX_SEGMENT_DAYS
    assert max(len(b) for b in by_segment.values()) == MAX_SEGMENT_DAYS  # a gap was cut


def _events() -> list[dict]:
    events = []
    # u1: every day of the last 30 (three events a day), u2: 3 distinct days with repeats,
    # u3: 1 day in the window and many before it (not counted).
    for k in range(1, 31):
        day = T - timedelta(days=k)
        for hour in (8, 12, 17):
            events.append({"account_id": "A1", "user_id": "u1", "ts": f"{day} {hour:02d}:00:00"})
    for k, hours in ((1, (9, 10)), (6, (9,)), (29, (9, 22, 23))):
        day = T - timedelta(days=k)
        for hour in hours:
            events.append({"account_id": "A1", "user_id": "u2", "ts": f"{day} {hour:02d}:00:00"})
    for k in range(30, 150, 2):  # t - 30 days 00:00 is inside; the rest before the window
        events.append(
            {"account_id": "A1", "user_id": "u3", "ts": f"{T - timedelta(days=k)} 00:00:00"}
        )
    events.append({"account_id": "A1", "user_id": None, "ts": f"{T - timedelta(days=3)} 12:00"})
    for e in events:
        e["feature"] = "exports" if e["user_id"] == "u2" else "reports"  # u2: no core feature
    return events


@pytest.fixture(scope="module", params=[[T], [date(2023, 6, 1), T]], ids=["one", "far-apart"])
def features(request, tmp_path_factory: pytest.TempPathFactory):
    directory = write_tables(
        tmp_path_factory.mktemp("days"),
        {
            "accounts": [{"account_id": "A1", "segment": "smb"}],
            "feature_catalog": [
                {"feature": "reports", "is_core": True},
                {"feature": "exports", "is_core": False},
                {"feature": "x", "is_core": True},
            ],
            "subscriptions": [
                {
                    "subscription_id": "S1",
                    "account_id": "A1",
                    "start_date": "2023-01-01",
                    "end_date": "2025-01-01",
                    "mrr": 100.0,
                    "seats": 10,
                }
            ],
            "events": [
                *_events(),
                {"account_id": "A1", "user_id": "u1", "ts": "2023-05-15 10:00", "feature": "x"},
            ],
        },
    )
    return build(directory, as_of=date(2024, 7, 1), snapshots=request.param)


def test_distinct_active_days_and_stickiness(features) -> None:
    r = row(features, "A1", T.isoformat())
    assert r.active_users_30d == 3
    user_days = 30 + 3 + 1  # u1 every day, u2 three days, u3 only t - 30 days
    assert r.stickiness_30d == pytest.approx(user_days / 30 / 3, rel=1e-12)


def test_core_users_and_breadth(features) -> None:
    r = row(features, "A1", T.isoformat())
    assert r.core_users_30d == 2  # u1 and u3 used "reports"; u2 only the non-core "exports"
    assert r.core_breadth_30d == pytest.approx(1 / 2)  # "reports" of the core "reports", "x"
