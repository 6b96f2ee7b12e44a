"""Open a source (a folder of Parquet/CSV files, a DuckDB file, or an Ibis connection).

This module and the writers are the only places that connect to a backend. A source's
tables come back twice: ``raw`` as stored, and ``typed`` with exactly the contract's columns
cast to the contract's types (a value that cannot be cast becomes null; validation compares
the two to report cast failures). Timestamps are read as UTC: an offset in a text timestamp
is honoured, a timestamp without zone is taken as UTC.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from features.contract import TABLES, Column, TableSpec
from features.errors import SourceError
from features.settings import FeatureSettings, get_feature_settings

CONTRACT_DOC = "docs/data-contract.md"
_SUFFIXES = (".parquet", ".csv")

IBIS_TYPES: dict[str, dt.DataType] = {
    "string": dt.string,
    "date": dt.date,
    "timestamp": dt.timestamp,
    "float64": dt.float64,
    "int64": dt.int64,
    "boolean": dt.boolean,
}


@dataclass
class Source:
    """The tables of one source, on one backend connection."""

    con: BaseBackend
    location: str
    raw: dict[str, ir.Table]
    files: dict[str, Path] = field(default_factory=dict)

    @property
    def backend(self) -> str:
        return self.con.name

    def has(self, table: str) -> bool:
        return table in self.raw

    def typed(self, table: str) -> ir.Table:
        """``table`` with the contract's columns and types (missing columns raise)."""
        return conform(self.raw[table], TABLES[table])

    def fingerprint(self) -> str:
        """A short hash of what the source holds: file names, sizes and mtimes, or row counts."""
        digest = hashlib.sha256()
        for name in sorted(self.raw):
            digest.update(name.encode())
            path = self.files.get(name)
            if path is not None:
                stat = path.stat()
                digest.update(f"{path.name}:{stat.st_size}:{int(stat.st_mtime)}".encode())
            else:
                digest.update(str(self.raw[name].count().execute()).encode())
        return digest.hexdigest()[:16]


def connect(backend: str | None = None, settings: FeatureSettings | None = None) -> BaseBackend:
    """A fresh connection to the embedded DuckDB or a local Spark session, set to UTC."""
    settings = settings or get_feature_settings()
    backend = backend or settings.backend
    if backend == "duckdb":
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        con.raw_sql(f"SET memory_limit = '{settings.duckdb_memory_limit}'")
        spill = settings.duckdb_temp_directory or tempfile.gettempdir()
        con.raw_sql(f"SET temp_directory = '{Path(spill) / 'churnlight-duckdb'}'")
        # Row order of intermediates is never relied on (outputs are sorted explicitly).
        con.raw_sql("SET preserve_insertion_order = false")
        if settings.duckdb_threads:
            con.raw_sql(f"SET threads = {int(settings.duckdb_threads)}")
        return con
    if backend == "spark":
        return _spark_connect(settings)
    raise SourceError(f"unknown backend {backend!r}; use 'duckdb' or 'spark'")


