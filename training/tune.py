"""Hyperparameter search with Optuna on the same temporal folds as the backtest.

A trial fits one booster per fold (fit fold -> early stopping on that fold's out-of-time
validation fold) and scores the mean validation ROC-AUC. The test windows are never looked
at, so the backtest metrics of the tuned model stay honest. The sampler is seeded TPE; trials
run one at a time (each already uses every thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from training.model import Fit

FitFn = Callable[[dict[str, Any], int], Fit]
"""fit(params, fold_index) -> Fit with a validation AUC."""


def search_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.15, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 8),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 20, 1000, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.2, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-3, 30.0, log=True),
    }


def tune(
    fit: FitFn,
    folds: int,
    trials: int,
    seed: int,
    base_params: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The best parameters found in ``trials`` trials, and the facts of the search.

    The defaults (``base_params``) are enqueued as the first trial, so tuning never returns
    something worse on the validation folds than not tuning."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()

    def objective(trial: Any) -> float:
        params = {**base_params, **search_space(trial)}
        aucs = [fit(params, k).valid_auc for k in range(folds)]
        scores = [a for a in aucs if a is not None]
        return float(np.mean(scores)) if scores else 0.5

    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    defaults = {k: base_params[k] for k in _names() if k in base_params}
    if defaults:
        study.enqueue_trial(defaults)
    study.optimize(objective, n_trials=trials)
    best = {**base_params, **study.best_params}
    facts = {
        "trials": len(study.trials),
        "best_valid_auc": float(study.best_value),
        "default_valid_auc": (
            float(study.trials[0].value)
            if study.trials and study.trials[0].value is not None
            else None
        ),
        "seconds": round(time.perf_counter() - started, 2),
        "best_params": study.best_params,
    }
    return best, facts


def _names() -> Sequence[str]:
    return (
        "learning_rate",
        "num_leaves",
        "max_depth",
        "min_data_in_leaf",
        "feature_fraction",
        "bagging_fraction",
        "lambda_l2",
    )
