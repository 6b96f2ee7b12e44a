"""MLflow: the store, one run per training, registered versions and the champion alias.

Order of work in ``publish`` (used by ``train`` and ``retrain``), chosen so that a failure or a
kill at any point leaves the registry and the champion as they were:

1. gate: the current champion (read only) is scored on the challenger's last backtest window;
2. the run: parameters, metrics, plots and both models are logged (tracking, not registry);
3. registry: each model becomes a version tagged ``churnlight.state=pending``; the champion
   alias moves for the labels that passed the gate; then the versions are tagged
   ``committed``. An exception in this step restores the aliases and deletes the versions and
   any registered model it created. A kill in this step (it lasts milliseconds) can leave a
   pending version behind, never a moved alias; ``recover`` deletes such leftovers and is run
   under the lock before every train and retrain.

Every writer holds ``registry_lock`` (``fcntl.flock`` on ``registry.lock`` beside the
store), so two trainings never overlap. The SQLite store is created once, under its own lock
(``store.lock``), before anything else touches it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from features.model_bundle import ModelBundle, bundle_path, load_bundle, save_bundle
from training.errors import LockedError, RegistryError
from training.evaluate import MODEL, format_table, summary_row
from training.metrics import METRIC_NAMES, roc_auc

if TYPE_CHECKING:
    from training.settings import TrainingSettings
    from training.train import LabelResult, TrainingResult

STATE_TAG = "churnlight.state"
MANAGED_TAG = "churnlight.managed"
PYFUNC_CODE = Path(__file__).with_name("pyfunc_model.py")
LOCK_FILE = "registry.lock"
STORE_LOCK_FILE = "store.lock"


# ---- locks -------------------------------------------------------------------------------


@contextlib.contextmanager
def registry_lock(settings: TrainingSettings, timeout: float | None = None) -> Iterator[Path]:
    """Hold the registry lock (exclusive ``flock``); raise ``LockedError`` when another
    process holds it for longer than ``timeout`` seconds (default: the setting, 0 = fail at
    once). The kernel releases the lock when the holder dies, even by SIGKILL."""
    directory = settings.lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    wait = settings.lock_timeout_seconds if timeout is None else timeout
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = _read_holder(path)
                    raise LockedError(
                        f"another churnlight train or retrain ({holder}) holds {path}; "
                        "nothing was done: run again when it has finished",
                        holder,
                    ) from err
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown process"
    except OSError:
        return "unknown process"


# ---- the store ---------------------------------------------------------------------------


@dataclass
class Store:
    client: Any
    tracking_uri: str
    experiment_id: str


def quiet_mlflow() -> None:
    """MLflow's INFO lines and download progress bars have no place in CLI output (MLflow
    sets its logger's level when imported, so this runs after the import)."""
    import mlflow  # noqa: F401

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with contextlib.suppress(Exception):
        from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

        os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = "false"


