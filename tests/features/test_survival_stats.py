"""Survival metrics on hand-made cases whose answers are worked out in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from features.stats import brier, roc_auc
from features.survival_stats import (
    brier_at,
    calibration_errors,
    censoring_curve,
    integrated_brier,
    kaplan_meier,
    km_calibration,
    td_auc,
    uno_c,
)

# times 1..5; the row at 2 and the row at 5 are censored. G (censoring KM): the censoring at
# 2 leaves 3 of the 4 rows at risk -> 0.75; G just before 3 and 4 is 0.75, before 1 it is 1.
TIME = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
EVENT = np.array([1, 0, 1, 1, 0])
RISK = np.array([1.0, 0.0, 5.0, 2.0, 3.0])


def test_kaplan_meier_by_hand() -> None:
    # at 1: 4/5; at 2: 1 churn of 4 at risk (the censoring at 2 is still at risk) -> 0.6;
    # at 3: 1 of 2 -> 0.3; the censoring at 4 does not step the curve
    curve = kaplan_meier(np.array([1, 2, 2, 3, 4]), np.array([1, 1, 0, 1, 0]))
    assert curve.at([0.5, 1, 1.5, 2, 3, 4, 9]) == pytest.approx([1, 0.8, 0.8, 0.6, 0.3, 0.3, 0.3])
    assert curve.before([1, 2, 3]) == pytest.approx([1, 0.8, 0.6])


def test_the_censoring_curve_counts_censorings_as_its_events() -> None:
    g = censoring_curve(TIME, EVENT)
    assert g.at([1, 2, 4.9, 5]) == pytest.approx([1, 0.75, 0.75, 0])
    assert g.before([2, 3]) == pytest.approx([1, 0.75])


def test_brier_without_censoring_is_the_plain_brier() -> None:
    rng = np.random.default_rng(0)
    time = rng.integers(1, 50, 200).astype(float)
    p = rng.random(200)
    outcome = (time <= 20).astype(float)
    assert brier_at(time, np.ones(200), p, 20.0) == pytest.approx(brier(outcome, p))


def test_brier_weights_known_rows_by_the_censoring_curve() -> None:
    # t = 2.5 on times [1, 2, 3], events [1, 0, 1]: G(2) = 1/2. Row 1 churned (weight
    # 1/G(1-) = 1, error 0.1^2), row 2 censored before t (weight 0), row 3 survived
    # (weight 1/G(2.5) = 2, error 0.2^2): (0.01 + 0.08) / 3 = 0.03
    score = brier_at(np.array([1, 2, 3]), np.array([1, 0, 1]), np.array([0.9, 0.5, 0.2]), 2.5)
    assert score == pytest.approx(0.03)


def test_integrated_brier_is_the_trapezoid_average() -> None:
    # both rows churn (at 1 and 5); predicted 0 throughout: BS(0) = 0, BS(2) = 1/2 -> 0.25
    churn_by = np.zeros((2, 2))
    assert integrated_brier(np.array([1, 5]), np.array([1, 1]), churn_by, np.array([0, 2])) == 0.25


def test_uno_c_without_censoring_counts_ordered_pairs() -> None:
    time, event = np.arange(1.0, 5.0), np.ones(4)
    assert uno_c(time, event, np.array([4, 3, 2, 1]), tau=10) == 1.0
    assert uno_c(time, event, np.array([1, 2, 3, 4]), tau=10) == 0.0
    assert uno_c(time, event, np.ones(4), tau=10) == 0.5


def test_uno_c_weights_pairs_by_the_censoring_curve() -> None:
    # row 1 (weight 1) beats 1 of 4 later rows; rows 3 and 4 (weight 1/0.75^2 = 16/9) beat
    # 2 of 2 and 0 of 1: (1 + 32/9) / (4 + 48/9) = 41/84 (unweighted it would be 3/7)
    assert uno_c(TIME, EVENT, RISK, tau=10) == pytest.approx(41 / 84)
    # truncated at 3: only row 1's pairs
    assert uno_c(TIME, EVENT, RISK, tau=3) == pytest.approx(1 / 4)


def test_td_auc_without_censoring_is_the_roc_auc_of_churn_by_t() -> None:
    rng = np.random.default_rng(1)
    time = rng.integers(1, 50, 300).astype(float)
    risk = -time + rng.normal(0, 20, 300)
    assert td_auc(time, np.ones(300), risk, 20.0) == pytest.approx(
        roc_auc((time <= 20).astype(int), risk)
    )


def test_td_auc_weights_cases_by_the_censoring_curve() -> None:
    # t = 3.5: cases rows 1 (weight 1, outranks no control) and 3 (weight 4/3, outranks
    # both controls 4 and 5); the row censored at 2 is neither: (4/3) / (1 + 4/3) = 4/7
    assert td_auc(TIME, EVENT, RISK, 3.5) == pytest.approx(4 / 7)


def test_km_calibration_per_bin() -> None:
    table = km_calibration(
        np.array([1, 2, 3, 4]), np.ones(4), np.array([0.1, 0.2, 0.8, 0.9]), 2.5, bins=2
    )
    assert table == [(2, pytest.approx(0.15), 1.0), (2, pytest.approx(0.85), 0.0)]
    assert calibration_errors(table) == pytest.approx((0.85, 0.85))


def test_undefined_metrics_are_none() -> None:
    empty = np.array([])
    assert brier_at(empty, empty, empty, 1.0) is None
    assert uno_c(np.array([1.0, 2.0]), np.zeros(2), np.array([1.0, 2.0]), tau=5) is None
    assert td_auc(np.array([5.0, 6.0]), np.ones(2), np.array([1.0, 2.0]), 1.0) is None
    assert km_calibration(empty, empty, empty, 1.0) == []
