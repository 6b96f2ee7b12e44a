"""The survival model in a training's publication: its gate decision, its MLflow logging
(metrics, plots, the pyfunc model) and its summary. ``training.gate``, ``training.run_logging``
and ``training.summary`` call these; the register-and-promote transaction
(``training.registration``) treats it like the other two models.

The gate rule is the classifiers' (``training.gate.decide``): the time-dependent AUC at 180
days stands for the ROC-AUC and the mean per-decile calibration error at 180 days (against
Kaplan-Meier) for the ECE. The champion is the registered ``churnlight-survival@champion``:
its own model is scored on the challenger's backtest test rows when it trained on nothing
after the cut ('registered model'); when its labels overlap the window it would be scored in
sample, so its recipe refit before the cut is scored instead ('recipe refit', as for the
classifiers). The survival recipe has no tuned parameters, so that refit is the challenger's
own backtest fit: the gate then checks the challenger's calibration, not a lead. As for the
classifiers, the calibration bound is raised to the noise floor of the window (what a
perfectly calibrated curve shows on that many rows, ``features.stats.ece_noise_floor``) when
that is higher."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from features.json_encoding import json_default
from features.survival_bundle import (
    SurvivalBundle,
    find_survival_bundle,
    load_survival_bundle,
    save_survival_bundle,
)
from features.survival_stats import td_auc
from training.survival_eval import survival_time
from training.versions import champion_version

if TYPE_CHECKING:
    from training.gate import GateDecision
    from training.results import TrainingResult
    from training.settings import TrainingSettings
    from training.store import Store
    from training.survival_train import SurvivalResult

LABEL = "churn_time"
KIND = "survival"
PYFUNC_CODE = Path(__file__).with_name("survival_pyfunc.py")


def survival_decision(
    store: Store, settings: TrainingSettings, result: TrainingResult
) -> GateDecision | None:
    """The gate's decision on the survival challenger (None: no survival model trained)."""
    from training.gate import GateDecision, decide

    survival = result.survival
    if survival is None:
        return None
    name = settings.survival_model_name
    current = champion_version(store, name, settings.champion_alias)
    champion_auc = None
    scored_as = None
    if current is not None and "survival" in survival.metrics:
        champion = load_registered_survival(store, name, str(current.version))
        champion_as_of = str(champion.metadata.get("as_of", ""))
        if champion_as_of and champion_as_of <= str(survival.window["cut"]):
            rows = survival.test_rows
            risk = champion.churn_by(champion.encode(result.data.raw.take(rows)), [180])[:, 0]
            days = result.data.times["churn_days"][rows]
            observed = result.data.times["churn_observed"][rows]
            champion_auc = td_auc(survival_time(days), observed, risk, 180)
            scored_as = "registered model"
        else:
            # Its labels overlap the window, so its own model would be scored in sample. The
            # survival recipe has no tuned parameters (training.survival.SURVIVAL_PARAMS), so
            # the champion's recipe refit before the cut is the challenger's backtest fit.
            champion_auc = survival.gate_auc()
            scored_as = "recipe refit"
    floor = survival.window.get("calibration_noise_floor_180")
    bound = max(settings.promotion_max_ece, floor or 0.0)
    promote, reason = decide(
        survival.gate_auc(),
        survival.gate_calibration(),
        champion_auc,
        current is not None,
        settings.promotion_auc_tolerance,
        bound,
    )
    reason = reason.replace("ROC-AUC", "td-AUC at 180 days").replace(
        "expected calibration error", "mean per-decile calibration error at 180 days"
    )
    return GateDecision(
        label=LABEL,
        model_name=name,
        promote=promote,
        reason=reason,
        challenger_auc=survival.gate_auc(),
        challenger_ece=survival.gate_calibration(),
        champion_version=None if current is None else str(current.version),
        champion_auc=champion_auc,
        champion_scored_as=scored_as,
        window=f"backtest from {survival.window['cut']} to {survival.window['test_end']}",
        tolerance=settings.promotion_auc_tolerance,
        ece_bound=bound,
    )


def load_registered_survival(store: Store, name: str, version: str) -> SurvivalBundle:
    """The survival bundle of a registered version."""
    import mlflow.artifacts

    location = store.client.get_model_version_download_uri(name, version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=location, tracking_uri=store.tracking_uri
    )
    return load_survival_bundle(find_survival_bundle(Path(local)))


def survival_metrics(survival: SurvivalResult) -> dict[str, float]:
    """``churn_time.<model>.<metric>`` of the backtest, plus the fit's seconds."""
    out: dict[str, float] = {}
    for model, values in survival.metrics.items():
        prefix = f"{LABEL}.{model}."
        if values.get("ibs") is not None:
            out[prefix + "ibs"] = float(values["ibs"])
        if values.get("uno_c") is not None:
            out[prefix + "uno_c"] = float(values["uno_c"])
        for group in ("td_auc", "calibration_max", "calibration_mean"):
            for day, value in (values.get(group) or {}).items():
                if value is not None:
                    out[f"{prefix}{group}_{day}"] = float(value)
    for key, value in survival.seconds.items():
        out[f"{LABEL}.seconds.{key}"] = float(value)
    out[f"{LABEL}.best_iteration"] = float(survival.bundle.metadata.get("best_iteration", 0))
    return out


def survival_summary(survival: SurvivalResult) -> dict[str, Any]:
    """The survival model's entry of the training summary."""
    model = survival.metrics.get("survival", {})
    return {
        "window": survival.window,
        "metrics": {k: v for k, v in model.items() if k != "calibration"},
        "baselines": {
            name: {k: v for k, v in values.items() if k != "calibration"}
            for name, values in survival.metrics.items()
            if name != "survival"
        },
        "best_iteration": survival.bundle.metadata.get("best_iteration"),
        "person_period_rows": survival.bundle.metadata.get("person_period_rows"),
        "seconds": survival.seconds,
        "notes": survival.notes,
    }


def log_survival(directory: Path, survival: SurvivalResult, as_of: str) -> str:
    """Log the survival model's evaluation (JSON and plots) and its pyfunc model in the
    active MLflow run; the model's URI."""
    import mlflow
    import mlflow.pyfunc

    from training.run_logging import bundle_code, pip_requirements

    evaluation = directory / "evaluation"
    evaluation.mkdir(parents=True, exist_ok=True)
    (evaluation / "evaluation.json").write_text(
        json.dumps(
            {"window": survival.window, "metrics": survival.metrics},
            indent=2,
            default=json_default,
        )
        + "\n"
    )
    if survival.curves:
        from training.survival_plots import calibration_per_horizon, mean_curves

        mean_curves(survival.curves, evaluation / "mean_curve.png")
        calibration_per_horizon(survival.metrics["survival"], evaluation / "calibration.png")
    mlflow.log_artifacts(str(evaluation), artifact_path=f"evaluation/{LABEL}")
    info = mlflow.pyfunc.log_model(
        name=KIND,
        python_model=str(PYFUNC_CODE),
        artifacts={"bundle": str(save_survival_bundle(survival.bundle, directory / "bundle"))},
        code_paths=[str(bundle_code(directory / "code"))],
        pip_requirements=pip_requirements(),
        metadata={"churnlight_label": LABEL, "churnlight_survival_format": 1, "as_of": as_of},
    )
    return str(info.model_uri)
