"""A hand-made book: every movement kind, a renewal inside the grace, a return after it, a
downgrade to zero seats (grace 30 days, as of 2024-07-01)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import ibis
import pandas as pd

from tests.features.helpers import write_tables

AS_OF = date(2024, 7, 1)
GRACE = 30
LONG = "2026-01-01"

SUBSCRIPTIONS = [
    # (subscription_id, account_id, start, end, mrr)
    ("n1", "NEW", "2024-02-01", LONG, 100.0),
    ("e1", "EXPAND", "2023-12-01", LONG, 100.0),
    ("e2", "EXPAND", "2024-03-10", LONG, 50.0),  # an add-on
    ("c1", "CONTRACT", "2023-12-01", "2024-04-01", 100.0),
    ("c2", "CONTRACT", "2024-04-01", LONG, 60.0),
    ("x1", "CHURN", "2023-12-01", "2024-03-15", 100.0),
    # renewed 10 days late, across a month end, at a higher price: inside the grace
    ("l1", "LATE", "2023-12-01", "2024-02-25", 100.0),
    ("l2", "LATE", "2024-03-06", LONG, 130.0),
    # gone 65 days, then back: a churn and a reactivation
    ("r1", "BACK", "2023-12-01", "2024-02-10", 100.0),
    ("r2", "BACK", "2024-04-15", LONG, 120.0),
    # down to a free plan with zero seats: still a customer
    ("z1", "ZERO", "2023-12-01", "2024-05-01", 100.0),
    ("z2", "ZERO", "2024-05-01", LONG, 0.0),
]
SEGMENTS = {
    "NEW": "smb",
    "EXPAND": "smb",
    "CONTRACT": "mid_market",
    "CHURN": "enterprise",
    "LATE": "mid_market",
    "BACK": "smb",
    "ZERO": "smb",
}
CSMS = {"NEW": "ann", "EXPAND": "ann", "CHURN": "bob", "LATE": "bob"}


COLUMNS = ("subscription_id", "account_id", "start_date", "end_date", "mrr")


def subscriptions_table() -> ibis.Table:
    frame = pd.DataFrame(SUBSCRIPTIONS, columns=list(COLUMNS))
    for column in ("start_date", "end_date"):
        frame[column] = pd.to_datetime(frame[column]).dt.date
    return ibis.memtable(
        frame,
        schema={
            "subscription_id": "string",
            "account_id": "string",
            "start_date": "date",
            "end_date": "date",
            "mrr": "float64",
        },
    )


def write_book_source(directory: Path, other_accounts: Sequence[str] = ()) -> Path:
    """The book as a source folder (the contract's three required tables), with
    ``other_accounts`` in its accounts table too (no subscriptions)."""
    return write_tables(
        directory,
        {
            "accounts": [
                {"account_id": a, "segment": s, "csm_id": CSMS.get(a)} for a, s in SEGMENTS.items()
            ]
            + [{"account_id": a, "segment": "smb"} for a in other_accounts],
            "subscriptions": [dict(zip(COLUMNS, r, strict=True)) for r in SUBSCRIPTIONS],
            "events": [
                {"account_id": "NEW", "user_id": "u", "ts": "2024-06-30 23:00:00", "feature": "x"}
            ],
        },
    )
