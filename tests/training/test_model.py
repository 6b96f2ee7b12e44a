"""Behavioural tests of the fitted models: direction, determinism, invariance."""

from __future__ import annotations

import numpy as np

from training import dataset, model
from training.options import TrainOptions
from training.train import train_models


def _sweep(bundle, raw, column: str, values: list[float]) -> np.ndarray:
    """Probabilities of the same rows with ``column`` set to each of ``values``
    (rows x values)."""
    matrix = bundle.encode(raw)
    j = bundle.feature_names.index(column)
    out = []
    for value in values:
        changed = matrix.copy()
        changed[:, j] = value
        out.append(bundle.predict_proba(changed))
    return np.column_stack(out)


def test_more_champion_departures_never_lower_churn_risk(trained) -> None:
    outcome = trained.labels["churn_180d"]
    assert outcome.facts["monotone"]["used"], outcome.facts["monotone"]

    p = _sweep(
        outcome.bundle, trained.data.raw.slice(0, 500), "champion_departures_90d", [0, 1, 2, 3, 5]
    )

    assert np.all(np.diff(p, axis=1) >= -1e-12)
    assert np.any(np.diff(p, axis=1) > 0)


def test_higher_seat_utilisation_never_raises_churn_risk(trained) -> None:
    bundle = trained.labels["churn_180d"].bundle

    p = _sweep(
        bundle, trained.data.raw.slice(0, 500), "seat_utilization_30d", [0.1, 0.4, 0.7, 1.0, 1.2]
    )

    assert np.all(np.diff(p, axis=1) <= 1e-12)


def test_the_signal_is_found(trained) -> None:
    churn = trained.labels["churn_180d"]
    last = churn.last.metrics

    assert last["model"]["roc_auc"] > 0.7
    assert last["model"]["roc_auc"] > last["scorecard"]["roc_auc"]


def test_training_is_deterministic(synthetic_path) -> None:
    data = dataset.load(synthetic_path)
    options = TrainOptions(
        backtests=1,
        threads=1,
        seed=5,
        with_baselines=False,
        labels=("expand_180d",),
        top_accounts=0,
    )

    first = train_models(data, options).labels["expand_180d"].bundle
    second = train_models(data, options).labels["expand_180d"].bundle

    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.calibration == second.calibration


def test_an_unseen_category_scores_like_a_missing_one(trained) -> None:
    bundle = trained.labels["churn_180d"].bundle
    rows = trained.data.raw.slice(0, 50).to_pandas()
    unseen, missing = rows.copy(), rows.copy()
    unseen["segment"] = "a segment never seen"
    missing["segment"] = None

    np.testing.assert_array_equal(bundle.predict_proba(unseen), bundle.predict_proba(missing))


def test_monotone_vector_skips_categoricals() -> None:
    from features.model_bundle import FeatureColumn

    columns = [FeatureColumn("a"), FeatureColumn("b", "categorical", ("x",)), FeatureColumn("c")]

    assert model.monotone_vector(columns, {"a": 1, "b": 1, "c": -1}) == [1, 0, -1]


def test_class_weight_is_the_square_root_of_the_imbalance() -> None:
    y = np.array([1.0] * 10 + [0.0] * 90)

    assert model.pos_weight(y, "sqrt") == 3.0
    assert model.pos_weight(y, "balanced") == 9.0
    assert model.pos_weight(y, "none") == 1.0
