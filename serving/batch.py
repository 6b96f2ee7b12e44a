"""``churnlight score``: batch scores of a feature table, on the API's code path.

Output (by suffix): Parquet with the contract's section 4 columns and the drivers as lists of
structs ``{feature, family, value, category, contribution, reason}`` (``value`` for numbers,
``category`` for categorical features), or CSV with the same drivers as JSON strings.
Explanations use every core (``CHURNLIGHT_SCORE_THREADS``)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from features.errors import ConfigError
from features.transforms import all_feature_specs
from serving.loading import Loader, load_models
from serving.playbooks import load_playbooks
from serving.scoring import ModelView, ScoringConfig, score_table
from serving.settings import ServingSettings
from serving.snapshot import snapshot_from_file

Progress = Callable[[int, int], None]
"""Called as progress(rows_done, rows_total)."""
DRIVER_COLUMNS = (
    "churn_drivers_up",
    "churn_drivers_down",
    "expansion_drivers_up",
    "expansion_drivers_down",
)


@dataclass
class ScoreSummary:
    path: Path
    rows: int
    snapshot_dates: list[str]
    churn_model_version: str
    expansion_model_version: str
    seconds: float
    tiers: dict[str, int] = field(default_factory=dict)
    revenue_at_risk: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "path": str(self.path)}


def score_file(
    features: Path,
    out: Path,
    settings: ServingSettings,
    latest_only: bool = False,
    load: Loader | None = None,
    progress: Progress | None = None,
) -> ScoreSummary:
    """Score every row of ``features`` (only its latest snapshot with ``latest_only``)."""
    if out.suffix not in (".parquet", ".csv"):
        raise ConfigError(f"--out {str(out)!r}: write a .parquet or a .csv file")
    started = time.perf_counter()
    models = (load or load_models)(settings)
    snapshot = snapshot_from_file(features, latest_only=latest_only)
    fallback = snapshot.spec_by_name
    churn = ModelView(models.churn, models.churn_info.label, fallback)
    expansion = ModelView(models.expansion, models.expansion_info.label, fallback)
    known = {s.name for s in all_feature_specs()} | set(snapshot.table.schema.names)
    playbooks = load_playbooks(
        settings.playbooks_path, known | set(churn.names) | set(expansion.names)
    )
    config = ScoringConfig.from_settings(settings)
    total = snapshot.table.num_rows
    parts: list[pa.Table] = []
    done = 0
    tiers: dict[str, int] = {}
    at_risk = 0.0
    for batch in score_table(
        snapshot.table, churn, expansion, playbooks, config, settings.threads()
    ):
        parts.append(batch.to_arrow())
        for tier in batch.risk_tier.tolist():
            tiers[tier] = tiers.get(tier, 0) + 1
        at_risk += float(sum(v for v in batch.revenue_at_risk.tolist() if v == v))
        done += batch.n
        if progress:
            progress(done, total)
    table = pa.concat_tables(parts) if parts else pa.table({})
    _write(table, out)
    dates = sorted({d for d in table.column("snapshot_date").to_pylist() if d is not None})
    return ScoreSummary(
        path=out,
        rows=table.num_rows,
        snapshot_dates=[d.isoformat() for d in dates],
        churn_model_version=churn.version,
        expansion_model_version=expansion.version,
        seconds=round(time.perf_counter() - started, 3),
        tiers=dict(sorted(tiers.items())),
        revenue_at_risk=round(at_risk, 2),
    )


def _write(table: pa.Table, out: Path) -> None:
    """Write atomically (temp file + rename) so a reader never sees half a file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(fd)
    try:
        if out.suffix == ".csv":
            flat = table
            for name in (*DRIVER_COLUMNS, "playbooks"):
                values = [json.dumps(v) for v in table.column(name).to_pylist()]
                flat = flat.set_column(flat.schema.get_field_index(name), name, pa.array(values))
            pacsv.write_csv(flat, tmp)
        else:
            pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