def _spark_connect(settings: FeatureSettings) -> BaseBackend:
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:
        raise SourceError(
            "backend 'spark' needs PySpark; install the extra: pip install 'churnlight[spark]'"
        ) from err
    warehouse = tempfile.mkdtemp(prefix="churnlight-spark-")
    session = (
        SparkSession.builder.master(settings.spark_master)
        .appName("churnlight")
        .config("spark.sql.warehouse.dir", warehouse)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", settings.spark_driver_memory)
        # Spark sizes memory pages from the heap (64 MB here); the final assembly joins a
        # dozen family tables, each sort-merge join holding pages per task, and exhausted
        # the execution pool on tiny data (UNABLE_TO_ACQUIRE_MEMORY). Small pages fix it.
        .config("spark.buffer.pageSize", settings.spark_page_size)
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return ibis.pyspark.connect(session)


def open_source(
    location: str | Path | BaseBackend,
    backend: str | None = None,
    con: BaseBackend | None = None,
) -> Source:
    """Open the tables of a source.

    ``location`` is a folder of ``<table>.parquet`` / ``<table>.csv`` files, a DuckDB
    database file, or an Ibis connection that holds tables with the contract's names.
    Tables the contract does not know are ignored; which required ones are missing is
    validation's concern (see ``features.validation``)."""
    if isinstance(location, BaseBackend):
        names = set(location.list_tables())
        raw = {name: location.table(name) for name in TABLES if name in names}
        return Source(location, f"<{location.name} connection>", raw)

    path = Path(location)
    if not path.exists():
        raise SourceError(f"source {str(path)!r} does not exist; give a folder or a DuckDB file")
    if path.is_dir():
        return _open_folder(path, con or connect(backend))
    if path.suffix in {".duckdb", ".db", ".ddb"}:
        if (backend or "duckdb") != "duckdb":
            raise SourceError(
                f"source {str(path)!r} is a DuckDB file, which backend {backend!r} cannot read; "
                "export its tables to Parquet (COPY ... TO 'x.parquet') or use --backend duckdb"
            )
        try:
            db = ibis.duckdb.connect(str(path), read_only=True)
        except Exception as err:  # duckdb raises its own IOException subclasses
            raise SourceError(f"cannot open DuckDB file {str(path)!r}: {err}") from err
        db.raw_sql("SET TimeZone = 'UTC'")
        names = set(db.list_tables())
        raw = {name: db.table(name) for name in TABLES if name in names}
        return Source(db, str(path), raw, {name: path for name in raw})
    raise SourceError(
        f"source {str(path)!r} is neither a folder of Parquet/CSV files nor a DuckDB file "
        "(.duckdb, .db); see " + CONTRACT_DOC
    )


def _open_folder(path: Path, con: BaseBackend) -> Source:
    raw: dict[str, ir.Table] = {}
    files: dict[str, Path] = {}
    for name in TABLES:
        candidates = [p for p in (path / f"{name}{suffix}" for suffix in _SUFFIXES) if p.exists()]
        if len(candidates) > 1:
            raise SourceError(
                f"source {str(path)!r} has both {candidates[0].name} and {candidates[1].name}; "
                "keep one file per table"
            )
        if not candidates:
            continue
        file = candidates[0]
        try:
            raw[name] = _read_file(con, file, name)
        except Exception as err:  # backends raise many reader error types
            raise SourceError(f"cannot read table {name!r} from {str(file)!r}: {err}") from err
        files[name] = file
    return Source(con, str(path), raw, files)


def _read_file(con: BaseBackend, file: Path, name: str) -> ir.Table:
    table_name = f"src_{name}"
    if file.suffix == ".parquet":
        return con.read_parquet(str(file), table_name=table_name)
    # CSV: read every column as text, cast by the contract (so a bad value is reported, not
    # guessed around by type inference).
    kwargs: dict[str, Any]
    if con.name == "duckdb":
        kwargs = {"all_varchar": True, "header": True}
    else:
        kwargs = {"inferSchema": False, "header": True}
    return con.read_csv(str(file), table_name=table_name, **kwargs)


def strip_text(value: ir.StringValue) -> ir.StringValue:
    """``value`` without leading and trailing whitespace, the same on every backend.

    Not ``StringValue.strip()``: on PySpark, Ibis 12 compiles it to
    ``TRIM(' \\t\\n\\r\\v\\f' FROM x)``, and Spark SQL reads ``\\v`` and ``\\f`` as the letters
    v and f, so 'false' became 'als' and 'f' became ''."""
    return value.re_replace(r"^\s+|\s+$", "")


def cast_column(value: ir.Value, column: Column) -> ir.Value:
    """``value`` cast to the contract type of ``column``; null where it cannot be cast."""
    target = IBIS_TYPES[column.dtype]
    current = value.type()
    if current == target or (current.is_string() and target.is_string()):
        return value
    if column.dtype == "timestamp":
        if current.is_string():
            # Through a zoned timestamp so that '...+01:00' lands at the right UTC instant.
            return value.try_cast(dt.Timestamp(timezone="UTC")).cast(dt.timestamp)
        if current.is_timestamp() and current.timezone is not None:
            return value.cast(dt.timestamp)
        if current.is_date():
            return value.cast(dt.timestamp)
    if column.dtype == "date" and current.is_timestamp():
        return value.date()
    if column.dtype == "boolean" and current.is_string():
        lowered = strip_text(value).lower()
        return (
            ibis.cases(
                (lowered.isin(["true", "t", "1", "yes", "y"]), True),
                (lowered.isin(["false", "f", "0", "no", "n"]), False),
                else_=ibis.null(),
            )
        ).cast(dt.boolean)
    if column.dtype == "int64" and current.is_string():
        # '10.0' is a whole number; '10.5' is not and fails the cast.
        as_float = value.try_cast(dt.float64)
        return ibis.ifelse(as_float == as_float.round(0), as_float.cast(dt.int64), ibis.null())
    if current.is_string() and column.dtype != "string":
        return strip_text(value).nullif("").try_cast(target)
    return value.try_cast(target) if current.is_string() else value.cast(target)


def conform(raw: ir.Table, spec: TableSpec, without_empty: Collection[str] = ()) -> ir.Table:
    """The contract's columns of ``raw`` (in contract order) cast to the contract types.

    Empty strings in text columns of CSV files are nulls, except in ``without_empty``:
    columns known to hold none (validation found none), spared a comparison per row.
    Required columns ``raw`` lacks raise ``SourceError`` (validation reports them before
    this is called); optional ones (``Column.optional``) come back all null."""
    missing = [c.name for c in spec.columns if c.name not in raw.columns and not c.optional]
    if missing:
        raise SourceError(
            f"table {spec.name!r} lacks column(s) {', '.join(missing)}; see " + CONTRACT_DOC
        )
    out = {}
    for col in spec.columns:
        if col.name not in raw.columns:  # an optional column (contract 1.1): all null
            out[col.name] = ibis.null(IBIS_TYPES[col.dtype])
            continue
        value = raw[col.name]
        if value.type().is_string() and col.name not in without_empty:
            value = value.nullif("")
        out[col.name] = cast_column(value, col)
    return raw.select(**out)


def register_table(con: BaseBackend, name: str, data: pa.Table) -> ir.Table:
    """Hand a small in-memory table (a calendar, a lookup) to the backend under ``name``.

    A plain memtable is not enough: Ibis's PySpark backend does not register memtables
    before ``cache()``, so expressions built on one fail there."""
    if con.name == "pyspark":
        return con.create_view(name, ibis.memtable(data), overwrite=True)
    return con.create_table(name, data, temp=True, overwrite=True)
