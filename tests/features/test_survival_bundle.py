"""The survival bundle's arithmetic on hand-made cases: the renewal cycle each period sees,
and a bundle written and read back with its cycle."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from features.survival_bundle import (
    SurvivalBundle,
    SurvivalBundleError,
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
    # a format-1 bundle (written before the cycle) reads as one without it
    spec = tmp_path / "bundle" / "survival.json"
    old = json.loads(spec.read_text())
    old["format"] = 1
    del old["cycle"]
    spec.write_text(json.dumps(old))
    assert load_survival_bundle(tmp_path / "bundle").cycle == []
    old["format"] = 3
    spec.write_text(json.dumps(old))
    with pytest.raises(
        SurvivalBundleError, match="has format 3; this churnlight reads formats 1, 2"
    ):
        load_survival_bundle(tmp_path / "bundle")
    np.testing.assert_allclose(back.hazards(rows), bundle.hazards(rows))
    # the cycle columns' contributions count for days_to_renewal
    contributions, _ = back.drivers(rows[:5])
    assert contributions.shape == (5, 2)


def test_a_split_booster_predicts_what_the_whole_one_does_linear_trees_included() -> None:
    """``PeriodSplit`` on boosters with plain trees, linear trees (whose leaves read the
    period's columns) and a random forest (which averages its trees): the raw scores of
    every (row, period) equal one prediction of the whole booster."""
    import lightgbm as lgb

    from features.survival_bundle import PeriodSplit

    rng = np.random.default_rng(1)
    rows = np.column_stack(
        [rng.uniform(0, 400, 200), rng.choice([30.0, 365.0, NAN], 200), rng.normal(size=200)]
    )
    rows[rng.random(200) < 0.1, 0] = NAN
    rows[rng.random(200) < 0.2, 2] = 0.0
    stacked = period_matrix(
        np.repeat(rows, 13, axis=0), np.tile(np.arange(13.0), 200), [0], 30, [0, 1]
    )
    label = ((stacked[:, 6] == 1) | (stacked[:, 2] > 1)) & (rng.random(len(stacked)) < 0.4)
    forest = {"boosting": "rf", "bagging_fraction": 0.5, "bagging_freq": 1}
    for linear, extra in ((False, {}), (True, {}), (False, forest)):
        booster = lgb.train(
            {
                "objective": "binary", "verbose": -1, "num_leaves": 5, "min_data_in_leaf": 5,
                "linear_tree": linear, "seed": 0, "num_threads": 1, **extra,
            },
            lgb.Dataset(stacked, label.astype(float)),
            40,
        )  # fmt: skip
        split = PeriodSplit.of(booster, 3)
        got = split.raw_score(rows, stacked[:, 3:])
        want = booster.predict(stacked, raw_score=True).reshape(-1, 13)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
        assert sum(p.booster.num_trees() for p in split.parts) == booster.num_trees()
        # linear leaves may read the period, a forest is one part: every period is predicted
        assert all(p.exact for p in split.parts if p.columns) == (linear or bool(extra))
