"""Time to churn: a discrete-time hazard model on LightGBM, giving a risk curve per account.

Each snapshot row becomes one person-period row per 30-day period after the snapshot that it
was observed through (period k spans days [30k, 30k + 30)); the row's label in period k is 1
when the account churned in that period, and the row stops there. LightGBM fits the hazard
h_k(x) = P(churn in period k | no churn before it, features x) on the features plus the
period number. The curve is S(30k) = prod_{j < k} (1 - h_j): monotone non-increasing by
construction, and P(churn by d) = 1 - S(d) with a constant hazard inside a period (so
S(d) = S(30k) * (1 - h_k) ** ((d - 30k) / 30)). Thirteen periods cover 390 days.

Censoring: a snapshot's follow-up is the days from t to the as-of date minus the grace (the
last day a churn can be confirmed). Only periods that end within the follow-up enter the fit,
for churned and censored rows alike: keeping a churn inside a half-seen period while
dropping the survivors of that period would inflate its hazard.

A churn date sits mostly at a contract's end, which is known at t: ``days_to_renewal`` is
also given to each period as a countdown from the period's start (days_to_renewal - 30k), so
a single split finds "the renewal falls in this period" (``COUNTDOWN_FEATURES``), and with
``term_length_days`` the renewal cycle (``features.survival_bundle.cycle_columns``: days to
the next renewal on or after the period's start, one inside the period, renewals passed), so
a monthly term's renewals and an annual term's second one are seen too. Both use nothing the
snapshot does not know. Measured out of time (docs/training.md): the cycle lowers the IBS
(0.0634 -> 0.0629 on the bench's test rows, the same on two fit seeds) and lifts the AUC at
365 days by 0.002-0.004.

The booster is early-stopped on the log loss of the person-periods of held-out accounts and
grows at most ``MAX_TREES`` trees: a larger one fits those accounts' months better without
curves that are better out of time, and each tree costs every served curve.

The hazards are recalibrated (Platt: sigmoid(a + b * raw score)) on the person-periods of the
held-out accounts that stop the boosting: trees overshoot on the riskiest rows, and the curve
multiplies that error period after period.

Periods of rows that did not churn are sampled down to a cap (``period_row_cap``: 1 x the
fit's snapshot rows, at least 400,000, at most 1,500,000) with weight 1 / share, so the fit's
cost stays within about 3 x the churn classifier's on large tables; the weighted log loss
keeps the hazards unbiased.

The 180-day point and ``churn_180d``: the API's ``churn_probability`` stays the calibrated
``churn_180d`` classifier (it carries the gate, the calibration and the SHAP reasons). A curve
is anchored to it by ``anchor_curve``: S'(d) = S(d) ** k with k = log(1 - p180) / log S(180),
a proportional change of the cumulative hazard that keeps the curve monotone, in [0, 1], and
puts its 180-day point exactly on the calibrated score. Expansion is not modelled as a
competing event: an expanding account stays at risk of churning later.

Labels look at the future on purpose; the features are the snapshot's (see ``features``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit

from features.model_bundle import FeatureColumn
from features.survival_bundle import (
    CYCLE_COLUMNS,
    CYCLE_FEATURES,
    HORIZONS_DAYS,
    PERIOD_DAYS,
    PERIODS,
    SurvivalBundle,
    anchor_curve,
    churn_by,
    period_matrix,
)
from training.errors import TrainingError
from training.model import DEFAULT_PARAMS, per_fit_params

__all__ = [
    "HORIZONS_DAYS",
    "PERIODS",
    "PERIOD_DAYS",
    "anchor_curve",
    "churn_by",
    "fit_survival",
    "followup_days",
    "period_matrix",
    "person_periods",
]

if TYPE_CHECKING:
    import lightgbm as lgb

ANCHOR_DAYS = 180
MAX_PERIOD_ROWS = 1_500_000
MIN_PERIOD_ROWS = 400_000
PERIOD_ROWS_PER_ROW = 1.0
"""The fit's person-periods are capped at ``PERIOD_ROWS_PER_ROW`` x its snapshot rows,
within [``MIN_PERIOD_ROWS``, ``MAX_PERIOD_ROWS``] (``period_row_cap``): small tables keep
every person-period; at 500,000 snapshot rows (400,000 fit rows) the fit costs about 2.9 x
the churn classifier's (``python -m bench.survival_speed``: 3.05 x at 600,000 periods, 3.64 x
at 800,000, the earlier 2 x the rows, with the slower learning rate's ~600 trees, before
``MAX_TREES``)."""


def period_row_cap(fit_rows: int) -> int:
    """The person-period rows a fit on ``fit_rows`` snapshot rows keeps at most."""
    return int(np.clip(PERIOD_ROWS_PER_ROW * fit_rows, MIN_PERIOD_ROWS, MAX_PERIOD_ROWS))


COUNTDOWN_FEATURES = ("days_to_renewal",)
"""Features in days to a known future date: each period also sees them minus its start."""
SURVIVAL_PARAMS: dict[str, Any] = {
    **DEFAULT_PARAMS,
    # The hazard is a probability the curve multiplies: no class weights, and a logloss fit.
    "objective": "binary",
    # A monotone period effect would forbid a hazard that peaks at a renewal; leave it free.
    "monotone_constraints_method": "basic",
    # Smaller, slower, more regularised trees than the classifiers': a month's churn is a
    # rare, noisy event, and the long horizons rest on few person-periods. Measured out of
    # time on the survival bench's source against the classifiers' parameters: Uno's C 0.669
    # -> 0.678, IBS 0.0644 -> 0.0629, AUC at 365 days 0.677 -> 0.686, worst 180-day decile
    # 0.056 -> 0.029 (docs/training.md, "Time to churn").
    "learning_rate": 0.02,
    "num_leaves": 7,
    "max_depth": 3,
    "lambda_l2": 10.0,
}
MAX_TREES = 150
"""The hazard booster stops at ``MAX_TREES`` trees when early stopping has not stopped it
before. Early stopping watches the log loss of the held-out accounts' person-periods (their
curves' censored likelihood), but those accounts live in the same months as the fit's: at
learning rate 0.02 that loss still falls by millionths per tree long after the curves stop
improving out of time, so where it stopped (188 to 590 trees over five fit seeds on the
survival bench's source) was chance, and every tree costs each served curve. Chosen by
measurement (docs/training.md, "How many hazard trees": the registered path out of time,
five fit seeds, caps 100 / 150 / 200 and learning rate 0.05): at 150 no curve metric is
worse than uncapped beyond the seeds' noise (Uno's C +0.0006, td-AUC 90 / 180 / 365
+0.003 / +0.004 / +0.001, IBS -0.0002, worst decile at 180 days -0.006, on average), the
anchored curve serving shows gains (IBS 0.081 -> 0.070), and a curve adds 0.18-0.25 of an
account's scoring cost (CPU) instead of 0.23-0.64; at 100 Uno's C and the 365-day AUC start
to fall. The open cost: on the survival bench's own fit (one other split, three seeds) the
unanchored curve's worst 90-day decile is 1.2 points worse (0.033 -> 0.045), the served
(anchored) curve's is not."""
EARLY_STOPPING_ROUNDS = 30


