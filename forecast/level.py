"""Churn probabilities put on the revenue scale: the forecast sums MRR x P(churn), so it needs
probabilities that are right *weighted by MRR*, while a classifier's calibration is right per
account. When large accounts churn more than the model says (a weak model, few large
accounts), the sum runs low however well the logo count is calibrated.

``revenue_ratios``: on scored rows whose outcome is known (closed labels, out of the model's
fit), realised churned MRR over expected churned MRR (sum of MRR x churned / sum of MRR x p),
per segment and for all (``"*"``); a segment with fewer than ``min_churns`` churns takes the
all-rows ratio. ``rescaled``: each account's probability times its segment's ratio, capped at
1. Pure functions: no I/O."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

ALL = "*"
MIN_CHURNS = 20


def revenue_ratios(
    mrr: np.ndarray,
    probability: np.ndarray,
    churned: np.ndarray,
    segments: np.ndarray,
    min_churns: int = MIN_CHURNS,
) -> dict[str, float]:
    """Per segment and for all (``"*"``): sum(MRR x churned) / sum(MRR x p) over rows with a
    known outcome (``churned`` 0/1, NaN unknown); 1.0 where nothing was expected."""
    mrr = np.nan_to_num(np.asarray(mrr, dtype=float))
    p = np.asarray(probability, dtype=float)
    y = np.asarray(churned, dtype=float)
    names = np.asarray(segments, dtype=object).astype(str)
    known = ~np.isnan(y) & ~np.isnan(p)

    def ratio(rows: np.ndarray) -> float:
        expected = float((mrr[rows] * p[rows]).sum())
        return float((mrr[rows] * y[rows]).sum()) / expected if expected > 0 else 1.0

    out = {ALL: ratio(known)}
    for name in sorted(set(names[known].tolist())):
        rows = known & (names == name)
        if float(y[rows].sum()) >= min_churns:
            out[name] = ratio(rows)
    return out


def rescaled(
    probability: np.ndarray, segments: np.ndarray, ratios: Mapping[str, float]
) -> np.ndarray:
    """Each probability times its segment's ratio (the ``"*"`` one for a segment without its
    own; 1 without either), capped at 1."""
    names = np.asarray(segments, dtype=object).astype(str)
    fallback = ratios.get(ALL, 1.0)
    factor = np.array([ratios.get(n, fallback) for n in names], dtype=float)
    return np.asarray(np.minimum(np.asarray(probability, dtype=float) * factor, 1.0))
