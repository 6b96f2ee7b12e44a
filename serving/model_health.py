"""Model health of the served champions (``monitoring.health.assess`` with serving's I/O):
the health of the served snapshot (built with each state, read by ``/v1/model/health`` and
the gauges) and of any feature table (``churnlight monitor --features F``).

Realised performance needs labels the champions never trained on: the rows of a snapshot
later than the last snapshot the model learned from (``labels_through`` minus the label's
span), whose label has matured in the table. Those snapshots are rescored with the
champion (``scores_from="rescored"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.model_bundle import ModelBundle
from monitoring.health import HealthSettings, ModelHealth, assess
from monitoring.health import ModelView as HealthView
from monitoring.realised import RealisedRow, realised_performance
from serving.loading import KINDS, LoadedModels
from serving.settings import ServingSettings

GROUPS = ("segment", "lifecycle_stage")


def views(models: LoadedModels) -> list[HealthView]:
    """The champions as monitoring sees them (churn first: its profile is the reference)."""
    return [
        HealthView(models.bundle(kind).label, models.bundle(kind), models.info(kind).label)
        for kind in KINDS
    ]


def served_health(
    models: LoadedModels,
    table: pa.Table,
    snapshot_date: str | None,
    scores: Mapping[str, np.ndarray],
    settings: HealthSettings | None = None,
) -> ModelHealth:
    """Health of the served snapshot ``table`` whose calibrated probabilities per label are
    ``scores`` (already computed by the scoring; not recomputed)."""
    return assess(views(models), table, snapshot_date, scores=scores, settings=settings)


def file_health(
    settings: ServingSettings, features: Path, health: HealthSettings | None = None
) -> ModelHealth:
    """Health of the latest snapshot of feature table ``features`` against the registry's
    champions, with the realised performance of the table's matured out-of-sample
    snapshots."""
    from serving.loading import load_models
    from serving.snapshot import snapshot_from_file

    models = load_models(settings)
    bundles = [models.churn, models.expansion]
    latest = snapshot_from_file(features, latest_only=True, bundles=bundles)
    every = snapshot_from_file(features, latest_only=False, bundles=bundles)
    realised = realised_from_table(models, every.table)
    return assess(
        views(models), latest.table, latest.snapshot_date, realised=realised, settings=health
    )


def realised_from_table(
    models: LoadedModels, table: pa.Table, draws: int = 300
) -> list[RealisedRow]:
    """Realised rows of every snapshot of ``table`` after each champion's training data whose
    label is known on some rows, rescored with the champion."""
    if "snapshot_date" not in table.schema.names:
        return []
    out: list[RealisedRow] = []
    for view in views(models):
        label = view.bundle.label
        if label not in table.schema.names:
            continue
        after = last_training_snapshot(view.bundle)
        if after is None:  # what the model trained on is unknown: any rescoring may be in-sample
            continue
        dates = sorted(set(table.column("snapshot_date").to_pylist()) - {None})
        for day in dates:
            if day <= after:
                continue
            rows = table.filter(
                pc.equal(table.column("snapshot_date"), pa.scalar(day, pa.date32()))
            )
            y = np.asarray(rows.column(label).to_pandas(), dtype=np.float64)
            if np.isnan(y).all():
                continue
            groups = {
                g: np.asarray(rows.column(g).to_pylist(), dtype=object)
                for g in GROUPS
                if g in rows.schema.names
            }
            out += realised_performance(
                day.isoformat(),
                label,
                y,
                view.bundle.predict_proba(rows),
                groups,
                model_version=view.version,
                scores_from="rescored",
                draws=draws,
            )
    return out


def last_training_snapshot(bundle: ModelBundle) -> date | None:
    """The latest snapshot date whose label the model trained on (None: unknown, e.g. a
    tabular model: then nothing is rescored)."""
    through = bundle.metadata.get("labels_through")
    span = bundle.metadata.get("span_days")
    if not through or span is None:
        return None
    return date.fromisoformat(str(through)) - timedelta(days=int(span))


def gauge_values(health: ModelHealth) -> dict[str, Sequence[tuple[tuple[str, ...], float]]]:
    """Per gauge, (labels, value) pairs (``serving.app``'s health gauges)."""
    estimated: list[tuple[tuple[str, ...], float]] = []
    for label, estimate in health.estimated.items():
        auc = estimate.metrics.get("roc_auc")
        if auc is not None:
            estimated.append(((label,), auc.value))
    latest: dict[str, tuple[str, float]] = {}
    for row in health.realised:
        newer = row.label not in latest or row.snapshot_date > latest[row.label][0]
        if row.group == "all" and row.roc_auc is not None and newer:
            latest[row.label] = (row.snapshot_date, row.roc_auc)
    return {
        "feature_drift": [((r.feature, r.statistic), r.value) for r in health.drift],
        "score_drift": [
            ((r.feature,), r.value) for r in health.score_drift if r.statistic == "psi"
        ],
        "estimated_roc_auc": estimated,
        "realised_roc_auc": [((label,), v) for label, (_, v) in sorted(latest.items())],
    }


def snapshot_age_seconds(snapshot_date: str | None, now: Any = None) -> float | None:
    """Seconds from the snapshot date's midnight UTC to ``now`` (default: now)."""
    from datetime import UTC, datetime

    if not snapshot_date:
        return None
    start = datetime.fromisoformat(snapshot_date[:10]).replace(tzinfo=UTC)
    return ((now or datetime.now(UTC)) - start).total_seconds()
