"""Small sources for feature tests, written as Parquet with the contract's types."""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import TABLES
from features.pipeline import FeatureOptions, build_feature_table
from features.sources import IBIS_TYPES, open_source
from features.validation import validate_source

ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
}
assert set(ARROW_TYPES) == set(IBIS_TYPES)


def _coerce(value, dtype: str):
    if value is None:
        return None
    if dtype == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if dtype == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def write_tables(directory: Path, tables: dict[str, list[dict]]) -> Path:
    """Write each table (a list of row dicts; missing keys are null) as typed Parquet."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        spec = TABLES[name]
        arrays = {
            col.name: pa.array(
                [_coerce(row.get(col.name), col.dtype) for row in rows],
                type=ARROW_TYPES[col.dtype],
            )
            for col in spec.columns
        }
        pq.write_table(pa.table(arrays), directory / f"{name}.parquet")
    return directory


def build(directory: Path, **options) -> pd.DataFrame:
    """The feature table of the source in ``directory`` as a DataFrame."""
    source = open_source(directory)
    validated = validate_source(source, as_of=options.get("as_of"))
    opts = FeatureOptions(**{**options, "as_of": validated.as_of})
    run = build_feature_table(source.con, validated.tables, opts)
    return run.table.to_pandas()


def row(frame: pd.DataFrame, account_id: str, snapshot: str) -> pd.Series:
    hit = frame[
        (frame.account_id == account_id) & (frame.snapshot_date == date.fromisoformat(snapshot))
    ]
    assert len(hit) == 1, f"no single row for {account_id} at {snapshot}: {len(hit)}"
    return hit.iloc[0]


# --- a source with sub-second timestamps, for backend parity and precision tests ------------

SUBSECOND_T = datetime(2024, 6, 1)
"""The snapshot A1's hand-made rows sit around (``subsecond_tables``)."""
_US = timedelta(microseconds=1)


def _a1_tables() -> dict[str, list[dict]]:
    """Account A1: rows a microsecond or a fraction of a second from the edges of t."""
    t = SUBSECOND_T

    def ticket(tid: str, opened: datetime, closed: datetime | None, priority: str) -> dict:
        return {
            "ticket_id": tid,
            "account_id": "A1",
            "opened_at": opened,
            "closed_at": closed,
            "priority": priority,
        }

    def user(uid: str, created: datetime, deactivated: datetime | None = None) -> dict:
        return {
            "user_id": uid,
            "account_id": "A1",
            "created_at": created,
            "deactivated_at": deactivated,
            "department": "eng",
        }

    def event(uid: str, ts: datetime) -> dict:
        return {"account_id": "A1", "user_id": uid, "ts": ts, "feature": "reports"}

    return {
        "tickets": [
            ticket("K1", t - timedelta(seconds=0.25), None, "high"),  # open, 0.25 s old
            # closed at t: still open, 11 d 11:59:59.6 old
            ticket("K2", datetime(2024, 5, 20, 12, 0, 0, 400_000), t, "normal"),
            # 0.2 s across a second boundary (DuckDB's seconds count 1, Spark's 0)
            ticket(
                "K3",
                datetime(2024, 5, 30, 23, 59, 59, 900_000),
                datetime(2024, 5, 31, 0, 0, 0, 100_000),
                "low",
            ),
            # closed a microsecond before t: closed
            ticket("K4", datetime(2024, 5, 1, 8, 0, 0, 1), t - _US, "normal"),
            # opened a microsecond before t - 30 days: in 90 days, not in 30
            ticket("K5", datetime(2024, 5, 2) - _US, datetime(2024, 5, 2) + _US, "urgent"),
            ticket("K6", t - _US, None, "urgent"),  # open, a microsecond old
            ticket("K7", t + _US, None, "urgent"),  # after t
        ],
        "users": [
            user("A1-u1", datetime(2024, 1, 2, 0, 0, 0, 500_000), t - _US),  # gone before t
            user("A1-u2", datetime(2024, 1, 2), t),  # deactivated at t: still provisioned
            user("A1-u3", t - _US),  # created a microsecond before t
            user("A1-u4", t),  # created at t: not yet
            user("A1-u5", datetime(2024, 1, 2), datetime(2024, 3, 3) - _US),  # before t - 90
        ],
        "events": [
            event("A1-u1", datetime(2024, 1, 15, 9, 30, 0, 123_456)),
            event("A1-u1", datetime(2024, 5, 2) - _US),  # a microsecond before the 30-day window
            event("A1-u2", datetime(2024, 5, 2) + _US),
            event("A1-u3", t - _US),
            event("A1-u4", t),  # at t: the next snapshot's
            event("A1-u4", t + timedelta(days=20, microseconds=7)),
        ],
    }


