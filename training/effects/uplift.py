"""Per-account effect of a play: a DR-learner, and the two-model (T-learner) baseline.

DR-learner (Kennedy 2023): the doubly-robust score of each row (``estimate.dr_pseudo_outcome``,
from the cross-fitted nuisances) regressed on the features. The score is unbiased for the
row's effect whatever the baseline risk, so the final model only has to learn how the effect
varies — a much simpler function than the risk itself — and is kept small and heavily
regularised. Rows outside the overlap (propensity outside [trim, 1 - trim]) are left out: their
scores divide by a near-zero propensity.

T-learner: P(y | x, run) and P(y | x, not run) fitted apart, their difference. Each model
chases the baseline risk and their errors do not cancel; it is the yardstick (PEHE, the
root-mean-square error of the per-row effect against the truth) the DR-learner must beat.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from training.effects.estimate import dr_pseudo_outcome
from training.effects.nuisance import NUISANCE_PARAMS, NUISANCE_ROUNDS, PROBABILITY_FLOOR

if TYPE_CHECKING:
    import lightgbm as lgb

UPLIFT_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.02,
    "num_leaves": 3,
    "max_depth": 2,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 10.0,
    "verbose": -1,
}
UPLIFT_ROUNDS = 400
MIN_LEAF_SHARE = 0.1
"""A leaf of the final model holds at least this share of the fit rows (and 200 rows): the
scores are noisy, and only a coarse effect function is learnable from them."""
PSEUDO_CLIP = 20.0
"""Doubly-robust scores are clipped to +-this before the regression (a treated row with a
small propensity scores 1 / e); the effect itself lies in [-1, 1]."""


def fit_dr_learner(
    x: np.ndarray,
    y: np.ndarray,
    t: np.ndarray,
    e: np.ndarray,
    m0: np.ndarray,
    m1: np.ndarray,
    trim: float,
    seed: int = 0,
    threads: int = 1,
) -> lgb.Booster:
    """The regression of the rows' doubly-robust scores on x (rows in the overlap only);
    ``predict(x)`` is the per-row change in P(y), clip it to [-1, 1]."""
    import lightgbm as lgb

    keep = (e >= trim) & (e <= 1 - trim)
    score = np.clip(dr_pseudo_outcome(y, t, e, m0, m1), -PSEUDO_CLIP, PSEUDO_CLIP)
    min_leaf = max(200, int(MIN_LEAF_SHARE * int(keep.sum())))
    params = {
        **UPLIFT_PARAMS,
        "min_child_samples": min_leaf,
        "seed": seed,
        "num_threads": threads,
    }
    data = lgb.Dataset(
        x[keep], label=score[keep], params={"verbose": -1, "feature_pre_filter": False}
    )
    return lgb.train(params, data, num_boost_round=UPLIFT_ROUNDS)


def predict_uplift(booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    """The per-row effect (change in probability) of a fitted DR-learner, in [-1, 1]."""
    return np.clip(np.asarray(booster.predict(x), dtype=np.float64), -1.0, 1.0)


def t_learner(
    x: np.ndarray, y: np.ndarray, t: np.ndarray, x_out: np.ndarray, seed: int = 0
) -> np.ndarray:
    """The two-model effect estimate on ``x_out``: P(y | x, run) - P(y | x, not run), each
    a LightGBM classifier with the nuisance models' settings."""
    import lightgbm as lgb

    out = []
    for arm in (1, 0):
        rows = t == arm
        params = {**NUISANCE_PARAMS, "seed": seed, "num_threads": 1}
        data = lgb.Dataset(x[rows], label=y[rows], params={"verbose": -1})
        booster = lgb.train(params, data, num_boost_round=NUISANCE_ROUNDS)
        out.append(np.clip(booster.predict(x_out), PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR))
    return np.asarray(out[0] - out[1], dtype=np.float64)


def pehe(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Root-mean-square error of per-row effects against the true ones."""
    return float(np.sqrt(np.mean((np.asarray(estimate) - np.asarray(truth)) ** 2)))
