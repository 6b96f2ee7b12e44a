"""A feature table as other tools hand it back, brought to the types churnlight wrote.

A feature table filtered in pandas, copied by DuckDB or rewritten by Spark keeps its values but
not always its types: pandas 3 writes text as ``large_string`` (and ``category`` columns as
dictionaries), dates come back as timestamps (any unit, with or without a time zone), numbers
as other integer widths, nullable integers, decimals or booleans. ``normalise_types`` casts
each column to the type ``expected_types`` gives it — keys ``account_id`` text and
``snapshot_date`` a date, numeric features float64, categorical features text, labels int64 —
and refuses what cannot be cast with one message naming the column, a row and its value.
``check_keys`` refuses null or repeated keys. Both are pure: no I/O.

Casting rules (values never change, only their type):
- text: from any text or dictionary-of-text type, integers, or an all-null column;
- number (float64): from integers, floats, decimals, booleans (0/1), numeric text, all-null;
- label (int64): from integers, booleans, floats holding whole numbers (NaN is null);
- date (date32): from dates, ISO ``YYYY-MM-DD`` text, or timestamps at midnight — a zoned
  timestamp gives its date on the wall clock of its own zone (``2024-07-01 00:00+02:00`` is
  2024-07-01); a timestamp with a time of day is refused, since which day it means is unknown.
Columns without an expected type keep theirs, except that any text type becomes ``string``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from features.errors import FeatureTableError
from features.metadata import FeatureSpec

KEYS = ("account_id", "snapshot_date")
TEXT = pa.string()
NUMBER = pa.float64()
LABEL = pa.int64()
DATE = pa.date32()
KEY_TYPES: dict[str, pa.DataType] = {"account_id": TEXT, "snapshot_date": DATE, "csm_id": TEXT}
"""Types of the keys and of the one non-feature column scores carry (``csm_id``)."""
_WHAT = {TEXT: "text", NUMBER: "a number", LABEL: "a whole number (a label)", DATE: "a date"}
_SEARCH_ROWS = 4096
"""Rows cast at a time when looking for the first value that cannot be cast."""
SHOWN = 5
"""Rows or keys an error message names at most."""


def expected_types(specs: Iterable[FeatureSpec], labels: Iterable[str] = ()) -> dict[str, Any]:
    """The type of each column a feature table of ``specs`` holds: ``KEY_TYPES``, float64 for a
    numeric feature, text for a categorical one, int64 for each label column."""
    out: dict[str, pa.DataType] = dict(KEY_TYPES)
    for spec in specs:
        out[spec.name] = TEXT if spec.kind == "categorical" else NUMBER
    for label in labels:
        out[label] = LABEL
    return out


def normalise_types(table: pa.Table, expected: Mapping[str, pa.DataType], name: str) -> pa.Table:
    """``table`` with every column in ``expected`` cast to its type (others: text types to
    ``string``); the same table when nothing changes. ``name`` names the table in errors
    (``feature table 'f.parquet'``).

    Raises ``FeatureTableError`` naming the column, the first row (counting from 1) whose
    value cannot be cast, and that value."""
    columns = []
    changed = False
    for field in table.schema:
        column = table.column(field.name)
        target = expected.get(field.name)
        if target is None:
            out = _as_text(column) if _is_text(column.type) else column
        else:
            out = _cast(column, target, field.name, name)
        changed = changed or out is not column
        columns.append(out)
    if not changed:
        return table
    schema = pa.schema(
        [pa.field(f.name, c.type) for f, c in zip(table.schema, columns, strict=True)]
    )
    return pa.Table.from_arrays(columns, schema=schema.with_metadata(table.schema.metadata))


def check_keys(table: pa.Table, name: str) -> None:
    """Refuse a table whose ``account_id`` (or ``snapshot_date``, when it has one) is null in
    some row, or that holds an (account_id, snapshot_date) pair more than once; ``name``
    names the table in errors."""
    if "account_id" not in table.schema.names:
        raise FeatureTableError(
            f"{name} has no account_id column; score a table written by "
            "`churnlight features` (one row per account_id and snapshot_date)"
        )
    keys = [k for k in KEYS if k in table.schema.names]
    for key in keys:
        nulls = table.column(key).null_count
        if nulls:
            rows = pc.indices_nonzero(pc.is_null(table.column(key))).to_pylist()
            raise FeatureTableError(
                f"{name} has {nulls:,} row(s) without {key} "
                f"({_rows(rows, nulls)}); every row needs its {key}"
            )
    counts = table.group_by(keys).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1))
    if repeated.num_rows:
        repeated = repeated.sort_by([(k, "ascending") for k in keys])
        shown = [
            " on ".join(str(row[k]) for k in keys) + f" ({row['count_all']} rows)"
            for row in repeated.slice(0, SHOWN).to_pylist()
        ]
        more = f" and {repeated.num_rows - SHOWN:,} more" if repeated.num_rows > SHOWN else ""
        what = "(account_id, snapshot_date) pair" if len(keys) == 2 else "account_id"
        raise FeatureTableError(
            f"{name} holds {repeated.num_rows:,} {what}(s) more than once: "
            f"{', '.join(shown)}{more}; a feature table has one row per account and snapshot "
            "date: drop the repeated rows"
        )


# ---- casting --------------------------------------------------------------------------------


def _cast(column: pa.ChunkedArray, target: pa.DataType, column_name: str, name: str) -> Any:
    if column.type == target:
        return column
    source = column
    if pa.types.is_dictionary(source.type):
        source = source.cast(source.type.value_type)
    if pa.types.is_null(source.type):
        return pa.nulls(len(source), target)
    kind = source.type
    if target == TEXT:
        allowed = _is_text(kind) or pa.types.is_integer(kind)
    elif target == NUMBER:
        allowed = _is_number(kind) or _is_text(kind)
    elif target == LABEL:
        allowed = _is_number(kind) or _is_text(kind)
        if pa.types.is_floating(kind):
            source = _nan_to_null(source)
    elif target == DATE:
        if pa.types.is_timestamp(kind):
            return _timestamp_dates(source, column_name, name)
        allowed = pa.types.is_date(kind) or _is_text(kind)
    else:
        allowed = True
    if not allowed:
        row, value = _first_value(source)
        raise FeatureTableError(
            f"{name}: column {column_name!r} is of type {column.type}, which "
            f"cannot be read as {_what(target)} (row {row} holds {value!r}); write it as "
            f"{_what(target)}"
        )
    try:
        return source.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        row, value = _first_uncastable(source, target)
        raise FeatureTableError(
            f"{name}: column {column_name!r} cannot be read as {_what(target)}: "
            f"row {row} holds {value!r}; write {_what(target)} (or null) in every row"
        ) from None


def _timestamp_dates(column: pa.ChunkedArray, column_name: str, name: str) -> pa.ChunkedArray:
    """The date of each timestamp on its own zone's wall clock; refused unless at midnight."""
    wall = pc.local_timestamp(column) if column.type.tz is not None else column
    dates = wall.cast(DATE)
    midnight = dates.cast(pa.timestamp(wall.type.unit))
    off = pc.fill_null(pc.not_equal(wall, midnight), False)
    if pc.any(off).as_py():
        row = pc.indices_nonzero(off)[0].as_py()
        raise FeatureTableError(
            f"{name}: column {column_name!r} holds times of day, not dates: "
            f"row {row + 1} holds {column[row].as_py()!s}; write the date (midnight, in the "
            "timestamp's own zone) of each snapshot"
        )
    return dates


