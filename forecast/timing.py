"""When an account can churn: P(churn within a horizon) per account, from the best input the
scores carry. Three ways, the first that applies (``churn_within``):

1. **survival curve** — the survival model's P(churn by d) at d = 30, 60, 90, 180, 270 and
   365 days (the score table's ``churn_by_<d>d`` columns, anchored to the 180-day score by
   serving), read at the horizon's day count: linear in the cumulative hazard
   -log(1 - P) between two points (a constant hazard inside each gap, from 0 at day 0),
   the last gap's hazard past day 365 (``from_curve``);
2. **180-day score at the renewal dates** — churn happens when a term ends (the data
   contract's churn date is a subscription's end), and the score table knows the days to
   the next term end. The 180-day probability p is the risk of the renewals inside its 180
   days: with the next renewal r days away and terms of L days (``term_length_days`` when
   known, else one renewal), those are r, r + L, ... < 180; each carries
   q = 1 - (1 - p) ** (1 / n) (n of them), and P(churn within D days) = 1 - (1 - q) ** k
   with k the renewals before D (``at_renewals``). An account whose next renewal lies past
   180 days has a score that cannot see it: its renewals inside D carry the mean q of the
   scored accounts that renew inside 180 days (``renewal_prior``); before its first
   renewal its own p spreads at a constant hazard (a churn between term ends). An account
   without a known renewal takes 3.;
3. **180-day score at a constant hazard** — m = 1 - (1 - p) ** (1 / 5.91) per month of
   30.44 days, P(churn within h months) = 1 - (1 - m) ** h (``constant_hazard``).

The horizon is counted in days from the scores' snapshot date to the same day h calendar
months later (``horizon_days``): a term ending on that day falls in the next month. Pure
functions: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

LABEL_DAYS = 180
CURVE_DAYS = (30, 60, 90, 180, 270, 365)
"""The days of the survival curve's columns (``features.survival_bundle.HORIZONS_DAYS``)."""
CURVE_COLUMNS = tuple(f"churn_by_{d}d" for d in CURVE_DAYS)
SURVIVAL = "survival curve"
RENEWALS = "180-day score at the renewal dates"
CONSTANT = "180-day score at a constant hazard"
EPS = 1e-12


def horizon_days(start: date, months: int) -> int:
    """Days from ``start`` to the same day ``months`` calendar months later (the last day of
    that month when it is shorter)."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    last = (pd.Timestamp(year=year, month=month + 1, day=1) + pd.offsets.MonthEnd(0)).day
    return (date(year, month + 1, min(start.day, last)) - start).days


def constant_hazard(p_label: np.ndarray, days: float) -> np.ndarray:
    """P(churn within ``days``) from the 180-day probability at a constant hazard."""
    p = np.clip(np.asarray(p_label, dtype=float), 0.0, 1.0 - EPS)
    return np.asarray(1.0 - (1.0 - p) ** (days / LABEL_DAYS))


def from_curve(
    curve: np.ndarray, days: float, curve_days: Sequence[float] = CURVE_DAYS
) -> np.ndarray:
    """P(churn within ``days``) per row of ``curve`` ((rows, len(curve_days)): P(churn by d),
    non-decreasing), linear in the cumulative hazard between the curve's days (and from 0 at
    day 0), the last gap's hazard beyond its last day."""
    curve = np.clip(np.asarray(curve, dtype=float), 0.0, 1.0 - EPS)
    knots = np.array([0.0, *curve_days], dtype=float)
    cumulative = np.column_stack([np.zeros(len(curve)), -np.log1p(-curve)])
    cumulative = np.maximum.accumulate(cumulative, axis=1)  # a curve is never less at a later day
    j = int(np.clip(np.searchsorted(knots, days, side="right") - 1, 0, len(knots) - 2))
    slope = (cumulative[:, j + 1] - cumulative[:, j]) / (knots[j + 1] - knots[j])
    value = cumulative[:, j] + slope * (days - knots[j])
    return np.asarray(1.0 - np.exp(-np.maximum(value, 0.0)))


