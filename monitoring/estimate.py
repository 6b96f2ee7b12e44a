"""Label-free performance: what a snapshot's ROC-AUC, PR-AUC and ECE will be, from its
calibrated probabilities alone (confidence-based performance estimation, as NannyML's CBPE).

If the model is calibrated on the snapshot, its label of row i is a Bernoulli(p_i) draw.
``estimate_performance`` draws every row's label ``draws`` times, computes each metric on
each draw and reports the mean (the estimate) and the central ``level`` interval (the
sampling interval: where the realised metric lands, once labels mature, in ``level`` of the
cases when calibration holds). ECE's estimate is the error a perfectly calibrated model shows
on this many rows by chance (its noise floor), not zero.

The estimate is only as good as the calibration: it follows covariate shift (new score
distribution, same relation between features and outcome) and cannot see concept shift (the
same scores, a different outcome). That is what comparing it with the realised metric
(``monitoring.realised``) catches: a realised value outside the interval says the estimate
can no longer be trusted.

NannyML itself is not used: its current release pins LightGBM below the version churnlight
uses and brings about forty packages (cloud storage clients, plotting, telemetry); this is
the same estimator in NumPy, with the interval from the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from features.stats import average_ranks, tie_group_ends

METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "ece")
ECE_BINS = 10
DRAW_BLOCK = 64
"""Draws computed together (memory: block x rows bytes)."""


@dataclass(frozen=True)
class Interval:
    """An estimate and its sampling interval."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {
            "value": round(self.value, 6),
            "low": round(self.low, 6),
            "high": round(self.high, 6),
        }

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


@dataclass(frozen=True)
class Estimate:
    """A snapshot's expected metrics (None: undefined, e.g. fewer than 2 rows)."""

    rows: int
    expected_positives: float
    metrics: dict[str, Interval]
    level: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "expected_positives": round(self.expected_positives, 3),
            "level": self.level,
            **{k: v.to_dict() for k, v in self.metrics.items()},
        }


def estimate_performance(
    p: np.ndarray, draws: int = 500, level: float = 0.95, seed: int = 0
) -> Estimate:
    """Expected ROC-AUC, PR-AUC and ECE of calibrated probabilities ``p`` (module docs)."""
    p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    p = p[~np.isnan(p)]
    n = len(p)
    if n < 2:
        return Estimate(n, float(p.sum()), {}, level)
    rng = np.random.default_rng(seed)
    ranks = average_ranks(p)
    order, ends = tie_group_ends(p)
    ascending = np.argsort(p, kind="stable")
    parts = np.array_split(np.arange(n), min(ECE_BINS, n))
    starts = np.array([part[0] for part in parts])
    sizes = np.array([len(part) for part in parts], dtype=np.float64)
    mean_p = np.add.reduceat(p[ascending], starts) / sizes
    values: dict[str, list[np.ndarray]] = {m: [] for m in METRICS}
    done = 0
    while done < draws:
        block = min(DRAW_BLOCK, draws - done)
        y = rng.random((block, n)) < p
        done += block
        positives = y.sum(axis=1).astype(np.float64)
        ok = (positives > 0) & (positives < n)
        rank_sum = y @ ranks
        with np.errstate(divide="ignore", invalid="ignore"):
            auc = (rank_sum - positives * (positives + 1) / 2) / (positives * (n - positives))
            true_pos = np.cumsum(y[:, order], axis=1)[:, ends].astype(np.float64)
            precision = true_pos / (ends + 1)
            gained = np.diff(true_pos, axis=1, prepend=0.0) / positives[:, None]
            ap = np.sum(gained * precision, axis=1)
        rate = np.add.reduceat(y[:, ascending].astype(np.float64), starts, axis=1) / sizes
        ece = np.sum(sizes / n * np.abs(mean_p - rate), axis=1)
        values["roc_auc"].append(auc[ok])
        values["pr_auc"].append(ap[ok])
        values["ece"].append(ece)
    tail = (1.0 - level) / 2
    metrics = {}
    for name, parts_ in values.items():
        drawn = np.concatenate(parts_)
        if len(drawn) == 0:
            continue
        low, high = np.quantile(drawn, [tail, 1.0 - tail])
        metrics[name] = Interval(float(drawn.mean()), float(low), float(high))
    return Estimate(n, float(p.sum()), metrics, level)
