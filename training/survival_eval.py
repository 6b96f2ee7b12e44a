"""Metrics of churn curves on an out-of-time test set, the same for every model.

A row's survival time is ``churn_days + 1``: days counted through the churn day, so that
"churned by d" (a churn date in [t, t + d), as ``churn_{d}d`` counts it) is time <= d, and a
row censored at ``churn_days`` (no churn on any day up to it) has survived time - 1 days and
is censored at time in the convention of ``features.survival_stats``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.survival_stats import (
    calibration_errors,
    integrated_brier,
    km_calibration,
    td_auc,
    uno_c,
)
from training.survival import HORIZONS_DAYS

GRID_DAYS = tuple(sorted({*range(30, 361, 15), *HORIZONS_DAYS}))
"""The days on which the integrated Brier score over 30-365 days is taken."""
AUC_DAYS = (90, 180, 365)
CALIBRATION_DAYS = (90, 180)
CONCORDANCE_TAU = 365


def survival_time(churn_days: np.ndarray) -> np.ndarray:
    """Days counted through the churn day (see the module docstring)."""
    return np.asarray(churn_days, dtype=float) + 1.0


@dataclass
class CurveMetrics:
    ibs: float | None
    uno_c: float | None
    td_auc: dict[int, float | None]
    calibration: dict[int, list[tuple[int, float, float]]]
    calibration_max: dict[int, float | None] = field(default_factory=dict)
    calibration_mean: dict[int, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "ibs": self.ibs,
            "uno_c": self.uno_c,
            "td_auc": {str(d): v for d, v in self.td_auc.items()},
            "calibration_max": {str(d): v for d, v in self.calibration_max.items()},
            "calibration_mean": {str(d): v for d, v in self.calibration_mean.items()},
            "calibration": {str(d): v for d, v in self.calibration.items()},
        }


def curve_metrics(
    churn_days: np.ndarray,
    observed: np.ndarray,
    churn_by_grid: np.ndarray,
    risk: np.ndarray | None = None,
) -> CurveMetrics:
    """Metrics of P(churn by d) on ``GRID_DAYS`` (``churn_by_grid[:, k]``): the integrated
    Brier score over 30-365 days, Uno's C up to 365 days (risk: ``risk``, else P(churn by
    365)), the time-dependent AUC at 90/180/365 and the calibration per risk decile against
    Kaplan-Meier at 90/180."""
    time, event = survival_time(churn_days), np.asarray(observed, dtype=float)
    column = {d: GRID_DAYS.index(d) for d in GRID_DAYS}
    at_365 = churn_by_grid[:, column[365]]
    calibration = {
        d: km_calibration(time, event, churn_by_grid[:, column[d]], d) for d in CALIBRATION_DAYS
    }
    errors = {d: calibration_errors(table) for d, table in calibration.items()}
    return CurveMetrics(
        ibs=integrated_brier(time, event, churn_by_grid, np.asarray(GRID_DAYS, float)),
        uno_c=uno_c(time, event, at_365 if risk is None else risk, CONCORDANCE_TAU),
        td_auc={d: td_auc(time, event, churn_by_grid[:, column[d]], d) for d in AUC_DAYS},
        calibration=calibration,
        calibration_max={d: e[0] if e else None for d, e in errors.items()},
        calibration_mean={d: e[1] if e else None for d, e in errors.items()},
    )
