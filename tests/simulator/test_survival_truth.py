"""The oracle's churn curve (simulator.survival_truth): hand-made rollouts, and on a
simulated source its agreement with the oracle's 180-day probability."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.survival_truth import CURVE_DAYS, churn_by_days
from simulator.writer import TRUTH_DIR


def test_churn_by_days_counts_the_first_churn_on_or_after_t() -> None:
    # two rows x two rollouts; t = 100. Path 0 churns on day 90 (before t) and 130; path 1
    # never; path 2 on day 100 (day 0) ; path 3 on day 400 (day 300).
    path = np.array([0, 0, 2, 3])
    day = np.array([90, 130, 100, 400])
    got = churn_by_days(path, day, 4, 100, (1, 30, 31, 300, 301), rollouts=2)
    np.testing.assert_allclose(got, [[0, 0, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5, 1.0]])


def test_the_oracle_curve_is_monotone_and_its_180_day_point_is_the_oracle(small_run) -> None:
    oracle = pd.read_parquet(small_run.path / TRUTH_DIR / "oracle.parquet")
    curve = oracle[[f"p_churn_by_{d}d" for d in CURVE_DAYS]].to_numpy()
    assert len(curve) > 0 and curve[:, -1].max() > 0
    assert (np.diff(curve, axis=1) >= 0).all()
    np.testing.assert_array_equal(oracle["p_churn_by_180d"], oracle["p_churn_180d"])
    assert (curve[:, -1] > curve[:, 3]).any()  # the year goes on past 180 days
