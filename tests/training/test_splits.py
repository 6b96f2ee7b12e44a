"""Temporal folds purge every label window that reaches into the evaluation period."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from tests.training.helpers import month_starts
from training.errors import TrainingError
from training.splits import (
    backtest_folds,
    final_fold,
    holdout_accounts,
    stratified_folds,
    trainable_dates,
)

DATES = month_starts(date(2022, 1, 1), 30)
SPAN = 210  # churn: horizon 180 + grace 30


def test_no_training_label_window_overlaps_the_evaluation_period() -> None:
    folds, notes = backtest_folds(DATES, SPAN, windows=3, window_size=3, valid_size=3)

    assert len(folds) == 3, notes
    for fold in folds:
        assert fold.cutoff == min(fold.test_dates)
        for t in fold.train_dates:
            assert t + timedelta(days=SPAN) <= fold.cutoff  # label window closed by the cutoff
        assert max(fold.fit_dates) < min(fold.valid_dates)  # validation is out of time
        assert max(fold.valid_dates) < min(fold.test_dates)


def test_windows_roll_back_from_the_latest_labeled_dates() -> None:
    folds, _ = backtest_folds(DATES, SPAN, windows=3, window_size=3, valid_size=3)

    assert folds[0].test_dates == tuple(DATES[-3:])
    assert folds[1].test_dates == tuple(DATES[-6:-3])
    assert folds[2].test_dates == tuple(DATES[-9:-6])


def test_the_purge_edge_is_inclusive() -> None:
    cutoff = date(2023, 1, 1)
    edge = cutoff - timedelta(days=SPAN)

    kept = trainable_dates([edge, edge + timedelta(days=1)], cutoff, SPAN)

    assert kept == [edge]  # t + span == cutoff: the window [t, t + span) ends at the cutoff


def test_holdout_accounts_never_lend_an_overlapping_label_to_the_fit_fold() -> None:
    fold = final_fold(DATES[:20], valid_size=3, span_days=SPAN)
    ids = np.repeat(np.array([f"a{i}" for i in range(50)]), 20)
    snapshot = np.tile(np.array(DATES[:20], dtype="datetime64[D]"), 50)
    holdout = holdout_accounts(ids, 0.3, seed=1)

    fit, valid, _ = fold.masks(snapshot, holdout)

    assert 0 < holdout.mean() < 1
    assert not (fit & valid).any()
    assert set(ids[valid]) <= set(ids[holdout])
    valid_start = np.datetime64(fold.valid_dates[0], "D")
    overlapping = snapshot + np.timedelta64(SPAN, "D") > valid_start
    assert not (fit & holdout & overlapping).any()
    assert (fit & ~holdout & overlapping).any()  # other accounts' recent rows still fit


def test_holdout_is_stable_per_account() -> None:
    ids = np.array(["a1", "a2", "a1", "a3", "a2"], dtype=object)

    first = holdout_accounts(ids, 0.5, seed=3)

    assert first[0] == first[2] and first[1] == first[4]
    assert (holdout_accounts(ids, 0.5, seed=3) == first).all()


def test_too_short_a_history_is_a_clear_error() -> None:
    with pytest.raises(TrainingError, match="cannot form a single backtest window"):
        backtest_folds(DATES[:9], SPAN, windows=1, window_size=3, valid_size=3)


def test_windows_that_do_not_fit_are_reported_not_invented() -> None:
    folds, notes = backtest_folds(DATES[:18], SPAN, windows=5, window_size=3, valid_size=3)

    assert len(folds) == 3
    assert notes == [
        "backtest 3 (cutoff 2022-07-01): fewer than 2 snapshot dates end their 210-day label "
        "window before the cutoff"
    ]


def test_stratified_folds_skip_null_labels_and_keep_the_rate() -> None:
    y = np.array([0, 1] * 50 + [np.nan] * 10, dtype=float)

    folds = stratified_folds(y, 5, seed=0)

    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(100))
    for _, test in folds:
        assert y[test].mean() == pytest.approx(0.5)


def test_grouped_folds_test_each_account_once_and_never_fit_on_it() -> None:
    from training.splits import grouped_folds

    dates = [date(2024, m, 1) for m in range(1, 9)]
    ids = np.repeat(np.array([f"a{i}" for i in range(60)]), len(dates))
    snapshot = np.tile(np.array(dates, dtype="datetime64[D]"), 60)
    folds = grouped_folds(dates, ids, 3, 2, 90, seed=5)

    tested = []
    for fold in folds:
        fit, valid, test = fold.account_masks(snapshot, ids)
        assert not set(ids[test]) & set(ids[fit | valid])
        assert test.sum() == len(set(ids[test])) * len(dates)  # every date of its accounts
        tested.append(set(ids[test]))
    assert set().union(*tested) == set(ids) and sum(map(len, tested)) == 60
    assert "account group 1 of 3" in str(folds[0].describe()["test"])
