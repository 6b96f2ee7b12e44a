"""The reference (oracle) implementation reproduces the contract's worked examples exactly."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.features.reference import FEATURE_COLUMNS, read_csv_source, reference_features

# The contract's worked examples, kept in the repo (tests/test_docs.py checks the copy).
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

KEYS = ["account_id", "snapshot_date"]
LABELS = ["churn_180d", "expand_180d"]


def examples_dir() -> Path:
    if not (EXAMPLES / "expected_full.csv").exists():
        pytest.fail(
            f"contract examples not found at {EXAMPLES} (docs/examples with full/, minimal/ "
            "and expected_*.csv)",
            pytrace=False,
        )
    return EXAMPLES


def load_source(name: str) -> dict[str, pd.DataFrame]:
    return read_csv_source(examples_dir() / name)


def load_expected(name: str) -> pd.DataFrame:
    frame = pd.read_csv(
        examples_dir() / f"expected_{name}.csv",
        dtype={"account_id": str, "snapshot_date": str, "lifecycle_stage": str},
        keep_default_na=False,
        na_values=[""],
    )
    frame["snapshot_date"] = [dt.date.fromisoformat(v) for v in frame["snapshot_date"]]
    return frame


def assert_same_table(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same columns in order, same rows in order, floats to 1e-9 relative, nulls where null."""
    assert list(got.columns) == list(expected.columns)
    assert len(got) == len(expected), (len(got), len(expected))
    for col in KEYS:
        assert list(got[col]) == list(expected[col]), col
    problems = []
    for col in expected.columns[len(KEYS) :]:
        g, e = got[col], expected[col]
        g_null = g.isna().to_numpy()
        e_null = e.isna().to_numpy()
        if col == "lifecycle_stage":
            bad = g_null != e_null
            bad |= ~g_null & ~e_null & (g.astype(object).to_numpy() != e.astype(object).to_numpy())
        else:
            gv = g.astype("float64").to_numpy()
            ev = e.astype("float64").to_numpy()
            close = np.isclose(
                np.nan_to_num(gv), np.nan_to_num(ev), rtol=1e-9, atol=0.0, equal_nan=False
            )
            bad = (g_null != e_null) | (~g_null & ~e_null & ~close)
        for i in np.flatnonzero(bad):
            problems.append(
                f"{col} at {got.at[i, 'account_id']} {got.at[i, 'snapshot_date']}: "
                f"got {g.iloc[i]!r}, expected {e.iloc[i]!r}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", ["full", "minimal"])
def test_reproduces_worked_example(name: str) -> None:
    got = reference_features(load_source(name))
    assert_same_table(got, load_expected(name))


def test_output_types() -> None:
    got = reference_features(load_source("full"))
    assert list(got.columns) == [*KEYS, *FEATURE_COLUMNS, *LABELS]
    assert all(type(v) is dt.date for v in got["snapshot_date"])
    for col in ("mrr", "seat_utilization_30d", "core_breadth_30d", "quota_burn_ratio"):
        assert got[col].dtype == "float64", col
    for col in ("seats", "events_30d", "active_users_30d", "open_high_tickets", *LABELS):
        assert str(got[col].dtype) == "Int64", col
    assert got[KEYS].equals(got.sort_values(KEYS)[KEYS].reset_index(drop=True))


def test_read_csv_source_converts_offsets_to_utc() -> None:
    tables = load_source("full")
    ts = tables["events"]["ts"]
    assert pd.api.types.is_datetime64_dtype(ts.dtype) and ts.dt.tz is None
    assert pd.Timestamp("2024-02-29 23:30:00") in set(ts)  # 2024-03-01T00:30:00+01:00
    assert pd.Timestamp("2024-01-31 00:30:00") in set(ts)  # 2024-01-30T23:30:00-01:00
    assert tables["accounts"]["region"].tolist()[1] == "na"
    assert tables["feature_catalog"]["is_core"].dtype == bool
    assert set(tables) == {
        "accounts",
        "subscriptions",
        "events",
        "feature_catalog",
        "consumption",
        "contacts",
        "tickets",
        "surveys",
    }


