"""The effect estimator on a data-generating process with known confounding and effect."""

from __future__ import annotations

import numpy as np
import pytest

from bench.effects_dgp import Dgp, make_dgp
from training.effects.estimate import Estimate, EvidenceRules, clustered_se, estimate_cell
from training.effects.nuisance import (
    CrossFitOptions,
    account_folds,
    cross_fit_outcomes,
    cross_fit_propensity,
)
from training.effects.uplift import fit_dr_learner, pehe, predict_uplift, t_learner

RULES = EvidenceRules()


def _nuisances(d: Dgp, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    options = CrossFitOptions(seed=seed)
    folds = account_folds(d.groups, options.folds, seed)
    e = cross_fit_propensity(d.x, d.t, folds, options)
    m0, m1 = cross_fit_outcomes(d.x, d.t, d.y, folds, options)
    return e, m0, m1


def _estimate(d: Dgp, rules: EvidenceRules = RULES) -> Estimate:
    e, m0, m1 = _nuisances(d)
    return estimate_cell(d.y, d.t, e, m0, m1, d.groups, rules)


@pytest.fixture(scope="module")
def confounded() -> tuple[Dgp, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    d = make_dgp(seed=1, accounts=1200)
    return d, _nuisances(d, seed=1)


def test_naive_difference_is_biased_and_the_dr_interval_covers_the_truth(confounded) -> None:
    d, (e, m0, m1) = confounded
    est = estimate_cell(d.y, d.t, e, m0, m1, d.groups, RULES)
    assert est.evidence == "ok"
    assert est.naive is not None and est.naive - d.true_att > 0.1  # risky rows get the play
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low <= d.true_att <= est.ci_high
    assert not est.ci_low <= est.naive <= est.ci_high
    assert est.ate_low is not None and est.ate_high is not None
    assert est.ate_low <= float(d.tau.mean()) <= est.ate_high


def test_the_treated_rate_is_that_of_the_treated_rows_inside_the_overlap(confounded) -> None:
    d, (e, m0, m1) = confounded
    rules = EvidenceRules(trim=0.2)  # trims about 100 of the 1,380 treated rows
    est = estimate_cell(d.y, d.t, e, m0, m1, d.groups, rules)
    kept = (d.t == 1) & (e <= 1 - rules.trim)
    assert est.n_trimmed_treated > 50
    assert est.treated_rate == pytest.approx(float(d.y[kept].mean()))
    assert est.treated_rate != pytest.approx(float(d.y[d.t == 1].mean()))


def test_an_inert_play_gets_an_interval_holding_zero() -> None:
    est = _estimate(make_dgp(seed=2, accounts=1000, effect_size=0.0))
    assert est.evidence == "ok"
    assert est.naive is not None and est.naive > 0.1
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low <= 0.0 <= est.ci_high


def test_no_overlap_is_not_enough_evidence() -> None:
    est = _estimate(make_dgp(seed=3, accounts=800, overlap=False))
    assert est.evidence == "not enough evidence"
    assert est.effect is None and est.ci_low is None
    assert est.reason is not None and est.reason.startswith("no overlap")


def test_too_few_runs_is_not_enough_evidence() -> None:
    d = make_dgp(seed=4, accounts=800)
    keep = np.ones(len(d.t), dtype=bool)
    treated = np.flatnonzero(d.t == 1)
    keep[treated[20:]] = False  # 20 treated rows left
    small = Dgp(d.x[keep], d.t[keep], d.y[keep], d.groups[keep], d.tau[keep], d.segment[keep])
    est = _estimate(small)
    assert est.effect is None
    assert est.reason == "too few runs: 20 treated rows (at least 30)"


def test_dr_learner_beats_the_t_learner(confounded) -> None:
    d, (e, m0, m1) = confounded
    dr = predict_uplift(fit_dr_learner(d.x, d.y, d.t, e, m0, m1, RULES.trim, seed=1), d.x)
    two_models = t_learner(d.x, d.y, d.t, d.x, seed=1)
    assert pehe(dr, d.tau) < 0.85 * pehe(two_models, d.tau)
    # and it ranks where the play helps most: x3 > 0 has three times the effect
    assert dr[d.x[:, 3] > 0].mean() < dr[d.x[:, 3] <= 0].mean() - 0.05


def test_clustered_se_counts_an_account_once() -> None:
    rng = np.random.default_rng(0)
    phi = rng.normal(size=200)
    phi -= phi.mean()
    alone = clustered_se(phi, np.arange(200))
    # each row copied three times inside its account: three times the rows, no more information
    copied = clustered_se(np.repeat(phi, 3), np.repeat(np.arange(200), 3))
    assert copied == pytest.approx(alone)
    # read as independent rows, the copies would look sqrt(3) times more precise
    assert clustered_se(np.repeat(phi, 3), np.arange(600)) < 0.6 * alone


def test_a_cell_whose_treated_rows_hold_a_handful_of_outcomes_is_refused() -> None:
    # 40 treated rows, none churned, where about 4 would have: a normal interval from the
    # residuals' spread would be spuriously tight (the case of an inert play on seed 102)
    rng = np.random.default_rng(4)
    n = 2000
    t = (np.arange(n) < 40).astype(np.int64)
    e = np.full(n, 0.02)
    m0 = np.full(n, 0.1)
    y = np.where(t == 1, 0.0, (rng.random(n) < 0.1).astype(float))
    groups = np.arange(n)
    est = estimate_cell(y, t, e, m0, m0, groups, RULES)
    assert est.evidence == "not enough evidence" and est.effect is None
    assert est.reason is not None and est.reason.startswith("too few outcomes: 0 of 40")
    y[:6] = 1.0  # 6 churned: enough
    assert estimate_cell(y, t, e, m0, m0, groups, RULES).evidence == "ok"
