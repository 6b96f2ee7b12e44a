"""The search: the defaults are the first trial, every trial is scored on every fold, and
the best trial's parameters are returned with its score."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import pytest

from training.model import Fit
from training.tune import tune

DEFAULTS = {"objective": "binary", "learning_rate": 0.02, "num_leaves": 15, "max_depth": 4}


def test_tuning_starts_from_the_defaults_and_returns_the_best_trial() -> None:
    scored: dict[tuple, list[float]] = defaultdict(list)
    order: list[tuple] = []

    def fit(params: dict[str, Any], fold: int) -> Fit:
        # A validation AUC that peaks at learning_rate 0.1 (the defaults are far from it);
        # the second fold scores 0.01 lower, so the mean over both folds is what counts.
        auc = 0.9 - 0.05 * abs(math.log(params["learning_rate"] / 0.1)) - 0.01 * fold
        key = tuple(sorted(params.items()))
        if key not in scored:
            order.append(key)
        scored[key].append(auc)
        return Fit(None, 1, auc, 0.0, params)  # type: ignore[arg-type]

    best, facts = tune(fit, folds=2, trials=8, seed=3, base_params=DEFAULTS)

    # The first trial: the defaults given (searched parameters without one are drawn).
    assert DEFAULTS.items() <= dict(order[0]).items()
    assert all(len(aucs) == 2 for aucs in scored.values())
    means = {key: sum(aucs) / 2 for key, aucs in scored.items()}
    top = max(means, key=means.__getitem__)
    assert facts["trials"] == 8
    assert facts["default_valid_auc"] == pytest.approx(means[order[0]])
    assert facts["best_valid_auc"] == pytest.approx(means[top])
    assert best == dict(top)
    assert best["objective"] == "binary"  # parameters outside the search are kept
    assert facts["best_valid_auc"] > facts["default_valid_auc"]  # the search found better
