"""Log a play-effects fit to MLflow and register it (``churnlight-effects``, alias ``champion``).

The run holds the effects table (``effects.csv``, ``effects.json``), the plot, the fit's facts
as parameters and the count of cells with evidence as metrics; the bundle
(``features.effects_bundle``) is the run's artifact folder ``effects``, which the registered
version points to. There is no gate: the latest estimate is the one served (an estimate of
what happened is not a challenger to a better model; its intervals say how sure it is). The
writer holds the registry lock; a failure after the version exists deletes it again.
"""

from __future__ import annotations

import csv
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from features.effects_bundle import EFFECTS_ARTIFACT, EffectsBundle, save_effects_bundle
from training.effects.plot import effects_plot
from training.locks import registry_lock
from training.registration import STATE_TAG, ensure_registered_model
from training.store import open_store

if TYPE_CHECKING:
    from training.effects.fit import EffectsResult
    from training.settings import TrainingSettings


@dataclass(frozen=True)
class EffectsPublication:
    run_id: str
    name: str | None
    version: str | None


def bundle_of(result: EffectsResult) -> EffectsBundle:
    return EffectsBundle(result.columns, result.rows, dict(result.uplift), dict(result.facts))


def write_effects_csv(result: EffectsResult, path: Path) -> Path:
    keys = list(result.rows[0]) if result.rows else ["play"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(result.rows)
    return path


def publish_effects(
    result: EffectsResult,
    settings: TrainingSettings,
    register: bool = True,
    plot_path: Path | None = None,
) -> EffectsPublication:
    """Log the run (and register the bundle with the champion alias when ``register``)."""
    import mlflow

    store = open_store(settings)
    with tempfile.TemporaryDirectory(prefix="churnlight-effects-") as tmp:
        root = Path(tmp)
        bundle_dir = save_effects_bundle(bundle_of(result), root / EFFECTS_ARTIFACT)
        plot = effects_plot(result.rows, plot_path or root / "effects.png")
        with mlflow.start_run(
            experiment_id=store.experiment_id,
            run_name="play-effects",
            tags={"churnlight.kind": "effects"},
        ) as run:
            facts = result.facts
            mlflow.log_params(
                {
                    "plays": len(facts["plays"]),
                    "rows": facts["rows"],
                    "runs": facts["runs"],
                    "window_days": facts["window_days"],
                    "min_treated": facts["rules"]["min_treated"],
                    "trim": facts["rules"]["trim"],
                    "folds": facts["crossfit"]["folds"],
                }
            )
            ok = [r for r in result.rows if r["evidence"] == "ok"]
            mlflow.log_metrics(
                {
                    "cells": float(len(result.rows)),
                    "cells_with_evidence": float(len(ok)),
                    "uplift_models": float(len(result.uplift)),
                    "fit_seconds": float(facts["seconds"]),
                }
            )
            mlflow.log_artifact(str(write_effects_csv(result, root / "effects.csv")))
            mlflow.log_artifact(str(plot))
            mlflow.log_artifacts(str(bundle_dir), artifact_path=EFFECTS_ARTIFACT)
            run_id = run.info.run_id
            artifact_uri = run.info.artifact_uri
    if not register:
        return EffectsPublication(run_id, None, None)
    name = settings.effects_model_name
    client = store.client
    with registry_lock(settings):
        ensure_registered_model(client, name, "churnlight play effects; alias 'champion' is served")
        version = client.create_model_version(
            name,
            source=f"{artifact_uri}/{EFFECTS_ARTIFACT}",
            run_id=run_id,
            tags={STATE_TAG: "pending", "churnlight.kind": "effects"},
        )
        try:
            client.set_registered_model_alias(name, settings.champion_alias, version.version)
            client.set_model_version_tag(name, version.version, STATE_TAG, "committed")
        except BaseException:
            client.delete_model_version(name, version.version)
            raise
    return EffectsPublication(run_id, name, str(version.version))
