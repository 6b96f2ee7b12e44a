"""The conformal correction on hand-made numbers: scores in units of the interval's half
width, the split-conformal rank, widening, and the calibration's JSON form."""

from __future__ import annotations

import math

import pytest

from forecast.conformal import (
    IntervalCalibration,
    calibrate,
    conformal_factor,
    empirical_quantile,
    interval_score,
    widen,
)


def test_scores_are_distances_in_half_widths_of_their_side() -> None:
    # interval [80, 140] around 100: 40 above, 20 below
    assert interval_score(120, 100, 80, 140) == 0.5
    assert interval_score(140, 100, 80, 140) == 1.0  # on the edge: inside
    assert interval_score(180, 100, 80, 140) == 2.0
    assert interval_score(90, 100, 80, 140) == 0.5
    assert interval_score(50, 100, 80, 140) == 2.5
    assert interval_score(100, 100, 100, 100) == 0.0
    assert interval_score(101, 100, 100, 100) == math.inf


def test_the_factor_is_the_conformal_rank_of_the_scores() -> None:
    scores = [0.1 * k for k in range(1, 11)]  # 0.1 .. 1.0, n = 10
    # rank ceil(11 * 0.8) = 9 -> 0.9; ceil(11 * 0.9) = 10 -> 1.0
    assert conformal_factor(scores, 0.8) == pytest.approx(0.9)
    assert conformal_factor(scores, 0.9) == pytest.approx(1.0)
    assert conformal_factor(list(reversed(scores)), 0.8) == pytest.approx(0.9)
    # n = 4: ceil(5 * 0.9) = 5 > 4: the largest score
    assert conformal_factor([3.0, 1.0, 2.0, 0.5], 0.9) == 3.0
    with pytest.raises(ValueError, match="no backtest scores"):
        conformal_factor([], 0.8)


def test_a_total_s_factor_is_the_plain_rank() -> None:
    scores = [float(s) for s in range(10, 0, -1)]  # 1 .. 10
    # split-conformal: ranks ceil(11 * level) = 9 and 10; plain: ceil(10 * level) = 8 and 9
    assert (conformal_factor(scores, 0.8), conformal_factor(scores, 0.9)) == (9.0, 10.0)
    assert (empirical_quantile(scores, 0.8), empirical_quantile(scores, 0.9)) == (8.0, 9.0)
    assert empirical_quantile([2.0], 0.1) == 2.0
    with pytest.raises(ValueError, match="no backtest scores"):
        empirical_quantile([], 0.8)


def test_widening_scales_each_side() -> None:
    assert widen(100, 80, 140, 1.5) == (70.0, 160.0)
    assert widen(100, 80, 140, 0.5) == (90.0, 120.0)
    assert widen(100, 80, 140, 1.0) == (80.0, 140.0)


def test_a_widened_interval_covers_what_its_factor_promises() -> None:
    # nine windows whose realised value fell 0.5 .. 2.5 half widths away: the 80% factor
    # is the ceil(10 * 0.8) = 8th smallest, and 8 of the 9 widened intervals cover
    scores = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5]
    factor = conformal_factor(scores, 0.8)
    assert factor == 2.25
    covered = [s <= factor for s in scores]
    assert sum(covered) == 8


def test_calibration_per_horizon_and_level_round_trips() -> None:
    scores = {3: {"0.8": [0.2, 0.4, 1.6, 0.8], "0.9": [0.1, 0.3, 1.2, 0.6]}}
    calibration = calibrate(scores, windows=2, facts={"seed": 1})
    assert calibration.factor(3, "0.8") == 1.6  # rank ceil(5 * 0.8) = 4
    assert calibration.factor(3, "0.9") == 1.2
    assert calibration.factor(6, "0.8") is None
    again = IntervalCalibration.from_dict(calibration.to_dict())
    assert again == calibration
    own = calibrate(scores, 2, group_scores={3: {"*": {"0.8": [5.0, 6.0], "0.9": [7.0]}}})
    assert (own.factor(3, "0.8", "*"), own.factor(3, "0.8", "segment:smb")) == (6.0, 1.6)
    assert IntervalCalibration.from_dict(own.to_dict()) == own
    assert (again.windows, dict(again.scores)) == (2, {3: 4})
