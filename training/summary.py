"""The JSON summary of a training: the headline metrics of each label against its baselines,
the backtest windows, the gate's decisions and the registered versions
(``churnlight train --json``, ``churnlight retrain``, and ``summary.json`` of the run)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from training.candidates import KINDS
from training.evaluate import MODEL, summary_row
from training.metrics import METRIC_NAMES

if TYPE_CHECKING:
    from training.gate import GateDecision
    from training.registration import VersionOutcome
    from training.results import TrainingResult


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
        others = {
            model: {name: values.get(name) for name in METRIC_NAMES}
            for model, values in last.metrics.items()
            if model != MODEL
        }
        if last.oracle:
            for model in others:
                others[model]["auc_oracle_ratio"] = last.oracle.get(f"{model}_oracle_ratio")
        candidates = {k: v for k, v in others.items() if k in KINDS}
        baselines = {k: v for k, v in others.items() if k not in KINDS}
        choice = outcome.facts.get("candidates") or {}
        labels[label] = {
            "window": {
                "name": last.name,
                "cutoff": last.cutoff,
                "dates": last.test,
                "rows": last.rows,
            },
            "model_kind": outcome.bundle.kind,
            "evaluation": outcome.facts.get("evaluation"),
            "metrics": summary_row(last),
            "candidates": candidates,
            "choice": {
                "mean_roc_auc": choice.get("mean_roc_auc"),
                "reason": choice.get("reason"),
            },
            "baselines": baselines,
            "tuning": outcome.facts.get("tuning"),
            "notes": list(outcome.notes),
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
    if result.survival is not None:
        from training.survival_publish import survival_summary

        payload["survival"] = survival_summary(result.survival)
    if result.top_risk:
        payload["top_risk"] = result.top_risk
    return payload