def followup_days(snapshot_date: np.ndarray, as_of: date, grace_days: int) -> np.ndarray:
    """Days from each snapshot to ``as_of - grace`` (the last day a churn can be confirmed);
    negative when the snapshot is later than that."""
    last = np.datetime64(as_of, "D") - np.timedelta64(grace_days, "D")
    return np.asarray((last - snapshot_date.astype("datetime64[D]")).astype(np.int64))


@dataclass(frozen=True)
class PersonPeriods:
    """The person-period rows: the snapshot row each came from, its period, its label and
    its weight (1 / sampling share)."""

    row: np.ndarray
    period: np.ndarray
    churned: np.ndarray
    weight: np.ndarray


def person_periods(
    churn_days: np.ndarray,
    observed: np.ndarray,
    followup: np.ndarray,
    periods: int = PERIODS,
    period_days: int = PERIOD_DAYS,
    max_rows: int | None = None,
    seed: int = 0,
) -> PersonPeriods:
    """One row per (snapshot row, period k) with the period fully observed
    ((k + 1) * period_days <= followup + 1) and no churn before it; churned = 1 in the period
    holding ``churn_days`` of an observed churn. Rows with a null time (NaN) give none.

    With ``max_rows``, periods without a churn are sampled down to fit, weighted 1 / share."""
    churn_days = np.asarray(churn_days, dtype=float)
    observed = np.nan_to_num(np.asarray(observed, dtype=float)) > 0
    followup = np.asarray(followup, dtype=float)
    known = ~np.isnan(churn_days)
    complete = np.where(known, np.floor((followup + 1) / period_days), 0).clip(0, periods)
    churn_period = np.where(observed & known, np.floor(churn_days / period_days), np.inf)
    # periods 0 .. last-1 are at risk; the churn period is the last one a row contributes
    count = np.minimum(complete, churn_period + 1).astype(np.int64)
    row = np.repeat(np.arange(len(churn_days)), count)
    start = np.repeat(np.cumsum(count) - count, count)
    period = np.arange(len(row)) - start
    churned = (period == churn_period[row]).astype(np.float64)
    weight = np.ones(len(row))
    if max_rows is not None and len(row) > max_rows:
        events = int(churned.sum())
        share = max((max_rows - events) / max(len(row) - events, 1), 1e-6)
        rng = np.random.default_rng(seed)
        keep = (churned == 1) | (rng.random(len(row)) < share)
        weight = np.where(churned == 1, 1.0, 1.0 / share)[keep]
        row, period, churned = row[keep], period[keep], churned[keep]
    return PersonPeriods(row, period.astype(np.float64), churned, weight)