def test_accepts_date_objects_and_aware_timestamps() -> None:
    tables = load_source("full")
    for name, cols in {
        "subscriptions": ["start_date", "end_date"],
        "consumption": ["date"],
        "contacts": ["start_date", "end_date"],
        "surveys": ["date"],
    }.items():
        frame = tables[name].copy()
        for col in cols:
            frame[col] = [None if pd.isna(v) else v.date() for v in frame[col]]
        tables[name] = frame
    events = tables["events"].copy()
    events["ts"] = events["ts"].dt.tz_localize("UTC").dt.tz_convert("America/New_York")
    tables["events"] = events
    assert_same_table(reference_features(tables), load_expected("full"))


def test_orphan_rows_take_no_part() -> None:
    tables = load_source("full")
    orphan_event = pd.DataFrame(
        {
            "account_id": ["ZZ"],
            "user_id": ["zz"],
            "ts": [pd.Timestamp("2022-01-01")],  # would move the first snapshot date
            "feature": ["orphan_feature"],
            "quantity": [1.0],
        }
    )
    orphan_sub = tables["subscriptions"].iloc[:1].assign(subscription_id="SZ", account_id="ZZ")
    tables["events"] = pd.concat([tables["events"], orphan_event], ignore_index=True)
    tables["subscriptions"] = pd.concat([tables["subscriptions"], orphan_sub], ignore_index=True)
    assert_same_table(reference_features(tables), load_expected("full"))


def test_present_but_empty_tables_count_zero() -> None:
    tables = load_source("full")
    for name in ("consumption", "contacts", "tickets", "surveys"):
        tables[name] = tables[name].iloc[0:0]
    got = reference_features(tables)
    assert (got["consumption_30d"] == 0.0).all()
    assert (got["champion_departures_90d"] == 0).all()
    assert (got["active_champions"] == 0).all()
    assert (got["open_high_tickets"] == 0).all()
    assert got["nps_last"].isna().all()
    a3 = got[(got["account_id"] == "A3") & (got["snapshot_date"] <= dt.date(2024, 6, 1))]
    assert (a3["quota_burn_ratio"] == 0.0).all()


def test_explicit_as_of_backtest_keeps_features_and_censors_labels() -> None:
    full = reference_features(load_source("full"))
    assert_same_table(full, load_expected("full"))
    as_of = dt.date(2024, 6, 1)
    early = reference_features(load_source("full"), as_of=as_of)
    assert early["snapshot_date"].max() == as_of
    same = full[full["snapshot_date"] <= as_of].reset_index(drop=True)
    assert early[KEYS].equals(same[KEYS])
    features = list(FEATURE_COLUMNS)
    pd.testing.assert_frame_equal(early[features], same[features])
    t = pd.to_datetime(early["snapshot_date"])
    churn_open = t + pd.Timedelta(days=210) <= pd.Timestamp(as_of)
    expand_open = t + pd.Timedelta(days=180) <= pd.Timestamp(as_of)
    assert early.loc[~churn_open, "churn_180d"].isna().all()
    assert early.loc[churn_open, "churn_180d"].notna().all()
    assert early.loc[~expand_open, "expand_180d"].isna().all()
    # Labels that are not censored at the early as-of agree with the full run.
    pd.testing.assert_series_equal(
        early.loc[churn_open, "churn_180d"], same.loc[churn_open, "churn_180d"]
    )


