"""Hyperparameter search with Optuna on the same folds as the backtest (or cross-validation).

A trial fits one booster per fold (fit fold -> early stopping on that fold's out-of-time
validation fold) and scores the mean validation ROC-AUC. The test windows are never looked
at, so the backtest metrics of the tuned model stay honest. The sampler is seeded TPE; trials
run one at a time (each already uses every thread). ``train`` tunes by default within a time
budget (``TrainOptions.tune_seconds``, shared by the labels), so the number of trials, and
with it the result, depends on the machine's speed; the facts record both.
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
    seconds: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The best parameters found within ``trials`` trials and ``seconds`` (None: no time
    limit), and the facts of the search.

    The defaults (``base_params``) are scored first, exactly as given, and win unless a trial
    beats them on the validation folds: tuning never returns something worse there than not
    tuning. A trial that starts inside the budget runs to its end, so the search can overrun
    ``seconds`` by one trial."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started = time.perf_counter()
    default_score = _mean_auc(fit, base_params, folds)
    default_seconds = time.perf_counter() - started

    def objective(trial: Any) -> float:
        return _mean_auc(fit, {**base_params, **search_space(trial)}, folds)

    sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler)
    remaining = None if seconds is None else seconds - default_seconds
    if trials > 0 and (remaining is None or remaining > 0):
        study.optimize(objective, n_trials=trials, timeout=remaining)
    done = [t for t in study.trials if t.value is not None]
    improved = bool(done) and study.best_value > default_score
    best = {**base_params, **study.best_params} if improved else dict(base_params)
    facts = {
        "trials": len(done),
        "max_trials": trials,
        "budget_seconds": seconds,
        "default_valid_auc": default_score,
        "best_valid_auc": float(study.best_value) if improved else default_score,
        "gain": float(study.best_value) - default_score if improved else 0.0,
        "chosen": "tuned" if improved else "defaults",
        "seconds": round(time.perf_counter() - started, 2),
        "best_params": {k: best[k] for k in _names() if k in best},
    }
    return best, facts


def _mean_auc(fit: FitFn, params: dict[str, Any], folds: int) -> float:
    aucs = [fit(params, k).valid_auc for k in range(folds)]
    scores = [a for a in aucs if a is not None]
    return float(np.mean(scores)) if scores else 0.5


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
