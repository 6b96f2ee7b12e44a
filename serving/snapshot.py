"""The feature snapshot the API scores: the latest snapshot date of a feature table.

Two origins (``ServingSettings``): ``features``, a feature table written by
``churnlight features`` (only its latest snapshot date is kept), or ``source``, whose
``--latest-only`` features are built on load (features of the as-of date, no labels).

``csm_id`` is not a feature; the portfolio filters on it, so it is attached from, in order:
a ``csm_id`` column of the table, the source's ``accounts`` table (``source``), or the
``accounts`` table of the source recorded in the feature table's metadata when that folder
still exists. Otherwise it stays null.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.errors import ChurnlightError
from features.metadata import FeatureSpec
from serving.errors import SnapshotError
from serving.settings import ServingSettings

log = logging.getLogger("churnlight.serving")


@dataclass(frozen=True)
class Snapshot:
    """The rows to score (one per account) and the metadata of their features."""

    table: pa.Table
    snapshot_date: str | None
    specs: list[FeatureSpec]
    facts: dict[str, Any]
    origin: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def spec_by_name(self) -> dict[str, FeatureSpec]:
        return {s.name: s for s in self.specs}

    def row(self, i: int) -> dict[str, Any]:
        """Row ``i`` as a dict of Python values (null: None), as ``to_pylist`` gives it.

        What-if requests start from an account's row; slicing the Arrow table per request
        cost more than the rest of the request's Python work."""
        out: dict[str, Any] = {}
        for name, values, is_float in self._columns:
            if is_float:
                value = values[i]
                out[name] = None if value != value else float(value)
            else:
                out[name] = values[i]
        return out

    @cached_property
    def _columns(self) -> list[tuple[str, Any, bool]]:
        """Per column: its name, its values (float64 columns as a NumPy array with NaN for
        null, 8 bytes a value; the others as Python lists) and whether it is float64."""
        columns = []
        for name, column in zip(self.table.schema.names, self.table.columns, strict=True):
            if pa.types.is_float64(column.type):
                array = column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
                columns.append((name, array, True))
            else:
                columns.append((name, column.to_pylist(), False))
        return columns


def load_snapshot(settings: ServingSettings) -> Snapshot:
    """The snapshot ``settings`` point at (``features`` wins over ``source``)."""
    if settings.features is not None:
        return snapshot_from_file(settings.features)
    if settings.source is not None:
        return snapshot_from_source(settings.source)
    raise SnapshotError(
        "no snapshot to score: give --features FILE or --source SRC "
        "(CHURNLIGHT_FEATURES / CHURNLIGHT_SOURCE)"
    )


def snapshot_from_file(path: str | Path, latest_only: bool = True) -> Snapshot:
    """The latest snapshot of a feature table (every row with ``latest_only=False``)."""
    from features.writer import read_feature_table

    started = time.perf_counter()
    try:
        file = read_feature_table(Path(path))
    except ChurnlightError as err:
        raise SnapshotError(str(err)) from err
    table = latest_rows(file.table) if latest_only else file.table
    table = _with_accounts(table, file.facts.get("source"), optional=True)
    return _snapshot(table, file.specs, file.facts, f"features:{path}", started)


def snapshot_from_source(source: str | Path) -> Snapshot:
    """Build the ``--latest-only`` features of ``source`` (validated, no labels) and read them."""
    from features.pipeline import FeatureOptions, build_features
    from features.writer import read_feature_table

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="churnlight-serve-") as scratch:
        out = Path(scratch) / "snapshot.parquet"
        try:
            build_features(source, out, FeatureOptions(latest_only=True, with_labels=False))
            file = read_feature_table(out)
        except ChurnlightError as err:
            raise SnapshotError(
                f"cannot build the snapshot of source {str(source)!r}: {err}"
            ) from err
        table = _with_accounts(file.table, str(source), optional=False)
        facts = {**file.facts, "source": str(source)}
        return _snapshot(table, file.specs, facts, f"source:{source}", started)


def latest_rows(table: pa.Table) -> pa.Table:
    """The rows of the latest ``snapshot_date`` (all rows when the table has no such column)."""
    if "snapshot_date" not in table.schema.names or table.num_rows == 0:
        return table
    latest = pc.max(table.column("snapshot_date"))
    return table.filter(pc.equal(table.column("snapshot_date"), latest))


def _snapshot(
    table: pa.Table, specs: list[FeatureSpec], facts: dict[str, Any], origin: str, started: float
) -> Snapshot:
    if "account_id" not in table.schema.names:
        raise SnapshotError(
            f"snapshot {origin!r} has no account_id column; score a feature table written by "
            "`churnlight features`"
        )
    ids = table.column("account_id")
    if ids.null_count:
        raise SnapshotError(f"snapshot {origin!r} has {ids.null_count} row(s) without account_id")
    if pc.count_distinct(ids).as_py() != table.num_rows:
        raise SnapshotError(
            f"snapshot {origin!r} holds an account_id more than once on its latest date; "
            "a feature table has one row per (account_id, snapshot_date)"
        )
    date = None
    if "snapshot_date" in table.schema.names and table.num_rows:
        value = pc.max(table.column("snapshot_date")).as_py()
        date = value.isoformat() if value is not None else None
    return Snapshot(
        table=table.combine_chunks(),
        snapshot_date=date,
        specs=specs,
        facts=facts,
        origin=origin,
        seconds={"read": round(time.perf_counter() - started, 3)},
    )


def _with_accounts(table: pa.Table, source: str | None, optional: bool) -> pa.Table:
    """``table`` with ``csm_id`` (and ``segment`` if absent) from the source's accounts."""
    if "csm_id" in table.schema.names or not source:
        return table
    if optional and not Path(source).exists():
        return table
    try:
        from features.sources import open_source

        opened = open_source(source)
        if not opened.has("accounts"):
            return table
        accounts = opened.typed("accounts").select("account_id", "segment", "csm_id").to_pyarrow()
    except ChurnlightError as err:
        if optional:
            log.warning("no csm_id for the snapshot: %s", err)
            return table
        raise SnapshotError(str(err)) from err
    wanted = ["account_id", "csm_id"]
    if "segment" not in table.schema.names:
        wanted.append("segment")
    joined = table.join(accounts.select(wanted), "account_id", join_type="left outer")
    order = pc.sort_indices(joined, [("account_id", "ascending")])
    return joined.take(order)