@dataclass
class SurvivalFit:
    """A fitted hazard booster: features in ``feature_names`` order, then the period."""

    booster: lgb.Booster
    feature_names: list[str]
    best_iteration: int
    seconds: float
    person_period_rows: int
    countdown: list[int] = field(default_factory=list)
    """Column indices of the ``COUNTDOWN_FEATURES`` present."""
    cycle: list[int] = field(default_factory=list)
    """Column indices of ``CYCLE_COLUMNS`` (days to renewal, term length) when both are
    present and the fit uses the renewal cycle, else []."""
    platt: tuple[float, float] = (0.0, 1.0)
    """Hazard = sigmoid(a + b * raw score), (a, b) fit on the held-out person-periods."""
    periods: int = PERIODS
    period_days: int = PERIOD_DAYS
    params: dict[str, Any] = field(default_factory=dict)

    def bundle(
        self, columns: Sequence[FeatureColumn], metadata: dict[str, Any] | None = None
    ) -> SurvivalBundle:
        """The fit as a survival bundle (``features.survival_bundle``) over ``columns``
        (the encoded columns, in ``feature_names`` order)."""
        return SurvivalBundle(
            columns=list(columns),
            booster=self.booster,
            countdown=list(self.countdown),
            cycle=list(self.cycle),
            platt=self.platt,
            periods=self.periods,
            period_days=self.period_days,
            metadata=dict(metadata or {}),
        )

    @cached_property
    def scorer(self) -> SurvivalBundle:
        """The fit as a bundle without columns, for its hazards (built once: it splits the
        booster's trees on first use, ``features.survival_bundle.PeriodSplit``)."""
        return self.bundle([])

    def hazards(self, matrix: np.ndarray, num_threads: int = 0) -> np.ndarray:
        """(rows, periods) P(churn in period k | no churn before it)."""
        return self.scorer.hazards(matrix, num_threads)

    def churn_by(
        self, matrix: np.ndarray, days: Sequence[float] = HORIZONS_DAYS, num_threads: int = 0
    ) -> np.ndarray:
        """(rows, len(days)) P(churn by d), non-decreasing along ``days``."""
        return churn_by(self.hazards(matrix, num_threads), days, self.period_days)


