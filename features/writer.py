"""Write a feature table: Parquet plus a JSON sidecar with the metadata and the run's facts.

The sidecar is ``<name>.meta.json`` beside ``<name>.parquet``; the same JSON is stored in the
Parquet schema metadata under ``churnlight``, so a copied Parquet file keeps its metadata."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import CONTRACT_VERSION
from features.errors import SourceError
from features.metadata import FeatureSpec

METADATA_KEY = b"churnlight"


def sidecar_path(parquet_path: Path) -> Path:
    return parquet_path.with_name(parquet_path.stem + ".meta.json")


def write_feature_table(table: pa.Table, path: Path, facts: dict[str, Any]) -> Path:
    """Write ``table`` to ``path`` atomically (temp file + rename) with ``facts`` as metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    facts = {"contract_version": CONTRACT_VERSION, **facts}
    payload = json.dumps(facts, indent=2, default=_json_default)
    schema_meta = dict(table.schema.metadata or {})
    schema_meta[METADATA_KEY] = payload.encode()
    table = table.replace_schema_metadata(schema_meta)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    sidecar_path(path).write_text(payload + "\n")
    return path


@dataclass
class FeatureFile:
    """A feature table read back with its metadata."""

    table: pa.Table
    facts: dict[str, Any]

    @property
    def specs(self) -> list[FeatureSpec]:
        return [
            FeatureSpec(**{**s, "requires": tuple(s["requires"])})
            for s in self.facts.get("features", [])
        ]

    @property
    def label_columns(self) -> list[str]:
        return list(self.facts.get("labels", []))


def read_feature_table(path: Path) -> FeatureFile:
    """Read a feature table written by ``write_feature_table`` (sidecar or schema metadata)."""
    if not path.exists():
        raise SourceError(f"feature table {str(path)!r} does not exist; run `churnlight features`")
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as err:
        raise SourceError(f"cannot read feature table {str(path)!r}: {err}") from err
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    side = sidecar_path(path)
    if raw is not None:
        facts = json.loads(raw)
    elif side.exists():
        facts = json.loads(side.read_text())
    else:
        raise SourceError(
            f"feature table {str(path)!r} has no churnlight metadata (no {side.name} beside it); "
            "write it with `churnlight features`"
        )
    return FeatureFile(table.replace_schema_metadata(None), facts)


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")
