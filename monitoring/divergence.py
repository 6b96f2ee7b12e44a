"""Distances between two binned distributions, and their sampling distribution.

Both distributions are bin counts over the same bins (the last bin holds the nulls):

- ``psi``: population stability index, sum over bins of (q - p) ln(q / p), with p the
  reference shares and q the current ones. Each share is smoothed with half a row per bin,
  (count + 0.5) / (rows + 0.5 bins), so an empty bin costs what half a row would, not
  infinity;
- ``js``: Jensen-Shannon distance, base 2 (0 = same distribution, 1 = disjoint): the square
  root of the mean Kullback-Leibler divergence of p and q from their average (no smoothing:
  it is finite with empty bins);
- ``null_share``: the absolute change of the share of the null bin.

``sampling_quantiles`` gives what each statistic reaches by chance alone: both samples drawn
from the same shares (multinomial, ``rows`` each), so a threshold taken from it grows as the
samples shrink (with 300 rows, PSI over 20 bins reaches ~0.1 by chance; with 10,000 rows,
~0.003).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

STATISTICS: tuple[str, ...] = ("psi", "js", "null_share")
PSEUDO_COUNT = 0.5


def shares(counts: np.ndarray) -> np.ndarray:
    """Counts (bins last axis) as shares; an all-zero row stays zero."""
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum(axis=-1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)


def _smoothed(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64) + PSEUDO_COUNT
    return counts / counts.sum(axis=-1, keepdims=True)


def psi(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """PSI of ``current`` counts against ``reference`` counts (broadcast over leading axes)."""
    p, q = _smoothed(reference), _smoothed(current)
    return np.asarray(np.sum((q - p) * np.log(q / p), axis=-1))


def js(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Jensen-Shannon distance (base 2) between the two count vectors' shares."""
    p, q = shares(reference), shares(current)
    p, q = np.broadcast_arrays(p, q)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(axis=-1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(axis=-1)
    return np.asarray(np.sqrt(np.clip((kl_p + kl_q) / 2, 0.0, 1.0)))


def null_share(reference: np.ndarray, current: np.ndarray) -> np.ndarray:
    """|current null share - reference null share| (the null bin is the last)."""
    return np.asarray(np.abs(shares(current)[..., -1] - shares(reference)[..., -1]))


FUNCTIONS = {"psi": psi, "js": js, "null_share": null_share}


def statistics(reference: np.ndarray, current: np.ndarray) -> dict[str, float]:
    """Every statistic of ``STATISTICS`` for one pair of count vectors."""
    return {name: float(f(reference, current)) for name, f in FUNCTIONS.items()}


def sampling_quantiles(
    reference_shares: Sequence[float],
    reference_rows: int,
    current_rows: int,
    levels: Sequence[float],
    draws: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per statistic, its ``levels`` quantiles when a reference of ``reference_rows`` and a
    current sample of ``current_rows`` are both drawn from ``reference_shares`` (``draws``
    pairs): what chance alone gives at these sample sizes."""
    p = np.clip(np.asarray(reference_shares, dtype=np.float64), 0.0, None)
    p = p / p.sum()
    ref = rng.multinomial(max(int(reference_rows), 1), p, size=draws)
    cur = rng.multinomial(max(int(current_rows), 1), p, size=draws)
    return {name: np.quantile(f(ref, cur), levels) for name, f in FUNCTIONS.items()}
