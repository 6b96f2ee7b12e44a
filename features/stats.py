"""Statistics every stage needs: plain functions of arrays, no I/O.

``features`` is the lowest floor every stage may import, so one implementation here serves
the simulator's oracle AUC, training's metrics and monitoring's realised and estimated
performance alike. Each metric returns None when it is undefined (no rows, or no positive or
no negative row where it needs both).

- ``roc_auc``: area under the ROC curve, ties counting half;
- ``pr_auc``: average precision, the step-wise area under the precision-recall curve with one
  step per distinct score (scikit-learn's ``average_precision_score``);
- ``top_decile_lift``: positive rate among the 10% highest scores / overall positive rate;
- ``brier``: mean squared error of the probabilities;
- ``ece``: expected calibration error with ``bins`` equal-frequency bins (each holds ~n/bins
  rows, sorted by probability): sum over bins of (rows in bin / n) * |mean p - mean y|.
  Equal-frequency bins are used because churn probabilities crowd near 0, where equal-width
  bins would lump most rows together and hide miscalibration. ``strategy="uniform"`` gives
  the equal-width variant;
- ``ece_noise_floor`` / ``max_gap_noise_floor``: what a perfectly calibrated model with the
  same probabilities shows on as many rows (labels drawn from the probabilities): the ECE's
  and the worst bin's gap that sampling noise alone produces.

"Top 10%" is the first ceil(n / 10) rows when sorted by score, highest first; ties are broken
by row order (a stable sort), so the result does not depend on the sort algorithm.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np


def roc_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve of ``score`` for labels ``y`` (non-zero = positive): the
    chance a random positive scores above a random negative, ties counting half (the
    Mann-Whitney statistic on average ranks). None without both classes; NaN when a score
    is NaN."""
    positive = np.asarray(y) != 0
    score = np.asarray(score, dtype=float)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    if np.isnan(score).any():
        return float("nan")
    ranks = average_ranks(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_ranks(score: np.ndarray) -> np.ndarray:
    """1-based ranks of ``score`` (ascending), a tie group sharing the mean of its ranks."""
    _, group, counts = np.unique(score, return_inverse=True, return_counts=True)
    # A tie group holding ranks k+1 .. k+c gets their mean, k + (c + 1) / 2.
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0
    return np.asarray(mean_rank[group.reshape(-1)], dtype=np.float64)


def _both_classes(y: np.ndarray) -> bool:
    return len(y) > 0 and 0 < int(np.sum(y)) < len(y)


def tie_group_ends(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, ends): the row order by score, highest first (stable), and the positions in
    that order where a group of equal scores ends (the thresholds of a PR or ROC curve)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    ordered = np.asarray(score, dtype=float)[order]
    ends = np.flatnonzero(np.diff(ordered) != 0)
    return order, np.append(ends, len(ordered) - 1)


def pr_auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """Average precision: sum over distinct score thresholds of (recall gained) x precision."""
    y = np.asarray(y, dtype=float)
    if not _both_classes(y):
        return None
    order, ends = tie_group_ends(score)
    true_pos = np.cumsum(y[order])[ends]
    precision = true_pos / (ends + 1)
    gained = np.diff(true_pos, prepend=0.0) / true_pos[-1]
    return float(np.sum(gained * precision))


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


def _perfect_calibration_gaps(
    p: np.ndarray, bins: int, draws: int, seed: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(draws, bins) |mean p - observed rate| per equal-frequency bin of labels drawn as
    Bernoulli(p), and the bins' shares of the rows; None without rows."""
    p = np.sort(np.asarray(p, dtype=float))
    if len(p) == 0:
        return None
    parts = np.array_split(np.arange(len(p)), min(bins, len(p)))
    starts = np.array([part[0] for part in parts])
    sizes = np.array([len(part) for part in parts], dtype=float)
    mean_p = np.add.reduceat(p, starts) / sizes
    rng = np.random.default_rng(seed)
    gaps = np.empty((draws, len(parts)))
    for i in range(draws):
        y = (rng.random(len(p)) < p).astype(float)
        gaps[i] = np.abs(mean_p - np.add.reduceat(y, starts) / sizes)
    return gaps, sizes / len(p)


def ece_noise_floor(
    p: np.ndarray, bins: int = 10, draws: int = 200, quantile: float = 0.95, seed: int = 0
) -> float | None:
    """The ``quantile`` of the ECE a perfectly calibrated model with probabilities ``p``
    shows on this many rows (labels drawn as Bernoulli(p), ``draws`` times).

    ECE is biased upwards on small samples: with 600 rows at a 8% rate, a perfect model
    scores about 0.03. An ECE below this floor cannot be told apart from perfect calibration."""
    drawn = _perfect_calibration_gaps(p, bins, draws, seed)
    if drawn is None:
        return None
    gaps, shares = drawn
    return float(np.quantile(gaps @ shares, quantile))


def max_gap_noise_floor(
    p: np.ndarray, bins: int = 10, draws: int = 200, quantile: float = 0.5, seed: int = 0
) -> float | None:
    """The ``quantile`` of the largest per-bin gap (|mean p - observed rate| of the worst of
    ``bins`` equal-frequency bins) a perfectly calibrated model with probabilities ``p``
    shows on this many rows (labels drawn as Bernoulli(p), ``draws`` times).

    The worst of ten bins is the largest of ten noisy gaps: with 580 rows a bin at a 20% rate
    misses its own probability by 1.7 points at one standard error, and the worst of ten bins
    is further off still. A bound on the worst bin below the median of this floor fails a
    perfectly calibrated model more often than not."""
    drawn = _perfect_calibration_gaps(p, bins, draws, seed)
    if drawn is None:
        return None
    return float(np.quantile(drawn[0].max(axis=1), quantile))
