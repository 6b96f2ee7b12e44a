"""The simulated source: contract schema, determinism per seed, table invariants."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from features.contract import TABLES
from simulator.config import SimulationConfig
from simulator.run import generate

pytestmark = pytest.mark.xdist_group("simulator")

CONTRACT_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
}


def read(path: Path, table: str) -> pd.DataFrame:
    return pq.read_table(path / f"{table}.parquet").to_pandas()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("table", list(TABLES))
def test_every_table_has_the_contract_schema(small_run, table) -> None:
    spec = TABLES[table]
    schema = pq.read_schema(small_run.path / f"{table}.parquet")
    # Without plays the source is of contract version 1: no optional column (activities.play).
    written = [c for c in spec.columns if not c.optional]

    assert schema.names == [c.name for c in written]
    for column in written:
        field = schema.field(column.name)
        assert field.type == CONTRACT_TYPES[column.dtype], column.name
        assert field.nullable == column.nullable, column.name
    assert pq.ParquetFile(small_run.path / f"{table}.parquet").metadata.num_rows > 0


def test_same_seed_writes_identical_files(small_run, small_summary) -> None:
    again, _ = small_summary
    for table in TABLES:
        name = f"{table}.parquet"
        assert digest(small_run.path / name) == digest(again / name), table
    for name in ("labels.parquet", "oracle.parquet", "latent.parquet", "causes.parquet"):
        assert digest(small_run.path / "_truth" / name) == digest(again / "_truth" / name), name


def test_another_seed_writes_another_source(small_run, tmp_path) -> None:
    other = small_run.config.model_copy(update={"seed": small_run.config.seed + 1})
    generate(other, tmp_path)

    assert digest(tmp_path / "events.parquet") != digest(small_run.path / "events.parquet")
    assert not read(tmp_path, "subscriptions").equals(read(small_run.path, "subscriptions"))


def test_chunk_boundaries_do_not_matter_for_a_chunk_of_the_same_accounts(tmp_path) -> None:
    """Chunks are seeded by (seed, chunk index): a run of 1 chunk equals the first chunk of
    a longer run, account for account."""
    short = SimulationConfig(accounts=40, months=6, seed=2, chunk_accounts=40)
    long = short.model_copy(update={"accounts": 80})
    generate(short, tmp_path / "a")
    generate(long, tmp_path / "b")
    a = read(tmp_path / "a", "subscriptions")
    b = read(tmp_path / "b", "subscriptions")
    assert a.equals(b[b.account_id.isin(a.account_id)].reset_index(drop=True))


def test_keys_are_unique_and_reference_accounts(small_run) -> None:
    accounts = set(read(small_run.path, "accounts").account_id)
    for name, spec in TABLES.items():
        frame = read(small_run.path, name)
        if spec.key:
            assert frame[spec.key].is_unique, name
            assert frame[spec.key].notna().all(), name
        if spec.references_accounts:
            assert set(frame.account_id) <= accounts, name


def test_subscriptions_follow_the_contract(small_run) -> None:
    subs = read(small_run.path, "subscriptions")

    assert (subs.end_date > subs.start_date).all()
    assert (subs.mrr >= 0).all()
    assert (subs.seats.dropna() >= 0).all()
    assert (subs.quota.dropna() >= 0).all()
    assert set(subs["product"]) == {"core_platform", "automation"}
    # Renewals are new rows: every account's base lines, in order, never overlap.
    base = subs[subs["product"] == "core_platform"].sort_values(["account_id", "start_date"])
    terms = base[base.quota.notna()]  # add-on seat lines carry no quota
    prev_end = terms.groupby("account_id").end_date.shift()
    assert (terms.start_date[prev_end.notna()] >= prev_end.dropna()).all()
    lengths = (pd.to_datetime(terms.end_date) - pd.to_datetime(terms.start_date)).dt.days
    assert lengths.between(28, 1100).all()
    # Monthly, annual and multi-year terms all occur.
    assert lengths.min() <= 31 and lengths.max() >= 700


def test_dated_rows_are_before_the_as_of_date(small_run) -> None:
    as_of = pd.Timestamp(small_run.truth.as_of)
    events = read(small_run.path, "events")
    assert events.ts.max() < as_of
    for name, spec in TABLES.items():
        if spec.date_column and name not in ("events", "invoices"):
            values = pd.to_datetime(read(small_run.path, name)[spec.date_column])
            assert values.max() < as_of, name
    closings = [
        ("users", "deactivated_at"),
        ("contacts", "end_date"),
        ("tickets", "closed_at"),
        ("invoices", "paid_date"),
    ]
    for name, column in closings:
        values = pd.to_datetime(read(small_run.path, name)[column]).dropna()
        assert values.max() < as_of, name


def test_row_rules_hold(small_run) -> None:
    users = read(small_run.path, "users")
    ended = users.deactivated_at.notna()
    assert (users.deactivated_at[ended] >= users.created_at[ended]).all()
    tickets = read(small_run.path, "tickets")
    closed = tickets.closed_at.notna()
    assert (tickets.closed_at[closed] >= tickets.opened_at[closed]).all()
    assert set(tickets.priority) <= {"urgent", "high", "normal", "low"}
    contacts = read(small_run.path, "contacts")
    left = contacts.end_date.notna()
    assert (contacts.end_date[left] >= contacts.start_date[left]).all()
    assert set(contacts.role) <= {"champion", "executive_sponsor", "admin", "billing", "other"}
    surveys = read(small_run.path, "surveys")
    nps, csat = surveys[surveys.kind == "nps"], surveys[surveys.kind == "csat"]
    assert nps.score.between(0, 10).all() and csat.score.between(1, 5).all()
    assert len(nps) and len(csat)
    invoices = read(small_run.path, "invoices")
    assert (invoices.amount >= 0).all()
    assert (read(small_run.path, "consumption").units >= 0).all()


def test_events_look_like_product_usage(small_run) -> None:
    events = read(small_run.path, "events")
    catalog = read(small_run.path, "feature_catalog")

    assert set(events.feature) <= set(catalog.feature)
    assert 12 <= len(catalog) <= 20 and catalog.is_core.sum() == 6
    assert 0.01 < events.user_id.isna().mean() < 0.15  # integrations call without a user
    assert 0.02 < events.quantity.isna().mean() < 0.1
    assert (events.quantity.dropna() == 1).mean() > 0.7
    # Sorted by (account, ts) within each chunk; this run is one chunk.
    acc, ts = events.account_id, events.ts
    ordered = (acc > acc.shift()) | ((acc == acc.shift()) & (ts >= ts.shift()))
    assert ordered.iloc[1:].all()
    # Fewer events on weekends; most in office hours of the account's region.
    assert (ts.dt.day_of_week >= 5).mean() < 0.12
    region = events.account_id.map(read(small_run.path, "accounts").set_index("account_id").region)
    local_hour = (ts.dt.hour + region.map({"na": -6, "emea": 1, "apac": 8})) % 24
    assert local_hour.between(8, 19).mean() > 0.75
    users = read(small_run.path, "users")
    assert set(events.user_id.dropna()) <= set(users.user_id)


def test_events_fall_inside_coverage(small_run) -> None:
    """No usage before an account's first term or after its last one ends."""
    subs = read(small_run.path, "subscriptions")
    events = read(small_run.path, "events")
    span = subs.groupby("account_id").agg(first=("start_date", "min"), last=("end_date", "max"))
    per_account = events.groupby("account_id").ts.agg(["min", "max"]).join(span)
    assert (per_account["min"].dt.date >= per_account["first"]).all()
    assert (per_account["max"].dt.date < per_account["last"]).all()


def test_segments_differ_in_size_and_price(small_run) -> None:
    accounts = read(small_run.path, "accounts")
    subs = read(small_run.path, "subscriptions").merge(accounts, on="account_id")
    seats = subs[subs.quota.notna()].groupby("segment").seats.median()
    assert seats["enterprise"] > seats["mid_market"] > seats["smb"]
    assert set(accounts.segment) == {"enterprise", "mid_market", "smb"}
    assert accounts.csm_id[accounts.segment == "smb"].isna().all()
    assert np.isfinite(subs.mrr).all()
