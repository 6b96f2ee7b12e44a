"""Kaplan-Meier and Cox baselines, and the curve metrics every model is scored with."""

from __future__ import annotations

import numpy as np
import pytest

from training.survival_baselines import fit_cox, fit_kaplan_meier
from training.survival_eval import GRID_DAYS, curve_metrics, survival_time


def test_kaplan_meier_per_segment_falls_back_to_the_overall_curve() -> None:
    # segment a: all 60 churn on day 10; segment b: 60 censored at day 100; 10 rows of c
    time = np.array([10.0] * 60 + [100.0] * 60 + [100.0] * 10)
    event = np.array([1] * 60 + [0] * 70)
    segment = np.array(["a"] * 60 + ["b"] * 60 + ["c"] * 10, dtype=object)
    km = fit_kaplan_meier(time, event, segment)
    assert set(km.by_segment) == {"a", "b"}  # c is too small for its own curve
    got = km.churn_by([5, 20], 4, np.array(["a", "b", "c", None], dtype=object))
    overall = 60 / 130
    assert got.tolist() == [[0, 1], [0, 0], [0, overall], [0, overall]]


def _proportional(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    x[:, 2] = 1.0  # constant: Cox must drop it
    rate = np.exp(0.8 * x[:, 0]) / 300
    churn = rng.exponential(1 / rate)
    censor = rng.uniform(0, 600, n)
    return x, np.minimum(churn, censor).round() + 1, (churn <= censor).astype(int)


def test_cox_ranks_by_the_true_effect_and_gives_monotone_curves() -> None:
    x, time, event = _proportional(1500, 0)
    cox = fit_cox(x, [0, 1, 2], time, event)
    assert cox.columns == [0, 1]
    probe = np.array([[-1.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 1.0]])
    curve = cox.churn_by(probe, [30, 180, 365])
    assert (np.diff(curve, axis=0) > 0).all()  # higher x, more risk at every day
    assert (np.diff(curve, axis=1) >= 0).all()
    # the true P(churn by 180) at x = 0 is 1 - exp(-180/300) = 0.45
    assert curve[1, 1] == pytest.approx(1 - np.exp(-0.6), abs=0.05)


def test_the_true_curve_beats_kaplan_meier_on_every_metric() -> None:
    x, time, event = _proportional(3000, 1)
    churn_days, grid = time - 1, np.array(GRID_DAYS, dtype=float)
    rate = np.exp(0.8 * x[:, 0]) / 300
    # P(time <= d) with time = round(T) + 1 is about P(T < d - 0.5)
    truth = 1 - np.exp(-rate[:, None] * (grid - 0.5))
    km = fit_kaplan_meier(survival_time(churn_days), event).churn_by(grid, len(x))
    good, flat = curve_metrics(churn_days, event, truth), curve_metrics(churn_days, event, km)
    assert good.ibs is not None and flat.ibs is not None and good.ibs < 0.9 * flat.ibs
    assert flat.uno_c == 0.5 and good.uno_c is not None and good.uno_c > 0.65
    assert all(good.td_auc[d] > 0.65 and flat.td_auc[d] == 0.5 for d in (90, 180, 365))
    # the truth is calibrated (within the noise of 300 rows a decile); inflated it is not
    inflated = curve_metrics(churn_days, event, np.clip(truth * 1.3, 0, 1))
    assert good.calibration_mean[180] is not None and good.calibration_mean[180] < 0.05
    assert inflated.calibration_mean[180] is not None and inflated.calibration_mean[180] > 0.1
