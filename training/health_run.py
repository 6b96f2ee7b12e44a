"""A model-health report logged to MLflow (``churnlight monitor --log-run``).

One run holds the report JSON (``monitoring/health.json``, the ``--json`` line's content),
the HTML report, the drift and performance plots (``monitoring/drift.png``,
``monitoring/performance.png``), and metrics: the estimate per label, the realised series
per label (step = the snapshot date as YYYYMMDD), PSI per feature and score, counts of
drifted features and concerns. A new run is started in the configured experiment unless
``run_id`` names an existing one (e.g. the champion's training run) to add them to.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from monitoring.health import ModelHealth
from monitoring.report import html_report
from training.errors import RegistryError
from training.health_plots import drift_bars, performance_lines
from training.store import Store

UNSAFE = re.compile(r"[^A-Za-z0-9_\-. /]")


def health_metrics(health: ModelHealth) -> dict[str, float]:
    """The run's single-valued metrics (names: ``estimated_roc_auc.<label>``,
    ``drift_psi.<feature>``, ...)."""
    out: dict[str, float] = {
        "drifted_features": float(len(health.drifted)),
        "concerns": float(len(health.conditions)),
        "rows": float(health.rows),
    }
    for label, estimate in health.estimated.items():
        for metric, interval in estimate.metrics.items():
            out[f"estimated_{metric}.{label}"] = interval.value
            out[f"estimated_{metric}_low.{label}"] = interval.low
            out[f"estimated_{metric}_high.{label}"] = interval.high
    for row in health.drift:
        if row.statistic == "psi":
            out[f"drift_psi.{_safe(row.feature)}"] = row.value
    for row in health.score_drift:
        if row.statistic == "psi":
            out[f"score_psi.{_safe(row.feature)}"] = row.value
    return out


def log_health(
    store: Store,
    health: ModelHealth,
    run_id: str | None = None,
    run_name: str | None = None,
) -> str:
    """Log ``health`` to a new run in ``store``'s experiment (or to run ``run_id``); returns
    the run id. An unknown ``run_id`` is a ``RegistryError``."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if run_id is not None:
        try:
            store.client.get_run(run_id)
        except MlflowException as err:
            raise RegistryError(
                f"no MLflow run {run_id!r} in {store.tracking_uri}; give a run id from "
                "`churnlight info` or the MLflow UI, or omit --run-id to start a new run"
            ) from err
    name = run_name or f"monitor {health.snapshot_date}"
    started = (
        mlflow.start_run(run_id=run_id)
        if run_id is not None
        else mlflow.start_run(experiment_id=store.experiment_id, run_name=name)
    )
    with tempfile.TemporaryDirectory(prefix="churnlight-monitor-") as tmp, started as run:
        root = Path(tmp)
        mlflow.set_tags(
            {
                "churnlight.kind": "monitor",
                "churnlight.snapshot_date": str(health.snapshot_date),
                "churnlight.healthy": str(not health.conditions).lower(),
            }
        )
        if run_id is None:
            params = {"snapshot_date": health.snapshot_date, "rows": health.rows}
            params |= {f"model_version.{k}": v for k, v in health.model_versions.items()}
            mlflow.log_params(params)
        mlflow.log_metrics(health_metrics(health))
        for row in health.realised:
            if row.group == "all" and row.roc_auc is not None:
                step = int(row.snapshot_date[:10].replace("-", ""))
                mlflow.log_metric(f"realised_roc_auc.{_safe(row.label)}", row.roc_auc, step=step)
                estimate = row.estimated.metrics.get("roc_auc")
                if estimate is not None:
                    mlflow.log_metric(
                        f"realised_estimate_roc_auc.{_safe(row.label)}", estimate.value, step=step
                    )
        (root / "health.json").write_text(json.dumps(health.to_dict(), indent=1) + "\n")
        (root / "report.html").write_text(html_report(health))
        drift_bars(health, root / "drift.png")
        performance_lines(health, root / "performance.png")
        mlflow.log_artifacts(str(root), artifact_path="monitoring")
        return str(run.info.run_id)


def _safe(name: str) -> str:
    return UNSAFE.sub("_", name)
