"""Streaming Parquet output with the contract's exact schema, one file per table.

Tables are written chunk by chunk through ``pyarrow.parquet.ParquetWriter`` into a hidden
staging folder and moved into place only when every table is complete, so a failed run
never leaves a half-written source behind."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import TABLES, TableSpec
from features.errors import ConfigError

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
}
STAGING = ".simulating"
TRUTH_DIR = "_truth"


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """The Arrow schema of a contract table: names, order, types and nullability."""
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.dtype], c.nullable) for c in spec.columns])


def to_array(values: Any, dtype: pa.DataType) -> pa.Array:
    """numpy/list values as an Arrow array; NaN floats and negative day/time numbers are null."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.cast(dtype) if values.type != dtype else values
    if isinstance(values, np.ndarray):
        if pa.types.is_date32(dtype):
            return pa.array(values.astype(np.int32), type=pa.int32(), mask=values < 0).cast(dtype)
        if pa.types.is_timestamp(dtype):
            return pa.array(values.astype(np.int64), type=pa.int64(), mask=values < 0).cast(dtype)
        if pa.types.is_floating(dtype):
            return pa.array(values, type=dtype, mask=np.isnan(values))
        if pa.types.is_integer(dtype):
            return pa.array(values.astype(np.int64), type=dtype, mask=values < 0)
        return pa.array(values, type=dtype)
    return pa.array(values, type=dtype)


class TableSink:
    """One contract table being written in row groups.

    Text columns listed in ``dictionary_columns`` are handed over as dictionary arrays
    (indices into a small array of values), which Parquet stores as its dictionary encoding
    without re-hashing every string. The Arrow schema is not embedded in the file
    (``store_schema=False``), so every reader sees the contract's plain types."""

    def __init__(
        self,
        path: Path,
        spec: TableSpec,
        row_group_size: int = 1_000_000,
        dictionary_columns: tuple[str, ...] = (),
        column_encoding: dict[str, str] | None = None,
    ) -> None:
        self.path = path
        self.spec = spec
        self.schema = arrow_schema(spec)
        self.dictionary_columns = dictionary_columns
        self.write_schema = pa.schema(
            [
                pa.field(f.name, pa.dictionary(pa.int32(), f.type), f.nullable)
                if f.name in dictionary_columns
                else f
                for f in self.schema
            ]
        )
        self.row_group_size = row_group_size
        self.rows = 0
        encoded = set(column_encoding or {})
        self._writer = pq.ParquetWriter(
            path,
            self.write_schema,
            compression="snappy",
            store_schema=False,
            use_dictionary=[
                f.name
                for f in self.schema
                if f.name not in encoded
                and (pa.types.is_string(f.type) or pa.types.is_floating(f.type))
            ],
            column_encoding=column_encoding,
        )

    def write(self, columns: dict[str, Any]) -> None:
        arrays = [
            columns[f.name]
            if f.name in self.dictionary_columns
            else to_array(columns[f.name], f.type)
            for f in self.write_schema
        ]
        table = pa.Table.from_arrays(arrays, schema=self.write_schema)
        if table.num_rows:
            self._writer.write_table(table, row_group_size=self.row_group_size)
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()


def dictionary(indices: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    """``values[indices]`` as a dictionary array; negative indices are null."""
    index = pa.array(indices.astype(np.int32), type=pa.int32(), mask=indices < 0)
    return pa.DictionaryArray.from_arrays(index, values)


EVENTS_DICTIONARY = ("account_id", "user_id", "feature")
EVENTS_ENCODING = {"ts": "DELTA_BINARY_PACKED"}


class SourceWriter:
    """Every contract table of one simulated source, staged then committed into ``out_dir``."""

    def __init__(
        self, out_dir: Path, row_group_size: int, optional_columns: Collection[str] = ()
    ) -> None:
        """``optional_columns``: the contract's optional columns to write (e.g. ``play``);
        the others are left out, as a source of contract version 1 has them."""
        self.out_dir = out_dir
        self.staging = out_dir / STAGING
        _prepare(out_dir)
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staging.mkdir(parents=True)
        self.sinks = {
            name: TableSink(
                self.staging / f"{name}.parquet",
                replace(
                    spec,
                    columns=tuple(
                        c for c in spec.columns if not c.optional or c.name in optional_columns
                    ),
                ),
                row_group_size,
            )
            for name, spec in TABLES.items()
            if name != "events"
        }
        self.sinks["events"] = TableSink(
            self.staging / "events.parquet",
            TABLES["events"],
            row_group_size,
            dictionary_columns=EVENTS_DICTIONARY,
            column_encoding=EVENTS_ENCODING,
        )

    def write(self, table: str, columns: dict[str, Any]) -> None:
        self.sinks[table].write(columns)

    def rows(self) -> dict[str, int]:
        return {name: sink.rows for name, sink in self.sinks.items()}

    def commit(self) -> None:
        for sink in self.sinks.values():
            sink.close()
        for name in self.sinks:
            (self.staging / f"{name}.parquet").replace(self.out_dir / f"{name}.parquet")
        self.staging.rmdir()

    def abort(self) -> None:
        for sink in self.sinks.values():
            with contextlib.suppress(OSError, pa.ArrowException):
                sink.close()
        shutil.rmtree(self.staging, ignore_errors=True)


def _prepare(out_dir: Path) -> None:
    """Make ``out_dir`` ready: earlier simulator output is replaced, anything else is refused."""
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {str(out_dir)!r} is a file; give a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    clashes = sorted(p.name for p in out_dir.glob("*.csv") if p.stem in TABLES)
    if clashes:
        raise ConfigError(
            f"--out {str(out_dir)!r} holds {', '.join(clashes)}; a source keeps one file per "
            "table, so simulate into an empty folder"
        )
    for name in TABLES:
        (out_dir / f"{name}.parquet").unlink(missing_ok=True)
    shutil.rmtree(out_dir / TRUTH_DIR, ignore_errors=True)
