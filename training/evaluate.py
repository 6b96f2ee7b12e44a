"""Evaluation of one window: the model and its baselines, overall and per group, and the
oracle comparison on simulated sources.

Pure functions of arrays, apart from ``read_oracle`` (one Parquet read). The tables they
return are plain dicts, ready for JSON, MLflow and the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.metrics import METRIC_NAMES, all_metrics, roc_auc

MODEL = "model"
BASELINES = ("scorecard", "logreg")
MIN_GROUP_ROWS = 30
"""Groups with fewer evaluation rows are reported with their counts only."""


@dataclass
class WindowResult:
    """Everything measured on one evaluation window (or one cross-validation fold)."""

    name: str
    test: str | None
    cutoff: str | None
    rows: dict[str, int]
    """fit / valid / test row counts and test positives."""
    metrics: dict[str, dict[str, float | None]]
    """model name ('model', 'scorecard', 'logreg') -> metric -> value."""
    groups: list[dict[str, Any]] = field(default_factory=list)
    oracle: dict[str, Any] | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "cutoff": self.cutoff,
            "test": self.test,
            "rows": self.rows,
            "metrics": self.metrics,
            "groups": self.groups,
            "oracle": self.oracle,
            "facts": self.facts,
        }


def evaluate_predictions(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    mrr: np.ndarray | None,
) -> dict[str, dict[str, float | None]]:
    """Every metric for every model's probabilities on the same rows."""
    return {name: all_metrics(y, p, mrr) for name, p in predictions.items()}


def group_table(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    mrr: np.ndarray | None,
    groups: Mapping[str, np.ndarray],
    min_rows: int = MIN_GROUP_ROWS,
) -> list[dict[str, Any]]:
    """One row per (group column, value): counts, the model's metrics, baselines' ROC-AUC."""
    rows: list[dict[str, Any]] = []
    for column, values in groups.items():
        labels = np.array(["(missing)" if v is None else str(v) for v in values], dtype=object)
        for value in sorted(set(labels)):
            mask = labels == value
            entry: dict[str, Any] = {
                "group": column,
                "value": value,
                "rows": int(mask.sum()),
                "positives": int(y[mask].sum()),
            }
            if mask.sum() >= min_rows:
                sub_mrr = None if mrr is None else mrr[mask]
                entry.update(all_metrics(y[mask], predictions[MODEL][mask], sub_mrr))
                for name in predictions:
                    if name != MODEL:
                        entry[f"{name}_roc_auc"] = roc_auc(y[mask], predictions[name][mask])
            rows.append(entry)
    return rows


def oracle_comparison(
    y: np.ndarray,
    predictions: Mapping[str, np.ndarray],
    oracle_p: np.ndarray,
) -> dict[str, Any] | None:
    """ROC-AUC of the oracle and of each model on the rows that have an oracle probability.

    ``oracle_p`` is NaN where the simulator drew no oracle for the row."""
    rows = ~np.isnan(oracle_p)
    oracle_auc = roc_auc(y[rows], oracle_p[rows])
    if oracle_auc is None:
        return None
    out: dict[str, Any] = {
        "rows": int(rows.sum()),
        "positives": int(y[rows].sum()),
        "oracle_auc": oracle_auc,
    }
    for name, p in predictions.items():
        auc = roc_auc(y[rows], p[rows])
        out[f"{name}_auc"] = auc
        out[f"{name}_oracle_ratio"] = None if auc is None else auc / oracle_auc
    return out


def read_oracle(truth_dir: Path | None) -> Any:
    """The simulator's oracle table (pandas) from ``<truth_dir>/oracle.parquet``, or None."""
    if truth_dir is None:
        return None
    path = Path(truth_dir) / "oracle.parquet"
    if not path.exists():
        return None
    import pandas as pd

    frame = pd.read_parquet(path)
    frame["snapshot_date"] = (
        pd.to_datetime(frame["snapshot_date"]).to_numpy().astype("datetime64[D]")
    )
    return frame


def oracle_column(
    oracle: Any, label: str, ids: np.ndarray, snapshot_date: np.ndarray
) -> np.ndarray | None:
    """The oracle probability ``p_<label>`` aligned to rows (NaN where there is none)."""
    column = f"p_{label}"
    if oracle is None or column not in oracle.columns:
        return None
    import pandas as pd

    keys = pd.DataFrame({"account_id": ids.astype(str), "snapshot_date": snapshot_date})
    right = oracle[["account_id", "snapshot_date", column]].copy()
    right["account_id"] = right["account_id"].astype(str)
    merged = keys.merge(right, how="left", on=["account_id", "snapshot_date"])
    return merged[column].to_numpy(dtype=np.float64)


def summary_row(window: WindowResult, model: str = MODEL) -> dict[str, float | None]:
    """A model's headline metrics of a window under their public names, with the oracle."""
    out = {name: window.metrics.get(model, {}).get(name) for name in METRIC_NAMES}
    if window.oracle:
        out["oracle_auc"] = window.oracle.get("oracle_auc")
        out["auc_oracle_ratio"] = window.oracle.get(f"{model}_oracle_ratio")
    return out
