"""Small sources for feature tests, written as Parquet with the contract's types."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import TABLES
from features.pipeline import FeatureOptions, build_feature_table
from features.sources import IBIS_TYPES, open_source
from features.validation import validate_source

ARROW_TYPES = {
    "string": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "float64": pa.float64(),
    "int64": pa.int64(),
    "boolean": pa.bool_(),
}
assert set(ARROW_TYPES) == set(IBIS_TYPES)


def _coerce(value, dtype: str):
    if value is None:
        return None
    if dtype == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if dtype == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def write_tables(directory: Path, tables: dict[str, list[dict]]) -> Path:
    """Write each table (a list of row dicts; missing keys are null) as typed Parquet."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        spec = TABLES[name]
        arrays = {
            col.name: pa.array(
                [_coerce(row.get(col.name), col.dtype) for row in rows],
                type=ARROW_TYPES[col.dtype],
            )
            for col in spec.columns
        }
        pq.write_table(pa.table(arrays), directory / f"{name}.parquet")
    return directory


def build(directory: Path, **options) -> pd.DataFrame:
    """The feature table of the source in ``directory`` as a DataFrame."""
    source = open_source(directory)
    validated = validate_source(source, as_of=options.get("as_of"))
    opts = FeatureOptions(**{**options, "as_of": validated.as_of})
    run = build_feature_table(source.con, validated.tables, opts)
    return run.table.to_pandas()


def row(frame: pd.DataFrame, account_id: str, snapshot: str) -> pd.Series:
    hit = frame[
        (frame.account_id == account_id) & (frame.snapshot_date == date.fromisoformat(snapshot))
    ]
    assert len(hit) == 1, f"no single row for {account_id} at {snapshot}: {len(hit)}"
    return hit.iloc[0]
