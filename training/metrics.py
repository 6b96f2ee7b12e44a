"""Evaluation metrics: plain functions of arrays.

Each returns None when it is undefined (no positive or no negative row, no rows, no MRR).
The metrics monitoring needs too live in ``features.stats`` (one implementation each) and
are imported here under their names; this module adds the MRR-weighted one and the tables.

- ``roc_auc``, ``pr_auc``, ``top_decile_lift``, ``brier``, ``ece``: defined in
  ``features.stats`` (the simulator and monitoring use the same ones);
- ``mrr_capture_top_decile``: share of the positives' MRR (e.g. churned MRR) held by the 10%
  highest scores ("top 10%" as ``features.stats`` defines it).
"""

from __future__ import annotations

import numpy as np

from features.stats import brier as brier
from features.stats import calibration_bins as calibration_bins
from features.stats import ece as ece
from features.stats import ece_noise_floor as ece_noise_floor
from features.stats import pr_auc as pr_auc
from features.stats import roc_auc as roc_auc
from features.stats import top_decile_lift as top_decile_lift
from features.stats import top_indices as top_indices

METRIC_NAMES = (
    "roc_auc",
    "pr_auc",
    "top_decile_lift",
    "mrr_capture_top_decile",
    "brier",
    "ece",
)


def mrr_capture_top_decile(y: np.ndarray, score: np.ndarray, mrr: np.ndarray) -> float | None:
    y = np.asarray(y, dtype=float)
    mrr = np.nan_to_num(np.asarray(mrr, dtype=float), nan=0.0)
    total = float((mrr * y).sum())
    if total <= 0:
        return None
    top = top_indices(score)
    return float((mrr[top] * y[top]).sum() / total)


def all_metrics(
    y: np.ndarray, p: np.ndarray, mrr: np.ndarray | None = None
) -> dict[str, float | None]:
    """Every metric of ``METRIC_NAMES`` for labels ``y`` and probabilities ``p``."""
    return {
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "top_decile_lift": top_decile_lift(y, p),
        "mrr_capture_top_decile": None if mrr is None else mrr_capture_top_decile(y, p, mrr),
        "brier": brier(y, p),
        "ece": ece(y, p),
    }


def cumulative_gains(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(share of rows targeted, share of positives captured), highest scores first."""
    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    captured = np.cumsum(y[order]) / max(y.sum(), 1.0)
    targeted = np.arange(1, len(y) + 1) / max(len(y), 1)
    return np.concatenate([[0.0], targeted]), np.concatenate([[0.0], captured])
