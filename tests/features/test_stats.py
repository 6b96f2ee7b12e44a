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
