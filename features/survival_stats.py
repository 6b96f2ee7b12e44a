"""Survival statistics: plain functions of arrays, no I/O (the survival twin of ``stats``).

Every function takes ``time`` (a positive duration per row) and ``event`` (1 when the row's
time is an observed churn, 0 when the row is censored there: its churn, if any, comes later
than ``time``). "Churned by t" means an observed time <= t; "survived t" means time > t.
Predictions are probabilities of churn by t, F(t) = 1 - S(t).

Censoring hides the outcome of a row after its censoring time, and rows censored early are
not a random sample of the rest (they are the recent snapshots). IPCW, inverse probability of
censoring weighting, counts each row whose outcome is known with weight 1 / G, G being the
chance of still being observed at that time (the Kaplan-Meier curve of the censoring times):
a row that is seen although few like it are carries the weight of those that are not.
G is taken just before an event's own time (a churn and a censoring on the same day: the churn
is seen first), and at t itself for a row that survived t.

- ``kaplan_meier``: the product-limit curve S(t) at each distinct event time;
- ``brier_at``: Graf's IPCW Brier score at t; ``integrated_brier``: its trapezoid average
  over a grid of times;
- ``uno_c``: Uno's IPCW concordance truncated at tau (pairs whose earlier time is an
  event before tau; ties in the risk score count half);
- ``td_auc``: cumulative/dynamic ROC-AUC at t (cases: churned by t, weighted 1 / G(time-);
  controls: survived t), ties counting half;
- ``km_calibration``: per risk bin, mean predicted F(t) against 1 - Kaplan-Meier in the bin.

Each returns None when undefined (no rows, no event, or no control where it needs one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TINY = 1e-12


@dataclass(frozen=True)
class StepCurve:
    """A right-continuous step function: ``values[k]`` holds on [times[k], times[k + 1]),
    ``start`` before times[0]."""

    times: np.ndarray
    values: np.ndarray
    start: float = 1.0

    def at(self, t: np.ndarray | float) -> np.ndarray:
        """The value at each t (right-continuous)."""
        index = np.searchsorted(self.times, np.asarray(t, dtype=float), side="right") - 1
        padded = np.concatenate([[self.start], self.values])
        return np.asarray(padded[index + 1], dtype=float)

    def before(self, t: np.ndarray | float) -> np.ndarray:
        """The value just before each t (left limit)."""
        index = np.searchsorted(self.times, np.asarray(t, dtype=float), side="left") - 1
        padded = np.concatenate([[self.start], self.values])
        return np.asarray(padded[index + 1], dtype=float)


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> StepCurve:
    """S(t) = prod over event times u <= t of (1 - d_u / n_u): d_u churns at u among the
    n_u rows with time >= u (a row censored at u is still at risk at u)."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event) != 0
    if len(time) == 0:
        return StepCurve(np.array([]), np.array([]))
    distinct, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event.astype(float), minlength=len(distinct))
    leaving = np.bincount(inverse, minlength=len(distinct)).astype(float)
    at_risk = len(time) - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
    keep = deaths > 0
    survival = np.cumprod(1.0 - deaths[keep] / at_risk[keep])
    return StepCurve(distinct[keep], survival)


def censoring_curve(time: np.ndarray, event: np.ndarray) -> StepCurve:
    """G(t): the Kaplan-Meier curve of the censoring times (censorings are its events)."""
    return kaplan_meier(time, 1 - (np.asarray(event) != 0).astype(int))


def _weights(time: np.ndarray, event: np.ndarray, t: float, g: StepCurve) -> np.ndarray:
    """IPCW weight of each row's known status at t: 1 / G(time-) for a churn by t, 1 / G(t)
    for a row that survived t, 0 for a row censored by t."""
    churned = (event != 0) & (time <= t)
    alive = time > t
    out = np.zeros(len(time))
    out[churned] = 1.0 / np.maximum(g.before(time[churned]), _TINY)
    out[alive] = 1.0 / max(float(g.at(t)), _TINY)
    return out


