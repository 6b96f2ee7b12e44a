"""The one ROC-AUC: scikit-learn's value on tied data, None without both classes, and the
same function wherever a stage reaches for it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import features.stats
import simulator.truth
import training.metrics
from features.stats import pr_auc, roc_auc


def test_roc_auc_by_hand() -> None:
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert roc_auc(np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.3, 0.4])) == 0.0
    # positives 0.5, 0.9; negatives 0.5, 0.1: pairs won 0.5 (tie) + 1 + 1 + 1 of 4.
    assert roc_auc(np.array([1, 0, 1, 0]), np.array([0.5, 0.5, 0.9, 0.1])) == 0.875
    assert roc_auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.5, 0.5])) == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_equals_scikit_learn_on_heavily_tied_scores(seed) -> None:
    rng = np.random.default_rng(seed)
    y = rng.random(2000) < 0.2
    score = np.round(rng.random(2000) + 0.3 * y, 1)  # ~14 distinct values: many ties
    assert len(np.unique(score)) < 20

    assert roc_auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert roc_auc(y.astype(int), score) == roc_auc(y, score)
    assert roc_auc(y.astype(float), score.astype(np.float32)) == pytest.approx(
        roc_auc_score(y, score.astype(np.float32)), abs=1e-12
    )


def test_roc_auc_is_undefined_without_both_classes_and_nan_with_a_nan_score() -> None:
    assert roc_auc(np.array([1, 1]), np.array([0.1, 0.2])) is None
    assert roc_auc(np.array([0, 0]), np.array([0.1, 0.2])) is None
    assert roc_auc(np.array([], dtype=int), np.array([])) is None
    assert math.isnan(roc_auc(np.array([0, 1]), np.array([0.1, np.nan])))


def test_training_and_the_simulator_use_this_one() -> None:
    assert training.metrics.roc_auc is roc_auc
    assert simulator.truth.roc_auc is roc_auc


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pr_auc_equals_scikit_learn_with_and_without_ties(seed) -> None:
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    y = rng.random(3000) < 0.1
    smooth = rng.random(3000) + 0.4 * y
    tied = np.round(smooth, 1)

    assert pr_auc(y, smooth) == pytest.approx(average_precision_score(y, smooth), abs=1e-12)
    assert pr_auc(y, tied) == pytest.approx(average_precision_score(y, tied), abs=1e-12)
    assert pr_auc(np.zeros(4), np.arange(4.0)) is None


def test_training_metrics_are_these_functions() -> None:
    for name in ("pr_auc", "brier", "ece", "ece_noise_floor", "top_decile_lift"):
        assert getattr(training.metrics, name) is getattr(features.stats, name)


def _worst_bin_gap(y: np.ndarray, p: np.ndarray) -> float:
    return max(abs(mp - rate) for _, mp, rate in features.stats.calibration_bins(y, p))


def test_a_perfect_model_misses_the_worst_bin_by_the_noise_floor() -> None:
    """Labels drawn from the model's own probabilities: its worst decile is within the
    floor's median about half the time, within its 95% quantile almost always."""
    rng = np.random.default_rng(3)
    p = rng.beta(1, 8, 3000)
    median = features.stats.max_gap_noise_floor(p, seed=1)
    high = features.stats.max_gap_noise_floor(p, quantile=0.95, seed=1)
    assert median is not None and high is not None and 0.005 < median < high < 0.08
    worst = [_worst_bin_gap((rng.random(len(p)) < p).astype(float), p) for _ in range(60)]
    assert 0.25 < np.mean(np.array(worst) <= median) < 0.75
    assert np.mean(np.array(worst) <= high) > 0.85


def test_the_worst_bin_floor_grows_as_the_rows_shrink() -> None:
    rng = np.random.default_rng(4)
    p = rng.beta(1, 8, 4000)
    small = features.stats.max_gap_noise_floor(p[:1000], seed=0)
    large = features.stats.max_gap_noise_floor(p, seed=0)
    assert small is not None and large is not None
    assert 1.5 < small / large < 2.5  # a bin's standard error goes with 1 / sqrt(rows)


def test_a_model_off_by_five_points_in_its_top_decile_is_beyond_the_noise() -> None:
    rng = np.random.default_rng(5)
    p = rng.beta(1, 8, 5000)
    y = (rng.random(len(p)) < p).astype(float)
    top = p >= np.quantile(p, 0.9)
    shown = np.where(top, p + 0.05, p)
    floor = features.stats.max_gap_noise_floor(shown, quantile=0.95, seed=0)
    assert floor is not None and _worst_bin_gap(y, shown) > floor
    assert features.stats.max_gap_noise_floor(np.array([])) is None