def subsecond_tables(accounts: int = 8, seed: int = 5) -> dict[str, list[dict]]:
    """Every contract table, every timestamp with a random microsecond part.

    A1 holds hand-made rows around ``SUBSECOND_T`` (see ``_a1_tables``); A2.. are random
    over 2023-01 .. 2024-07 (tickets open and closed, users created and deactivated, events,
    and the date tables), so monthly snapshots see sub-second ages and durations."""
    rng = np.random.default_rng(seed)
    start = datetime(2023, 1, 1)
    span = (datetime(2024, 7, 15) - start).total_seconds()

    def moment(lo: float = 0.0, hi: float = 1.0) -> datetime:
        seconds = float(rng.uniform(lo, hi)) * span
        return start + timedelta(seconds=int(seconds), microseconds=int(rng.integers(1, 10**6)))

    def later(ts: datetime, max_days: float) -> datetime:
        return ts + timedelta(
            seconds=float(rng.uniform(0, max_days * 86400)),
            microseconds=int(rng.integers(0, 10**6)),
        )

    ids = [f"A{i}" for i in range(1, accounts + 1)]
    a1 = _a1_tables()
    features_used = ["reports", "exports", "admin", "api"]
    tables: dict[str, list[dict]] = {
        "accounts": [
            {
                "account_id": a,
                "segment": ["smb", "enterprise"][i % 2],
                "industry": ["retail", "fintech", "media"][i % 3],
                "region": "emea",
            }
            for i, a in enumerate(ids)
        ],
        "subscriptions": [],
        "events": list(a1["events"]),
        "users": list(a1["users"]),
        "feature_catalog": [{"feature": f, "is_core": f != "api"} for f in features_used],
        "consumption": [],
        "contacts": [],
        "tickets": list(a1["tickets"]),
        "surveys": [],
        "activities": [],
        "invoices": [],
    }
    for i, a in enumerate(ids):
        tables["subscriptions"] += [
            {
                "subscription_id": f"S{a}-{year}",
                "account_id": a,
                "start_date": date(year, 1, 1),
                "end_date": date(year + 1, 1, 1),
                "mrr": 100.0 + 10 * i + (year - 2023) * 5,
                "seats": 4 + i,
                "quota": 5000.0,
            }
            for year in (2023, 2024)
        ]
        users = [f"{a}-u{j}" for j in range(1, 6)]
        if a != "A1":
            for u in users:
                created = moment(0.0, 0.6)
                gone = later(created, 300) if rng.random() < 0.5 else None
                tables["users"].append(
                    {
                        "user_id": u,
                        "account_id": a,
                        "created_at": created,
                        "deactivated_at": gone,
                        "department": ["eng", "sales", None][int(rng.integers(0, 3))],
                    }
                )
            for k in range(6):
                opened = moment()
                closed = later(opened, 20) if rng.random() < 0.7 else None
                tables["tickets"].append(
                    {
                        "ticket_id": f"K{a}-{k}",
                        "account_id": a,
                        "opened_at": opened,
                        "closed_at": closed,
                        "priority": ["urgent", "high", "normal", "low"][int(rng.integers(0, 4))],
                    }
                )
        for _ in range(40 if a != "A1" else 0):
            tables["events"].append(
                {
                    "account_id": a,
                    "user_id": [*users, None][int(rng.integers(0, 6))],
                    "ts": moment(),
                    "feature": features_used[int(rng.integers(0, 4))],
                    "quantity": float(rng.integers(1, 4)) if rng.random() < 0.8 else None,
                }
            )
        for k in range(10):
            day = moment().date()
            tables["consumption"].append({"account_id": a, "date": day, "units": float(k * 7)})
        tables["contacts"].append(
            {
                "contact_id": f"C{a}",
                "account_id": a,
                "role": "champion",
                "start_date": date(2023, 1, 1),
                "end_date": date(2024, 2, 1) if i % 3 == 0 else None,
                "user_id": users[0],
            }
        )
        tables["contacts"].append(
            {
                "contact_id": f"X{a}",
                "account_id": a,
                "role": "executive_sponsor",
                "start_date": date(2023, 2, 1),
                "user_id": users[1],
            }
        )
        tables["surveys"] += [
            {"account_id": a, "date": moment(0.2, 0.5).date(), "kind": "nps", "score": float(i)},
            {"account_id": a, "date": moment(0.5, 0.9).date(), "kind": "nps", "score": 9.0},
            {
                "account_id": a,
                "date": moment(0.3, 0.9).date(),
                "kind": "csat",
                "score": 4.0,
                "contact_id": f"X{a}",  # the sponsor's answer
            },
        ]
        tables["activities"].append({"account_id": a, "date": moment().date(), "kind": "qbr"})
        tables["invoices"].append(
            {
                "invoice_id": f"I{a}",
                "account_id": a,
                "due_date": moment(0.2, 0.8).date(),
                "paid_date": moment(0.8, 0.9).date() if i % 2 else None,
                "amount": 300.0,
            }
        )
    return tables


def _csv_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_csv_tables(directory: Path, tables: dict[str, list[dict]]) -> Path:
    """``write_tables`` as CSV text (timestamps with their microseconds, '' for null)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        columns = TABLES[name].column_names
        with open(directory / f"{name}.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            writer.writerows([_csv_text(r.get(c)) for c in columns] for r in rows)
    return directory
