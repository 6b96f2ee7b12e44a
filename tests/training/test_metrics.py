"""Metrics against sklearn and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from training import metrics

RNG = np.random.default_rng(7)
Y = (RNG.random(500) < 0.2).astype(float)
P = np.clip(0.2 + 0.3 * (Y - 0.2) + RNG.normal(0, 0.15, 500), 0.001, 0.999)


def test_roc_and_pr_auc_match_sklearn() -> None:
    assert metrics.roc_auc(Y, P) == pytest.approx(roc_auc_score(Y, P))
    assert metrics.pr_auc(Y, P) == pytest.approx(average_precision_score(Y, P))
    assert metrics.brier(Y, P) == pytest.approx(brier_score_loss(Y, P))


def test_roc_auc_counts_ties_half() -> None:
    assert metrics.roc_auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5


def test_undefined_metrics_are_none() -> None:
    ones = np.ones(5)
    assert metrics.roc_auc(ones, np.arange(5.0)) is None
    assert metrics.pr_auc(np.zeros(5), np.arange(5.0)) is None
    assert metrics.top_decile_lift(np.zeros(5), np.arange(5.0)) is None
    assert metrics.mrr_capture_top_decile(np.zeros(5), np.arange(5.0), ones) is None
    assert metrics.ece(np.array([]), np.array([])) is None


def test_top_decile_lift_by_hand() -> None:
    # 20 rows, 4 positives (rate 0.2); the top 2 scores hold 1 positive: rate 0.5, lift 2.5
    y = np.zeros(20)
    y[[0, 5, 6, 7]] = 1
    score = np.linspace(1, 0, 20)

    assert metrics.top_decile_lift(y, score) == pytest.approx(2.5)


def test_mrr_capture_by_hand() -> None:
    # churned MRR: rows 0 (100), 5 (300); the top 10% (2 rows: 0 and 1) capture 100 of 400
    y = np.zeros(20)
    y[[0, 5]] = 1
    mrr = np.full(20, 50.0)
    mrr[0], mrr[5] = 100.0, 300.0
    score = np.linspace(1, 0, 20)

    assert metrics.mrr_capture_top_decile(y, score, mrr) == pytest.approx(0.25)


def test_top_rows_break_ties_by_row_order() -> None:
    assert list(metrics.top_indices(np.array([0.5, 0.9, 0.5, 0.5]), 0.5)) == [1, 0]


def test_ece_by_hand_with_equal_frequency_bins() -> None:
    p = np.array([0.1, 0.1, 0.3, 0.3])
    y = np.array([0, 0, 1, 1])

    # two bins of two rows: |0.1 - 0| and |0.3 - 1|, weighted 1/2 each
    assert metrics.ece(y, p, bins=2) == pytest.approx(0.5 * 0.1 + 0.5 * 0.7)


def test_ece_with_equal_width_bins() -> None:
    p = np.array([0.05, 0.15, 0.95])
    y = np.array([0, 1, 1])

    expected = (1 / 3) * 0.05 + (1 / 3) * 0.85 + (1 / 3) * 0.05
    assert metrics.ece(y, p, bins=10, strategy="uniform") == pytest.approx(expected)


def test_a_perfectly_calibrated_model_sits_below_the_noise_floor() -> None:
    rng = np.random.default_rng(0)
    p = rng.beta(1, 10, 600)
    y = (rng.random(600) < p).astype(float)

    floor = metrics.ece_noise_floor(p, seed=1)

    assert floor is not None and 0.01 < floor < 0.08
    assert metrics.ece(y, p) <= floor


def test_cumulative_gains_end_at_all_positives() -> None:
    targeted, captured = metrics.cumulative_gains(Y, P)

    assert targeted[0] == 0 and captured[0] == 0
    assert targeted[-1] == pytest.approx(1.0) and captured[-1] == pytest.approx(1.0)
    assert np.all(np.diff(captured) >= 0)
