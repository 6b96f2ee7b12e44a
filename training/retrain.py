"""The two jobs that train and publish: ``train_and_publish`` (a feature table in hand) and
``retrain`` (a source, for schedulers: features as of the source's latest data, train,
gate, promote or keep).

Both hold the registry lock for their whole run, so two never overlap, and both start by
``recover``-ing what a killed run may have left. Failure semantics are those of
``training.publish.publish``: the registry and the champion are left as they were.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training import dataset
from training.locks import registry_lock
from training.publish import Publication, publish
from training.registration import recover
from training.settings import TrainingSettings
from training.store import open_store
from training.summary import summary_payload
from training.train import Progress, TrainingResult, TrainOptions, train_models

Hook = Callable[[str], None]
"""Called with the name of each step as it starts (tests use it to stop a run midway)."""


@dataclass
class JobReport:
    """What a train or retrain did: the result, what was published, and a JSON summary."""

    result: TrainingResult
    publication: Publication | None
    payload: dict[str, Any]
    recovered: dict[str, Any] = field(default_factory=dict)


def train_and_publish(
    features_path: str | Path,
    options: TrainOptions,
    settings: TrainingSettings,
    register: bool = True,
    id_column: str | None = None,
    label_column: str | None = None,
    progress: Progress | None = None,
    hook: Hook | None = None,
) -> JobReport:
    """``churnlight train``: train on a feature table (or a plain table in tabular mode),
    log one MLflow run, register both models and run the promotion gate."""
    step = hook or (lambda name: None)
    step("load")
    data = dataset.load(features_path, id_column, label_column, derived=options.derived)
    step("train")
    result = train_models(data, options, progress)
    return _publish(result, settings, register, step, run_name="train")


def _publish(
    result: TrainingResult,
    settings: TrainingSettings,
    register: bool,
    step: Hook,
    run_name: str,
    tags: dict[str, str] | None = None,
) -> JobReport:
    step("lock")
    with registry_lock(settings):
        store = open_store(settings)
        recovered = recover(store, settings)
        step("publish")
        publication = publish(
            store,
            settings,
            result,
            register=register,
            run_name=run_name,
            tags=tags,
        )
    payload = summary_payload(
        result, publication.decisions, publication.versions, publication.run_id
    )
    payload["tracking_uri"] = store.tracking_uri
    return JobReport(result, publication, payload, recovered)


def retrain(
    source: str | Path,
    settings: TrainingSettings,
    options: TrainOptions | None = None,
    work_dir: str | Path | None = None,
    quarantine: bool = False,
    hook: Hook | None = None,
) -> JobReport:
    """Features of ``source`` as of its latest data, train, compare with the champion,
    promote or keep. The registry lock is taken first: a second retrain started meanwhile
    fails at once with ``LockedError`` and changes nothing."""
    from features.pipeline import FeatureOptions, build_features

    step = hook or (lambda name: None)
    options = options or TrainOptions.from_settings(settings)
    started = time.perf_counter()
    step("lock")
    with registry_lock(settings):
        store = open_store(settings)
        recovered = recover(store, settings)
        with tempfile.TemporaryDirectory(prefix="churnlight-retrain-", dir=work_dir) as tmp:
            step("features")
            table = Path(tmp) / "features.parquet"
            summary = build_features(source, table, FeatureOptions(), quarantine=quarantine)
            step("train")
            data = dataset.load(table, derived=options.derived)
            data.facts["path"] = str(table)
            result = train_models(data, options)
            step("publish")
            publication = publish(
                store,
                settings,
                result,
                run_name="retrain",
                tags={"churnlight.kind": "retrain", "source": str(source)},
            )
    payload = summary_payload(
        result, publication.decisions, publication.versions, publication.run_id
    )
    promoted = [k for k, v in publication.versions.items() if v.promoted]
    payload.update(
        {
            "status": "promoted" if promoted else "kept",
            "promoted": promoted,
            "kept": {k: v.reason for k, v in publication.versions.items() if not v.promoted},
            "source": str(source),
            "as_of": summary.as_of.isoformat(),
            "feature_rows": summary.rows,
            "rows_quarantined": summary.rows_quarantined,
            "tracking_uri": store.tracking_uri,
            "recovered": recovered,
            "seconds_total": round(time.perf_counter() - started, 2),
        }
    )
    payload.pop("top_risk", None)
    return JobReport(result, publication, payload, recovered)
