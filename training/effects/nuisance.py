"""Cross-fitted nuisance models of a play: propensity e(x) = P(run | x) and the outcome models
m0(x) = P(y | x, not run) and m1(x) = P(y | x, run).

Folds are drawn by account: every row of an account is predicted by models that never saw that
account (monthly rows of one account are near copies; a model that saw a sibling row would
overfit the held-out prediction and bias the doubly-robust correction). Each model is a small
LightGBM classifier; features are as of the snapshot, before the play (``treatment``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.errors import TrainingError

NUISANCE_PARAMS: dict[str, float | int | str] = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "max_depth": 4,
    "min_child_samples": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
}
NUISANCE_ROUNDS = 150
PROBABILITY_FLOOR = 1e-4
"""Predicted probabilities are kept inside [floor, 1 - floor]."""


@dataclass(frozen=True)
class CrossFitOptions:
    folds: int = 5
    seed: int = 0
    rounds: int = NUISANCE_ROUNDS
    threads: int = 1


def account_folds(groups: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold number (0 .. folds - 1) of each row; all rows of one account share a fold."""
    if folds < 2:
        raise TrainingError(f"cross-fitting needs at least 2 folds, not {folds}")
    codes, n_groups = group_codes(groups)
    if n_groups < folds:
        raise TrainingError(f"{n_groups} accounts cannot fill {folds} cross-fitting folds")
    order = np.random.default_rng(seed).permutation(n_groups)
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[order] = np.arange(n_groups) % folds
    return fold_of_group[codes]


def group_codes(groups: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes 0 .. G - 1 of the groups, and G."""
    uniques, codes = np.unique(np.asarray(groups).astype(str), return_inverse=True)
    return codes.astype(np.int64), len(uniques)


def fit_predict(
    x_fit: np.ndarray,
    y_fit: np.ndarray,
    x_out: np.ndarray,
    options: CrossFitOptions,
    objective: str = "binary",
) -> np.ndarray:
    """A nuisance model fitted on (x_fit, y_fit), predicted on ``x_out``: with ``binary``,
    P(y = 1 | x) kept inside [``PROBABILITY_FLOOR``, 1 - floor]; with ``regression``,
    E[y | x] (the negative control's outcome model, ``falsify``). The fit rows' mean when
    they hold one value only (0.5 for a binary fit without rows, 0 for a regression)."""
    import lightgbm as lgb

    binary = objective == "binary"
    if len(y_fit) < 2 or float(np.std(y_fit)) == 0.0:
        mean = float(np.mean(y_fit)) if len(y_fit) else (0.5 if binary else 0.0)
        if binary:
            mean = float(np.clip(mean, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR))
        return np.full(len(x_out), mean)
    params = {
        **NUISANCE_PARAMS,
        "objective": objective,
        "seed": options.seed,
        "num_threads": options.threads,
    }
    data = lgb.Dataset(x_fit, label=y_fit, params={"verbose": -1, "feature_pre_filter": False})
    booster = lgb.train(params, data, num_boost_round=options.rounds)
    out = np.asarray(booster.predict(x_out), dtype=np.float64)
    return np.clip(out, PROBABILITY_FLOOR, 1 - PROBABILITY_FLOOR) if binary else out


def cross_fit_propensity(
    x: np.ndarray, t: np.ndarray, folds: np.ndarray, options: CrossFitOptions
) -> np.ndarray:
    """Out-of-fold P(treated | x) of every row."""
    e = np.empty(len(t), dtype=np.float64)
    for k in np.unique(folds):
        out = folds == k
        e[out] = fit_predict(x[~out], t[~out], x[out], options)
    return e


def cross_fit_outcomes(
    x: np.ndarray,
    t: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    options: CrossFitOptions,
) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold m0(x) (fitted on untreated rows) and m1(x) (on treated rows) of every row.
    ``y`` must be 0/1 (filter censored rows out first)."""
    m0 = np.empty(len(t), dtype=np.float64)
    m1 = np.empty(len(t), dtype=np.float64)
    treated = t == 1
    for k in np.unique(folds):
        out = folds == k
        fit0, fit1 = ~out & ~treated, ~out & treated
        m0[out] = fit_predict(x[fit0], y[fit0], x[out], options)
        m1[out] = fit_predict(x[fit1], y[fit1], x[out], options)
    return m0, m1
