"""Statistics both the simulator and training need: plain functions of arrays, no I/O.

``features`` is the lowest floor every stage may import, so one implementation here serves
the simulator's oracle AUC and training's metrics alike.
"""

from __future__ import annotations

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
    _, group, counts = np.unique(score, return_inverse=True, return_counts=True)
    # A tie group holding ranks k+1 .. k+c gets their mean, k + (c + 1) / 2.
    mean_rank = np.cumsum(counts) - (counts - 1) / 2.0
    ranks = mean_rank[group.reshape(-1)]
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
