"""The rows to score: a feature table (or a source's latest features), typed and checked.

Two origins (``ServingSettings``): ``features``, a feature table written by
``churnlight features`` (the API keeps only its latest snapshot date; ``churnlight score``
every row), or ``source``, whose ``--latest-only`` features are built on load (features of the
as-of date, no labels).

A feature table that another tool rewrote is accepted: its columns are cast back to the types
churnlight wrote (``features.table_types``; the types come from the table's metadata, the
feature catalog and the models' bundles), and its churnlight metadata may be gone, since
nothing in scoring needs it: the bundles carry the feature columns, kinds and descriptions.
Keys are checked: no null ``account_id`` or ``snapshot_date``, one row per
(account_id, snapshot_date).

``csm_id`` is not a feature; the portfolio filters on it, so it is attached from, in order:
a ``csm_id`` column of the table, the ``accounts`` table of an explicit source (``source``, or
``score --source``), or the ``accounts`` table of the source recorded in the feature table's
metadata when that folder still exists. Otherwise it stays null.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.errors import ChurnlightError
from features.metadata import FeatureSpec
from features.model_bundle import ModelBundle
from features.table_types import NUMBER, TEXT, check_keys, expected_types
from serving.errors import SnapshotError
from serving.settings import ServingSettings

log = logging.getLogger("churnlight.serving")


@dataclass(frozen=True)
class Snapshot:
    """The rows to score (one per account and snapshot date) and their features' metadata."""

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


def snapshot_from_file(
    path: str | Path,
    latest_only: bool = True,
    bundles: Sequence[ModelBundle] = (),
    source: str | Path | None = None,
) -> Snapshot:
    """The rows of the latest ``snapshot_date`` of a feature table (every row with
    ``latest_only=False``), cast to the types of its metadata, the feature catalog and the
    columns of ``bundles``. ``csm_id`` comes from ``source``'s accounts when given (then a
    source that cannot be read is an error), else from the source in the table's metadata."""
    from features.transforms import all_feature_specs
    from features.writer import read_feature_table

    started = time.perf_counter()
    catalog = all_feature_specs()
    types = {**expected_types(catalog), **bundle_types(bundles)}
    try:
        file = read_feature_table(Path(path), types=types, require_metadata=False)
        check_keys(file.table, f"feature table {str(path)!r}")
    except ChurnlightError as err:
        raise SnapshotError(str(err)) from err
    table = latest_rows(file.table) if latest_only else file.table
    if source is not None:
        table = _with_accounts(table, str(source), optional=False)
    else:
        table = _with_accounts(table, file.facts.get("source"), optional=True)
    facts = {**file.facts, "source": str(source)} if source is not None else file.facts
    specs = file.specs or catalog
    return _snapshot(table, specs, facts, f"features:{path}", started)


def bundle_types(bundles: Sequence[ModelBundle]) -> dict[str, pa.DataType]:
    """The type each model column reads: text for a categorical column, float64 for a numeric
    one and for both inputs of a derived one."""
    out: dict[str, pa.DataType] = {}
    for bundle in bundles:
        for column in bundle.columns:
            if column.kind == "categorical":
                out[column.name] = TEXT
            else:
                out.update(dict.fromkeys(column.source_columns, NUMBER))
    return out


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
            check_keys(file.table, f"the --latest-only features of source {str(source)!r}")
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
    """``table`` with ``csm_id`` (and ``segment`` if absent) from the source's accounts, rows
    in their order. ``optional``: a source that is gone or unreadable leaves the table as is."""
    if "csm_id" in table.schema.names or not source:
        return table
    if optional and not Path(source).exists():
        return table
    wanted = ["account_id", "csm_id"]
    if "segment" not in table.schema.names:
        wanted.append("segment")
    try:
        accounts = _accounts(source, wanted)
    except ChurnlightError as err:
        if optional:
            log.warning("no csm_id for the snapshot: %s", err)
            return table
        raise SnapshotError(str(err)) from err
    if accounts is None:
        if optional:
            return table
        raise SnapshotError(
            f"source {source!r} has no accounts table, which --source reads csm_id from; give "
            "the source the feature table was built from"
        )
    order = "__churnlight_row"
    numbered = table.append_column(order, pa.array(np.arange(table.num_rows, dtype=np.int64)))
    joined = numbered.join(accounts, "account_id", join_type="left outer")
    return joined.sort_by(order).drop_columns([order])


def _accounts(source: str, wanted: list[str]) -> pa.Table | None:
    """The ``wanted`` columns of ``source``'s accounts as text, one row per account_id; None
    when the source has no accounts table."""
    from features.sources import open_source

    opened = open_source(source)
    if not opened.has("accounts"):
        return None
    raw = opened.typed("accounts").select(*wanted).to_pyarrow()
    accounts = pa.table({name: raw.column(name).cast(TEXT) for name in wanted})
    accounts = accounts.filter(pc.is_valid(accounts.column("account_id")))
    counts = accounts.group_by("account_id").aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts.column("count_all"), 1)).column("account_id")
    if len(repeated):
        raise SnapshotError(
            f"source {source!r}: its accounts table holds account_id {repeated[0].as_py()!r} "
            "more than once, so its csm_id is ambiguous; fix the source (`churnlight validate`)"
        )
    return accounts
