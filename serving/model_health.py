"""Model health of the served champions (``monitoring.health.assess`` with serving's I/O):
the health of the served snapshot (built with each state, read by ``/v1/model/health`` and
the gauges) and of any feature table (``churnlight monitor --features F``).

Realised performance needs labels the model never trained on. From the score history when
it has the snapshot (``scores_from="history"``): the scores served before the label could
be known (``scored_at`` earlier than the snapshot date plus the label's span), by whichever
version served them. Else from the table: the rows of a snapshot later than the champion's
last training snapshot (``labels_through`` minus the label's span), whose label has
matured, rescored with the champion (``scores_from="rescored"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from monitoring.health import HealthSettings, ModelHealth, assess
from monitoring.health import ModelView as HealthView
from monitoring.realised import RealisedRow, last_training_snapshot, realised_performance
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
    from_history = realised_from_history(models, every.table, _history_scores(settings, every))
    done = {(r.label, r.snapshot_date) for r in from_history}
    realised = sorted(
        from_history + realised_from_table(models, every.table, skip=done),
        key=lambda r: (r.snapshot_date, r.label),
    )
    return assess(
        views(models), latest.table, latest.snapshot_date, realised=realised, settings=health
    )


def _history_scores(settings: ServingSettings, every: Any) -> pa.Table | None:
    """The history store's scores of the table's snapshot dates (None: history off, or no
    store yet; a monitor never creates one)."""
    from serving.history import HistoryStore

    if not settings.history:
        return None
    uri = settings.resolved_history_uri()
    if uri.startswith("duckdb://") and not Path(uri.removeprefix("duckdb://")).exists():
        return None
    dates = sorted(set(every.table.column("snapshot_date").to_pylist()) - {None})
    return HistoryStore.from_settings(settings).scored(dates)


def realised_from_history(
    models: LoadedModels, table: pa.Table, scored: pa.Table | None, draws: int = 300
) -> list[RealisedRow]:
    """Realised rows from the scores the history kept (``scores_from="history"``): per
    label and snapshot of ``table`` whose label is known on some rows, the run scored
    latest *before the label could be known* (``scored_at`` < snapshot date + the label's
    span: no model that scored it can have trained on it), joined by account with the
    table's labels. The version is the one that scored (any, not only the champion)."""
    if scored is None or scored.num_rows == 0 or "snapshot_date" not in table.schema.names:
        return []
    out: list[RealisedRow] = []
    history = scored.to_pandas()
    history["scored_at"] = pd.to_datetime(history["scored_at"], utc=True)
    history["day"] = [d.isoformat() for d in scored.column("snapshot_date").to_pylist()]
    for kind, view in zip(KINDS, views(models), strict=True):
        label, span = view.bundle.label, view.bundle.metadata.get("span_days")
        if label not in table.schema.names or span is None:
            continue
        probability, version = f"{kind}_probability", f"{kind}_model_version"
        for day in sorted(set(table.column("snapshot_date").to_pylist()) - {None}):
            rows = table.filter(
                pc.equal(table.column("snapshot_date"), pa.scalar(day, pa.date32()))
            )
            y = np.asarray(rows.column(label).to_pandas(), dtype=np.float64)
            if np.isnan(y).all():
                continue
            known = pd.Timestamp(day + timedelta(days=int(span)), tz="UTC")
            runs = history[(history["day"] == day.isoformat()) & (history["scored_at"] < known)]
            if runs.empty:
                continue
            run = runs.loc[runs["scored_at"].idxmax(), "run_id"]
            picked = runs[runs["run_id"] == run].set_index("account_id")
            ids = rows.column("account_id").to_pylist()
            p = picked[probability].reindex(ids).to_numpy(dtype=np.float64)
            groups = _groups(rows)
            out += realised_performance(
                day.isoformat(),
                label,
                y,
                p,
                groups,
                model_version=str(picked[version].iloc[0]),
                scores_from="history",
                draws=draws,
            )
    return out


def realised_from_table(
    models: LoadedModels,
    table: pa.Table,
    draws: int = 300,
    skip: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset(),
) -> list[RealisedRow]:
    """Realised rows of every snapshot of ``table`` after each champion's training data whose
    label is known on some rows, rescored with the champion; (label, snapshot date) pairs
    in ``skip`` (the history had their scores) are left out."""
    if "snapshot_date" not in table.schema.names:
        return []
    out: list[RealisedRow] = []
    for view in views(models):
        label = view.bundle.label
        if label not in table.schema.names:
            continue
        after = last_training_snapshot(view.bundle.metadata)
        if after is None:  # what the model trained on is unknown: any rescoring may be in-sample
            continue
        dates = sorted(set(table.column("snapshot_date").to_pylist()) - {None})
        for day in dates:
            if day <= after or (label, day.isoformat()) in skip:
                continue
            rows = table.filter(
                pc.equal(table.column("snapshot_date"), pa.scalar(day, pa.date32()))
            )
            y = np.asarray(rows.column(label).to_pandas(), dtype=np.float64)
            if np.isnan(y).all():
                continue
            groups = _groups(rows)
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


def _groups(rows: pa.Table) -> dict[str, np.ndarray]:
    """The segment and lifecycle columns realised performance is split by, where present."""
    return {
        g: np.asarray(rows.column(g).to_pylist(), dtype=object)
        for g in GROUPS
        if g in rows.schema.names
    }
