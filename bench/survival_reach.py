"""What the survival bench's bars can tell apart on its test rows: the noise under each
number, measured in the same run.

- Calibration per decile (bar: the worst decile within 2 points at 90 and 180 days): the
  worst decile's gap that a perfectly calibrated model with the same probabilities shows on
  as many rows (``features.stats.max_gap_noise_floor``, median and 95% quantile). The test
  rows are followed for 12+ months, so no row is censored before 365 days and the decile's
  Kaplan-Meier share is its plain churn share, what the floor draws.
- Uno's C minus Cox's and the td-AUC ratios to the oracle: their spread over accounts
  (``paired_bootstrap``: accounts drawn with replacement, all of an account's rows together,
  both models scored on the same draw), as a standard deviation and a 90% interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

CALIBRATION_DAYS = (90, 180)
C_DRAWS = 100
"""Uno's C costs about 0.1 s per model per draw on the bench's 5,797 test rows."""
AUC_DRAWS = 200


def paired_bootstrap(
    groups: np.ndarray,
    statistic: Callable[[np.ndarray], float | None],
    draws: int,
    seed: int = 0,
) -> dict[str, float] | None:
    """The spread of ``statistic(rows)`` over resamples of ``groups`` (each draw picks as
    many groups as there are, with replacement, and passes all their rows): standard
    deviation and 5% / 95% quantiles of the draws where it is defined; None if none is."""
    groups = np.asarray(groups).astype(str)
    names, inverse = np.unique(groups, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    ends = np.cumsum(np.bincount(inverse, minlength=len(names)))
    members = np.split(order, ends[:-1])
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        picked = rng.integers(0, len(names), len(names))
        value = statistic(np.concatenate([members[i] for i in picked]))
        if value is not None:
            values.append(value)
    if not values:
        return None
    low, high = np.quantile(values, [0.05, 0.95])
    return {"sd": float(np.std(values)), "low": float(low), "high": float(high)}


def calibration_floors(
    curves: dict[str, np.ndarray], grid: list[int], seed: int = 0
) -> dict[str, dict[str, dict[str, float | None]]]:
    """model -> day -> the worst decile's gap of a perfectly calibrated model with the
    model's probabilities on these rows (``median``, ``q95``)."""
    from features.stats import max_gap_noise_floor

    return {
        name: {
            str(d): {
                "median": max_gap_noise_floor(curve[:, grid.index(d)], seed=seed),
                "q95": max_gap_noise_floor(curve[:, grid.index(d)], quantile=0.95, seed=seed),
            }
            for d in CALIBRATION_DAYS
        }
        for name, curve in curves.items()
    }


def concordance_spread(
    ids: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    baseline_risk: np.ndarray,
    tau: float = 365,
    draws: int = C_DRAWS,
    seed: int = 0,
) -> dict[str, float] | None:
    """The spread over accounts of Uno's C of ``risk`` minus that of ``baseline_risk``."""
    from features.survival_stats import uno_c

    def difference(rows: np.ndarray) -> float | None:
        ours = uno_c(time[rows], event[rows], risk[rows], tau)
        theirs = uno_c(time[rows], event[rows], baseline_risk[rows], tau)
        return None if ours is None or theirs is None else ours - theirs

    return paired_bootstrap(ids, difference, draws, seed)


def auc_ratio_spread(
    ids: np.ndarray,
    time: np.ndarray,
    event: np.ndarray,
    risk: np.ndarray,
    reference: np.ndarray,
    day: float,
    draws: int = AUC_DRAWS,
    seed: int = 0,
) -> dict[str, float] | None:
    """The spread over accounts of td-AUC(risk) / td-AUC(reference) at ``day``."""
    from features.survival_stats import td_auc

    def ratio(rows: np.ndarray) -> float | None:
        ours = td_auc(time[rows], event[rows], risk[rows], day)
        theirs = td_auc(time[rows], event[rows], reference[rows], day)
        return None if ours is None or not theirs else ours / theirs

    return paired_bootstrap(ids, ratio, draws, seed)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def floor_text(days: dict[str, dict[str, float | None]]) -> str:
    """The worst decile a perfectly calibrated curve misses by, per day (median and 95%)."""
    return ", ".join(f"{d} days {fmt(v['median'])} (95%: {fmt(v['q95'])})" for d, v in days.items())


def spread_text(spread: dict[str, float | None]) -> str:
    """A spread over accounts: its sd and 90% interval."""
    return f"sd {fmt(spread['sd'])}, 90% [{fmt(spread['low'])}, {fmt(spread['high'])}]"


def report(reach: dict[str, Any]) -> list[str]:
    """Lines for the survival bench's report."""
    lines = ["  what the bars can tell apart on these rows (noise measured in the same run):"]
    for name, days in reach["calibration_floor"].items():
        lines.append(
            f"    {name}: a perfectly calibrated curve's worst decile misses by {floor_text(days)}"
        )
    spread = reach.get("uno_c_minus_cox")
    if spread:
        lines.append(f"    Uno's C - Cox's over accounts: {spread_text(spread)}")
    return lines
