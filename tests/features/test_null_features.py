"""The run names every feature null on every row, and why (features.null_features)."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from features.contract import TABLES
from features.null_features import NullFeature, group_by_cause
from features.pipeline import FeatureSummary, build_features
from features.transforms import all_feature_specs, column_needs
from features.writer import read_feature_table
from tests.features.helpers import subsecond_tables, write_tables
from tests.features.test_examples import EXAMPLES

SPECS = {spec.name: spec for spec in all_feature_specs()}
NEEDED_COLUMNS = sorted({c for columns in column_needs().values() for c in columns})
NULLABLE_COLUMNS = [
    # The columns no feature needs only prove that emptying them nulls nothing: slow.
    pytest.param(name, marks=() if name in NEEDED_COLUMNS else pytest.mark.slow)
    for name in (
        f"{table}.{column.name}"
        for table, spec in TABLES.items()
        for column in spec.columns
        if column.nullable
    )
]


def _build(source: Path, out: Path) -> FeatureSummary:
    return build_features(source, out)


def _all_null_columns(path: Path) -> list[str]:
    """Independently of the summary: the feature columns with no value in the written file."""
    frame = pq.read_table(path).to_pandas()
    return [name for name in SPECS if frame[name].isna().all()]


@pytest.fixture(scope="module")
def full_tables() -> dict[str, list[dict]]:
    return subsecond_tables()


def test_a_minimal_source_names_each_null_feature_and_its_absent_table(tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    summary = _build(EXAMPLES / "minimal", out)

    absent = set(summary.facts["absent_tables"])
    expected = [
        NullFeature(
            name, spec.family, "absent_table", tuple(t for t in spec.requires if t in absent)
        )
        for name, spec in SPECS.items()
        if absent & set(spec.requires)
    ]
    assert summary.null_features == expected
    assert len(expected) == 51
    assert [n.feature for n in summary.null_features] == _all_null_columns(out)
    tickets = next(n for n in summary.null_features if n.feature == "resolution_hours_90d")
    assert tickets.to_dict() == {
        "feature": "resolution_hours_90d",
        "family": "support",
        "reason": "absent_table",
        "detail": ["tickets"],
    }
    assert read_feature_table(out).facts["null_features"] == [n.to_dict() for n in expected]


def test_a_full_source_lists_no_null_feature(tmp_path: Path, full_tables) -> None:
    out = tmp_path / "features.parquet"
    summary = _build(write_tables(tmp_path / "source", full_tables), out)

    assert _all_null_columns(out) == []
    assert summary.null_features == []
    assert read_feature_table(out).facts["null_features"] == []


def test_every_needed_column_is_a_nullable_contract_column() -> None:
    assert set(NEEDED_COLUMNS) <= {p.values[0] for p in NULLABLE_COLUMNS}
    assert set(column_needs()) <= set(SPECS)


@pytest.mark.parametrize("needed", NULLABLE_COLUMNS)
def test_an_empty_column_nulls_exactly_the_features_that_need_it(
    needed: str, tmp_path: Path, full_tables
) -> None:
    table, column = needed.split(".")
    tables = copy.deepcopy(full_tables)
    for row in tables[table]:
        row[column] = None
    out = tmp_path / "features.parquet"
    summary = _build(write_tables(tmp_path / "source", tables), out)

    needing = [name for name, columns in column_needs().items() if needed in columns]
    assert sorted(_all_null_columns(out)) == sorted(needing)
    assert sorted(n.feature for n in summary.null_features) == sorted(needing)
    assert all(n.reason == "empty_column" and n.detail == (needed,) for n in summary.null_features)


def test_an_empty_table_is_named_as_such(tmp_path: Path, full_tables) -> None:
    tables = copy.deepcopy(full_tables)
    tables["tickets"] = []
    summary = _build(write_tables(tmp_path / "source", tables), tmp_path / "f.parquet")

    # Counts of an empty table are 0, not null; ages, durations and the trend are null.
    assert [(n.feature, n.reason, n.detail) for n in summary.null_features] == [
        (name, "empty_table", ("tickets",))
        for name in [
            "open_ticket_age_days_max",
            "open_ticket_age_days_mean",
            "tickets_trend_30_90",
            "resolution_hours_90d",
        ]
    ]


def test_rows_outside_every_window_are_no_rows_in_the_window(tmp_path: Path, full_tables) -> None:
    tables = copy.deepcopy(full_tables)
    # Every ticket opened three years earlier and closed within hours: long before the 90
    # days of the first snapshot, and none open at any snapshot.
    for ticket in tables["tickets"]:
        ticket["opened_at"] -= timedelta(days=3 * 365)
        ticket["closed_at"] = ticket["opened_at"] + timedelta(hours=5)
    summary = _build(write_tables(tmp_path / "source", tables), tmp_path / "f.parquet")

    assert group_by_cause(summary.null_features) == [
        (
            "no rows in the window",
            [
                "open_ticket_age_days_max",
                "open_ticket_age_days_mean",
                "tickets_trend_30_90",
                "resolution_hours_90d",
            ],
        )
    ]
