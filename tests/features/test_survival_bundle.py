"""The survival bundle's arithmetic on hand-made cases: the renewal cycle each period sees,
the anchoring of a curve to the served 180-day score by one log-odds shift of its hazards,
and a bundle written and read back with its cycle."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.survival_bundle import (
    HORIZONS_DAYS,
    SurvivalBundle,
    anchor_hazards,
    churn_by,
    cycle_columns,
    load_survival_bundle,
    period_matrix,
    save_survival_bundle,
)

NAN = math.nan


def _cycle(renewal: float, term: float, start: float) -> list[float]:
    got = cycle_columns(np.array([renewal]), np.array([term]), np.array([start]), 30)
    return got[0].tolist()


def test_the_cycle_before_during_and_after_the_first_renewal() -> None:
    # an annual term renewing in 100 days: (days to the next renewal, in period, passed)
    assert _cycle(100, 365, 0) == [100, 0, 0]
    assert _cycle(100, 365, 90) == [10, 1, 0]
    assert _cycle(100, 365, 120) == [345, 0, 1]  # the next one is day 465
    assert _cycle(100, 365, 480) == [350, 0, 2]  # renewals at 100 and 465 are past; 830 next
    assert _cycle(60, 365, 60) == [0, 1, 0]  # a renewal on the period's first day


def test_a_monthly_term_renews_in_every_period() -> None:
    assert _cycle(10, 30, 0) == [10, 1, 0]
    assert _cycle(10, 30, 60) == [10, 1, 2]  # 10 and 40 past, 70 next


def test_an_unknown_term_or_renewal_gives_no_cycle() -> None:
    assert _cycle(10, NAN, 0) == [10, 1, 0]  # the first renewal is known all the same
    after = _cycle(10, NAN, 60)
    assert math.isnan(after[0]) and math.isnan(after[1]) and after[2] == 1
    assert all(math.isnan(v) for v in _cycle(NAN, 365, 0))


def test_the_period_matrix_appends_the_cycle_after_the_countdown() -> None:
    rows = np.array([[5.0, 100.0, 365.0]] * 2)
    got = period_matrix(rows, np.array([0.0, 4.0]), countdown=[1], cycle=[1, 2])
    assert got.tolist() == [[5, 100, 365, 0, 100, 100, 0, 0], [5, 100, 365, 4, -20, 345, 0, 1]]
    # without a cycle, the layout bundles written before it expect
    assert period_matrix(rows, np.array([0.0, 1.0]), countdown=[1]).shape == (2, 5)


def _hazards() -> np.ndarray:
    """Three accounts: flat, a renewal spike in month 4, most risk in the first month."""
    flat = np.full(13, 0.01)
    spike = np.full(13, 0.005)
    spike[3] = 0.3
    early = np.full(13, 0.002)
    early[0] = 0.2
    return np.vstack([flat, spike, early])


@pytest.mark.parametrize("p180", [0.02, 0.3, 0.9])
def test_hazard_anchoring_lands_on_the_score_and_keeps_the_curve_monotone(p180: float) -> None:
    hazards = _hazards()
    target = np.full(3, p180)
    moved = anchor_hazards(hazards, target)
    curve = churn_by(moved, HORIZONS_DAYS)
    np.testing.assert_allclose(curve[:, HORIZONS_DAYS.index(180)], target, rtol=0, atol=1e-12)
    assert (np.diff(churn_by(moved, list(range(0, 400, 5))), axis=1) >= 0).all()
    assert ((curve >= 0) & (curve <= 1)).all()
    # one log-odds shift per account: the months keep their order and their odds ratios
    logit = np.log(moved / (1 - moved)) - np.log(hazards / (1 - hazards))
    np.testing.assert_allclose(logit, logit[:, :1] * np.ones((1, 13)), atol=1e-9)


def test_hazard_anchoring_leaves_a_curve_already_on_the_score() -> None:
    hazards = _hazards()
    own = churn_by(hazards, [180])[:, 0]
    np.testing.assert_allclose(anchor_hazards(hazards, own), hazards, rtol=1e-9)


def test_a_bundle_keeps_its_cycle_through_disk(tmp_path) -> None:
    import lightgbm as lgb

    from features.model_bundle import FeatureColumn

    rng = np.random.default_rng(0)
    rows = np.column_stack([rng.uniform(0, 400, 300), rng.choice([30.0, 365.0], 300)])
    stacked = period_matrix(
        np.repeat(rows, 13, axis=0), np.tile(np.arange(13.0), 300), [0], 30, [0, 1]
    )
    label = (stacked[:, 6] == 1) & (rng.random(len(stacked)) < 0.3)  # renewal_in_period
    booster = lgb.train(
        {"objective": "binary", "verbose": -1, "num_leaves": 4, "min_data_in_leaf": 5},
        lgb.Dataset(stacked, label.astype(float)),
        20,
    )
    columns = [
        FeatureColumn(name="days_to_renewal", kind="numeric"),
        FeatureColumn(name="term_length_days", kind="numeric"),
    ]
    bundle = SurvivalBundle(columns=columns, booster=booster, countdown=[0], cycle=[0, 1])
    back = load_survival_bundle(save_survival_bundle(bundle, tmp_path / "bundle"))
    assert back.cycle == [0, 1]
    np.testing.assert_allclose(back.hazards(rows), bundle.hazards(rows))
    # the cycle columns' contributions count for days_to_renewal
    contributions, _ = back.drivers(rows[:5])
    assert contributions.shape == (5, 2)
