"""Validation of sources against the data contract: every rule, counted exactly.

Each test breaks the clean source of tests/conftest.py in one way (or all at once) and
asserts the exact problems: table, column, rule, number of rows, examples, fatal."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.contract import TABLES
from features.errors import SourceError, ValidationError
from features.sources import open_source
from features.validation import ValidatedSource, validate_source
from features.validation_report import ValidationReport
from features.validation_rules import (
    REASON_COLUMN,
    RULE_COLUMN_PRESENT,
    RULE_HAS_EVENTS,
    RULE_IN_ACCOUNTS,
    RULE_KEY_NOT_NULL,
    RULE_KEY_UNIQUE,
    RULE_NOT_NULL,
    RULE_TABLE_PRESENT,
    cast_rule,
)
from tests.conftest import add_row, all_faults, set_cell

SCORE_RANGE = "score in range of kind (nps 0-10, csat 1-5)"
PRIORITY_IN = "priority in (urgent, high, normal, low)"
ROLE_IN = "role in (champion, executive_sponsor, admin, billing, other)"


# --- helpers -------------------------------------------------------------------------------


def validated(make_source, tables, **kwargs) -> ValidatedSource:
    return validate_source(open_source(make_source(tables)), **kwargs)


def rejected(make_source, tables, **kwargs) -> ValidationReport:
    """The report of a source that must fail validation."""
    with pytest.raises(ValidationError) as info:
        validate_source(open_source(make_source(tables)), **kwargs)
    report = info.value.report
    assert isinstance(report, ValidationReport)
    assert not report.ok
    return report


def rejected_source(source) -> ValidationReport:
    with pytest.raises(ValidationError) as info:
        validate_source(source)
    return info.value.report


def found(report: ValidationReport) -> list[tuple]:
    """The problems as (table, column, rule, rows, examples, fatal)."""
    return [(p.table, p.column, p.rule, p.rows, p.examples, p.fatal) for p in report.problems]


def count_rows(validated_source: ValidatedSource) -> dict[str, int]:
    return {name: int(t.count().execute()) for name, t in validated_source.tables.items()}


# --- a clean source --------------------------------------------------------------------------


def test_clean_source_is_ok_with_typed_tables(make_source, source_tables) -> None:
    result = validated(make_source, source_tables)

    assert result.report.ok
    assert result.report.problems == []
    assert result.as_of == date(2024, 1, 1)  # the day after the latest event, 2023-12-31
    assert result.report.absent_tables == []
    assert list(result.tables) == list(TABLES)
    expected_rows = {name: len(frame) for name, frame in source_tables.items()}
    assert count_rows(result) == expected_rows
    for name, counts in result.report.tables.items():
        assert (counts.rows_read, counts.rows_quarantined, counts.rows_after_as_of) == (
            expected_rows[name],
            0,
            0,
        )
    subs = result.table("subscriptions")
    assert list(subs.columns) == list(TABLES["subscriptions"].column_names)
    assert str(subs.schema()["start_date"]) == "date"
    assert str(subs.schema()["mrr"]) == "float64"
    assert str(subs.schema()["seats"]) == "int64"
    assert str(result.table("events").schema()["ts"]) == "timestamp"
    assert str(result.table("feature_catalog").schema()["is_core"]) == "boolean"


def test_absent_optional_table_is_not_a_problem(make_source, source_tables) -> None:
    del source_tables["tickets"], source_tables["invoices"]

    result = validated(make_source, source_tables)

    assert result.report.ok
    assert result.report.problems == []
    assert result.report.absent_tables == ["tickets", "invoices"]
    assert not result.has("tickets")
    assert result.has("events")
    with pytest.raises(SourceError, match="has no table 'tickets'"):
        result.table("tickets")


# --- fatal problems --------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["accounts", "subscriptions", "events"])
def test_missing_required_table_is_fatal(make_source, source_tables, table: str) -> None:
    del source_tables[table]

    report = rejected(make_source, source_tables)

    assert found(report) == [(table, None, RULE_TABLE_PRESENT, 0, [], True)]
    assert table not in report.tables


def test_missing_required_table_message_names_it(make_source, source_tables) -> None:
    del source_tables["events"]

    with pytest.raises(ValidationError) as info:
        validate_source(open_source(make_source(source_tables)))

    message = str(info.value)
    assert "1 problem(s) stop the run" in message
    assert "  - events: table present" in message


def test_missing_column_is_fatal_in_required_and_optional_tables(
    make_source, source_tables
) -> None:
    source_tables["subscriptions"] = source_tables["subscriptions"].drop(columns=["mrr"])
    source_tables["tickets"] = source_tables["tickets"].drop(columns=["category"])

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("subscriptions", "mrr", RULE_COLUMN_PRESENT, 3, [], True),
        ("tickets", "category", RULE_COLUMN_PRESENT, 2, [], True),
    ]


def test_null_key_is_fatal(make_source, source_tables) -> None:
    set_cell(source_tables, "subscriptions", ("subscription_id", "S2"), "subscription_id", "")
    set_cell(source_tables, "accounts", ("account_id", "A3"), "account_id", "")
    # Events of A3 are now orphans as well: a row-level problem reported beside the key.
    source_tables["events"] = source_tables["events"][source_tables["events"].account_id != "A3"]
    set_cell(source_tables, "subscriptions", ("account_id", "A3"), "account_id", "A1")
    set_cell(source_tables, "tickets", ("account_id", "A3"), "account_id", "A1")
    set_cell(source_tables, "activities", ("account_id", "A3"), "account_id", "A1")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        (
            "accounts",
            "account_id",
            RULE_KEY_NOT_NULL,
            1,
            ["segment=mid_market industry=null"],
            True,
        ),
        ("subscriptions", "subscription_id", RULE_KEY_NOT_NULL, 1, ["account_id=A2"], True),
    ]


def test_duplicate_key_is_fatal(make_source, source_tables) -> None:
    add_row(
        source_tables,
        "subscriptions",
        subscription_id="S1",
        account_id="A1",
        start_date="2024-01-01",
        end_date="2025-01-01",
        mrr="120",
    )
    add_row(source_tables, "accounts", account_id="A2", segment="smb")
    add_row(source_tables, "accounts", account_id="A2")
    add_row(source_tables, "feature_catalog", feature="exports", is_core="true")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("accounts", "account_id", RULE_KEY_UNIQUE, 3, ["A2"], True),
        ("subscriptions", "subscription_id", RULE_KEY_UNIQUE, 2, ["S1"], True),
        ("feature_catalog", "feature", RULE_KEY_UNIQUE, 2, ["exports"], True),
    ]
    assert report.tables["accounts"].rows_read == 5


@pytest.mark.parametrize(
    ("table", "where", "column", "value", "rule", "example"),
    [
        ("subscriptions", ("subscription_id", "S1"), "start_date", "2023-13-01", "date", "S1"),
        ("subscriptions", ("subscription_id", "S2"), "mrr", "12,5", "float64", "S2"),
        ("subscriptions", ("subscription_id", "S3"), "seats", "five", "int64", "S3"),
        ("subscriptions", ("subscription_id", "S1"), "seats", "10.5", "int64", "S1"),
        ("events", ("feature", "exports"), "ts", "yesterday", "timestamp", None),
        ("feature_catalog", ("feature", "reports"), "is_core", "maybe", "boolean", "reports"),
        ("invoices", ("invoice_id", "I1"), "paid_date", "soon", "date", "I1"),
    ],
)
def test_uncastable_value_is_fatal(
    make_source, source_tables, table, where, column, value, rule, example
) -> None:
    set_cell(source_tables, table, where, column, value)

    report = rejected(make_source, source_tables)

    if example is None:  # events have no key: the row is described, with the raw text
        example = f"account_id=A2 ts={value}"
    # A not-null column holding an uncastable value is one cast problem, not also a null.
    assert found(report) == [(table, column, cast_rule(rule), 1, [example], True)]


def test_blank_value_is_null_not_a_cast_failure(make_source, source_tables) -> None:
    set_cell(source_tables, "subscriptions", ("subscription_id", "S1"), "seats", "  ")
    set_cell(source_tables, "subscriptions", ("subscription_id", "S2"), "mrr", " ")

    report = rejected(make_source, source_tables)

    assert found(report) == [("subscriptions", "mrr", RULE_NOT_NULL, 1, ["S2"], True)]


def test_parquet_source_values_are_checked_in_their_stored_types(
    make_source, source_tables
) -> None:
    subs = pd.DataFrame(
        {
            "subscription_id": ["S1", "S2", "S3"],
            "account_id": ["A1", "A2", "A3"],
            "product": ["core", None, "addon"],
            "start_date": pd.to_datetime(["2023-01-01", "2023-03-01", "2023-06-01"]).date,
            "end_date": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-06-01"]).date,
            "mrr": [100.0, -50.0, 0.0],
            "seats": [10.0, None, 2.5],
            "quota": [None, 1000.0, 0.0],
        }
    )
    tables = {name: source_tables[name] for name in ("accounts", "events")}
    tables["subscriptions"] = subs
    directory = make_source(tables, fmt="parquet")

    with pytest.raises(ValidationError) as info:
        validate_source(open_source(directory))

    assert found(info.value.report) == [
        ("subscriptions", "mrr", "mrr >= 0", 1, ["S2"], True),
        ("subscriptions", "seats", cast_rule("int64"), 1, ["S3"], True),
    ]


def test_table_with_none_of_its_columns(make_source, source_tables) -> None:
    source_tables["activities"] = pd.DataFrame({"foo": ["1", "2", "3"]}, dtype="string")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("activities", column, RULE_COLUMN_PRESENT, 3, [], True)
        for column in ("account_id", "date", "kind")
    ]


def test_duckdb_file_source(source_tables, tmp_path: Path) -> None:
    import duckdb

    set_cell(source_tables, "subscriptions", ("subscription_id", "S2"), "mrr", "-1")
    path = tmp_path / "source.duckdb"
    with duckdb.connect(str(path)) as db:
        for name in ("accounts", "subscriptions", "events"):
            frame = source_tables[name].replace("", None)  # noqa: F841 - read by duckdb
            db.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
        # Typed columns as a warehouse would hold them.
        db.execute("ALTER TABLE subscriptions ALTER start_date TYPE DATE")
        db.execute("ALTER TABLE subscriptions ALTER mrr TYPE DOUBLE")
        db.execute("ALTER TABLE events ALTER ts TYPE TIMESTAMP")

    report = rejected_source(open_source(path))

    assert found(report) == [("subscriptions", "mrr", "mrr >= 0", 1, ["S2"], True)]
    assert report.as_of == date(2024, 1, 1)


# --- row-level problems: fatal without quarantine ------------------------------------------


def test_orphan_account_id(make_source, source_tables) -> None:
    add_row(source_tables, "events", account_id="A9", ts="2023-02-01 10:00:00", feature="api")
    add_row(source_tables, "events", account_id="A8", ts="2023-02-02 10:00:00", feature="api")
    set_cell(source_tables, "subscriptions", ("subscription_id", "S3"), "account_id", "A9")
    set_cell(source_tables, "invoices", ("invoice_id", "I2"), "account_id", "a2")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("subscriptions", "account_id", RULE_IN_ACCOUNTS, 1, ["S3"], True),
        (
            "events",
            "account_id",
            RULE_IN_ACCOUNTS,
            2,
            ["account_id=A8 ts=2023-02-02 10:00:00", "account_id=A9 ts=2023-02-01 10:00:00"],
            True,
        ),
        ("invoices", "account_id", RULE_IN_ACCOUNTS, 1, ["I2"], True),
    ]
    assert all(p.quarantinable for p in report.problems)
    assert "--quarantine-dir" in report.summary()


@pytest.mark.parametrize("end_date", ["2023-01-01", "2022-12-31"])
def test_end_date_not_after_start_date(make_source, source_tables, end_date) -> None:
    set_cell(source_tables, "subscriptions", ("subscription_id", "S1"), "end_date", end_date)

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("subscriptions", "end_date", "end_date > start_date", 1, ["S1"], True)
    ]


def test_negative_amounts(make_source, source_tables) -> None:
    set_cell(source_tables, "subscriptions", ("subscription_id", "S1"), "mrr", "-100")
    set_cell(source_tables, "subscriptions", ("subscription_id", "S3"), "seats", "-1")
    set_cell(source_tables, "consumption", ("date", "2023-06-01"), "units", "-0.5")
    set_cell(source_tables, "invoices", ("invoice_id", "I2"), "amount", "-600")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("subscriptions", "mrr", "mrr >= 0", 1, ["S1"], True),
        ("subscriptions", "seats", "seats >= 0", 1, ["S3"], True),
        (
            "consumption",
            "units",
            "units >= 0",
            1,
            ["account_id=A2 date=2023-06-01 units=-0.5"],
            True,
        ),
        ("invoices", "amount", "amount >= 0", 1, ["I2"], True),
    ]


def test_closed_at_before_opened_at(make_source, source_tables) -> None:
    # Closed at the instant it opened is fine (allow_equal); a second earlier is not.
    set_cell(source_tables, "tickets", ("ticket_id", "K1"), "closed_at", "2023-05-01 08:59:59")
    set_cell(source_tables, "tickets", ("ticket_id", "K2"), "closed_at", "2023-11-01 10:00:00")

    report = rejected(make_source, source_tables)

    assert found(report) == [("tickets", "closed_at", "closed_at >= opened_at", 1, ["K1"], True)]


def test_survey_score_out_of_range(make_source, source_tables) -> None:
    add_row(source_tables, "surveys", account_id="A1", date="2023-07-02", kind="nps", score="14")
    add_row(source_tables, "surveys", account_id="A2", date="2023-07-03", kind="csat", score="0")
    # Edges inside the ranges, and an nps-range score on a csat answer.
    add_row(source_tables, "surveys", account_id="A1", date="2023-07-04", kind="nps", score="0")
    add_row(source_tables, "surveys", account_id="A1", date="2023-07-05", kind="nps", score="10")
    add_row(source_tables, "surveys", account_id="A2", date="2023-07-06", kind="csat", score="5")
    add_row(source_tables, "surveys", account_id="A2", date="2023-07-07", kind="csat", score="9")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        (
            "surveys",
            "score",
            SCORE_RANGE,
            3,
            [
                "account_id=A1 date=2023-07-02 score=14 kind=nps",
                "account_id=A2 date=2023-07-03 score=0 kind=csat",
                "account_id=A2 date=2023-07-07 score=9 kind=csat",
            ],
            True,
        )
    ]


def test_unknown_priority_role_and_kind(make_source, source_tables) -> None:
    set_cell(source_tables, "tickets", ("ticket_id", "K1"), "priority", "critical")
    set_cell(source_tables, "contacts", ("contact_id", "C1"), "role", "Champion")
    set_cell(source_tables, "activities", ("kind", "qbr"), "kind", "lunch")
    add_row(source_tables, "surveys", account_id="A1", date="2023-07-02", kind="ces", score="3")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("contacts", "role", ROLE_IN, 1, ["C1"], True),
        ("tickets", "priority", PRIORITY_IN, 1, ["K1"], True),
        (
            "surveys",
            "kind",
            "kind in (nps, csat)",
            1,
            ["account_id=A1 date=2023-07-02 kind=ces"],
            True,
        ),
        (
            "activities",
            "kind",
            "kind in (qbr, meeting, training, onboarding_milestone, escalation, other)",
            1,
            ["account_id=A1 date=2023-04-01 kind=lunch"],
            True,
        ),
    ]


def test_null_in_not_null_column(make_source, source_tables) -> None:
    set_cell(source_tables, "events", ("feature", "exports"), "feature", "")
    set_cell(source_tables, "subscriptions", ("subscription_id", "S2"), "end_date", "")
    set_cell(source_tables, "tickets", ("ticket_id", "K2"), "priority", "")
    # Nullable columns may be empty.
    set_cell(source_tables, "subscriptions", ("subscription_id", "S1"), "product", "")

    report = rejected(make_source, source_tables)

    assert found(report) == [
        ("subscriptions", "end_date", RULE_NOT_NULL, 1, ["S2"], True),
        (
            "events",
            "feature",
            RULE_NOT_NULL,
            1,
            ["account_id=A2 ts=2023-09-15 08:30:00"],
            True,
        ),
        ("tickets", "priority", RULE_NOT_NULL, 1, ["K2"], True),
    ]


def test_examples_are_at_most_five(make_source, source_tables) -> None:
    for day in range(1, 9):
        add_row(
            source_tables, "events", account_id="A9", ts=f"2023-03-0{day} 00:00:00", feature="x"
        )

    report = rejected(make_source, source_tables)

    (problem,) = report.problems
    assert problem.rows == 8
    assert problem.examples == [f"account_id=A9 ts=2023-03-0{d} 00:00:00" for d in range(1, 6)]


# --- quarantine -----------------------------------------------------------------------------


def test_quarantine_writes_bad_rows_with_reasons_and_excludes_them(
    make_source, source_tables, tmp_path: Path
) -> None:
    add_row(
        source_tables,
        "subscriptions",
        subscription_id="S4",
        account_id="A9",
        start_date="2023-05-01",
        end_date="2023-04-01",
        mrr="-5",
    )
    add_row(source_tables, "events", account_id="A9", ts="2023-02-01 10:00:00", feature="api")
    add_row(source_tables, "surveys", account_id="A1", date="2023-07-02", kind="nps", score="14")
    quarantine = tmp_path / "quarantine"

    result = validated(make_source, source_tables, quarantine_dir=quarantine)

    report = result.report
    assert report.ok
    assert [(p.table, p.column, p.rule, p.rows, p.fatal) for p in report.problems] == [
        ("subscriptions", "account_id", RULE_IN_ACCOUNTS, 1, False),
        ("subscriptions", "end_date", "end_date > start_date", 1, False),
        ("subscriptions", "mrr", "mrr >= 0", 1, False),
        ("events", "account_id", RULE_IN_ACCOUNTS, 1, False),
        ("surveys", "score", SCORE_RANGE, 1, False),
    ]
    quarantined = {name: c.rows_quarantined for name, c in report.tables.items()}
    assert quarantined == {name: 0 for name in TABLES} | {
        "subscriptions": 1,
        "events": 1,
        "surveys": 1,
    }
    assert sorted(p.name for p in quarantine.iterdir()) == [
        "events.parquet",
        "subscriptions.parquet",
        "surveys.parquet",
    ]

    subs = pd.read_parquet(quarantine / "subscriptions.parquet")
    assert list(subs.columns) == [*TABLES["subscriptions"].column_names, REASON_COLUMN]
    assert subs.subscription_id.tolist() == ["S4"]
    assert subs[REASON_COLUMN].tolist() == [
        "account_id not in accounts; end_date <= start_date; mrr < 0"
    ]
    assert subs.mrr.tolist() == [-5.0]
    events = pd.read_parquet(quarantine / "events.parquet")
    assert events[["account_id", REASON_COLUMN]].values.tolist() == [
        ["A9", "account_id not in accounts"]
    ]
    surveys = pd.read_parquet(quarantine / "surveys.parquet")
    assert surveys[REASON_COLUMN].tolist() == ["score out of range of kind (nps 0-10, csat 1-5)"]

    # The run goes on without them: no row dropped silently, none kept by mistake.
    rows = count_rows(result)
    assert rows["subscriptions"] == 3
    assert rows["events"] == 4
    assert rows["surveys"] == 2
    assert "S4" not in result.table("subscriptions").subscription_id.to_pyarrow().to_pylist()
    assert str(result.table("subscriptions").schema()["mrr"]) == "float64"
    for name, counts in report.tables.items():
        assert counts.rows_kept == rows[name]
        assert counts.rows_read == counts.rows_kept + counts.rows_quarantined


def test_quarantine_removes_stale_files_of_clean_tables(
    make_source, source_tables, tmp_path: Path
) -> None:
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    (quarantine / "tickets.parquet").write_bytes(b"left by an earlier run")
    (quarantine / "notes.txt").write_text("not ours")

    validated(make_source, source_tables, quarantine_dir=quarantine)

    assert sorted(p.name for p in quarantine.iterdir()) == ["notes.txt"]


def test_quarantine_does_not_set_aside_fatal_problems(
    make_source, source_tables, tmp_path: Path
) -> None:
    add_row(source_tables, "events", account_id="A9", ts="2023-02-01 10:00:00", feature="api")
    add_row(source_tables, "tickets", ticket_id="K1", account_id="A1", opened_at="2023-01-01")
    quarantine = tmp_path / "quarantine"

    report = rejected(make_source, source_tables, quarantine_dir=quarantine)

    assert found(report) == [
        (
            "events",
            "account_id",
            RULE_IN_ACCOUNTS,
            1,
            ["account_id=A9 ts=2023-02-01 10:00:00"],
            False,
        ),
        ("tickets", "ticket_id", RULE_KEY_UNIQUE, 2, ["K1"], True),
        ("tickets", "priority", RULE_NOT_NULL, 1, ["K1"], False),
    ]
    assert "fix the source" in report.summary()
    assert not quarantine.exists()  # nothing is written when the run stops
    assert report.tables["events"].rows_invalid == 1
    assert report.tables["tickets"].rows_invalid == 1
    assert all(c.rows_quarantined == 0 for c in report.tables.values())


# --- as-of ----------------------------------------------------------------------------------


def test_rows_on_or_after_as_of_are_left_out_and_counted(make_source, source_tables) -> None:
    result = validated(make_source, source_tables, as_of=date(2023, 10, 1))

    after = {name: c.rows_after_as_of for name, c in result.report.tables.items()}
    # events at 2023-10-01 00:00:00 (on as-of) and 2023-12-31; consumption and tickets dated
    # 2023-11-01; the activity on 2023-10-01. Subscriptions are never cut (terms booked ahead).
    assert after == {name: 0 for name in TABLES} | {
        "events": 2,
        "consumption": 1,
        "tickets": 1,
        "activities": 1,
    }
    assert result.report.problems == []
    assert result.as_of == date(2023, 10, 1)
    rows = count_rows(result)
    assert rows == {name: len(f) for name, f in source_tables.items()} | {
        "events": 2,
        "consumption": 1,
        "tickets": 1,
        "activities": 1,
    }
    events = result.table("events").order_by("ts").ts.to_pyarrow().to_pylist()
    assert [str(ts) for ts in events] == ["2023-06-01 10:00:00", "2023-09-15 08:30:00"]


def test_timestamp_with_offset_is_cut_at_utc_midnight(make_source, source_tables) -> None:
    # 2023-10-01 01:30 at +02:00 is 2023-09-30 23:30 UTC: inside a run as of 2023-10-01.
    add_row(source_tables, "events", account_id="A1", ts="2023-10-01 01:30:00+02:00", feature="x")

    result = validated(make_source, source_tables, as_of=date(2023, 10, 1))

    assert result.report.tables["events"].rows_after_as_of == 2
    assert count_rows(result)["events"] == 3


def test_default_as_of_follows_the_latest_valid_event(
    make_source, source_tables, tmp_path: Path
) -> None:
    # An orphan event later than all the others is quarantined and does not move as-of.
    add_row(source_tables, "events", account_id="A9", ts="2024-06-01 10:00:00", feature="api")

    result = validated(make_source, source_tables, quarantine_dir=tmp_path / "q")

    assert result.as_of == date(2024, 1, 1)
    assert result.report.as_of == date(2024, 1, 1)
    assert result.report.tables["events"].rows_quarantined == 1


def test_no_events_needs_an_explicit_as_of(make_source, source_tables) -> None:
    source_tables["events"] = source_tables["events"].iloc[0:0]

    report = rejected(make_source, source_tables)

    assert found(report) == [("events", "ts", RULE_HAS_EVENTS, 0, [], True)]
    assert report.as_of is None

    result = validated(make_source, source_tables, as_of=date(2024, 1, 1))
    assert result.report.ok
    assert count_rows(result)["events"] == 0


# --- every fault at once --------------------------------------------------------------------


ALL_FAULTS = [
    ("accounts", "account_id", RULE_KEY_UNIQUE, 2, ["A3"], True),
    ("subscriptions", "subscription_id", RULE_KEY_UNIQUE, 2, ["S2"], True),
    ("subscriptions", "end_date", "end_date > start_date", 1, ["S1"], True),
    ("subscriptions", "mrr", "mrr >= 0", 1, ["S3"], True),
    (
        "events",
        "account_id",
        RULE_IN_ACCOUNTS,
        2,
        ["account_id=A7 ts=2023-08-02 12:00:00", "account_id=A9 ts=2023-08-01 12:00:00"],
        True,
    ),
    ("contacts", "user_id", RULE_COLUMN_PRESENT, 2, [], True),
    ("tickets", "closed_at", "closed_at >= opened_at", 1, ["K1"], True),
    ("surveys", "score", SCORE_RANGE, 1, ["account_id=A3 date=2023-09-01 score=14 kind=nps"], True),
]


def test_every_fault_is_reported_in_one_run(make_source, source_tables) -> None:
    report = rejected(make_source, all_faults(source_tables))

    assert found(report) == ALL_FAULTS
    assert report.as_of == date(2024, 1, 1)
    message = report.summary()
    assert "8 problem(s) stop the run" in message
    for table, column, rule, *_ in ALL_FAULTS:
        assert f"{table}.{column}: {rule}" in message


def test_report_format_and_json(make_source, source_tables) -> None:
    report = rejected(make_source, all_faults(source_tables))

    text = report.format()
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("table") and "rule" in line)
    assert header.split() == ["table", "column", "rule", "rows", "fatal", "examples"]
    assert any(
        line.split()[:3] == ["subscriptions", "mrr", "mrr"] and "S3" in line for line in lines
    )
    assert "contacts" in text and "column present" in text

    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False
    assert data["as_of"] == "2024-01-01"
    assert [
        (p["table"], p["column"], p["rule"], p["rows"], p["examples"], p["fatal"])
        for p in data["problems"]
    ] == ALL_FAULTS
    assert data["tables"]["events"]["rows_read"] == 6
    assert data["tables"]["events"]["rows_invalid"] == 2


@pytest.mark.spark
def test_spark_reports_the_same_as_duckdb(make_source, source_tables, tmp_path: Path) -> None:
    directory = make_source(all_faults(source_tables))
    reports = {}
    for backend in ("duckdb", "spark"):
        with pytest.raises(ValidationError) as info:
            validate_source(open_source(directory, backend=backend))
        reports[backend] = info.value.report.to_dict()

    assert reports["spark"] == reports["duckdb"]
    assert [
        (p["table"], p["column"], p["rule"], p["rows"], p["examples"], p["fatal"])
        for p in reports["spark"]["problems"]
    ] == ALL_FAULTS


@pytest.mark.spark
def test_spark_quarantine_and_clean_tables(make_source, source_tables, tmp_path: Path) -> None:
    add_row(source_tables, "events", account_id="A9", ts="2023-02-01 10:00:00", feature="api")
    set_cell(source_tables, "feature_catalog", ("feature", "exports"), "is_core", "f")
    quarantine = tmp_path / "quarantine"

    result = validate_source(
        open_source(make_source(source_tables), backend="spark"),
        as_of=date(2023, 10, 1),
        quarantine_dir=quarantine,
    )

    assert result.report.tables["events"].rows_quarantined == 1
    assert result.report.tables["events"].rows_after_as_of == 2
    assert count_rows(result)["events"] == 2
    catalog = result.table("feature_catalog").order_by("feature").to_pyarrow().to_pylist()
    assert [(r["feature"], r["is_core"]) for r in catalog] == [
        ("exports", False),
        ("reports", True),
    ]
    events = pd.read_parquet(quarantine / "events.parquet")
    assert events[REASON_COLUMN].tolist() == ["account_id not in accounts"]
