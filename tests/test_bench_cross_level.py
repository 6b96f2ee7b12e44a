"""Cross-fitted scores for the calibration's level (``bench.cross_level``): the accounts outside
the holdout are scored by models that never saw them, the holdout's by the fold's models."""

from __future__ import annotations

import numpy as np

from bench.cross_level import cross_fitted_scores, level_groups
from features.model_bundle import FeatureColumn
from training import model
from training.candidates import fit_candidates
from training.metrics import roc_auc
from training.recipe import FitData, Recipe

ACCOUNTS, MONTHS = 400, 14
MEMORISE = {"min_data_in_leaf": 5, "num_leaves": 63, "feature_fraction": 1.0}


def memorisable():
    """Each account's label rate is its own (0.6 or 0.05, no feature predicts it across
    accounts) and one column names the account: a booster that fit an account's earlier
    rows knows its rate, one that did not knows nothing."""
    rng = np.random.default_rng(4)
    acc = np.repeat(np.arange(ACCOUNTS), MONTHS)
    month = np.tile(np.arange(MONTHS), ACCOUNTS)
    rate = np.where(rng.random(ACCOUNTS) < 0.3, 0.6, 0.05)[acc]
    name = rng.permutation(ACCOUNTS).astype(float)[acc]
    x = np.column_stack([name, rng.normal(size=len(acc))])
    y = (rng.random(len(acc)) < rate).astype(float)
    ids = np.array([f"a{i:03d}" for i in range(ACCOUNTS)], dtype=object)[acc]
    holdout = np.isin(acc, np.arange(0, ACCOUNTS, 3))  # every third account
    columns = [FeatureColumn("name"), FeatureColumn("noise")]
    fits = FitData(model.base_dataset(x, columns, 1), y, columns, x, threads=1)
    fit_rows = np.flatnonzero((month < MONTHS - 2) & ~holdout)
    level_rows = np.flatnonzero(month == MONTHS - 1)
    valid_rows = level_rows[holdout[level_rows]]
    return fits, ids, holdout, fit_rows, valid_rows, level_rows


def test_level_groups_keep_an_account_together_and_mark_the_holdout() -> None:
    ids = np.array(["a", "b", "a", "c", "d", "b", "e", "f"] * 50, dtype=object)
    holdout = np.isin(ids, ["c"])

    groups = level_groups(ids, holdout, 2, seed=1)

    assert set(groups[holdout]) == {-1} and set(groups[~holdout]) == {0, 1}
    for account in set(ids):
        assert len(set(groups[ids == account])) == 1
    assert np.array_equal(groups, level_groups(ids, holdout, 2, seed=1))


def test_cross_fitted_scores_come_from_models_that_did_not_see_the_account() -> None:
    fits, ids, holdout, fit_rows, valid_rows, level_rows = memorisable()
    recipe = Recipe(params=MEMORISE, calibration="platt", seed=2)
    tree = model.fit_booster(
        fits.base, fits.y, fit_rows, np.zeros(0, dtype=np.int64), fits.columns,
        params=MEMORISE, seed=2, threads=1, max_rounds=150,
    )  # fmt: skip
    fitted = fit_candidates(recipe, fits, fit_rows, valid_rows, tree=tree)
    groups = level_groups(ids, holdout, 2, seed=2)

    crossed = cross_fitted_scores(fitted, recipe, fits, fit_rows, level_rows, groups)

    seen = ~holdout[level_rows]
    y = fits.y[level_rows]
    own = fitted.tree.raw_score(fits.matrix[level_rows])
    assert roc_auc(y[seen], own[seen]) > 0.68  # the fold's booster remembers the accounts
    assert roc_auc(y[seen], crossed["lightgbm"][seen]) < 0.62  # the cross-fit does not
    assert np.array_equal(crossed["lightgbm"][~seen], own[~seen])  # the holdout as scored
    additive = fitted.additive.raw_score(fits.matrix[level_rows])
    assert np.array_equal(crossed["additive"][~seen], additive[~seen])
    assert np.allclose(
        crossed["blend"], fitted.blend.combine(crossed["lightgbm"], crossed["additive"])
    )
