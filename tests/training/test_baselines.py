"""The health scorecard colours and weights; the logistic regression copes with gaps."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from features.model_bundle import FeatureColumn
from training.baselines import SCORECARD, fit_logreg, fit_scorecard, health_score

COLUMNS = [FeatureColumn(c.feature) for c in SCORECARD]


def _row(**values: float) -> np.ndarray:
    return np.array([[values.get(c.feature, np.nan) for c in SCORECARD]])


def test_a_green_account_is_fully_healthy() -> None:
    row = _row(
        seat_utilization_30d=0.9,
        core_breadth_30d=0.6,
        events_trend_30_90=1.1,
        open_high_tickets=0,
        nps_last=9,
        champion_departures_90d=0,
    )

    assert health_score(row, COLUMNS)[0] == pytest.approx(100.0)


def test_thresholds_colour_red_yellow_green() -> None:
    red = _row(seat_utilization_30d=0.6)  # <= 60% is red
    yellow = _row(seat_utilization_30d=0.7)
    green = _row(seat_utilization_30d=0.8)  # >= 80% is green

    scores = [health_score(r, COLUMNS)[0] for r in (red, yellow, green)]

    assert scores == [0.0, 50.0, 100.0]


def test_weights_renormalise_over_the_components_with_data() -> None:
    # utilisation green (weight 25) and a champion lost (red, weight 15): 25 * 100 / 40
    row = _row(seat_utilization_30d=0.9, champion_departures_90d=1)

    assert health_score(row, COLUMNS)[0] == pytest.approx(62.5)
    assert health_score(_row(), COLUMNS)[0] == 50.0  # no data at all


def test_scorecard_probability_rises_with_risk() -> None:
    rng = np.random.default_rng(0)
    util = rng.uniform(0.3, 1.0, 2000)
    matrix = np.column_stack([util] + [np.full(2000, np.nan)] * (len(SCORECARD) - 1))
    y = (rng.random(2000) < np.where(util < 0.6, 0.3, 0.05)).astype(float)

    card = fit_scorecard(matrix, y, COLUMNS, "churn")
    p = card.predict_proba(matrix)

    assert p[util < 0.6].mean() > p[util > 0.8].mean()


def test_logistic_regression_handles_missing_values_and_categories() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2))
    x[rng.random(500) < 0.2, 0] = np.nan
    category = rng.integers(0, 3, 500).astype(float)
    category[:10] = np.nan
    matrix = np.column_stack([x, category, np.full(500, np.nan)])
    columns = [
        FeatureColumn("a"),
        FeatureColumn("b"),
        FeatureColumn("c", "categorical", ("x", "y", "z")),
        FeatureColumn("empty"),
    ]
    y = (x[:, 1] + rng.normal(0, 0.5, 500) > 0).astype(float)

    model = fit_logreg(matrix, y, columns)

    p = model.predict_proba(matrix)[:, 1]
    assert p[x[:, 1] > 1].mean() > p[x[:, 1] < -1].mean()


def test_logistic_regression_leaves_out_columns_without_values_in_its_sample() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 2))
    sparse = np.full(500, np.nan)
    sparse[[0, 3, 5]] = 1.0  # values in three rows only, none of them in the seeded sample
    matrix = np.column_stack([x, sparse])
    columns = [FeatureColumn("a"), FeatureColumn("b"), FeatureColumn("sparse")]
    y = (x[:, 1] > 0).astype(float)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scikit-learn warns of columns it has to skip
        model = fit_logreg(matrix, y, columns, seed=0, max_rows=50)

    assert model.named_steps["prepare"].transformers_[0][2] == [0, 1]
    assert model.predict_proba(matrix).shape == (500, 2)