def open_store(settings: TrainingSettings, create: bool = True) -> Store:
    """The MLflow client on the configured store, with the experiment.

    With ``create`` the store and the experiment are created if missing, under
    ``store.lock`` (concurrent creators of one SQLite store race otherwise). Readers pass
    ``create=False`` and get a ``RegistryError`` if the store does not exist."""
    quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    uri = settings.resolved_tracking_uri()
    db = _sqlite_path(uri)
    if db is not None and not create and not db.exists():
        raise RegistryError(
            f"no MLflow store at {db}; train a model first (`churnlight train`), or set "
            "CHURNLIGHT_TRACKING_URI to the store that holds the models"
        )
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    lock_dir = settings.lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)
    with _store_lock(lock_dir / STORE_LOCK_FILE):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.get_experiment_by_name(settings.experiment_name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        elif create:
            experiment_id = client.create_experiment(
                settings.experiment_name, artifact_location=settings.resolved_artifact_location()
            )
        else:
            raise RegistryError(
                f"the store {uri} has no experiment {settings.experiment_name!r}; "
                "train a model first (`churnlight train`)"
            )
    return Store(client, uri, experiment_id)


@contextlib.contextmanager
def _store_lock(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri.removeprefix("sqlite:///")).expanduser()


# ---- champion and gate -------------------------------------------------------------------


@dataclass
class GateDecision:
    """Whether a challenger becomes champion, and why."""

    label: str
    model_name: str
    promote: bool
    reason: str
    challenger_auc: float | None
    challenger_ece: float | None
    champion_version: str | None = None
    champion_auc: float | None = None
    champion_scored_as: str | None = None
    """'registered model': the champion's own model, which never saw the window's labels;
    'recipe refit': its recipe refit before the window's cutoff (its model had trained on
    labels that overlap the window)."""
    window: str | None = None
    tolerance: float = 0.0
    ece_bound: float = 1.0
    """The configured bound, raised to the window's ECE noise floor when that is higher."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    challenger_auc: float | None,
    challenger_ece: float | None,
    champion_auc: float | None,
    has_champion: bool,
    tolerance: float,
    ece_bound: float,
) -> tuple[bool, str]:
    """The promotion rule (pure). With no champion the challenger becomes champion; else it
    must have AUC >= champion AUC - tolerance on the same window and ECE <= bound."""
    if not has_champion:
        return True, "no champion yet: the first version becomes champion"
    if challenger_auc is None or challenger_ece is None:
        return False, "the challenger has no ROC-AUC or ECE on its last backtest window"
    failures = []
    if champion_auc is not None and challenger_auc < champion_auc - tolerance:
        failures.append(
            f"ROC-AUC {challenger_auc:.4f} is below the champion's {champion_auc:.4f} minus "
            f"the tolerance {tolerance:.4f} on the same window"
        )
    if challenger_ece > ece_bound:
        failures.append(
            f"expected calibration error {challenger_ece:.4f} is above the bound {ece_bound:.4f}"
        )
    if failures:
        return False, "; ".join(failures)
    if champion_auc is None:
        return True, "the champion cannot be scored on the window; calibration within bound"
    return True, (
        f"ROC-AUC {challenger_auc:.4f} >= champion's {champion_auc:.4f} - {tolerance:.4f}, "
        f"ECE {challenger_ece:.4f} <= {ece_bound:.4f}"
    )


def champion_version(store: Store, name: str, alias: str) -> Any | None:
    """The model version the alias points to, or None (no model, or no alias)."""
    from mlflow.exceptions import MlflowException

    try:
        return store.client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_version_bundle(store: Store, name: str, version: str) -> ModelBundle:
    import mlflow

    # Resolve the storage location through our client: a models:/ URI given to
    # download_artifacts may be resolved against the default registry instead.
    location = store.client.get_model_version_download_uri(name, version)
    local = mlflow.artifacts.download_artifacts(
        artifact_uri=location, tracking_uri=store.tracking_uri
    )
    return load_bundle(bundle_path(local))


def gate(
    store: Store, settings: TrainingSettings, result: TrainingResult
) -> dict[str, GateDecision]:
    """Decisions for every label of a temporal ``result`` (read-only on the registry)."""
    from training.train import score_champion_on_fold

    decisions = {}
    for label, outcome in result.labels.items():
        name = settings.model_name(outcome.kind)
        metrics = outcome.last.metrics[MODEL]
        current = champion_version(store, name, settings.champion_alias)
        champion_auc = None
        scored_as = None
        if current is not None and outcome.last_fold is not None:
            champion = load_version_bundle(store, name, current.version)
            p, rows, scored_as = score_champion_on_fold(result, label, champion)
            champion_auc = roc_auc(result.data.labels[label][rows], p)
        floor = outcome.last.facts.get("ece_noise_floor")
        bound = max(settings.promotion_max_ece, floor or 0.0)
        promote, reason = decide(
            metrics.get("roc_auc"),
            metrics.get("ece"),
            champion_auc,
            current is not None,
            settings.promotion_auc_tolerance,
            bound,
        )
        decisions[label] = GateDecision(
            label=label,
            model_name=name,
            promote=promote,
            reason=reason,
            challenger_auc=metrics.get("roc_auc"),
            challenger_ece=metrics.get("ece"),
            champion_version=None if current is None else str(current.version),
            champion_auc=champion_auc,
            champion_scored_as=scored_as,
            window=outcome.last.name,
            tolerance=settings.promotion_auc_tolerance,
            ece_bound=bound,
        )
    return decisions


# ---- logging the run ---------------------------------------------------------------------


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
        mlflow.log_metrics(_run_metrics(result))
        (root / "summary.json").write_text(
            json.dumps(summary_payload(result, decisions), indent=2, default=_json) + "\n"
        )
        mlflow.log_artifact(str(root / "summary.json"))
        logged = LoggedRun(run.info.run_id)
        for label, outcome in result.labels.items():
            _log_label_artifacts(root / label, outcome)
            mlflow.log_artifacts(str(root / label), artifact_path=f"evaluation/{label}")
            logged.model_uris[label] = _log_model(root / f"model-{label}", outcome, result)
    return logged


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
        monotone = facts.get("monotone") or {}
        for key in ("valid_auc_constrained", "valid_auc_free"):
            if monotone.get(key) is not None:
                metrics[f"{label}.monotone.{key}"] = float(monotone[key])
    for key, value in result.seconds.items():
        metrics[f"seconds.{key}"] = float(value)
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
        json.dumps([w.to_dict() for w in outcome.windows], indent=2, default=_json) + "\n"
    )


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    import csv

    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for package in ("mlflow", "lightgbm", "numpy", "pandas", "pyarrow", "scikit-learn"):
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
    import mlflow.pyfunc

    bundle_dir = save_bundle(outcome.bundle, directory / "bundle")
    info = mlflow.pyfunc.log_model(
        name=outcome.kind,
        python_model=str(PYFUNC_CODE),
        artifacts={"bundle": str(bundle_dir)},
        signature=model_signature(outcome.bundle),
        input_example=input_example(result, outcome.bundle),
        pip_requirements=pip_requirements(),
        metadata={
            "churnlight_label": outcome.label,
            "churnlight_bundle_format": 1,
            "as_of": str(result.facts.get("as_of", "")),
        },
    )
    return str(info.model_uri)


# ---- registry ----------------------------------------------------------------------------


@dataclass
class VersionOutcome:
    label: str
    name: str
    version: str
    promoted: bool
    reason: str
    champion_before: str | None
    champion_after: str | None


def register_and_promote(
    store: Store,
    settings: TrainingSettings,
    logged: LoggedRun,
    decisions: dict[str, GateDecision],
    fail_after: str | None = None,
) -> dict[str, VersionOutcome]:
    """Register every logged model and move the champion alias where the gate allows.

    All or nothing: on any exception the aliases are restored, the new versions deleted
    (and a registered model this call created), and the exception re-raised. ``fail_after``
    ('register' or 'alias') raises on purpose at that point, for tests."""
    from mlflow.exceptions import MlflowException

    client = store.client
    alias = settings.champion_alias
    created_models: list[str] = []
    created_versions: list[tuple[str, str]] = []
    previous: dict[str, str | None] = {}
    outcomes: dict[str, VersionOutcome] = {}
    try:
        for label, uri in logged.model_uris.items():
            decision = decisions[label]
            name = decision.model_name
            try:
                client.get_registered_model(name)
            except MlflowException:
                client.create_registered_model(
                    name,
                    tags={MANAGED_TAG: "true"},
                    description=f"churnlight model of {label}; alias '{alias}' is served",
                )
                created_models.append(name)
            version = client.create_model_version(
                name,
                source=uri,
                run_id=logged.run_id,
                tags={
                    STATE_TAG: "pending",
                    "churnlight.label": label,
                    "churnlight.gate": "promote" if decision.promote else "keep",
                    "churnlight.gate_reason": decision.reason[:5000],
                },
            )
            created_versions.append((name, str(version.version)))
            outcomes[label] = VersionOutcome(
                label,
                name,
                str(version.version),
                decision.promote,
                decision.reason,
                decision.champion_version,
                decision.champion_version,
            )
            if fail_after == "register":
                raise RegistryError("injected failure after registering a version (test)")
        for label, outcome in outcomes.items():
            if not decisions[label].promote:
                continue
            current = champion_version(store, outcome.name, alias)
            previous[outcome.name] = None if current is None else str(current.version)
            client.set_registered_model_alias(outcome.name, alias, outcome.version)
            outcome.champion_after = outcome.version
            if fail_after == "alias":
                raise RegistryError("injected failure after moving an alias (test)")
        for name, version in created_versions:
            client.set_model_version_tag(name, version, STATE_TAG, "committed")
    except BaseException:
        _rollback(store, alias, previous, created_versions, created_models)
        raise
    return outcomes


def _rollback(
    store: Store,
    alias: str,
    previous: dict[str, str | None],
    versions: list[tuple[str, str]],
    models: list[str],
) -> None:
    client = store.client
    for name, version in previous.items():
        with contextlib.suppress(Exception):
            if version is None:
                client.delete_registered_model_alias(name, alias)
            else:
                client.set_registered_model_alias(name, alias, version)
    for name, version in versions:
        with contextlib.suppress(Exception):
            client.delete_model_version(name, version)
    for name in models:
        with contextlib.suppress(Exception):
            client.delete_registered_model(name)


def recover(store: Store, settings: TrainingSettings) -> dict[str, Any]:
    """Undo what a killed train or retrain left: pending versions (deleted), registered
    models it created that hold no version (deleted), runs still marked running (KILLED).
    Call it only under ``registry_lock``."""
    client = store.client
    removed: list[str] = []
    for name in (settings.churn_model_name, settings.expansion_model_name):
        try:
            versions = client.search_model_versions(f"name = '{name}'")
        except Exception:
            continue
        for version in versions:
            if (version.tags or {}).get(STATE_TAG) == "pending":
                aliases = list(version.aliases or [])
                for alias in aliases:
                    client.delete_registered_model_alias(name, alias)
                client.delete_model_version(name, version.version)
                removed.append(f"{name}/{version.version}")
        with contextlib.suppress(Exception):
            model = client.get_registered_model(name)
            if (model.tags or {}).get(MANAGED_TAG) == "true" and not client.search_model_versions(
                f"name = '{name}'"
            ):
                client.delete_registered_model(name)
                removed.append(name)
    killed = []
    for run in client.search_runs(
        [store.experiment_id], filter_string="attributes.status = 'RUNNING'"
    ):
        client.set_terminated(run.info.run_id, status="KILLED")
        killed.append(run.info.run_id)
    return {"removed": removed, "runs_marked_killed": killed}


# ---- the whole publication ---------------------------------------------------------------


@dataclass
class Publication:
    run_id: str
    decisions: dict[str, GateDecision]
    versions: dict[str, VersionOutcome]


def publish(
    store: Store,
    settings: TrainingSettings,
    result: TrainingResult,
    register: bool = True,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
    fail_after: str | None = None,
) -> Publication:
    """Gate, log, register and promote (see the module docs for the order). Tabular results
    are logged but never registered."""
    register = register and result.mode == "temporal"
    decisions = gate(store, settings, result) if register else {}
    logged = log_run(store, result, decisions, run_name=run_name, tags=tags)
    versions = (
        register_and_promote(store, settings, logged, decisions, fail_after) if register else {}
    )
    return Publication(logged.run_id, decisions, versions)


# ---- summaries ---------------------------------------------------------------------------


def summary_payload(
    result: TrainingResult,
    decisions: dict[str, GateDecision] | None = None,
    versions: dict[str, VersionOutcome] | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """The JSON summary of a training (``churnlight train --json``)."""
    labels = {}
    for label, outcome in result.labels.items():
        last = outcome.last
        baselines = {
            model: {name: values.get(name) for name in METRIC_NAMES}
            for model, values in last.metrics.items()
            if model != MODEL
        }
        if last.oracle:
            for model in baselines:
                baselines[model]["auc_oracle_ratio"] = last.oracle.get(f"{model}_oracle_ratio")
        labels[label] = {
            "window": {
                "name": last.name,
                "cutoff": last.cutoff,
                "dates": last.test,
                "rows": last.rows,
            },
            "metrics": summary_row(last),
            "baselines": baselines,
            "backtests": [
                {"name": w.name, "cutoff": w.cutoff, **summary_row(w)} for w in outcome.windows
            ],
            "best_iteration": outcome.facts.get("best_iteration"),
            "calibration": (outcome.facts.get("calibration") or {}).get("method"),
            "monotone_used": (outcome.facts.get("monotone") or {}).get("used"),
            "explain_ms_per_row": outcome.facts.get("explain_ms_per_row"),
        }
    payload: dict[str, Any] = {
        "run_id": run_id,
        "mode": result.mode,
        "feature_table": result.facts,
        "labels": labels,
        "seconds": result.seconds,
    }
    if decisions is not None:
        payload["gate"] = {k: v.to_dict() for k, v in decisions.items()}
    if versions is not None:
        payload["versions"] = {k: asdict(v) for k, v in versions.items()}
    if result.top_risk:
        payload["top_risk"] = result.top_risk
    return payload


def metrics_table(result: TrainingResult) -> list[list[str]]:
    rows = []
    for label, outcome in result.labels.items():
        rows += format_table(outcome.windows, label)
    return rows


def _json(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# ---- reading a registered version ----------------------------------------------------------


def version_evaluation(
    settings: TrainingSettings, kind: str, version: str | None = None
) -> dict[str, Any]:
    """The evaluation a registered version was trained with (its bundle records it): the
    version given, else the one the champion alias points to."""
    from mlflow.exceptions import MlflowException

    store = open_store(settings, create=False)
    name = settings.model_name(kind)
    try:
        if version is None:
            found = store.client.get_model_version_by_alias(name, settings.champion_alias)
        else:
            found = store.client.get_model_version(name, version)
    except MlflowException as err:
        which = f"version {version}" if version else f"alias '{settings.champion_alias}'"
        raise RegistryError(
            f"model {name!r} has no {which} in {store.tracking_uri}; "
            "train one with `churnlight train`"
        ) from err
    bundle = load_version_bundle(store, name, str(found.version))
    meta = bundle.metadata
    return {
        "name": name,
        "version": str(found.version),
        "aliases": list(found.aliases or []),
        "run_id": found.run_id,
        "label": bundle.label,
        "as_of": meta.get("as_of"),
        "feature_table": meta.get("feature_table"),
        "gate": (found.tags or {}).get("churnlight.gate_reason"),
        "evaluation": meta.get("evaluation", {}),
    }
