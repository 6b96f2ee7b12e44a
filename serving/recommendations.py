"""The plays the rules recommended at every snapshot of a feature table (for the follow-up).

The score history records scores, not playbooks, so the recommendations are rebuilt: every
row (account, snapshot) of the table is scored and explained by the champion models and
matched against the playbook library, exactly as the API would have done on that snapshot
with today's champions and library (not necessarily the ones in force then: said in the
report). No effects model is used: the follow-up asks whether the rules were followed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from features.transforms import all_feature_specs
from serving.batch import require_model_columns
from serving.loading import load_models
from serving.playbooks import load_playbooks
from serving.scoring import ModelView, ScoringConfig, score_table
from serving.settings import ServingSettings
from serving.snapshot import snapshot_from_file

Progress = Callable[[str, int, int], None]
BASIS = "the playbook rules applied to each snapshot with the champion models"


@dataclass(frozen=True)
class Recommendations:
    table: pa.Table
    """account_id, snapshot_date (date), csm_id, plays (list of play ids), one row per row."""
    basis: str
    """Where the recommendations come from, for the report."""


def recommended_plays(
    features: Path,
    settings: ServingSettings,
    source: Path | None = None,
    progress: Progress | None = None,
) -> Recommendations:
    """Every row of ``features`` with the plays the library recommends for it (``csm_id``
    from ``source``'s accounts when the table has none)."""
    models = load_models(settings)
    bundles = (models.churn, models.expansion)
    snapshot = snapshot_from_file(features, False, bundles, source)
    require_model_columns(snapshot.table, bundles, f"feature table {str(features)!r}")
    churn = ModelView(models.churn, models.churn_info.label, snapshot.spec_by_name)
    expansion = ModelView(models.expansion, models.expansion_info.label, snapshot.spec_by_name)
    known = {s.name for s in all_feature_specs()} | set(snapshot.table.schema.names)
    playbooks = load_playbooks(
        settings.playbooks_path, known | set(churn.names) | set(expansion.names)
    )
    config = ScoringConfig.from_settings(settings)
    ids: list[str] = []
    dates: list[object] = []
    csms: list[str | None] = []
    plays: list[list[str]] = []
    total = snapshot.table.num_rows
    for batch in score_table(
        snapshot.table, churn, expansion, playbooks, config, settings.threads()
    ):
        ids += [str(a) for a in batch.account_id.tolist()]
        dates += batch.snapshot_date.tolist()
        csms += [None if c is None else str(c) for c in batch.csm_id.tolist()]
        plays += [[p["id"] for p in row] for row in batch.playbooks]
        if progress:
            progress("recommending plays", len(ids), total)
    table = pa.table(
        {
            "account_id": pa.array(ids, pa.string()),
            "snapshot_date": pa.array(dates).cast(pa.date32()),
            "csm_id": pa.array(csms, pa.string()),
            "plays": pa.array(plays, pa.list_(pa.string())),
        }
    )
    versions = f"{models.churn_info.label}, {models.expansion_info.label}"
    return Recommendations(table, f"{BASIS} ({versions}) and {playbooks.path}")
