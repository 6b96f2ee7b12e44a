"""Evaluation metrics: plain functions of arrays.

Each returns None when it is undefined (no positive or no negative row, no rows, no MRR).

- ``roc_auc``: area under the ROC curve (ties count half; ``features.stats.roc_auc``, the one
  implementation the simulator uses too);
- ``pr_auc``: average precision (the step-wise area under the precision-recall curve);
- ``top_decile_lift``: positive rate among the 10% highest scores / overall positive rate;
- ``mrr_capture_top_decile``: share of the positives' MRR (e.g. churned MRR) held by the 10%
  highest scores;
- ``brier``: mean squared error of the probabilities;
- ``ece``: expected calibration error with ``bins`` equal-frequency bins (each holds ~n/bins
  rows, sorted by probability): sum over bins of (rows in bin / n) * |mean p - mean y|.
  Equal-frequency bins are used because churn probabilities crowd near 0, where equal-width
  bins would lump most rows together and hide miscalibration. ``strategy="uniform"`` gives
  the equal-width variant.

"Top 10%" is the first ceil(n / 10) rows when sorted by score, highest first; ties are broken
by row order (a stable sort), so the result does not depend on the sort algorithm.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from features.stats import roc_auc as roc_auc

METRIC_NAMES = (
    "roc_auc",
    "pr_auc",
    "top_decile_lift",
    "mrr_capture_top_decile",
    "brier",
    "ece",
)


def _both_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < int(np.sum(y)) < len(y)


def pr_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    y = np.asarray(y, dtype=float)
    if not _both_classes(y):
        return None
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, np.asarray(score, dtype=float)))


def top_indices(score: np.ndarray, share: float = 0.1) -> np.ndarray:
    """Indices of the ceil(n * share) highest scores (ties: earlier rows first)."""
    score = np.asarray(score, dtype=float)
    k = math.ceil(len(score) * share)
    order = np.argsort(-score, kind="stable")
    return order[:k]


def top_decile_lift(y: np.ndarray, score: np.ndarray) -> float | None:
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or y.sum() == 0:
        return None
    top = top_indices(score)
    return float(y[top].mean() / y.mean())


def mrr_capture_top_decile(y: np.ndarray, score: np.ndarray, mrr: np.ndarray) -> float | None:
    y = np.asarray(y, dtype=float)
    mrr = np.nan_to_num(np.asarray(mrr, dtype=float), nan=0.0)
    total = float((mrr * y).sum())
    if total <= 0:
        return None
    top = top_indices(score)
    return float((mrr[top] * y[top]).sum() / total)


def brier(y: np.ndarray, p: np.ndarray) -> float | None:
    y = np.asarray(y, dtype=float)
    if len(y) == 0:
        return None
    return float(np.mean((np.asarray(p, dtype=float) - y) ** 2))


def calibration_bins(
    y: np.ndarray,
    p: np.ndarray,
    bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> list[tuple[int, float, float]]:
    """(rows, mean probability, observed rate) per non-empty bin, by increasing probability."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if len(y) == 0:
        return []
    if strategy == "quantile":
        order = np.argsort(p, kind="stable")
        parts = np.array_split(order, min(bins, len(order)))
    else:
        edges = np.linspace(0.0, 1.0, bins + 1)
        which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
        parts = [np.flatnonzero(which == b) for b in range(bins)]
    return [(len(i), float(p[i].mean()), float(y[i].mean())) for i in parts if len(i)]


def ece(
    y: np.ndarray,
    p: np.ndarray,
    bins: int = 10,
    strategy: Literal["quantile", "uniform"] = "quantile",
) -> float | None:
    table = calibration_bins(y, p, bins, strategy)
    n = sum(rows for rows, _, _ in table)
    if n == 0:
        return None
    return float(sum(rows / n * abs(mp - rate) for rows, mp, rate in table))


def ece_noise_floor(
    p: np.ndarray, bins: int = 10, draws: int = 200, quantile: float = 0.95, seed: int = 0
) -> float | None:
    """The ``quantile`` of the ECE a perfectly calibrated model with probabilities ``p``
    shows on this many rows (labels drawn as Bernoulli(p), ``draws`` times).

    ECE is biased upwards on small samples: with 600 rows at a 8% rate, a perfect model
    scores about 0.03. An ECE below this floor cannot be told apart from perfect calibration."""
    p = np.sort(np.asarray(p, dtype=float))
    if len(p) == 0:
        return None
    parts = np.array_split(np.arange(len(p)), min(bins, len(p)))
    starts = np.array([part[0] for part in parts])
    sizes = np.array([len(part) for part in parts], dtype=float)
    mean_p = np.add.reduceat(p, starts) / sizes
    rng = np.random.default_rng(seed)
    values = np.empty(draws)
    for i in range(draws):
        y = (rng.random(len(p)) < p).astype(float)
        rate = np.add.reduceat(y, starts) / sizes
        values[i] = float(np.sum(sizes / len(p) * np.abs(mean_p - rate)))
    return float(np.quantile(values, quantile))


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