def fit_platt(raw: np.ndarray, y: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """(a, b) of P(y) = sigmoid(a + b * raw) by weighted maximum likelihood (Newton steps on
    the two parameters, starting from the identity)."""
    design = np.column_stack([np.ones(len(raw)), raw])
    theta = np.array([0.0, 1.0])
    for _ in range(50):
        p = expit(design @ theta)
        gradient = design.T @ (weight * (y - p))
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design
        step = np.linalg.solve(hessian + 1e-9 * np.eye(2), gradient)
        theta = theta + step
        if np.abs(step).max() < 1e-10:
            break
    return float(theta[0]), float(theta[1])


def fit_survival(
    matrix: np.ndarray,
    feature_names: Sequence[str],
    categorical: Sequence[int],
    churn_days: np.ndarray,
    observed: np.ndarray,
    followup: np.ndarray,
    fit_rows: np.ndarray,
    valid_rows: np.ndarray,
    seed: int = 0,
    threads: int = 0,
    max_period_rows: int | None = None,
    params: dict[str, Any] | None = None,
    renewal_cycle: bool = True,
    max_trees: int = MAX_TREES,
) -> SurvivalFit:
    """Fit the hazard booster on the person-periods of ``fit_rows``, early-stopped on the
    log loss of those of ``valid_rows`` (snapshot rows of other accounts or a later time),
    ``max_trees`` trees at most (``MAX_TREES``; all of them without validation rows).

    ``followup`` is each row's days to the as-of minus the grace as of the training cut:
    nothing after it may be in ``churn_days``/``observed``. ``renewal_cycle``: give each
    period the renewal cycle (``features.survival_bundle.cycle_columns``) when the features
    have days to renewal and the term length."""
    import lightgbm as lgb

    started = time.perf_counter()
    sets = []
    cap_fit = max_period_rows or period_row_cap(len(fit_rows))
    for rows, cap in ((np.asarray(fit_rows), cap_fit), (np.asarray(valid_rows), None)):
        pp = person_periods(
            churn_days[rows], observed[rows], followup[rows], max_rows=cap, seed=seed
        )
        sets.append((rows[pp.row], pp))
    (fit_index, fit_pp), (valid_index, valid_pp) = sets
    if fit_pp.churned.sum() == 0:
        raise TrainingError(
            f"no churn among the {len(fit_index)} person-periods of the fit rows; "
            "the survival model needs churns with their follow-up"
        )
    full = {
        **per_fit_params(SURVIVAL_PARAMS, len(fit_index), params, seed),
        "num_threads": threads or (1 if len(fit_index) < 200_000 else 0),
    }
    countdown = [j for j, name in enumerate(feature_names) if name in COUNTDOWN_FEATURES]
    names = [*feature_names, "period", *[f"{feature_names[j]}_from_period" for j in countdown]]
    cycle = [list(feature_names).index(c) for c in CYCLE_COLUMNS if c in feature_names]
    if renewal_cycle and len(cycle) == len(CYCLE_COLUMNS):
        names += list(CYCLE_FEATURES)
    else:
        cycle = []
    dataset_params = {"max_bin": 255, "verbose": -1, "feature_pre_filter": False}

    def stack(index: np.ndarray, pp: PersonPeriods) -> lgb.Dataset:
        x = period_matrix(matrix[index], pp.period, countdown, PERIOD_DAYS, cycle)
        return lgb.Dataset(
            x,
            label=pp.churned,
            weight=pp.weight,
            feature_name=names,
            categorical_feature=list(categorical),
            params=dataset_params,
            free_raw_data=True,
        )

    train_set = stack(fit_index, fit_pp)
    valid_sets: list[lgb.Dataset] = []
    callbacks: list[Callable[..., Any]] = []
    if len(valid_index) and valid_pp.churned.sum() > 0:
        valid_sets = [stack(valid_index, valid_pp).set_reference(train_set)]
        callbacks = [lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)]
    booster = lgb.train(
        {**full, "metric": "binary_logloss"},
        train_set,
        num_boost_round=max_trees,
        valid_sets=valid_sets,
        callbacks=callbacks,
    )
    best = int(booster.best_iteration or booster.current_iteration())
    trimmed = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    platt = (0.0, 1.0)
    if valid_sets:
        raw = trimmed.predict(
            period_matrix(matrix[valid_index], valid_pp.period, countdown, PERIOD_DAYS, cycle),
            raw_score=True,
        )
        platt = fit_platt(np.asarray(raw, dtype=np.float64), valid_pp.churned, valid_pp.weight)
    return SurvivalFit(
        booster=trimmed,
        feature_names=list(feature_names),
        best_iteration=best,
        seconds=time.perf_counter() - started,
        person_period_rows=len(fit_index),
        countdown=countdown,
        cycle=cycle,
        platt=platt,
        params=full,
    )
