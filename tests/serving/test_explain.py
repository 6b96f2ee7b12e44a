"""Explanations: the native fast path agrees with shap.TreeExplainer and is additive."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from serving.explain import SingleRowExplainer, explain, treeshap_reference
from tests.serving.helpers import make_table


@pytest.fixture(scope="module")
def matrices(models) -> dict[str, np.ndarray]:
    table = make_table(80, seed=5)
    return {
        "churn": models.churn.encode(table),
        "expansion": models.expansion.encode(table),
    }


@pytest.mark.parametrize("kind", ["churn", "expansion"])
def test_native_contributions_agree_with_shap_tree_explainer(models, matrices, kind) -> None:
    bundle = getattr(models, kind)
    matrix = matrices[kind]
    assert np.isnan(matrix).any()  # missing values and categoricals are part of the check

    fast = explain(bundle.booster, matrix, num_threads=2)
    reference = treeshap_reference(bundle.booster, matrix)

    assert fast.contributions.shape == (len(matrix), len(bundle.columns))
    np.testing.assert_allclose(fast.contributions, reference.contributions, atol=1e-6, rtol=0)
    np.testing.assert_allclose(fast.base_value, reference.base_value, atol=1e-6, rtol=0)


@pytest.mark.parametrize("kind", ["churn", "expansion"])
def test_contributions_plus_base_value_equal_the_raw_score(models, matrices, kind) -> None:
    bundle = getattr(models, kind)
    matrix = matrices[kind]

    values = explain(bundle.booster, matrix)
    raw = bundle.raw_score(matrix)

    np.testing.assert_allclose(values.contributions.sum(axis=1) + values.base_value, raw, atol=1e-9)
    np.testing.assert_allclose(values.raw_score, raw, atol=1e-9)


def test_one_row_and_no_rows_keep_the_matrix_shape(models, matrices) -> None:
    bundle = models.churn
    n_features = len(bundle.columns)

    one = explain(bundle.booster, matrices["churn"][0])
    none = explain(bundle.booster, np.zeros((0, n_features)))

    assert one.contributions.shape == (1, n_features)
    assert one.base_value.shape == (1,)
    assert none.contributions.shape == (0, n_features)


def test_thread_count_does_not_change_the_values(models, matrices) -> None:
    booster = models.churn.booster
    single = explain(booster, matrices["churn"], num_threads=1)
    many = explain(booster, matrices["churn"], num_threads=2)
    np.testing.assert_array_equal(single.contributions, many.contributions)


@pytest.mark.parametrize("kind", ["churn", "expansion"])
def test_single_row_fast_path_equals_the_batch_path_row_by_row(models, matrices, kind) -> None:
    bundle = getattr(models, kind)
    explainer = SingleRowExplainer(bundle.booster)
    assert explainer.fast  # the installed LightGBM has the single-row entry points
    batch = explain(bundle.booster, matrices[kind])
    for i, row in enumerate(matrices[kind]):
        one = explainer(row)
        assert one.contributions.shape == (1, len(bundle.columns))
        np.testing.assert_array_equal(one.contributions[0], batch.contributions[i])
        np.testing.assert_array_equal(one.base_value, batch.base_value[i : i + 1])


def test_single_row_results_do_not_share_memory_between_calls(models, matrices) -> None:
    explainer = SingleRowExplainer(models.churn.booster)
    first = explainer(matrices["churn"][0])
    kept = first.contributions.copy()
    explainer(matrices["churn"][1])
    np.testing.assert_array_equal(first.contributions, kept)


def test_single_row_path_is_safe_across_threads(models, matrices) -> None:
    explainer = SingleRowExplainer(models.churn.booster)
    rows = matrices["churn"]
    expected = explain(models.churn.booster, rows).contributions
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: explainer(rows[i % len(rows)]), range(400)))
    for i, one in enumerate(got):
        np.testing.assert_array_equal(one.contributions[0], expected[i % len(rows)])


def test_single_row_path_rejects_a_row_of_the_wrong_width(models) -> None:
    explainer = SingleRowExplainer(models.churn.booster)
    with pytest.raises(ValueError, match="one row of"):
        explainer(np.zeros(3))


def test_single_row_path_falls_back_to_predict_without_the_entry_points(
    models, matrices, monkeypatch
) -> None:
    import lightgbm.basic

    real = lightgbm.basic._LIB

    class NoFastPath:
        def __getattr__(self, name: str):
            if "SingleRowFast" in name:
                raise AttributeError(name)
            return getattr(real, name)

    monkeypatch.setattr(lightgbm.basic, "_LIB", NoFastPath())
    explainer = SingleRowExplainer(models.churn.booster)
    assert not explainer.fast
    one = explainer(matrices["churn"][3])
    expected = explain(models.churn.booster, matrices["churn"][3])
    np.testing.assert_array_equal(one.contributions, expected.contributions)
