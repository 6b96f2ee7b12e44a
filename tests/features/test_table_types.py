"""A feature table whose types another tool changed reads back as churnlight wrote it; what
cannot be read is refused with one message naming the column, a row and its value."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from features.errors import FeatureTableError
from features.metadata import FeatureSpec
from features.table_types import (
    DATE,
    LABEL,
    NUMBER,
    TEXT,
    check_keys,
    expected_types,
    normalise_types,
)

NAME = "feature table 'f.parquet'"
EXPECTED = {
    "account_id": TEXT,
    "snapshot_date": DATE,
    "csm_id": TEXT,
    "seats": NUMBER,
    "segment": TEXT,
    "churn_180d": LABEL,
}
JULY = date(2024, 7, 1)


def normalised(**columns: pa.Array) -> pa.Table:
    return normalise_types(pa.table(columns), EXPECTED, NAME)


def refused(**columns: pa.Array) -> str:
    with pytest.raises(FeatureTableError) as caught:
        normalised(**columns)
    return str(caught.value)


def test_expected_types_follow_the_specs_and_labels() -> None:
    specs = [
        FeatureSpec("seats", "commercial", "Seats", "count", "{value} seats"),
        FeatureSpec("segment", "commercial", "Segment", "category", "{value}", "categorical"),
    ]

    assert expected_types(specs, ["churn_180d"]) == EXPECTED


def test_a_table_of_the_right_types_is_returned_as_it_is() -> None:
    table = pa.table(
        {
            "account_id": ["A1"],
            "snapshot_date": pa.array([JULY], DATE),
            "seats": [3.0],
            "other": pa.array([1], pa.int8()),
        }
    )

    assert normalise_types(table, EXPECTED, NAME) is table


@pytest.mark.parametrize(
    "values",
    [
        pa.array(["A1", None, "A2"], pa.large_string()),
        pa.array(["A1", None, "A2"], pa.string_view()),
        pa.array(["A1", None, "A2"]).dictionary_encode(),
        pa.array(["A1", None, "A2"], pa.large_string()).dictionary_encode(),
    ],
    ids=["large_string", "string_view", "dictionary", "dictionary_large"],
)
def test_text_of_any_arrow_type_becomes_string(values: pa.Array) -> None:
    table = normalised(account_id=values, segment=values, free_text=values)

    for name in ("account_id", "segment", "free_text"):
        assert table.schema.field(name).type == pa.string()
        assert table.column(name).to_pylist() == ["A1", None, "A2"]


def test_integer_ids_become_text() -> None:
    table = normalised(account_id=pa.array([7, None], pa.int32()))

    assert table.column("account_id").to_pylist() == ["7", None]


@pytest.mark.parametrize(
    "values",
    [
        pa.array([3, None, 0], pa.int8()),
        pa.array([3, None, 0], pa.int32()),
        pa.array([3, None, 0], pa.uint16()),
        pa.array([3, None, 0], pa.int64()),
        pa.array([3.0, None, 0.0], pa.float32()),
        pa.array([Decimal("3.00"), None, Decimal("0")], pa.decimal128(5, 2)),
        pa.array(["3", None, "0.0"], pa.large_string()),
        pa.array(["3", None, "0"]).dictionary_encode(),
        pa.array([True, None, False]),
    ],
    ids=["int8", "int32", "uint16", "int64", "float32", "decimal", "text", "dictionary", "bool"],
)
def test_numbers_of_any_width_become_float64(values: pa.Array) -> None:
    table = normalised(seats=values)

    assert table.schema.field("seats").type == pa.float64()
    assert table.column("seats").to_pylist() == [
        1.0 if values.type == pa.bool_() else 3.0,
        None,
        0.0,
    ]


def test_an_all_null_column_takes_its_type() -> None:
    table = normalised(seats=pa.nulls(2), segment=pa.nulls(2), snapshot_date=pa.nulls(2))

    assert [f.type for f in table.schema] == [NUMBER, TEXT, DATE]
    assert table.column("seats").null_count == 2


def test_labels_become_int64_and_nan_is_null() -> None:
    table = normalised(churn_180d=pa.array([1.0, float("nan"), None, 0.0]))

    assert table.schema.field("churn_180d").type == pa.int64()
    assert table.column("churn_180d").to_pylist() == [1, None, None, 0]


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "Europe/Berlin", "America/New_York"])
def test_timestamps_at_midnight_become_their_date(unit: str, tz: str | None) -> None:
    """A zoned timestamp gives the date of its own wall clock: midnight in Berlin on 1 July is
    22:00 UTC on 30 June, and still means 1 July."""
    wall = [datetime(2024, 7, 1), None, datetime(2024, 2, 29)]
    values = pa.array(wall, pa.timestamp(unit))
    if tz:
        values = pc.assume_timezone(values, tz)
        assert values.type == pa.timestamp(unit, tz)

    table = normalised(snapshot_date=values)

    assert table.schema.field("snapshot_date").type == pa.date32()
    assert table.column("snapshot_date").to_pylist() == [JULY, None, date(2024, 2, 29)]


@pytest.mark.parametrize(
    "values",
    [
        pa.array([JULY, None], pa.date64()),
        pa.array(["2024-07-01", None], pa.large_string()),
        pa.array(["2024-07-01", None]).dictionary_encode(),
    ],
    ids=["date64", "text", "dictionary"],
)
def test_dates_and_iso_text_become_date32(values: pa.Array) -> None:
    table = normalised(snapshot_date=values)

    assert table.column("snapshot_date").to_pylist() == [JULY, None]


def test_a_timestamp_with_a_time_of_day_is_refused() -> None:
    message = refused(
        snapshot_date=pa.array(
            [datetime(2024, 7, 1), datetime(2024, 7, 1, 13, 30)], pa.timestamp("us")
        )
    )

    assert message == (
        "feature table 'f.parquet': column 'snapshot_date' holds times of day, not dates: "
        "row 2 holds 2024-07-01 13:30:00; write the date (midnight, in the timestamp's own "
        "zone) of each snapshot"
    )


def test_a_zoned_timestamp_off_midnight_in_its_zone_is_refused() -> None:
    """Midnight UTC is 02:00 in Berlin: which day the writer meant is unknown."""
    utc_midnight = pa.array([datetime(2024, 7, 1)], pa.timestamp("us", "UTC"))

    message = refused(snapshot_date=utc_midnight.cast(pa.timestamp("us", "Europe/Berlin")))

    assert "row 1 holds 2024-07-01 02:00:00+02:00" in message


def test_text_that_is_not_a_number_names_its_row_and_value() -> None:
    values = pa.array([str(i) for i in range(5000)] + ["n/a", "1"], pa.large_string())

    message = refused(seats=values)

    assert message == (
        "feature table 'f.parquet': column 'seats' cannot be read as a number: row 5001 holds "
        "'n/a'; write a number (or null) in every row"
    )


def test_a_fractional_label_is_refused() -> None:
    message = refused(churn_180d=pa.array([1.0, 0.5]))

    assert message == (
        "feature table 'f.parquet': column 'churn_180d' cannot be read as a whole number "
        "(a label): row 2 holds 0.5; write a whole number (a label) (or null) in every row"
    )


def test_text_that_is_not_a_date_is_refused() -> None:
    message = refused(snapshot_date=pa.array(["2024-07-01", "July 2024"]))

    assert "column 'snapshot_date' cannot be read as a date: row 2 holds 'July 2024'" in message


@pytest.mark.parametrize(
    ("column", "values", "shown"),
    [
        ("seats", pa.array([None, [1.0]], pa.list_(pa.float64())), "list<item: double>"),
        ("segment", pa.array([None, 2.5]), "double"),
        ("snapshot_date", pa.array([None, 20240701]), "int64"),
        ("seats", pa.array([None, JULY]), "date32[day]"),
    ],
)
def test_a_type_that_cannot_be_cast_names_the_column_and_a_value(
    column: str, values: pa.Array, shown: str
) -> None:
    message = refused(**{column: values})

    example = values[1].as_py()
    assert message.startswith(
        f"feature table 'f.parquet': column {column!r} is of type {shown}, which cannot be read as "
    )
    assert f"(row 2 holds {example!r})" in message


# ---- keys -----------------------------------------------------------------------------------


def keys(ids: list[str | None], dates: list[date | None]) -> pa.Table:
    return pa.table({"account_id": ids, "snapshot_date": pa.array(dates, DATE)})


def test_one_row_per_account_and_date_passes_several_dates_of_an_account_too() -> None:
    check_keys(keys(["A1", "A1", "A2"], [JULY, date(2024, 8, 1), JULY]), NAME)


def test_repeated_keys_are_named() -> None:
    ids = ["A1", "A1", "A2", "A2", "A2", "A3"] + [f"B{i}" for i in range(6) for _ in (0, 1)]
    with pytest.raises(FeatureTableError) as caught:
        check_keys(keys(ids, [JULY] * len(ids)), NAME)

    assert str(caught.value) == (
        "feature table 'f.parquet' holds 8 (account_id, snapshot_date) pair(s) more than once: "
        "A1 on 2024-07-01 (2 rows), A2 on 2024-07-01 (3 rows), B0 on 2024-07-01 (2 rows), "
        "B1 on 2024-07-01 (2 rows), B2 on 2024-07-01 (2 rows) and 3 more; a feature table has "
        "one row per account and snapshot date: drop the repeated rows"
    )


def test_null_keys_name_their_rows() -> None:
    with pytest.raises(FeatureTableError, match=re.escape("2 row(s) without account_id")) as ids:
        check_keys(keys(["A1", None, "A3", None], [JULY] * 4), NAME)
    with pytest.raises(FeatureTableError) as dates:
        check_keys(keys(["A1", "A2"], [None, JULY]), NAME)

    assert str(ids.value) == (
        "feature table 'f.parquet' has 2 row(s) without account_id (rows 2, 4, counting from 1); "
        "every row needs its account_id"
    )
    assert str(dates.value) == (
        "feature table 'f.parquet' has 1 row(s) without snapshot_date (row 1, counting from 1); "
        "every row needs its snapshot_date"
    )


def test_a_table_without_account_id_is_refused() -> None:
    with pytest.raises(FeatureTableError, match="has no account_id column"):
        check_keys(pa.table({"seats": [1.0]}), NAME)
