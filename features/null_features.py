"""Which features of a built table are null on every row, and why.

A feature is null throughout when a table it needs is absent or has no rows, when a
nullable column it needs holds no value (``features.transforms.column_needs``), or else when
no row of its tables fell in its window at any snapshot (no ticket closed in the last 90
days, no NPS answer before t...). Such a feature carries no information in this source: the
run says so, and a model trained on it learns nothing from it.

Cheap by construction: finding the null columns reads the Arrow null counts of the written
table (no query); only the tables behind those columns are then counted, in one aggregate
each, and the events never again (their per-user reduction stands in for them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ibis.expr.types as ir
import pyarrow as pa

from features.metadata import FeatureSpec

NullReason = Literal["absent_table", "empty_table", "empty_column", "no_rows_in_window"]
REASON_WORDS: dict[NullReason, str] = {
    "absent_table": "absent table",
    "empty_table": "empty table",
    "empty_column": "empty column",
    "no_rows_in_window": "no rows in the window",
}


@dataclass(frozen=True)
class NullFeature:
    """A feature null on every row of a feature table, and why.

    ``detail`` names the absent or empty tables (``tickets``) or the empty columns
    (``tickets.closed_at``); it is empty for ``no_rows_in_window``."""

    feature: str
    family: str
    reason: NullReason
    detail: tuple[str, ...] = ()

    @property
    def cause(self) -> str:
        """The reason in words: 'absent table tickets', 'empty column tickets.closed_at'."""
        words = REASON_WORDS[self.reason]
        return f"{words} {', '.join(self.detail)}" if self.detail else words

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "family": self.family,
            "reason": self.reason,
            "detail": list(self.detail),
        }


def entirely_null(table: pa.Table, names: Sequence[str]) -> list[str]:
    """The columns of ``names`` null on every row of ``table`` (none when it has no rows)."""
    if table.num_rows == 0:
        return []
    return [name for name in names if table.column(name).null_count == table.num_rows]


def null_features(
    table: pa.Table,
    specs: Sequence[FeatureSpec],
    tables: Mapping[str, ir.Table],
    column_needs: Mapping[str, tuple[str, ...]],
) -> list[NullFeature]:
    """Every feature of ``specs`` null on every row of ``table``, with its reason, in
    ``specs`` order.

    ``tables`` are the tables the run read (absent optional tables are missing); each
    needed column ``table.column`` of ``column_needs`` must be a column of its table there.
    The reasons, first that applies: a table of the spec's ``requires`` is absent, or has
    no rows; a needed column has no value; else no row fell in the feature's window."""
    by_name = {spec.name: spec for spec in specs}
    nulls = [by_name[name] for name in entirely_null(table, list(by_name))]
    to_count: dict[str, set[str]] = {}
    for spec in nulls:
        for name in spec.requires:
            if name in tables:
                to_count.setdefault(name, set())
        for needed in column_needs.get(spec.name, ()):
            name, column = needed.split(".", 1)
            if name in tables:
                to_count.setdefault(name, set()).add(column)
    counts = {name: _value_counts(tables[name], cols) for name, cols in to_count.items()}

    out = []
    for spec in nulls:
        absent = tuple(name for name in spec.requires if name not in tables)
        empty = tuple(name for name in spec.requires if name in counts and counts[name][""] == 0)
        columns = tuple(
            needed
            for needed in column_needs.get(spec.name, ())
            if (parts := needed.split(".", 1))[0] in counts and counts[parts[0]][parts[1]] == 0
        )
        if absent:
            out.append(NullFeature(spec.name, spec.family, "absent_table", absent))
        elif empty:
            out.append(NullFeature(spec.name, spec.family, "empty_table", empty))
        elif columns:
            out.append(NullFeature(spec.name, spec.family, "empty_column", columns))
        else:
            out.append(NullFeature(spec.name, spec.family, "no_rows_in_window"))
    return out


def _value_counts(table: ir.Table, columns: set[str]) -> dict[str, int]:
    """Rows of ``table`` (under the key '') and non-null values of each of ``columns``, in
    one aggregate."""
    missing = columns - set(table.columns)
    if missing:
        raise KeyError(f"column(s) {sorted(missing)} not in the table counted for nulls")
    metrics = {"_rows": table.count(), **{f"_n_{c}": table[c].count() for c in sorted(columns)}}
    row = table.aggregate(**metrics).to_pyarrow().to_pylist()[0]
    return {"": int(row["_rows"] or 0), **{c: int(row[f"_n_{c}"] or 0) for c in columns}}


def group_by_cause(nulls: Sequence[NullFeature]) -> list[tuple[str, list[str]]]:
    """(cause, feature names) pairs for a short report: by reason in ``REASON_WORDS``
    order, then by the tables or columns named; features keep their order."""
    groups: dict[tuple[int, tuple[str, ...]], tuple[str, list[str]]] = {}
    rank = {reason: i for i, reason in enumerate(REASON_WORDS)}
    for null in nulls:
        key = (rank[null.reason], null.detail)
        groups.setdefault(key, (null.cause, []))[1].append(null.feature)
    return [groups[key] for key in sorted(groups)]
