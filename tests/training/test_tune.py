"""The search: the defaults are scored first, exactly as given; every finished trial is scored
on every fold, a pruned one stops after a fold (visited cheapest first); the best trial's
parameters are returned only when they beat the defaults; the time budget stops the search."""

from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Any

import pytest

from training.model import Fit
from training.tune import cheapest_first, tune

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

    # The defaults are scored first, exactly as given (nothing drawn for what they lack).
    assert dict(order[0]) == DEFAULTS
    finished = {key: aucs for key, aucs in scored.items() if len(aucs) == 2}
    stopped = [key for key, aucs in scored.items() if len(aucs) == 1]
    assert len(finished) == facts["trials"] + 1 and len(stopped) == facts["pruned"]
    means = {key: sum(aucs) / 2 for key, aucs in finished.items()}
    top = max(means, key=means.__getitem__)
    assert facts["trials"] + facts["pruned"] == 8 and len(order) == 9
    assert facts["chosen"] == "tuned"
    assert facts["gain"] == pytest.approx(means[top] - means[order[0]])
    assert facts["default_valid_auc"] == pytest.approx(means[order[0]])
    assert facts["best_valid_auc"] == pytest.approx(means[top])
    assert best == dict(top)
    assert best["objective"] == "binary"  # parameters outside the search are kept
    assert facts["best_valid_auc"] > facts["default_valid_auc"]  # the search found better


def test_a_trial_below_the_median_stops_after_its_first_fold_the_cheapest() -> None:
    visits: list[tuple[float, int]] = []

    def fit(params: dict[str, Any], fold: int) -> Fit:
        # Fold 2 is the cheap one the caller puts first; it ranks trials as the others do.
        visits.append((params["learning_rate"], fold))
        auc = 0.9 - 0.05 * abs(math.log(params["learning_rate"] / 0.1)) - 0.001 * fold
        return Fit(None, 1, auc, 0.0, params)  # type: ignore[arg-type]

    best, facts = tune(fit, folds=3, trials=30, seed=2, base_params=DEFAULTS, order=[2, 0, 1])

    by_trial: dict[float, list[int]] = defaultdict(list)
    for rate, fold in visits:
        by_trial[rate].append(fold)
    assert all(folds in ([2], [2, 0], [2, 0, 1]) for folds in by_trial.values())
    full = [r for r, folds in by_trial.items() if len(folds) == 3]
    cut = [r for r, folds in by_trial.items() if len(folds) < 3]
    assert facts["pruned"] == len(cut) > 0 and facts["trials"] + 1 == len(full)
    assert facts["trials"] + facts["pruned"] == 30
    # what was cut was worse at its first fold than the median of the finished trials there
    distance = {r: abs(math.log(r / 0.1)) for r in by_trial}
    assert min(distance[r] for r in cut) > sorted(distance[r] for r in full)[len(full) // 2 - 1]
    assert abs(math.log(best["learning_rate"] / 0.1)) == min(distance[r] for r in full)


def test_without_pruning_every_trial_fits_every_fold() -> None:
    fits: list[int] = []

    def fit(params: dict[str, Any], fold: int) -> Fit:
        fits.append(fold)
        return _peaked_at(0.1)(params, fold)

    _, facts = tune(fit, folds=3, trials=30, seed=2, base_params=DEFAULTS, prune=False)

    assert facts["pruned"] == 0 and facts["trials"] == 30
    assert len(fits) == 3 * 31  # the defaults and 30 trials, three folds each


def test_the_folds_with_the_fewest_fit_rows_come_first() -> None:
    assert cheapest_first([300, 100, 200, 100]) == [1, 3, 2, 0]


def test_a_fold_order_must_name_every_fold_once() -> None:
    with pytest.raises(ValueError, match="not a permutation"):
        tune(_peaked_at(0.1), folds=3, trials=1, seed=1, base_params=DEFAULTS, order=[0, 0, 1])


def _peaked_at(rate: float):  # type: ignore[no-untyped-def]
    def fit(params: dict[str, Any], fold: int) -> Fit:
        auc = 0.9 - 0.05 * abs(math.log(params["learning_rate"] / rate))
        return Fit(None, 1, auc, 0.0, params)  # type: ignore[arg-type]

    return fit


def test_the_defaults_are_kept_when_no_trial_beats_them() -> None:
    best, facts = tune(_peaked_at(0.02), folds=1, trials=6, seed=1, base_params=DEFAULTS)

    assert best == DEFAULTS
    assert facts["chosen"] == "defaults" and facts["gain"] == 0.0
    assert facts["trials"] == 6
    assert facts["best_valid_auc"] == facts["default_valid_auc"] == pytest.approx(0.9)


def test_the_time_budget_stops_the_search() -> None:
    calls: list[int] = []

    def slow(params: dict[str, Any], fold: int) -> Fit:
        calls.append(fold)
        deadline = time.perf_counter() + 0.05
        while time.perf_counter() < deadline:  # a fit that takes 50 ms of work
            pass
        return _peaked_at(0.1)(params, fold)

    _, facts = tune(slow, folds=1, trials=1000, seed=1, base_params=DEFAULTS, seconds=0.3)

    assert 1 <= facts["trials"] < 20  # 0.3 s of 50 ms trials, one overrun at most
    assert len(calls) == facts["trials"] + 1  # + the defaults
    assert facts["budget_seconds"] == 0.3

    _, none = tune(slow, folds=1, trials=1000, seed=1, base_params=DEFAULTS, seconds=0.01)
    assert none["trials"] == 0 and none["chosen"] == "defaults"  # the defaults used it all


def test_train_tunes_by_default_for_a_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    from training.options import TrainOptions
    from training.settings import TrainingSettings

    monkeypatch.delenv("CHURNLIGHT_TUNE_TRIALS")
    monkeypatch.delenv("CHURNLIGHT_TUNE_SECONDS")
    options = TrainOptions.from_settings(TrainingSettings())
    assert (options.tune_trials, options.tune_seconds) == (100, 60.0)
    assert options.tune_seconds_per_label(2) == 30.0
    off = TrainOptions.from_settings(TrainingSettings(), tune_trials=0)
    assert off.tune_trials == 0
