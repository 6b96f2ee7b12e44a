"""Point-in-time correctness: nothing dated at or after t changes the features of snapshot t.

Hypothesis adds, deletes and changes rows of every table at or after t (and moves end
dates that lie at or after t to other such dates); the features of t must stay equal."""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.features.helpers import build, write_tables

T = date(2024, 6, 1)
AS_OF = date(2024, 10, 1)
T_TS = datetime(2024, 6, 1)
ACCOUNTS = ["A1", "A2", "A3"]
USERS = ["u1", "u2", "u3", "u4", None]
FEATURES = ["reports", "exports", "admin", "api"]


def _base() -> dict[str, list[dict]]:
    rng = np.random.default_rng(3)
    events = []
    for i in range(120):
        ts = T_TS - timedelta(days=int(rng.integers(-60, 150)), seconds=int(rng.integers(0, 86400)))
        events.append(
            {
                "account_id": ACCOUNTS[i % 3],
                "user_id": USERS[int(rng.integers(0, 5))],
                "ts": ts,
                "feature": FEATURES[int(rng.integers(0, 4))],
                "quantity": float(rng.integers(1, 4)),
            }
        )
    events.append({"account_id": "A1", "user_id": "u1", "ts": T_TS, "feature": "reports"})
    return {
        "accounts": [
            {"account_id": a, "segment": s}
            for a, s in zip(ACCOUNTS, ["smb", "smb", "enterprise"], strict=True)
        ],
        "subscriptions": [
            {
                "subscription_id": "S1",
                "account_id": "A1",
                "start_date": date(2023, 9, 1),
                "end_date": date(2024, 9, 1),
                "mrr": 100.0,
                "seats": 5,
                "quota": 1000.0,
            },
            {
                "subscription_id": "S2",
                "account_id": "A2",
                "start_date": date(2024, 1, 1),
                "end_date": date(2025, 1, 1),
                "mrr": 50.0,
                "seats": 3,
            },
            {
                "subscription_id": "S3",
                "account_id": "A3",
                "start_date": date(2023, 5, 1),
                "end_date": date(2024, 7, 1),
                "mrr": 500.0,
                "seats": 20,
                "quota": 9000.0,
            },
        ],
        "events": events,
        "users": [
            {
                "user_id": f"{a}-{u}",
                "account_id": a,
                "created_at": datetime(2023, 10, 1),
                "deactivated_at": datetime(2024, 6, 20),
                "department": u,
            }
            for a in ACCOUNTS
            for u in ["u1", "u2"]
        ],
        "feature_catalog": [{"feature": f, "is_core": f != "api"} for f in FEATURES],
        "consumption": [
            {"account_id": a, "date": T - timedelta(days=d), "units": float(abs(d))}
            for a in ACCOUNTS
            for d in range(-20, 200, 7)
        ],
        "contacts": [
            {
                "contact_id": "C1",
                "account_id": "A1",
                "role": "champion",
                "start_date": date(2023, 9, 1),
                "end_date": date(2024, 6, 10),
                "user_id": "u1",
            },
            {
                "contact_id": "C2",
                "account_id": "A2",
                "role": "executive_sponsor",
                "start_date": date(2024, 1, 1),
                "user_id": "u2",
            },
        ],
        "tickets": [
            {
                "ticket_id": "K1",
                "account_id": "A1",
                "opened_at": datetime(2024, 5, 20),
                "closed_at": datetime(2024, 6, 3),
                "priority": "urgent",
            },
            {
                "ticket_id": "K2",
                "account_id": "A3",
                "opened_at": datetime(2024, 4, 1),
                "closed_at": datetime(2024, 4, 3),
                "priority": "normal",
            },
        ],
        "surveys": [
            {
                "account_id": "A2",
                "date": date(2024, 3, 1),
                "kind": "nps",
                "score": 8.0,
                "contact_id": "C2",
            },
        ],
        "activities": [{"account_id": "A1", "date": date(2024, 2, 1), "kind": "qbr"}],
        "invoices": [
            {
                "invoice_id": "I1",
                "account_id": "A3",
                "due_date": date(2024, 5, 1),
                "paid_date": date(2024, 6, 15),
                "amount": 500.0,
            },
        ],
    }


later_ts = st.integers(0, 120 * 86400).map(lambda s: T_TS + timedelta(seconds=s))
later_day = st.integers(0, 120).map(lambda d: T + timedelta(days=d))
account = st.sampled_from(ACCOUNTS)