def brier_at(
    time: np.ndarray,
    event: np.ndarray,
    churn_by_t: np.ndarray,
    t: float,
    g: StepCurve | None = None,
) -> float | None:
    """Graf's IPCW Brier score at t of predicted P(churn by t)."""
    time, event = np.asarray(time, dtype=float), np.asarray(event)
    if len(time) == 0:
        return None
    g = g or censoring_curve(time, event)
    weights = _weights(time, event, t, g)
    outcome = ((event != 0) & (time <= t)).astype(float)
    error = (outcome - np.asarray(churn_by_t, dtype=float)) ** 2
    return float(np.sum(weights * error) / len(time))


def integrated_brier(
    time: np.ndarray, event: np.ndarray, churn_by: np.ndarray, grid: np.ndarray
) -> float | None:
    """Trapezoid average of ``brier_at`` over ``grid`` (increasing times);
    ``churn_by[:, k]`` is P(churn by grid[k]) per row."""
    time, event, grid = np.asarray(time, dtype=float), np.asarray(event), np.asarray(grid, float)
    if len(time) == 0 or len(grid) < 2:
        return None
    g = censoring_curve(time, event)
    scores = np.array([brier_at(time, event, churn_by[:, k], t, g) for k, t in enumerate(grid)])
    area = np.sum((scores[1:] + scores[:-1]) / 2.0 * np.diff(grid))
    return float(area / (grid[-1] - grid[0]))


def uno_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray, tau: float) -> float | None:
    """Uno's concordance: over pairs (i, j) with i a churn before tau and time_j > time_i,
    weighted 1 / G(time_i-)^2, the share where risk_i > risk_j (ties half)."""
    time, event = np.asarray(time, dtype=float), np.asarray(event) != 0
    risk = np.asarray(risk, dtype=float)
    g = censoring_curve(time, event)
    order = np.argsort(time, kind="stable")
    time, event, risk = time[order], event[order], risk[order]
    numerator = denominator = 0.0
    for i in np.flatnonzero(event & (time < tau)):
        later = time > time[i]
        n_later = int(later.sum())
        if n_later == 0:
            continue
        weight = 1.0 / max(float(g.before(time[i])), _TINY) ** 2
        others = risk[later]
        concordant = np.sum(others < risk[i]) + 0.5 * np.sum(others == risk[i])
        numerator += weight * concordant
        denominator += weight * n_later
    return float(numerator / denominator) if denominator > 0 else None


def td_auc(time: np.ndarray, event: np.ndarray, risk: np.ndarray, t: float) -> float | None:
    """Cumulative/dynamic AUC at t: the weighted chance that a churn by t (weight
    1 / G(time-)) outranks a row that survived t (ties half)."""
    time, event = np.asarray(time, dtype=float), np.asarray(event) != 0
    risk = np.asarray(risk, dtype=float)
    cases = event & (time <= t)
    controls = np.sort(risk[time > t])
    if not cases.any() or len(controls) == 0:
        return None
    g = censoring_curve(time, event)
    weight = 1.0 / np.maximum(g.before(time[cases]), _TINY)
    below = np.searchsorted(controls, risk[cases], side="left")
    tied = np.searchsorted(controls, risk[cases], side="right") - below
    concordant = (below + 0.5 * tied) / len(controls)
    return float(np.sum(weight * concordant) / np.sum(weight))


def km_calibration(
    time: np.ndarray, event: np.ndarray, churn_by_t: np.ndarray, t: float, bins: int = 10
) -> list[tuple[int, float, float]]:
    """(rows, mean predicted P(churn by t), Kaplan-Meier 1 - S(t) of the bin's rows) per
    equal-frequency bin of the prediction, by increasing prediction."""
    time, event = np.asarray(time, dtype=float), np.asarray(event)
    p = np.asarray(churn_by_t, dtype=float)
    if len(p) == 0:
        return []
    parts = np.array_split(np.argsort(p, kind="stable"), min(bins, len(p)))
    out = []
    for rows in parts:
        observed = 1.0 - float(kaplan_meier(time[rows], event[rows]).at(t))
        out.append((len(rows), float(p[rows].mean()), observed))
    return out


def calibration_errors(table: list[tuple[int, float, float]]) -> tuple[float, float] | None:
    """(largest, row-weighted mean) absolute gap between predicted and observed per bin."""
    if not table:
        return None
    n = sum(rows for rows, _, _ in table)
    gaps = [abs(p - o) for _, p, o in table]
    return max(gaps), float(sum(r / n * gap for (r, _, _), gap in zip(table, gaps, strict=True)))