def renewals_before(
    days_to_renewal: np.ndarray, term_days: np.ndarray | None, days: float
) -> np.ndarray:
    """How many term ends fall in [0, ``days``): the next one at ``days_to_renewal``, then
    every ``term_days`` (one only when the term is unknown or not positive)."""
    r = np.asarray(days_to_renewal, dtype=float)
    term = np.full(len(r), np.nan) if term_days is None else np.asarray(term_days, dtype=float)
    inside = r < days
    repeat = np.where(term > 0, np.floor((days - 1 - r) / np.where(term > 0, term, 1.0)), 0.0)
    return np.where(inside, 1 + np.maximum(repeat, 0.0), 0.0).astype(int)


def renewal_prior(
    p_label: np.ndarray, days_to_renewal: np.ndarray, term_days: np.ndarray | None = None
) -> float:
    """The mean churn probability per renewal of the accounts whose renewals fall inside the
    180 days (0 when none does): what an unseen renewal carries."""
    n = renewals_before(days_to_renewal, term_days, LABEL_DAYS)
    seen = n > 0
    if not seen.any():
        return 0.0
    p = np.clip(np.asarray(p_label, dtype=float)[seen], 0.0, 1.0 - EPS)
    return float(np.mean(1.0 - (1.0 - p) ** (1.0 / n[seen])))


def at_renewals(
    p_label: np.ndarray,
    days_to_renewal: np.ndarray,
    days: float,
    term_days: np.ndarray | None = None,
    prior: float | None = None,
) -> np.ndarray:
    """P(churn within ``days``) with each account's 180-day probability placed on its term
    ends (module docs); rows whose renewal is unknown (NaN) keep the constant hazard.
    ``prior``: the churn probability of a renewal the score cannot see (default
    ``renewal_prior`` of these rows)."""
    p = np.clip(np.asarray(p_label, dtype=float), 0.0, 1.0 - EPS)
    r = np.asarray(days_to_renewal, dtype=float)
    known = ~np.isnan(r)
    r_known = np.where(known, np.maximum(r, 0.0), np.inf)
    term = None if term_days is None else np.asarray(term_days, dtype=float)
    if prior is None:
        prior = renewal_prior(p[known], r_known[known], None if term is None else term[known])
    seen = renewals_before(r_known, term, LABEL_DAYS)
    inside = renewals_before(r_known, term, days)
    per_renewal = np.where(seen > 0, 1.0 - (1.0 - p) ** (1.0 / np.maximum(seen, 1)), prior)
    out = 1.0 - (1.0 - per_renewal) ** inside
    # beyond the score's reach (no renewal in its 180 days): its own p before the first term
    # end, at a constant hazard
    between = seen == 0
    out = np.where(
        between,
        1.0 - (1.0 - out) * (1.0 - constant_hazard(p, min(days, LABEL_DAYS))),
        out,
    )
    return np.where(known, out, constant_hazard(p, days))


def churn_within(scores: pd.DataFrame, days: float) -> tuple[np.ndarray, str]:
    """P(churn within ``days``) of each row of a score table and the way it was found: the
    survival curve when the table has its columns (no nulls), else the renewal dates when it
    has ``days_to_renewal``, else the constant hazard (module docs)."""
    p = scores["churn_probability"].to_numpy(dtype=float)
    if all(c in scores.columns for c in CURVE_COLUMNS):
        curve = scores[list(CURVE_COLUMNS)].to_numpy(dtype=float)
        if len(curve) and not np.isnan(curve).any():
            return from_curve(curve, days), SURVIVAL
    if "days_to_renewal" in scores.columns:
        r = pd.to_numeric(scores["days_to_renewal"], errors="coerce").to_numpy(dtype=float)
        if len(r) and not np.isnan(r).all():
            term = (
                pd.to_numeric(scores["term_length_days"], errors="coerce").to_numpy(dtype=float)
                if "term_length_days" in scores.columns
                else None
            )
            return at_renewals(p, r, days, term), RENEWALS
    return constant_hazard(p, days), CONSTANT
