"""The additive candidate: piecewise terms that reproduce the fitted regression, exact SHAP
values, missing and unseen values, and the blend's additivity."""

from __future__ import annotations

import numpy as np
import pytest

from features.additive import AdditiveModel, AdditiveTerm, Blend
from features.model_bundle import FeatureColumn
from training.additive import _design, _layout, fit_additive
from training.metrics import roc_auc

COLUMNS = [
    FeatureColumn("x"),
    FeatureColumn("empty"),
    FeatureColumn("colour", "categorical", ("red", "green", "blue")),
]


def data(n: int = 3000, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    colour = rng.integers(0, 3, n).astype(float)
    colour[rng.random(n) < 0.05] = np.nan
    z = -1.0 + 1.5 * np.nan_to_num(x, nan=1.0) + np.where(colour == 2, 1.0, 0.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    return np.column_stack([x, np.full(n, np.nan), colour]), y


def test_terms_reproduce_the_fitted_regression_and_learn_the_signal() -> None:
    from sklearn.linear_model import LogisticRegression

    matrix, y = data()
    rows = np.arange(2000)
    valid = np.arange(2000, 3000)

    fit = fit_additive(matrix, y, rows, valid, COLUMNS, c=1.0)

    layout = _layout(matrix[rows], COLUMNS)
    reference = LogisticRegression(C=1.0, max_iter=500).fit(_design(matrix[rows], layout), y[rows])
    expected = reference.decision_function(_design(matrix[valid], layout))
    np.testing.assert_allclose(fit.raw_score(matrix[valid]), expected, atol=1e-9)
    assert roc_auc(y[valid], fit.raw_score(matrix[valid])) > 0.75
    x_term = fit.model.terms[0]
    assert list(x_term.values) == sorted(x_term.values)  # the signal rises with x
    assert fit.model.terms[1].values == (0.0,)  # a column without values adds nothing


def test_contributions_are_exact_shap_values() -> None:
    matrix, y = data()
    fit = fit_additive(matrix, y, np.arange(2000), np.arange(2000, 3000), COLUMNS)

    contributions, base = fit.model.contributions(matrix)

    np.testing.assert_allclose(contributions.sum(axis=1) + base, fit.raw_score(matrix))
    # the baseline is the training mean of each term: contributions average zero there
    np.testing.assert_allclose(
        fit.model.contributions(matrix[:2000])[0].mean(axis=0), 0.0, atol=1e-12
    )


def test_missing_and_unseen_values_take_the_missing_value() -> None:
    term = AdditiveTerm("categories", (0.1, 0.2, 0.3), missing=-0.5)
    assert term(np.array([0.0, 2.0, np.nan, 7.0, -1.0])).tolist() == [0.1, 0.3, -0.5, -0.5, -0.5]
    bins = AdditiveTerm("bins", (1.0, 2.0, 3.0), missing=9.0, edges=(0.0, 1.0))
    assert bins(np.array([-3.0, 0.0, 0.5, 1.0, 5.0, np.nan])).tolist() == [
        1.0,
        2.0,
        2.0,
        3.0,
        3.0,
        9.0,
    ]


def test_blend_contributions_add_up() -> None:
    rng = np.random.default_rng(0)
    tree = (rng.normal(size=(5, 3)), np.full(5, -1.0))
    additive = (rng.normal(size=(5, 3)), np.full(5, -2.0))
    blend = Blend(0.7, 0.4, 0.1)

    contributions, base = blend.combine_contributions(tree, additive)

    raw = blend.combine(tree[0].sum(1) + tree[1], additive[0].sum(1) + additive[1])
    np.testing.assert_allclose(contributions.sum(axis=1) + base, raw)


def test_models_round_trip_through_dicts() -> None:
    matrix, y = data()
    model = fit_additive(matrix, y, np.arange(2000), np.arange(2000, 3000), COLUMNS).model
    again = AdditiveModel.from_dict(model.to_dict())
    np.testing.assert_array_equal(again.raw_score(matrix), model.raw_score(matrix))
    assert Blend.from_dict(Blend(0.5, 0.5, -0.2).to_dict()) == Blend(0.5, 0.5, -0.2)


def test_a_single_class_is_refused() -> None:
    from training.errors import TrainingError

    matrix, _ = data(200)
    with pytest.raises(TrainingError, match="single class"):
        fit_additive(matrix, np.zeros(200), np.arange(150), np.arange(150, 200), COLUMNS)


def test_the_design_stores_only_nonzeros() -> None:
    matrix, _ = data()
    layout = _layout(matrix, COLUMNS)

    design = _design(matrix, layout)

    assert design.nnz == np.count_nonzero(design.toarray())


def test_a_refit_from_a_fold_fit_keeps_its_knots_and_reaches_the_cold_optimum() -> None:
    from sklearn.linear_model import LogisticRegression

    matrix, y = data(6000)
    fold = fit_additive(matrix, y, np.arange(3000), np.arange(3000, 4000), COLUMNS, c=0.3)
    everything = np.arange(6000)

    refit = fit_additive(matrix, y, everything, np.zeros(0, dtype=np.int64), COLUMNS, start=fold)

    assert refit.c == fold.c and refit.layout == fold.layout
    assert refit.model.terms[0].edges == fold.model.terms[0].edges
    # the optimum of a cold fit of every row on the fold's knots (to lbfgs's tolerance), not
    # the fold's own coefficients
    cold = LogisticRegression(C=fold.c, max_iter=1000, tol=1e-8)
    optimum = cold.fit(_design(matrix, fold.layout), y).decision_function(
        _design(matrix, fold.layout)
    )
    off = np.abs(refit.raw_score(matrix) - optimum).max()
    assert off < 0.05
    assert np.abs(fold.raw_score(matrix) - optimum).max() > 5 * off
