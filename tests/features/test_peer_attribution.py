"""SHAP contributions against ordinary peers (features/peer_attribution.py) on small models
the tests fit or write down."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from features.additive import AdditiveModel, AdditiveTerm, Blend
from features.model_bundle import Calibration, FeatureColumn, ModelBundle
from features.peer_attribution import ordinary_rows, peer_contributions


def _columns() -> list[FeatureColumn]:
    return [FeatureColumn("a", "numeric"), FeatureColumn("b", "numeric")]


def _additive() -> AdditiveModel:
    return AdditiveModel(
        -1.0,
        (
            AdditiveTerm("bins", (0.0, 1.0, 3.0), edges=(1.0, 2.0), mean=0.5),
            AdditiveTerm("knots", (2.0, 0.0), edges=(0.0, 10.0), mean=1.0),
        ),
    )


def _booster(seed: int = 0) -> lgb.Booster:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 2))
    y = ((x[:, 0] * x[:, 1] + x[:, 0] + rng.normal(0, 0.5, 400)) > 0).astype(int)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": seed}
    return lgb.train(params, lgb.Dataset(x, y), num_boost_round=30)


def test_ordinary_rows_are_the_ones_nearest_the_median_raw_score() -> None:
    raw = np.array([5.0, -3.0, 0.1, 0.0, -0.2, 9.0, 0.3])  # median 0.1

    assert ordinary_rows(raw, 3).tolist() == [2, 3, 6]  # 0.1, 0.0 (0.1 away), 0.3 (0.2 away)
    assert ordinary_rows(raw, 50).tolist() == list(range(7))


def test_an_additive_models_peer_contribution_is_its_term_less_the_backgrounds_mean() -> None:
    bundle = ModelBundle("churn", _columns(), Calibration(), None, additive=_additive())
    row = np.array([[2.5, 5.0]])  # f_a = 3, f_b = 1
    background = np.array([[0.5, 0.0], [1.5, 10.0]])  # f_a: 0, 1 (mean 0.5); f_b: 2, 0 (1)

    out = peer_contributions(bundle, row, background)

    assert out.tolist() == [[2.5, 0.0]]
    path, _ = bundle.contributions(row)  # against the stored training means (0.5, 1.0)
    assert path.tolist() == [[2.5, 0.0]]  # same means here: the same values
    shifted = peer_contributions(bundle, row, background[:1])
    assert shifted.tolist() == [[3.0, -1.0]]  # against one row: f(x) - f(that row)


def test_a_boosters_peer_contributions_add_up_to_the_score_less_the_backgrounds_mean() -> None:
    booster = _booster()
    bundle = ModelBundle("churn", _columns(), Calibration(), booster)
    rng = np.random.default_rng(1)
    rows, background = rng.normal(size=(20, 2)), rng.normal(size=(30, 2))

    out = peer_contributions(bundle, rows, background)

    expected = bundle.raw_score(rows) - bundle.raw_score(background).mean()
    assert out.sum(axis=1) == pytest.approx(expected, abs=1e-6)
    path, _ = bundle.contributions(rows)
    assert not np.allclose(out, path, atol=1e-3)  # another baseline, other values
    # a row explained against itself owes nothing to any feature
    alone = peer_contributions(bundle, rows[:1], rows[:1])
    assert alone == pytest.approx(np.zeros((1, 2)), abs=1e-9)


def test_a_blends_peer_contributions_combine_its_parts_with_the_blends_weights() -> None:
    booster = _booster(2)
    blend = Blend(0.7, 0.3, 0.1)
    bundle = ModelBundle("churn", _columns(), Calibration(), booster, {}, _additive(), blend)
    tree = ModelBundle("churn", _columns(), Calibration(), booster)
    additive = ModelBundle("churn", _columns(), Calibration(), None, additive=_additive())
    rng = np.random.default_rng(3)
    rows, background = rng.normal(size=(10, 2)), rng.normal(size=(25, 2))

    out = peer_contributions(bundle, rows, background)

    expected = 0.7 * peer_contributions(tree, rows, background) + 0.3 * peer_contributions(
        additive, rows, background
    )
    assert out == pytest.approx(expected, abs=1e-12)
    total = bundle.raw_score(rows) - bundle.raw_score(background).mean()
    assert out.sum(axis=1) == pytest.approx(total, abs=1e-6)
