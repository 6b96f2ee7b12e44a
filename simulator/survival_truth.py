"""The oracle's churn curve: P(churn in [t, t + d)) for d in 30, 60, 90, 180, 270 and 365
days from the truth stage's rollouts (``simulator.truth.oracle_probabilities``), written to
``oracle.parquet`` as ``p_churn_by_<d>d``. A rollout simulates the future whatever the as-of
date, so every oracle row has the whole curve; the 180-day point is ``p_churn_180d``."""

from __future__ import annotations

from datetime import date

import numpy as np

from simulator.dates import month_starts

CURVE_DAYS = (30, 60, 90, 180, 270, 365)


def churn_by_days(
    churn_path: np.ndarray,
    churn_day: np.ndarray,
    paths: int,
    t: int,
    days: tuple[int, ...],
    rollouts: int,
) -> np.ndarray:
    """(paths // rollouts, len(days)) share of each row's rollouts with a churn day in
    [t, t + d); ``churn_path`` / ``churn_day`` are the rollouts' churn records (paths are
    row-major: row i owns paths i * rollouts .. (i + 1) * rollouts - 1)."""
    first = np.full(paths, np.inf)
    mine = churn_day >= t
    np.minimum.at(first, churn_path[mine], churn_day[mine] - t)
    hit = first[:, None] < np.asarray(days, dtype=float)[None, :]
    return np.asarray(hit.reshape(paths // rollouts, rollouts, len(days)).mean(axis=1))


def extended_month_starts(start: date, ms: np.ndarray, last_month: int, days: int) -> np.ndarray:
    """``ms`` extended, when needed, so that month ``last_month`` can roll out ``days``
    days (one month start past the last day)."""
    needed = last_month + days // 28 + 2
    if len(ms) > needed:
        return ms
    return month_starts(start, needed)


def curve_columns(curve: np.ndarray) -> dict[str, np.ndarray]:
    return {f"p_churn_by_{d}d": curve[:, j] for j, d in enumerate(CURVE_DAYS)}
