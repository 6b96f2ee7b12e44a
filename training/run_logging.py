"""Logging one training as an MLflow run: parameters, metrics and tags, the evaluation
plots and tables of each label, the summary JSON, and one pyfunc model per label with its
signature, input example and pip requirements.

This is tracking, not the registry: nothing here registers a version or moves an alias."""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from features.json_encoding import json_default
from features.model_bundle import ModelBundle, save_bundle
from training.store import Store
from training.summary import summary_payload

if TYPE_CHECKING:
    from training.gate import GateDecision
    from training.results import LabelResult, TrainingResult

PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
BUNDLE_PACKAGE = "churnlight_bundle"
"""The package ``pyfunc_model.py`` imports the bundle code from, logged with each model."""
BUNDLE_MODULES = (
    "additive.py",
    "errors.py",
    "json_encoding.py",
    "model_bundle.py",
    "survival_bundle.py",
)
"""The modules of ``features`` that package holds: the bundle format and its one import."""
REQUIREMENTS = ("mlflow", "lightgbm", "numpy", "pandas", "pyarrow", "scikit-learn")
"""The packages a logged model pins to the versions it was trained with."""


@dataclass
class LoggedRun:
    run_id: str
    model_uris: dict[str, str] = field(default_factory=dict)


def log_run(
    store: Store,
    result: TrainingResult,
    decisions: dict[str, GateDecision],
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> LoggedRun:
    """One MLflow run: parameters, metrics, tags, plots, tables and one model per label."""
    import mlflow

    with (
        tempfile.TemporaryDirectory(prefix="churnlight-run-") as tmp,
        mlflow.start_run(experiment_id=store.experiment_id, run_name=run_name) as run,
    ):
        root = Path(tmp)
        mlflow.set_tags(_run_tags(result, tags))
        mlflow.log_params(_run_params(result))
        mlflow.log_metrics(_run_metrics(result) | gate_metrics(decisions))
        mlflow.set_tags(gate_tags(decisions))
        (root / "summary.json").write_text(
            json.dumps(summary_payload(result, decisions), indent=2, default=json_default) + "\n"
        )
        mlflow.log_artifact(str(root / "summary.json"))
        logged = LoggedRun(run.info.run_id)
        for label, outcome in result.labels.items():
            _log_label_artifacts(root / label, outcome)
            mlflow.log_artifacts(str(root / label), artifact_path=f"evaluation/{label}")
            profile = outcome.bundle.metadata.get("profile")
            if profile:
                mlflow.log_dict(profile, f"monitoring/profile-{label}.json")
            logged.model_uris[label] = _log_model(root / f"model-{label}", outcome, result)
        if result.survival is not None:
            from training.survival_publish import LABEL, log_survival

            as_of = str(result.facts.get("as_of", ""))
            logged.model_uris[LABEL] = log_survival(root / LABEL, result.survival, as_of)
    return logged


def gate_metrics(decisions: dict[str, GateDecision]) -> dict[str, float]:
    """The gate's numbers per label: ``gate.<label>.champion_roc_auc`` and
    ``.challenger_roc_auc`` (what the rule compared), ``.promote`` (1/0), and, when the
    out-of-time contest was held, ``gate.<label>.contest_rows`` / ``contest_positives`` /
    ``contest_difference`` and its interval."""
    out: dict[str, float] = {}
    for label, d in decisions.items():
        prefix = f"gate.{label}."
        out[prefix + "promote"] = float(d.promote)
        out[prefix + "data_findings"] = float(len(d.data_findings))
        if d.champion_auc is not None:
            out[prefix + "champion_roc_auc"] = d.champion_auc
        if d.challenger_auc is not None:
            out[prefix + "challenger_roc_auc"] = d.challenger_auc
        contest = d.contest or {}
        out_contest = {
            "contest_held": float(bool(contest.get("held"))) if contest else None,
            "contest_rows": contest.get("rows"),
            "contest_positives": contest.get("positives"),
            "contest_difference": contest.get("difference"),
            "contest_difference_low": contest.get("difference_low"),
            "contest_difference_high": contest.get("difference_high"),
        }
        out.update({prefix + k: float(v) for k, v in out_contest.items() if v is not None})
    return out


def gate_tags(decisions: dict[str, GateDecision]) -> dict[str, str]:
    """Per label: ``churnlight.gate.<label>`` = promote / keep and ``.reason`` (MLflow's tag
    limit: the first 5,000 characters)."""
    out = {}
    for label, d in decisions.items():
        out[f"churnlight.gate.{label}"] = "promote" if d.promote else "keep"
        out[f"churnlight.gate.{label}.reason"] = d.reason[:5000]
    return out


def _run_tags(result: TrainingResult, extra: dict[str, str] | None) -> dict[str, str]:
    facts = result.facts
    tags = {
        "churnlight.kind": "train",
        "churnlight.mode": result.mode,
        "feature_table.path": str(facts.get("path", "")),
        "feature_table.fingerprint": str(facts.get("fingerprint", "")),
        "feature_table.as_of": str(facts.get("as_of", "")),
        "source.fingerprint": str(facts.get("source_fingerprint", "")),
        "source": str(facts.get("source", "")),
    }
    tags.update(extra or {})
    return tags


def _run_params(result: TrainingResult) -> dict[str, Any]:
    options = result.options
    params: dict[str, Any] = {
        "mode": result.mode,
        "as_of": result.facts.get("as_of"),
        "feature_table_fingerprint": result.facts.get("fingerprint"),
        "rows": result.facts.get("rows"),
        "features": result.facts.get("features"),
        "backtests": options.backtests,
        "window_snapshots": options.window_snapshots,
        "valid_snapshots": options.valid_snapshots,
        "holdout_share": options.holdout_share,
        "tune_trials": options.tune_trials,
        "tune_seconds": options.tune_seconds,
        "imbalance": options.imbalance,
        "calibration_method": options.calibration,
        "monotone": options.monotone,
        "derived_features": options.derived,
        "seed": options.seed,
        "threads": options.threads,
    }
    for label, outcome in result.labels.items():
        meta = outcome.bundle.metadata
        for key, value in (meta.get("params") or {}).items():
            if key != "monotone_constraints":
                params[f"{label}.{key}"] = value
        params[f"{label}.best_iteration"] = meta.get("best_iteration")
        params[f"{label}.calibration"] = (meta.get("calibration") or {}).get("method")
        monotone = meta.get("monotone") or {}
        params[f"{label}.monotone_used"] = monotone.get("used")
        params[f"{label}.monotone_features"] = ",".join(sorted(monotone.get("directions", {})))
        params[f"{label}.model_kind"] = outcome.bundle.kind
        params[f"{label}.evaluation"] = outcome.facts.get("evaluation")
        params[f"{label}.tuning_kept"] = (outcome.facts.get("tuning") or {}).get("chosen")
        params[f"{label}.span_days"] = meta.get("span_days")
        params[f"{label}.labels_through"] = meta.get("labels_through")
    return {k: ("" if v is None else v) for k, v in params.items()}


def _run_metrics(result: TrainingResult) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for label, outcome in result.labels.items():
        for name, value in outcome.summary().items():
            if value is not None:
                metrics[f"{label}.{name}"] = float(value)
        for window in outcome.windows:
            for model, values in window.metrics.items():
                for name, value in values.items():
                    if value is not None:
                        metrics[f"{label}.{window.name}.{model}.{name}"] = float(value)
            for key, value in (window.oracle or {}).items():
                if isinstance(value, float):
                    metrics[f"{label}.{window.name}.oracle.{key}"] = value
        facts = outcome.facts
        for key in ("explain_ms_per_row", "fit_seconds"):
            if facts.get(key) is not None:
                metrics[f"{label}.{key}"] = float(facts[key])
        tuning = facts.get("tuning") or {}
        for key in ("trials", "pruned", "default_valid_auc", "best_valid_auc", "gain", "seconds"):
            if tuning.get(key) is not None:
                metrics[f"{label}.tuning.{key}"] = float(tuning[key])
        for kind, auc in ((facts.get("candidates") or {}).get("mean_roc_auc") or {}).items():
            if auc is not None:
                metrics[f"{label}.candidates.{kind}.mean_roc_auc"] = float(auc)
        monotone = facts.get("monotone") or {}
        for key in ("valid_auc_constrained", "valid_auc_free"):
            if monotone.get(key) is not None:
                metrics[f"{label}.monotone.{key}"] = float(monotone[key])
    for key, value in result.seconds.items():
        metrics[f"seconds.{key}"] = float(value)
    if result.survival is not None:
        from training.survival_publish import survival_metrics

        metrics.update(survival_metrics(result.survival))
    return metrics


def _log_label_artifacts(directory: Path, outcome: LabelResult) -> None:
    from training import plots

    directory.mkdir(parents=True, exist_ok=True)
    curves = outcome.curves
    window = curves.get("window", "last window")
    if curves.get("y") is not None:
        plots.calibration_curve(
            curves["y"],
            curves["predictions"],
            directory / "calibration_curve.png",
            f"{outcome.label}: calibration on {window}",
        )
        plots.gains_and_lift(
            curves["y"],
            curves["predictions"],
            directory / "gains_lift.png",
            f"{outcome.label}: cumulative gains and lift on {window}",
        )
    if curves.get("shap") is not None and len(curves["shap"]):
        plots.shap_beeswarm(
            curves["shap"],
            curves["shap_matrix"],
            outcome.bundle.feature_names,
            directory / "shap_beeswarm.png",
            f"{outcome.label}: SHAP values at the latest snapshot",
        )
    groups = outcome.last.groups
    plots.group_table_png(
        groups, directory / "segments.png", f"{outcome.label}: per segment and lifecycle stage"
    )
    _write_csv(groups, directory / "segments.csv")
    (directory / "evaluation.json").write_text(
        json.dumps([w.to_dict() for w in outcome.windows], indent=2, default=json_default) + "\n"
    )


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def pip_requirements() -> list[str]:
    """``package==version`` of each of ``REQUIREMENTS`` installed here (else the bare name)."""
    out = []
    for package in REQUIREMENTS:
        try:
            out.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            out.append(package)
    return out


def model_signature(bundle: ModelBundle) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema, TensorSpec

    kinds = {}
    for column in bundle.columns:
        if column.kind == "categorical":
            kinds[column.name] = "string"
    inputs = Schema(
        [ColSpec(kinds.get(n, "double"), n, required=False) for n in bundle.input_columns]
    )
    outputs = Schema([TensorSpec(np.dtype("float64"), (-1,))])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(result: TrainingResult, bundle: ModelBundle, rows: int = 5) -> Any:
    """A few rows of the latest snapshot, feature columns as the feature table has them."""
    import pandas as pd

    data = result.data
    if data.snapshot_date is not None:
        index = np.flatnonzero(data.snapshot_date == data.snapshot_date.max())[:rows]
    else:
        index = np.arange(min(rows, len(data.matrix)))
    table = data.raw.take(index)
    frame = {}
    for name in bundle.input_columns:
        values = (
            table.column(name).to_pylist() if name in table.schema.names else [None] * len(index)
        )
        column = next((c for c in bundle.columns if c.name == name), None)
        if column is not None and column.kind == "categorical":
            frame[name] = pd.Series(values, dtype=object)
        else:
            frame[name] = pd.Series(
                [np.nan if v is None else float(v) for v in values], dtype="float64"
            )
    return pd.DataFrame(frame)


def _log_model(directory: Path, outcome: LabelResult, result: TrainingResult) -> str:
    return log_pyfunc_model(
        outcome.bundle,
        directory,
        name=outcome.kind,
        example=input_example(result, outcome.bundle),
        metadata={
            "churnlight_label": outcome.label,
            "churnlight_bundle_format": 1,
            "as_of": str(result.facts.get("as_of", "")),
        },
    )


def log_pyfunc_model(
    bundle: ModelBundle,
    directory: Path,
    name: str,
    example: Any = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    """Log ``bundle`` as the pyfunc model ``name`` of the active MLflow run, with the code it
    runs (``bundle_code``), its signature, pinned pip requirements and ``example``; its URI.
    ``directory`` is scratch space for the files logged."""
    import mlflow.pyfunc

    info = mlflow.pyfunc.log_model(
        name=name,
        python_model=str(PYFUNC_CODE),
        artifacts={"bundle": str(save_bundle(bundle, directory / "bundle"))},
        code_paths=[str(bundle_code(directory / "code"))],
        signature=model_signature(bundle),
        input_example=example,
        pip_requirements=pip_requirements(),
        metadata=metadata,
    )
    return str(info.model_uri)


def bundle_code(directory: Path) -> Path:
    """The package ``churnlight_bundle`` written in ``directory``: a copy of the ``features``
    modules a logged model's ``load_context`` runs (``BUNDLE_MODULES``), under a name that
    no loader's own ``features`` package can shadow."""
    import features.model_bundle

    source = Path(features.model_bundle.__file__).parent
    package = directory / BUNDLE_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(
        '"""churnlight\'s model bundle code (features/additive.py, errors.py, '
        'json_encoding.py, model_bundle.py, survival_bundle.py), logged with this model."""\n'
    )
    for module in BUNDLE_MODULES:
        shutil.copyfile(source / module, package / module)
    return package
