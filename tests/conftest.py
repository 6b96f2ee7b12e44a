"""Shared fixtures. Each builds its own data: no network, no files outside tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

# `make test` (CI) runs hypothesis with this profile (--hypothesis-profile=ci): derandomized,
# so every run draws the same examples and a failure repeats; no example database is kept.
settings.register_profile("ci", derandomize=True, database=None)


@pytest.fixture(autouse=True, scope="session")
def _default_home_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The default state directory (the user's data directory: ``$XDG_DATA_HOME/churnlight``
    on Linux) of every test and of the processes it starts is a temporary one, so a test that
    sets no CHURNLIGHT_HOME never writes to the user's."""
    patch = pytest.MonkeyPatch()
    data_home = tmp_path_factory.mktemp("xdg-data-home")
    patch.setenv("XDG_DATA_HOME", str(data_home))
    patch.delenv("CHURNLIGHT_HOME", raising=False)
    yield data_home / "churnlight"
    patch.undo()


@pytest.fixture(autouse=True, scope="session")
def _short_tuning() -> Iterator[None]:
    """`train` and `retrain` tune for a minute by default; the tests that run them (in
    process or as subprocesses) search 2 trials. The time budget is set far above what 2
    trials take, so the trial count alone ends the search and two runs on the same table
    tune alike however busy the machine is (a budget that cuts the second trial in one run
    only would make their parameters differ). The defaults are tested in test_tune.py."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CHURNLIGHT_TUNE_TRIALS", "2")
    patch.setenv("CHURNLIGHT_TUNE_SECONDS", "3600")
    yield
    patch.undo()


# --- contract sources (validation, and anything that needs a small valid source) -------------

SourceTables = dict[str, pd.DataFrame]
SourceWriter = Callable[..., Path]


def _frame(columns: str, *rows: str) -> pd.DataFrame:
    """A text frame from comma-separated lines: '' is an empty cell (null)."""
    names = columns.split(",")
    data = [row.split(",") for row in rows]
    assert all(len(r) == len(names) for r in data), columns
    return pd.DataFrame(data, columns=names, dtype="string")


def clean_source_tables() -> SourceTables:
    """A tiny source that meets the contract, with all eleven tables, as text.

    Accounts A1-A3; the latest event is 2023-12-31 23:59:59, so the default as-of date is
    2024-01-01. Dated rows fall on both sides of 2023-10-01 for as-of tests."""
    return {
        "accounts": _frame(
            "account_id,segment,industry,region,csm_id",
            "A1,enterprise,fintech,emea,csm1",
            "A2,smb,retail,na,csm2",
            "A3,mid_market,,apac,",
        ),
        "subscriptions": _frame(
            "subscription_id,account_id,product,start_date,end_date,mrr,seats,quota",
            "S1,A1,core,2023-01-01,2024-01-01,100,10,",
            "S2,A2,core,2023-03-01,2024-03-01,50.5,,1000",
            "S3,A3,addon,2023-06-01,2024-06-01,0,5,0",
        ),
        "events": _frame(
            "account_id,user_id,ts,feature,quantity",
            "A1,u1,2023-06-01 10:00:00,reports,1",
            "A2,u2,2023-09-15 08:30:00,exports,",
            "A1,u1,2023-10-01 00:00:00,reports,3",
            "A3,,2023-12-31 23:59:59,api,2",
        ),
        "users": _frame(
            "user_id,account_id,created_at,deactivated_at,role,department",
            "u1,A1,2023-01-05 00:00:00,,admin,eng",
            "u2,A2,2023-03-02 12:00:00,2023-12-01 00:00:00,,",
        ),
        "feature_catalog": _frame(
            "feature,is_core,category",
            "reports,true,analytics",
            "exports,false,",
        ),
        "consumption": _frame(
            "account_id,date,units",
            "A2,2023-06-01,10",
            "A2,2023-11-01,0",
        ),
        "contacts": _frame(
            "contact_id,account_id,role,start_date,end_date,user_id",
            "C1,A1,champion,2023-01-01,,u1",
            "C2,A2,admin,2023-02-01,2023-08-01,",
        ),
        "tickets": _frame(
            "ticket_id,account_id,opened_at,closed_at,priority,category",
            "K1,A1,2023-05-01 09:00:00,2023-05-02 09:00:00,high,bug",
            "K2,A3,2023-11-01 10:00:00,,normal,",
        ),
        "surveys": _frame(
            "account_id,date,kind,score,contact_id",
            "A1,2023-07-01,nps,9,C1",
            "A2,2023-08-01,csat,4,",
        ),
        "activities": _frame(
            "account_id,date,kind",
            "A1,2023-04-01,qbr",
            "A3,2023-10-01,training",
        ),
        "invoices": _frame(
            "invoice_id,account_id,due_date,paid_date,amount",
            "I1,A1,2023-02-01,2023-02-10,1200",
            "I2,A2,2023-04-01,,600",
        ),
    }


def add_row(tables: dict[str, pd.DataFrame], name: str, **values: str) -> None:
    """Append a row to ``tables[name]``; columns not given are empty (null)."""
    frame = tables[name]
    unknown = set(values) - set(frame.columns)
    assert not unknown, unknown
    row = pd.DataFrame([{c: values.get(c, "") for c in frame.columns}], dtype="string")
    tables[name] = pd.concat([frame, row], ignore_index=True)


def set_cell(
    tables: dict[str, pd.DataFrame], name: str, where: tuple[str, str], column: str, value: str
) -> None:
    """Set ``column`` to ``value`` in the rows of ``tables[name]`` where where[0] == where[1]."""
    frame = tables[name]
    mask = frame[where[0]] == where[1]
    assert mask.sum() >= 1, where
    frame.loc[mask, column] = value


def all_faults(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The clean source with one of each fault, for the 'every problem in one run' tests.

    contacts lacks its user_id column (an optional table); subscription S2 and account A3
    appear twice; events of unknown accounts A9 and A7; S1 ends before it starts; S3 has
    mrr -20; ticket K1 closes before it opens; an NPS answer of 14."""
    tables["contacts"] = tables["contacts"].drop(columns=["user_id"])  # optional table
    add_row(  # duplicate subscription key
        tables,
        "subscriptions",
        subscription_id="S2",
        account_id="A2",
        start_date="2024-03-01",
        end_date="2025-03-01",
        mrr="55",
    )
    add_row(tables, "accounts", account_id="A3")  # duplicate account key
    add_row(tables, "events", account_id="A9", ts="2023-08-01 12:00:00", feature="api")
    add_row(tables, "events", account_id="A7", ts="2023-08-02 12:00:00", feature="api")
    set_cell(tables, "subscriptions", ("subscription_id", "S1"), "end_date", "2022-12-01")
    set_cell(tables, "subscriptions", ("subscription_id", "S3"), "mrr", "-20")
    set_cell(tables, "tickets", ("ticket_id", "K1"), "closed_at", "2023-04-30 09:00:00")
    add_row(tables, "surveys", account_id="A3", date="2023-09-01", kind="nps", score="14")
    return tables


def write_source(directory: Path, tables: SourceTables, fmt: str = "csv") -> Path:
    """Write ``tables`` as ``<table>.csv`` (or ``.parquet``) files into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if fmt == "csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        else:
            frame.to_parquet(directory / f"{name}.parquet", index=False)
    return directory


@pytest.fixture
def source_tables() -> SourceTables:
    """A fresh copy of the clean source's tables, to break in a test."""
    return clean_source_tables()


@pytest.fixture
def make_source(tmp_path: Path) -> SourceWriter:
    """Write tables as a source folder under tmp_path and return its path."""
    counter = iter(range(1_000_000))

    def make(tables: SourceTables, fmt: str = "csv") -> Path:
        return write_source(tmp_path / f"source{next(counter)}", tables, fmt)

    return make