def _nan_to_null(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.if_else(pc.is_nan(column), pa.scalar(None, column.type), column)


def _first_uncastable(column: pa.ChunkedArray, target: pa.DataType) -> tuple[int, Any]:
    """The first row (counting from 1) whose value does not cast to ``target``, and it."""
    offset = 0
    for chunk in column.chunks:
        for start in range(0, len(chunk), _SEARCH_ROWS):
            part = chunk.slice(start, _SEARCH_ROWS)
            try:
                part.cast(target)
                continue
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                pass
            for i in range(len(part)):
                try:
                    part.slice(i, 1).cast(target)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    return offset + start + i + 1, part[i].as_py()
        offset += len(chunk)
    return 1, column[0].as_py() if len(column) else None


def _first_value(column: pa.ChunkedArray) -> tuple[int, Any]:
    """The first non-null row (counting from 1) and its value (row 1, None if all null)."""
    valid = pc.indices_nonzero(pc.is_valid(column))
    if len(valid) == 0:
        return 1, None
    row = valid[0].as_py()
    return row + 1, column[row].as_py()


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return column if column.type == TEXT else column.cast(TEXT)


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        return _is_text(kind.value_type)
    return (
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_number(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_boolean(kind)
    )


def _what(target: pa.DataType) -> str:
    return _WHAT.get(target, str(target))


def _rows(rows: list[int], total: int) -> str:
    shown = ", ".join(str(r + 1) for r in rows[:SHOWN])
    more = f" and {total - SHOWN:,} more" if total > SHOWN else ""
    return f"row{'s' if total > 1 else ''} {shown}{more}, counting from 1"