def test_horizon_grace_and_warmup_are_parameters() -> None:
    got = reference_features(load_source("full"), horizon_days=90, grace_days=10, warmup_days=30)
    assert list(got.columns[-2:]) == ["churn_90d", "expand_90d"]
    # A7's first event is 2022-10-01: with a 30-day warm-up, snapshots start on 2022-11-01,
    # but nobody is active before A1 (2023-01-15).
    assert got["snapshot_date"].min() == dt.date(2023, 2, 1)
    # A1's 10-day renewal gap (2024-01-25 -> 2024-02-04) is no churn with grace 30 (see the
    # expected table) but is one with grace 10; A5's 30-day gap is a churn either way.
    a1 = got[got["account_id"] == "A1"].set_index("snapshot_date")
    assert a1.at[dt.date(2024, 1, 1), "churn_90d"] == 1
    assert a1.at[dt.date(2023, 10, 1), "churn_90d"] == 0
    a5 = got[got["account_id"] == "A5"].set_index("snapshot_date")
    assert a5.at[dt.date(2023, 7, 1), "churn_90d"] == 1
    assert a5.at[dt.date(2023, 4, 1), "churn_90d"] == 0
    # A1's +10% on 2024-04-10 is inside [2024-03-01, 2024-05-30).
    assert a1.at[dt.date(2024, 3, 1), "expand_90d"] == 1
    assert a1.at[dt.date(2024, 1, 1), "expand_90d"] == 0


def synthetic_source(
    n_accounts: int, n_events: int, days: int, seed: int = 0
) -> dict[str, pd.DataFrame]:
    """A random source in the contract's shape, for the speed check."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    accounts = [f"A{i:04d}" for i in range(n_accounts)]
    subs = []
    for i, account in enumerate(accounts):
        begin = start + pd.Timedelta(days=int(rng.integers(0, 200)))
        k = 0
        while begin < start + pd.Timedelta(days=days + 200):
            end = begin + pd.Timedelta(days=int(rng.choice([30, 365])))
            quota = float(rng.integers(0, 5000)) if rng.random() < 0.5 else np.nan
            mrr = float(rng.integers(0, 500))
            subs.append(
                (f"S{i}_{k}", account, "core", begin, end, mrr, int(rng.integers(50)), quota)
            )
            begin = end + pd.Timedelta(days=int(rng.choice([0, 0, 0, 10, 45])))
            k += 1
    columns = "subscription_id,account_id,product,start_date,end_date,mrr,seats,quota"
    subscriptions = pd.DataFrame(subs, columns=columns.split(","))
    seconds = pd.to_timedelta(rng.integers(0, days * 86400, n_events), unit="s")
    events = pd.DataFrame(
        {
            "account_id": rng.choice(accounts, n_events),
            "user_id": pd.Series(rng.integers(0, 5000, n_events)).map("u{}".format),
            "ts": start + seconds,
            "feature": pd.Series(rng.integers(0, 40, n_events)).map("f{}".format),
            "quantity": 1.0,
        }
    )
    consumption = pd.DataFrame(
        {
            "account_id": np.repeat(accounts, days),
            "date": np.tile(pd.date_range(start, periods=days).to_numpy(), n_accounts),
            "units": rng.random(n_accounts * days) * 10,
        }
    )
    n_contacts = 5 * n_accounts
    contacts = pd.DataFrame(
        {
            "contact_id": [f"C{i}" for i in range(n_contacts)],
            "account_id": rng.choice(accounts, n_contacts),
            "role": rng.choice(["champion", "admin"], n_contacts),
            "start_date": start + pd.to_timedelta(rng.integers(0, 400, n_contacts), unit="D"),
            "end_date": start + pd.to_timedelta(rng.integers(400, 900, n_contacts), unit="D"),
            "user_id": None,
        }
    )
    return {
        "accounts": pd.DataFrame({"account_id": accounts}),
        "subscriptions": subscriptions,
        "events": events,
        "consumption": consumption,
        "contacts": contacts,
    }


@pytest.mark.slow
def test_the_reference_covers_a_benchmark_sized_source() -> None:
    # bench/features_bench.py runs the reference on sources of this size (its speed is the
    # benchmark's to measure, against a floor in the same run).
    tables = synthetic_source(n_accounts=200, n_events=1_000_000, days=730)
    got = reference_features(tables)
    assert got["snapshot_date"].nunique() >= 20
    assert got["account_id"].nunique() == 200
    assert got["consumption_30d"].notna().all()
    assert got["open_high_tickets"].isna().all()  # no tickets table: null, not 0
