"""The survival curves a survival model must beat: Kaplan-Meier (overall and per segment)
and a Cox proportional-hazards model on the same features (lifelines, MIT).

Times here are survival times in days counted through the churn day (``churn_days + 1``, see
``training.survival_eval``), so P(churn by d) = P(time <= d) for every model alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.survival_stats import StepCurve, kaplan_meier
from training.errors import TrainingError

MIN_SEGMENT_ROWS = 50
"""A segment with fewer training rows uses the overall curve."""
COX_PENALIZER = 0.1
COX_MAX_ROWS = 30_000
"""lifelines' Cox fit is quadratic-ish in memory on tied times; a sample this large is plenty
for a linear model of a few dozen features."""


@dataclass
class KaplanMeierBaseline:
    """One curve for every row, or one per segment (rows of unknown or small segments get the
    overall one)."""

    overall: StepCurve
    by_segment: dict[str, StepCurve]

    def churn_by(
        self, days: Sequence[float], rows: int, segment: np.ndarray | None = None
    ) -> np.ndarray:
        """(rows, len(days)) P(churn by d): the row's segment curve, else the overall one."""
        out = np.tile(1.0 - self.overall.at(np.asarray(days, float)), (rows, 1))
        if segment is not None:
            for value, curve in self.by_segment.items():
                out[segment == value] = 1.0 - curve.at(np.asarray(days, float))
        return out


def fit_kaplan_meier(
    time: np.ndarray, event: np.ndarray, segment: np.ndarray | None = None
) -> KaplanMeierBaseline:
    overall = kaplan_meier(time, event)
    by_segment: dict[str, StepCurve] = {}
    if segment is not None:
        for value in {v for v in segment if v is not None}:
            rows = segment == value
            if rows.sum() >= MIN_SEGMENT_ROWS:
                by_segment[str(value)] = kaplan_meier(time[rows], event[rows])
    return KaplanMeierBaseline(overall, by_segment)


@dataclass
class CoxBaseline:
    """Cox PH on the numeric features, median-imputed and standardised on the fit rows."""

    model: object
    columns: list[int]
    median: np.ndarray
    scale: np.ndarray

    def _frame(self, matrix: np.ndarray) -> pd.DataFrame:
        x = matrix[:, self.columns]
        x = np.where(np.isnan(x), self.median, x)
        z = np.clip((x - self.median) / self.scale, -5.0, 5.0)
        return pd.DataFrame(z, columns=[f"x{j}" for j in self.columns])

    def churn_by(self, matrix: np.ndarray, days: Sequence[float]) -> np.ndarray:
        survival = self.model.predict_survival_function(  # type: ignore[attr-defined]
            self._frame(matrix), times=list(days)
        )
        return 1.0 - np.asarray(survival, dtype=np.float64).T

    def risk(self, matrix: np.ndarray) -> np.ndarray:
        hazard = self.model.predict_partial_hazard(self._frame(matrix))  # type: ignore[attr-defined]
        return np.asarray(hazard, dtype=np.float64)


def fit_cox(
    matrix: np.ndarray,
    numeric: Sequence[int],
    time: np.ndarray,
    event: np.ndarray,
    seed: int = 0,
    max_rows: int = COX_MAX_ROWS,
) -> CoxBaseline:
    """Cox PH (lifelines, ridge penalty ``COX_PENALIZER``) on the numeric columns that vary."""
    from lifelines import CoxPHFitter

    rows = np.arange(len(matrix))
    if len(rows) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_rows, replace=False))
    x = matrix[np.ix_(rows, np.asarray(numeric, dtype=np.int64))]
    median = np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0)
    filled = np.where(np.isnan(x), median, x)
    scale = filled.std(axis=0)
    varies = np.isfinite(median) & (scale > 1e-12)
    if not varies.any():
        raise TrainingError("no numeric feature varies on the fit rows; Cox needs one")
    columns = [c for c, keep in zip(numeric, varies, strict=True) if keep]
    baseline = CoxBaseline(None, columns, median[varies], scale[varies])
    frame = baseline._frame(matrix[rows])
    frame["time"], frame["event"] = time[rows], event[rows]
    baseline.model = CoxPHFitter(penalizer=COX_PENALIZER).fit(frame, "time", "event")
    return baseline
