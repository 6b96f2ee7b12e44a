"""The discrete-time hazard model: person-period rows, curves, anchoring, and a fit that
recovers a known hazard under heavy censoring."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from training.survival import (
    HORIZONS_DAYS,
    MAX_TREES,
    SURVIVAL_PARAMS,
    anchor_curve,
    churn_by,
    fit_platt,
    fit_survival,
    followup_days,
    period_matrix,
    person_periods,
)


def test_person_periods_stop_at_the_churn_and_drop_half_seen_periods() -> None:
    pp = person_periods(
        churn_days=np.array([45.0, 100.0, 10.0, np.nan]),
        observed=np.array([1.0, 0.0, 1.0, np.nan]),
        followup=np.array([400.0, 100.0, 20.0, -5.0]),
    )
    # row 0 churns in period 1; row 1 is seen through day 100: periods 0-2 (3 x 30 <= 101);
    # row 2's churn on day 10 is in a period it was not seen to the end of: nothing; row 3
    # has no time at all
    assert pp.row.tolist() == [0, 0, 1, 1, 1]
    assert pp.period.tolist() == [0, 1, 0, 1, 2]
    assert pp.churned.tolist() == [0, 1, 0, 0, 0]
    assert pp.weight.tolist() == [1, 1, 1, 1, 1]


def test_sampled_periods_keep_every_churn_and_carry_their_weight() -> None:
    n = 2000
    churn_days = np.full(n, 380.0)
    observed = np.zeros(n)
    observed[:100] = 1
    churn_days[:100] = 75.0  # period 2
    full = person_periods(churn_days, observed, np.full(n, 500.0))
    sampled = person_periods(churn_days, observed, np.full(n, 500.0), max_rows=5000, seed=3)
    assert len(sampled.row) < len(full.row)
    assert sampled.churned.sum() == full.churned.sum() == 100
    # weighted, the sample stands for as many periods as the whole
    assert sampled.weight.sum() == pytest.approx(len(full.row), rel=0.03)


def test_churn_by_holds_the_hazard_constant_inside_a_period() -> None:
    got = churn_by(np.array([[0.1, 0.2]]), [30, 45, 60, 90])
    assert got[0] == pytest.approx([0.1, 1 - 0.9 * 0.8**0.5, 0.28, 1 - 0.72 * 0.8])


def test_followup_counts_days_to_the_as_of_minus_the_grace() -> None:
    dates = np.array(["2025-01-01", "2025-05-10"], dtype="datetime64[D]")
    assert followup_days(dates, date(2025, 6, 1), 30).tolist() == [121, -8]


def test_anchoring_puts_the_180_day_point_on_the_score_and_keeps_the_curve_monotone() -> None:
    days = list(HORIZONS_DAYS)
    curve = churn_by(np.tile([0.01, 0.03, 0.05], (3, 5))[:, :13], days)
    p180 = np.array([curve[0, 3], 0.5, 0.001])
    anchored = anchor_curve(curve, days, p180)
    assert anchored[:, 3] == pytest.approx(p180)
    assert anchored[0] == pytest.approx(curve[0])  # already there: unchanged
    assert (np.diff(anchored, axis=1) >= 0).all()
    assert ((anchored >= 0) & (anchored <= 1)).all()


def _simulated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Monthly hazard 0.02 * exp(1.2 x) for x in [-1, 1], heavy random censoring."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))  # the second column is noise
    hazard = 0.02 * np.exp(1.2 * x[:, 0])
    month = rng.geometric(hazard) - 1  # the period of the churn
    churn_day = month * 30 + rng.integers(0, 30, n)
    followup = rng.integers(0, 800, n)
    observed = (churn_day <= followup).astype(float)
    churn_days = np.where(observed == 1, churn_day, followup).astype(float)
    return x, churn_days, observed, followup.astype(float)


@pytest.fixture(scope="module")
def fitted():
    x, churn_days, observed, followup = _simulated(6000, seed=0)
    rows = np.arange(len(x))
    fit = fit_survival(
        x, ["x0", "noise"], [], churn_days, observed, followup, rows[:5000], rows[5000:]
    )
    return fit


def test_the_fit_recovers_the_true_risk_despite_censoring(fitted) -> None:
    x, *_ = _simulated(2000, seed=2)
    predicted = fitted.churn_by(x, [90, 180, 365])
    hazard = 0.02 * np.exp(1.2 * x[:, 0])
    truth = 1 - (1 - hazard[:, None]) ** (np.array([90, 180, 365]) / 30)
    assert (np.abs(predicted - truth).mean(axis=0) < [0.015, 0.025, 0.04]).all()
    assert predicted.mean(axis=0) == pytest.approx(truth.mean(axis=0), abs=0.01)
    # more risk for a higher x, all else equal
    ends = fitted.churn_by(np.array([[-0.9, 0.0], [0.9, 0.0]]), [365])
    assert ends[1, 0] > ends[0, 0] + 0.2


def test_a_hazard_fit_that_would_grow_on_stops_at_the_tree_cap(fitted) -> None:
    # with the training settings, this fit's held-out loss still falls after MAX_TREES trees
    # (it would stop at 260 without the cap): the cap, not early stopping, ends it
    assert fitted.params["learning_rate"] == SURVIVAL_PARAMS["learning_rate"]
    assert fitted.booster.num_trees() == fitted.best_iteration == MAX_TREES


def test_early_stopping_still_ends_a_fit_below_the_tree_cap() -> None:
    x, churn_days, observed, followup = _simulated(6000, seed=0)
    rows = np.arange(len(x))
    fast = fit_survival(
        x, ["x0", "noise"], [], churn_days, observed, followup, rows[:5000], rows[5000:],
        params={"learning_rate": 0.05},
    )  # fmt: skip
    # the held-out loss stops falling after about 100 trees: the booster keeps its best
    assert fast.booster.num_trees() == fast.best_iteration < MAX_TREES


def test_curves_are_monotone_non_increasing_in_survival(fitted) -> None:
    x, *_ = _simulated(500, seed=1)
    days = list(range(0, 400, 5))
    curves = fitted.churn_by(x, days)
    assert (np.diff(curves, axis=1) >= 0).all()
    assert curves[:, 0] == pytest.approx(0.0)


def test_the_renewal_countdown_restarts_at_each_period() -> None:
    rows = np.array([[5.0, 100.0], [5.0, 100.0]])
    got = period_matrix(rows, np.array([0.0, 3.0]), countdown=[1])
    assert got.tolist() == [[5, 100, 0, 100], [5, 100, 3, 10]]


def test_a_churn_at_the_renewal_lands_in_the_renewal_period() -> None:
    """Accounts churn exactly at their renewal with chance 0.5: P(churn by d) must jump from
    ~0 to ~0.5 across the renewal, whichever month it falls in."""
    rng = np.random.default_rng(4)
    n = 4000
    renewal = rng.integers(0, 360, n).astype(float)
    churns = rng.random(n) < 0.5
    churn_days = np.where(churns, renewal, 400.0)
    x = np.column_stack([rng.normal(size=n), renewal])
    rows = np.arange(n)
    fit = fit_survival(
        x, ["noise", "days_to_renewal"], [], churn_days, churns.astype(float),
        np.full(n, 420.0), rows[:3200], rows[3200:],
    )  # fmt: skip
    probe = np.array([[0.0, 100.0], [0.0, 250.0]])
    by = fit.churn_by(probe, [60, 150, 240, 300])
    assert by[0] == pytest.approx([0, 0.5, 0.5, 0.5], abs=0.1)
    assert by[1] == pytest.approx([0, 0, 0, 0.5], abs=0.1)


def test_platt_recovers_a_known_recalibration() -> None:
    rng = np.random.default_rng(5)
    raw = rng.normal(-3, 1, 40_000)
    y = (rng.random(len(raw)) < 1 / (1 + np.exp(-(0.5 + 0.6 * raw)))).astype(float)
    a, b = fit_platt(raw, y, np.ones(len(raw)))
    assert (a, b) == pytest.approx((0.5, 0.6), abs=0.08)
    # a weight of 2 on every row is the same data counted twice: the same fit
    assert fit_platt(raw, y, np.full(len(raw), 2.0)) == pytest.approx((a, b), abs=1e-3)


def test_the_person_period_cap_follows_the_fit_size() -> None:
    from training.survival import period_row_cap

    assert period_row_cap(10_000) == 400_000  # a small table keeps every person-period
    assert period_row_cap(600_000) == 600_000  # as many as the snapshot rows
    assert period_row_cap(2_000_000) == 1_500_000


def _one_prediction(fit, x: np.ndarray) -> np.ndarray:
    """The curve's hazards the way they were computed before the booster was split: one
    prediction of every tree on every (row, period)."""
    from features.survival_bundle import hazard_probability

    stacked = fit.scorer.stacked(x)
    raw = fit.booster.predict(stacked, raw_score=True)
    return hazard_probability(raw, fit.platt).reshape(len(x), fit.periods)


def test_split_scoring_gives_the_curves_of_one_prediction_over_every_period() -> None:
    """A fitted model with the renewal cycle, a categorical feature and missing values: the
    split booster (``features.survival_bundle.PeriodSplit``) draws the same curves as one
    prediction of the whole booster on every period, while predicting fewer rows."""
    rng = np.random.default_rng(6)
    n = 5000
    renewal = rng.integers(0, 400, n).astype(float)
    term = rng.choice([30.0, 365.0, np.nan], n, p=[0.3, 0.6, 0.1])
    renewal[rng.random(n) < 0.05] = np.nan
    plan = rng.integers(0, 4, n).astype(float)
    usage = np.where(rng.random(n) < 0.2, 0.0, rng.normal(size=n))
    usage[rng.random(n) < 0.1] = np.nan
    at_renewal = rng.random(n) < 0.3 + 0.1 * plan
    churn_days = np.where(
        at_renewal & ~np.isnan(renewal),
        renewal,
        rng.integers(0, 500, n) - 30 * np.nan_to_num(usage),
    )
    observed = (churn_days < 420).astype(float)
    churn_days = np.clip(np.where(observed == 1, churn_days, 420.0), 0, None)
    x = np.column_stack([usage, renewal, plan, term])
    names = ["usage", "days_to_renewal", "plan", "term_length_days"]
    rows = np.arange(n)
    # past the tree cap: this model's trees that read no period column come late
    fit = fit_survival(
        x, names, [2], churn_days, observed, np.full(n, 420.0), rows[:4000], rows[4000:],
        threads=1, max_trees=2000,
    )  # fmt: skip
    assert fit.cycle == [1, 3]
    probe = x[4000:]
    np.testing.assert_allclose(fit.hazards(probe), _one_prediction(fit, probe), rtol=0, atol=1e-9)
    parts = fit.scorer.split.parts
    assert sum(p.booster.num_trees() for p in parts) == fit.booster.num_trees()
    # trees that read no period column, and trees that do, each predicted on fewer rows
    assert any(not p.columns for p in parts) and any(p.columns for p in parts)
    block = fit.scorer.period_block(probe)
    assert np.array_equal(block, fit.scorer.stacked(probe)[:, probe.shape[1] :], equal_nan=True)
    for part in parts:
        distinct = len(np.unique(part.keys(block, probe.shape[1], fit.periods)))
        assert distinct < len(block)
