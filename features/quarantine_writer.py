"""Write the quarantine folder of a validation: one Parquet file per table with rows set aside.

The only writer of quarantined rows (``features.writer`` writes feature tables); the rows
and their ``_reason`` column come from ``features.validation``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import ibis.expr.types as ir
import pyarrow.parquet as pq


def write_quarantine(tables: Mapping[str, ir.Table | None], directory: Path) -> None:
    """Write each table's rows to ``<directory>/<name>.parquet``, streamed batch by batch.

    A table given as None has no quarantined rows: a file left by an earlier run for it is
    removed, so the folder always describes the last run."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        path = directory / f"{name}.parquet"
        if rows is None:
            path.unlink(missing_ok=True)
            continue
        writer = None
        try:
            for batch in rows.to_pyarrow_batches():
                if writer is None:
                    writer = pq.ParquetWriter(str(path), batch.schema)
                writer.write_batch(batch)
            if writer is None:  # pragma: no cover - counted rows always come back
                pq.write_table(rows.to_pyarrow(), str(path))
        finally:
            if writer is not None:
                writer.close()
