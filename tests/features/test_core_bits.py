"""The user scan's marks: day bits (distinct days, last day) and core-feature bits (breadth).

Core-feature breadth comes from the bits of the one event scan when the catalog's core
features fit (``activity.MAX_CORE_BITS``), else from a second scan per feature; both must
give the same table. The last day of a segment is its highest day bit, except in segment 0
(every day before the first window edge), which has no bits and keeps a plain maximum."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from features.transforms import activity
from simulator.config import SimulationConfig
from simulator.run import simulate
from tests.features.helpers import build, row, write_tables

T = date(2024, 6, 1)


def test_highest_bit_keeps_only_the_top_set_bit() -> None:
    values = [0, 1, 2, 3, 5, 6, 1 << 30, (1 << 31) - 1, (1 << 20) + (1 << 3)]
    table = ibis.memtable({"bits": values})
    out = activity._with_highest_bit(table, "bits", "top").to_pyarrow().to_pydict()
    expected = [0 if v == 0 else 1 << (v.bit_length() - 1) for v in values]
    assert out["top"] == expected


def test_core_features_fit_in_the_marks_up_to_the_bits_left_by_the_days() -> None:
    assert activity.CORE_SHIFT + activity.MAX_CORE_BITS == 63  # bit 63 is the sign
    fits = activity.CoreFeatures(tuple(f"f{i}" for i in range(activity.MAX_CORE_BITS)))
    too_many = activity.CoreFeatures(tuple(f"f{i}" for i in range(activity.MAX_CORE_BITS + 1)))
    assert fits.as_bits and not too_many.as_bits
    assert not activity.CoreFeatures(None).as_bits  # no catalog: every feature, a scan
    assert activity.CoreFeatures(()).as_bits


def _sponsor_source(directory: Path, catalog: list[dict]) -> Path:
    def at(days_before: int, hour: int = 10) -> str:
        return f"{T - timedelta(days=days_before)} {hour:02d}:00:00"

    events = [
        # the sponsor's login: last used 300 days before t (before the first edge, t - 180)
        {"account_id": "A1", "user_id": "s1", "ts": at(300), "feature": "reports"},
        {"account_id": "A1", "user_id": "s1", "ts": at(420), "feature": "reports"},
        # the champion's login: several days of one segment, the latest 12 days before t
        {"account_id": "A1", "user_id": "c1", "ts": at(12, 23), "feature": "x"},
        {"account_id": "A1", "user_id": "c1", "ts": at(20), "feature": "exports"},
        {"account_id": "A1", "user_id": "c1", "ts": at(15), "feature": "exports"},
        # another account's sponsor, active 2 days before t
        {"account_id": "A2", "user_id": "s2", "ts": at(2), "feature": "exports"},
        {"account_id": "A2", "user_id": "s2", "ts": at(45), "feature": "reports"},
    ]
    contacts = [
        {
            "contact_id": "K1",
            "account_id": "A1",
            "role": "executive_sponsor",
            "start_date": "2022-01-01",
            "user_id": "s1",
        },
        {
            "contact_id": "K2",
            "account_id": "A1",
            "role": "champion",
            "start_date": "2022-01-01",
            "user_id": "c1",
        },
        {
            "contact_id": "K3",
            "account_id": "A2",
            "role": "executive_sponsor",
            "start_date": "2022-01-01",
            "user_id": "s2",
        },
    ]
    subscription = {"start_date": "2022-01-01", "end_date": "2026-01-01", "mrr": 10.0, "seats": 5}
    return write_tables(
        directory,
        {
            "accounts": [
                {"account_id": "A1", "segment": "smb"},
                {"account_id": "A2", "segment": "smb"},
            ],
            "feature_catalog": catalog,
            "subscriptions": [
                {"subscription_id": "S1", "account_id": "A1", **subscription},
                {"subscription_id": "S2", "account_id": "A2", **subscription},
            ],
            "events": events,
            "contacts": contacts,
        },
    )


CATALOG = [
    {"feature": "reports", "is_core": True},
    {"feature": "x", "is_core": True},
    {"feature": "exports", "is_core": False},
]


@pytest.fixture(scope="module", params=["bits", "scan"])
def sponsor_features(request, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    directory = _sponsor_source(tmp_path_factory.mktemp("sponsor"), CATALOG)
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "scan":
            patch.setattr(activity, "MAX_CORE_BITS", 0)
        return build(directory, as_of=T, latest_only=True)


def test_last_use_before_the_first_edge_and_inside_a_segment(sponsor_features) -> None:
    a1 = row(sponsor_features, "A1", T.isoformat())
    assert a1.days_since_exec_sponsor_contact == 300  # segment 0: no day bits, a plain max
    assert a1.champion_days_since_active == 12  # the highest day bit of c1's segment
    a2 = row(sponsor_features, "A2", T.isoformat())
    assert a2.days_since_exec_sponsor_contact == 2


def test_core_breadth_from_bits_or_from_the_feature_scan(sponsor_features) -> None:
    a1 = row(sponsor_features, "A1", T.isoformat())
    assert a1.core_breadth_30d == pytest.approx(1 / 2)  # x (c1); reports only long ago
    assert a1.core_breadth_90d == pytest.approx(1 / 2)
    assert a1.core_users_30d == 1
    a2 = row(sponsor_features, "A2", T.isoformat())
    assert a2.core_breadth_30d == 0  # exports is not core
    assert a2.core_breadth_change_30d == pytest.approx(-1 / 2)  # reports 45 days before t
    assert a2.core_breadth_90d == pytest.approx(1 / 2)


def test_core_event_share_counts_users_events_in_core_features(sponsor_features) -> None:
    a1 = row(sponsor_features, "A1", T.isoformat())
    # c1: x (core) 12 days before t, exports 15 and 20 days before; s1's reports are older
    # than 90 days
    assert a1.core_event_share_30d == pytest.approx(1 / 3)
    assert a1.core_event_share_90d == pytest.approx(1 / 3)
    a2 = row(sponsor_features, "A2", T.isoformat())
    assert a2.core_event_share_30d == 0  # exports 2 days before t
    assert a2.core_event_share_90d == pytest.approx(1 / 2)  # and reports 45 days before


def test_a_catalog_without_core_features_gives_null_breadth(tmp_path: Path) -> None:
    catalog = [{**c, "is_core": False} for c in CATALOG]
    frame = build(_sponsor_source(tmp_path, catalog), as_of=T, latest_only=True)
    a1 = row(frame, "A1", T.isoformat())
    assert pd.isna(a1.core_breadth_30d) and a1.core_users_30d == 0
    assert a1.core_event_share_30d == 0  # events, none of them core


@pytest.mark.slow
def test_bits_and_scan_give_the_same_table_on_a_simulated_source(tmp_path: Path) -> None:
    source = tmp_path / "source"
    config = SimulationConfig(accounts=40, months=14, seed=5, oracle_rows=0)
    simulate(config, source, with_truth=False)
    by_bits = build(source, snapshots="weekly")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(activity, "MAX_CORE_BITS", 0)
        by_scan = build(source, snapshots="weekly")
    assert len(by_bits) > 1000
    assert by_bits.core_breadth_30d.notna().sum() > 500
    assert list(by_bits.columns) == list(by_scan.columns)
    for column in by_bits.columns:
        a, b = by_bits[column], by_scan[column]
        if a.dtype.kind == "f":
            assert np.allclose(a, b, rtol=1e-12, equal_nan=True), column
        else:
            assert a.tolist() == b.tolist(), column