additions = st.one_of(
    st.builds(
        lambda a, u, ts, f: ("events", {"account_id": a, "user_id": u, "ts": ts, "feature": f}),
        account,
        st.sampled_from(USERS),
        later_ts,
        st.sampled_from(FEATURES),
    ),
    st.builds(
        lambda a, d, u: ("consumption", {"account_id": a, "date": d, "units": u}),
        account,
        later_day,
        st.floats(0, 1e4),
    ),
    st.builds(
        lambda a, ts, p: ("tickets", {"account_id": a, "opened_at": ts, "priority": p}),
        account,
        later_ts,
        st.sampled_from(["urgent", "high", "low"]),
    ),
    st.builds(
        lambda a, d, s: ("surveys", {"account_id": a, "date": d, "kind": "nps", "score": float(s)}),
        account,
        later_day,
        st.integers(0, 10),
    ),
    st.builds(
        lambda a, d, r: ("contacts", {"account_id": a, "start_date": d, "role": r}),
        account,
        later_day,
        st.sampled_from(["champion", "executive_sponsor"]),
    ),
    st.builds(
        lambda a, d: ("activities", {"account_id": a, "date": d, "kind": "qbr"}), account, later_day
    ),
    st.builds(  # a play run (contract 1.1) is dated CS activity like any other
        lambda a, d, p: ("activities", {"account_id": a, "date": d, "kind": "meeting", "play": p}),
        account,
        later_day,
        st.sampled_from(["champion_rescue", "renewal_discount"]),
    ),
    st.builds(
        lambda a, d: ("invoices", {"account_id": a, "due_date": d, "amount": 9.0}),
        account,
        later_day,
    ),
    st.builds(
        lambda a, d, m: (
            "subscriptions",
            {
                "account_id": a,
                "start_date": d,
                "end_date": d + timedelta(days=90),
                "mrr": m,
                "seats": 50,
                "quota": 5.0,
            },
        ),
        account,
        later_day,
        st.floats(0, 1e3),
    ),
)


def _mutate(base: dict, added: list, drop_later_events: bool, shift: int) -> dict:
    tables = copy.deepcopy(base)
    for i, (table, values) in enumerate(added):
        values = dict(values)
        key = {
            "tickets": "ticket_id",
            "contacts": "contact_id",
            "invoices": "invoice_id",
            "subscriptions": "subscription_id",
        }.get(table)
        if key:
            values[key] = f"new{i}"
        tables[table].append(values)
    if drop_later_events:
        tables["events"] = [e for e in tables["events"] if e["ts"] < T_TS]
    # Move every date that lies at or after t to another such date.
    moved = timedelta(days=shift)
    for ticket in tables["tickets"]:
        if ticket.get("closed_at") and ticket["closed_at"] >= T_TS:
            ticket["closed_at"] += moved
    for contact in tables["contacts"]:
        if contact.get("end_date") and contact["end_date"] >= T:
            contact["end_date"] += moved
    for invoice in tables["invoices"]:
        if invoice.get("paid_date") and invoice["paid_date"] >= T:
            invoice["paid_date"] += moved
    for user in tables["users"]:
        if user.get("deactivated_at") and user["deactivated_at"] >= T_TS:
            user["deactivated_at"] += moved
    return tables


def _features_at_t(directory: Path) -> pd.DataFrame:
    frame = build(directory, as_of=AS_OF, snapshots=[T])
    return frame.drop(columns=["churn_180d", "expand_180d"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return _features_at_t(write_tables(tmp_path_factory.mktemp("base"), _base()))


@pytest.mark.slow
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(added=st.lists(additions, max_size=6), drop=st.booleans(), shift=st.integers(0, 60))
def test_rows_at_or_after_t_never_change_the_features_of_t(
    baseline: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory, added, drop, shift
) -> None:
    directory = write_tables(
        tmp_path_factory.mktemp("changed"), _mutate(_base(), added, drop, shift)
    )
    pd.testing.assert_frame_equal(
        _features_at_t(directory), baseline, check_exact=False, rtol=1e-12
    )


def test_the_baseline_sees_the_data_before_t(baseline: pd.DataFrame) -> None:
    # Guards the property test against a vacuous baseline.
    a1 = baseline[baseline.account_id == "A1"].iloc[0]
    assert a1.events_90d > 0 and a1.active_champions == 1 and a1.open_high_tickets == 1
    assert a1.consumption_30d > 0
    assert a1.core_event_share_90d > 0
