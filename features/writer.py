"""Write a feature table: Parquet plus a JSON sidecar with the metadata and the run's facts.

The sidecar is ``<name>.meta.json`` beside ``<name>.parquet``; the same JSON is stored in the
Parquet schema metadata under ``churnlight``, so a copied Parquet file keeps its metadata.
Both are written atomically, readable as the process's umask says (``features.atomic``).

Reading brings the table back to the types churnlight wrote (``features.table_types``):
a table that pandas, DuckDB or Spark rewrote reads the same as the original."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from features.atomic import write_atomically, write_text_atomically
from features.contract import CONTRACT_VERSION
from features.errors import SourceError
from features.json_encoding import json_default
from features.metadata import FeatureSpec
from features.table_types import expected_types, normalise_types

METADATA_KEY = b"churnlight"


def sidecar_path(parquet_path: Path) -> Path:
    return parquet_path.with_name(parquet_path.stem + ".meta.json")


def write_feature_table(table: pa.Table, path: Path, facts: dict[str, Any]) -> Path:
    """Write ``table`` to ``path`` atomically (temp file + rename) with ``facts`` as metadata."""
    facts = {"contract_version": CONTRACT_VERSION, **facts}
    payload = json.dumps(facts, indent=2, default=json_default)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[METADATA_KEY] = payload.encode()
    table = table.replace_schema_metadata(schema_meta)
    write_atomically(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    write_text_atomically(sidecar_path(path), payload + "\n")
    return path


@dataclass
class FeatureFile:
    """A feature table read back with its metadata."""

    table: pa.Table
    facts: dict[str, Any]
    """The run's facts; empty when the table came without churnlight metadata."""

    @property
    def specs(self) -> list[FeatureSpec]:
        return [FeatureSpec.from_dict(s) for s in self.facts.get("features", [])]

    @property
    def label_columns(self) -> list[str]:
        return list(self.facts.get("labels", []))


def read_feature_table(
    path: Path,
    types: Mapping[str, pa.DataType] | None = None,
    require_metadata: bool = True,
) -> FeatureFile:
    """Read a feature table (a Parquet file or a folder of them, as Spark writes) with its
    metadata (schema metadata, else the ``.meta.json`` sidecar), its columns cast to the types
    its metadata gives them, overridden by ``types`` (see ``features.table_types``).

    Without metadata: ``SourceError`` when ``require_metadata``, else empty facts, and only
    the keys and ``types`` are cast."""
    if not path.exists():
        raise SourceError(f"feature table {str(path)!r} does not exist; run `churnlight features`")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise SourceError(f"cannot read feature table {str(path)!r}: {err}") from err
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    side = sidecar_path(path)
    facts: dict[str, Any] = {}
    if raw is not None:
        facts = json.loads(raw)
    elif side.exists():
        facts = json.loads(side.read_text())
    elif require_metadata:
        raise SourceError(
            f"feature table {str(path)!r} has no churnlight metadata (no {side.name} beside it); "
            "write it with `churnlight features`"
        )
    file = FeatureFile(table.replace_schema_metadata(None), facts)
    times = list(facts.get("times", []))
    expected = {**expected_types(file.specs, [*file.label_columns, *times]), **(types or {})}
    file.table = normalise_types(file.table, expected, f"feature table {str(path)!r}")
    return file
