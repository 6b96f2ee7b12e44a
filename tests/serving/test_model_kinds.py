"""Bundles of every model kind (LightGBM, additive, blend) score and explain through the
same serving code: additivity, one row equals the batch, a saved bundle reads back."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from features.additive import Blend
from features.model_bundle import encode, load_bundle, save_bundle
from serving.explain import BundleExplainer, explain_bundle
from serving.playbooks import load_playbooks
from serving.scoring import ModelView, RowFrame, ScoringConfig, TableFrame, score_frame
from serving.settings import DEFAULT_PLAYBOOKS
from tests.serving.helpers import columns, make_table
from training.additive import fit_additive


@pytest.fixture(scope="module")
def kinds(models):
    table = make_table(500, seed=1)
    matrix = encode(table, columns())
    y = np.asarray(table.column("churn_180d").to_numpy(), dtype=float)
    additive = fit_additive(matrix, y, np.arange(400), np.arange(400, 500), columns()).model
    tree = models.churn
    return {
        "lightgbm": tree,
        "additive": replace(tree, booster=None, additive=additive),
        "blend": replace(tree, additive=additive, blend=Blend(0.6, 0.5, -0.1)),
    }


@pytest.mark.parametrize("kind", ["lightgbm", "additive", "blend"])
def test_every_kind_explains_additively_and_one_row_like_the_batch(kinds, kind) -> None:
    bundle = kinds[kind]
    assert bundle.kind == kind
    table = make_table(30, seed=4)
    matrix = bundle.encode(table)

    batch = explain_bundle(bundle, matrix, num_threads=2)
    one = BundleExplainer(bundle)

    np.testing.assert_allclose(batch.raw_score, bundle.raw_score(matrix), atol=1e-9)
    for i in (0, 17):
        single = one(matrix[i])
        np.testing.assert_allclose(single.contributions[0], batch.contributions[i], atol=1e-9)
        np.testing.assert_allclose(single.base_value, batch.base_value[i : i + 1], atol=1e-9)


def test_a_blend_is_the_weighted_sum_of_its_parts(kinds) -> None:
    blend, tree, additive = kinds["blend"], kinds["lightgbm"], kinds["additive"]
    matrix = blend.encode(make_table(20, seed=5))

    expected = 0.6 * tree.raw_score(matrix) + 0.5 * additive.raw_score(matrix) - 0.1

    np.testing.assert_allclose(blend.raw_score(matrix), expected)


@pytest.mark.parametrize("kind", ["additive", "blend"])
def test_saved_bundles_of_new_kinds_read_back(kinds, kind, tmp_path) -> None:
    bundle = kinds[kind]
    matrix = bundle.encode(make_table(20, seed=6))

    again = load_bundle(save_bundle(bundle, tmp_path / kind))

    assert again.kind == kind
    assert (tmp_path / kind / "booster.txt").exists() == (kind == "blend")
    np.testing.assert_allclose(again.raw_score(matrix), bundle.raw_score(matrix))
    np.testing.assert_allclose(again.contributions(matrix)[0], bundle.contributions(matrix)[0])


@pytest.mark.parametrize("kind", ["additive", "blend"])
def test_serving_scores_new_kinds_with_reasons(kinds, models, kind) -> None:
    churn = ModelView(kinds[kind], "c/9")
    expansion = ModelView(models.expansion, "e/1")
    table = make_table(40, seed=9)
    playbooks = load_playbooks(DEFAULT_PLAYBOOKS)

    batch = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig())
    live = score_frame(
        RowFrame([table.slice(3, 1).to_pylist()[0]]),
        churn,
        expansion,
        playbooks,
        ScoringConfig(),
        threads=2,
    )

    np.testing.assert_allclose(batch.churn.probability, kinds[kind].predict_proba(table))
    assert live.record(0) == batch.record(3)
    assert any(batch.record(i)["churn"]["drivers_up"] for i in range(batch.n))
