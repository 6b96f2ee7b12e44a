"""Subscriptions as a monthly chain: first terms, renewals as new rows, churn at a term end,
late renewals, mid-term add-ons, seat changes at renewal and reactivations.

Every decision reads the latent state of the month (``simulator.latent``), never an
observable. ``step_commercial`` is the one implementation used by the history and by the
oracle's rollouts; it returns ``Movements``: the rows the history writes as subscriptions,
and the two things the labels need, churn days and MRR levels (the account's total MRR from
a day on).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.arrays import Arrays, logit, sigmoid
from simulator.config import SimulationConfig
from simulator.dates import add_months
from simulator.latent import LatentState, SegmentArrays
from simulator.shifts import churn_offset, regime_offset

PROSPECT, CUSTOMER, CHURNED = 0, 1, 2
NEW, RENEWAL, REACTIVATION = 0, 1, 2
QUOTA_HEADROOM = 1.1
"""A term's quota entitles 10% more units than the seats' typical use."""


@dataclass
class CommercialState(Arrays):
    status: np.ndarray  # int8: PROSPECT, CUSTOMER (current or booked term) or CHURNED
    first_day: np.ndarray  # int64 day the first term starts (prospects)
    term_months: np.ndarray  # int16: 1, 12, 24 or 36
    price: np.ndarray  # per seat and month
    term_start: np.ndarray  # int64 day
    term_end: np.ndarray  # int64 day (exclusive)
    seats: np.ndarray  # int64 seats of the base line of the term
    base_mrr: np.ndarray
    module_mrr: np.ndarray  # a cross-sold module line, renewed with the term (0: none)
    addon_seats: np.ndarray  # int64 seats added mid-term (co-termed lines)
    addon_mrr: np.ndarray
    quota: np.ndarray  # units entitled over the base line's term
    churn_day: np.ndarray  # int64 day of the latest churn (-1: never)
    offer: np.ndarray  # churn log-odds taken off at the next term end (a play; 0: none)
    push: np.ndarray  # log-odds added to a mid-term add-on, halving monthly (a play; 0: none)

    @property
    def total_mrr(self) -> np.ndarray:
        return self.base_mrr + self.module_mrr + self.addon_mrr

    def mrr_on(self, day: int) -> np.ndarray:
        """Account MRR on ``day``, valid for a day before the month the state is about to enter
        (the state then holds every line that can cover it)."""
        covered = (self.status == CUSTOMER) & (self.term_start <= day) & (self.term_end > day)
        return np.where(covered, self.total_mrr, 0.0)


@dataclass
class Movements:
    """What one month did. ``level_*``: the account's total MRR from ``level_day`` on."""

    churn_idx: np.ndarray
    churn_day: np.ndarray
    level_idx: np.ndarray
    level_day: np.ndarray
    level: np.ndarray
    cover_lo: np.ndarray
    """First day of the month the account used the product (== cover_hi: not at all)."""
    cover_hi: np.ndarray
    starts: dict[str, np.ndarray] = field(default_factory=dict)
    """Terms begun (new, renewal, reactivation): idx, kind, day, end, seats, base_mrr,
    module_mrr, quota, gap."""
    addons: dict[str, np.ndarray] = field(default_factory=dict)
    """Mid-term lines: idx, day, end, seats (0 for a module), mrr, module."""


def cents(amount: np.ndarray) -> np.ndarray:
    """Money is held in cents, exactly as written, so the chain's MRR comparisons are the
    ones the labels make on the written subscriptions."""
    return np.round(amount, 2)


def quota_for(seats: np.ndarray, term_months: np.ndarray, config: SimulationConfig) -> np.ndarray:
    return config.units_per_seat_month * QUOTA_HEADROOM * seats * term_months


def churn_logit(
    lat: LatentState, monthly: np.ndarray, config: SimulationConfig, seg: SegmentArrays
) -> np.ndarray:
    """Log-odds of churn at a term end, from the latent state of the month the term ends in
    (``monthly``: the term is one month long, so it decides every month at lower odds)."""
    p = config.chain
    return (
        seg.churn_intercept[lat.segment]
        + p.churn_monthly_offset * monthly
        + p.churn_health * lat.health
        + p.churn_adoption * (lat.adoption - 0.6)
        + p.churn_champion * lat.champion
        + p.churn_stress * lat.stress
        + p.churn_growth * lat.growth
    )


def step_commercial(
    com: CommercialState,
    lat: LatentState,
    month_start: int,
    month_end: int,
    config: SimulationConfig,
    seg: SegmentArrays,
    rng: np.random.Generator,
) -> Movements:
    """Apply one month [month_start, month_end) of commercial decisions to ``com`` in place."""
    p = config.chain
    n = len(com)
    u = rng.random((12, n))
    d0, d1 = month_start, month_end
    s = lat.segment
    adoption = lat.adoption
    need = lat.need
    status0 = com.status.copy()
    churn_parts: list[tuple[np.ndarray, np.ndarray]] = []
    level_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    start_parts: list[dict[str, np.ndarray]] = []
    cover_lo = np.where(status0 == CUSTOMER, d0, d1).astype(np.int64)
    cover_hi = np.full(n, d1, dtype=np.int64)

    def start_terms(idx: np.ndarray, kind: int, day: np.ndarray, seats: np.ndarray, gap) -> None:
        term = com.term_months[idx]
        end = add_months(day, term)
        com.status[idx] = CUSTOMER
        com.term_start[idx] = day
        com.term_end[idx] = end
        com.seats[idx] = seats
        com.base_mrr[idx] = cents(seats * com.price[idx])
        com.addon_seats[idx] = 0
        com.addon_mrr[idx] = 0.0
        com.quota[idx] = quota_for(seats, term, config)
        level_parts.append((idx, day, com.total_mrr[idx]))
        start_parts.append(
            {
                "idx": idx,
                "kind": np.full(len(idx), kind, dtype=np.int8),
                "day": day,
                "end": end,
                "seats": seats.astype(np.int64),
                "base_mrr": com.base_mrr[idx],
                "module_mrr": com.module_mrr[idx],
                "quota": com.quota[idx],
                "gap": np.broadcast_to(gap, len(idx)).astype(np.int64),
            }
        )

    # 1. First terms of new customers (their seats and price were set at signature).
    new = np.flatnonzero((com.status == PROSPECT) & (com.first_day < d1))
    if len(new):
        start_terms(new, NEW, com.first_day[new], com.seats[new], 0)
        cover_lo[new] = com.first_day[new]

    # 2. Term ends this month: renew (sometimes late, never by 30 days) or churn.
    ending = (status0 == CUSTOMER) & (com.term_end >= d0) & (com.term_end < d1)
    monthly = com.term_months == 1
    shifted = churn_offset(lat.health, adoption, d0, config.concept_shift, p)
    shifted = shifted + regime_offset(d0, config.regime_switch)
    # ``offer`` and ``push`` are 0 unless a play set them (simulator.plays): x - 0 is x.
    churn = ending & (u[0] < sigmoid(churn_logit(lat, monthly, config, seg) + shifted - com.offer))
    com.offer[ending] = 0.0
    churned = np.flatnonzero(churn)
    if len(churned):
        day = com.term_end[churned]
        com.status[churned] = CHURNED
        com.churn_day[churned] = day
        churn_parts.append((churned, day))
        level_parts.append((churned, day, np.zeros(len(churned))))
        cover_hi[churned] = day
    renew = np.flatnonzero(ending & ~churn)
    if len(renew):
        r = renew
        total = com.seats[r] + com.addon_seats[r]
        ratio = need[r] / total
        is_monthly = monthly[r]
        threshold = np.where(is_monthly, p.monthly_upsize_threshold, p.upsize_threshold)
        up_p = sigmoid(logit(p.upsize_p) + p.upsize_health * lat.health[r])
        up = (ratio > threshold) & (u[1, r] < up_p)
        up_seats = np.ceil(total * np.minimum(ratio, 2.0))
        down_p = np.where(is_monthly, p.downsize_p / 4, p.downsize_p)
        down = ~up & ((ratio < 0.8) | (adoption[r] < 0.4)) & (u[2, r] < down_p)
        down_factor = np.clip(np.maximum(ratio, adoption[r] / 0.6), 0.5, 0.92)
        down_seats = np.round(total * down_factor)
        new_seats = np.where(up, up_seats, np.where(down, down_seats, total))
        new_seats = np.clip(new_seats, seg.seats_min[s[r]] * 0.5, None)
        new_seats = np.maximum(new_seats, 1).astype(np.int64)
        # Yearly list-price uplift below the 10% that would make a renewal an expansion.
        uplift_now = ~is_monthly | (u[3, r] < 1 / 12)
        uplift = 1.0 + uplift_now * u[4, r] * p.price_uplift_max
        com.price[r] *= uplift
        com.module_mrr[r] = cents(com.module_mrr[r] * uplift)
        gap = np.where(u[5, r] < p.late_renewal_p, 1 + np.floor(u[6, r] * 29), 0).astype(np.int64)
        start_terms(r, RENEWAL, com.term_end[r] + gap, new_seats, gap)

    # 3. Reactivation of a churned account, at least `reactivation_min_days` after its churn.
    earliest = com.churn_day + p.reactivation_min_days
    react_p = p.reactivation_p * np.exp(0.5 * lat.health)
    react = np.flatnonzero((status0 == CHURNED) & (earliest < d1) & (u[7] < react_p))
    if len(react):
        lo = np.maximum(earliest[react], d0)
        day = lo + np.floor(u[8, react] * (d1 - lo)).astype(np.int64)
        seats = np.clip(
            np.round(need[react] * (0.6 + 0.3 * u[9, react])), seg.seats_min[s[react]] * 0.5, None
        )
        com.module_mrr[react] = 0.0
        start_terms(react, REACTIVATION, day, np.maximum(seats, 1).astype(np.int64), 0)
        cover_lo[react] = day

    # 4. Mid-term add-ons (seats, or a module) for accounts whose term runs on.
    total = com.seats + com.addon_seats
    eligible = (
        (status0 == CUSTOMER)
        & ~ending
        & (com.term_months > 1)
        & (com.term_start < d0)
        & (com.term_end >= d1 + 30)
    )
    z = (
        seg.expand_intercept[s]
        + p.expand_need * np.clip(np.log(need / np.maximum(total, 1)), -0.5, 0.7)
        + p.expand_health * lat.health
        + p.expand_champion_new * lat.champion_gained
        + p.expand_adoption * (adoption - 0.6)
        + com.push
    )
    com.push *= 0.5
    expand = np.flatnonzero(eligible & (u[10] < sigmoid(z)))
    addons: dict[str, np.ndarray] = {}
    if len(expand):
        e = expand
        current = com.total_mrr[e]
        module = (com.module_mrr[e] == 0) & (u[11, e] < p.module_share)
        k = np.maximum(np.ceil(0.12 * total[e]), np.ceil(need[e] - total[e]))
        k = np.minimum(k, total[e])
        k = np.maximum(k, np.ceil(0.101 * current / com.price[e]))
        module_mrr = com.base_mrr[e] * (0.15 + 0.2 * u[9, e])
        mrr = cents(np.where(module, module_mrr, k * com.price[e]))
        seats = np.where(module, 0, k).astype(np.int64)
        day = d0 + np.floor(u[8, e] * (d1 - d0)).astype(np.int64)
        com.module_mrr[e] += np.where(module, mrr, 0.0)
        com.addon_seats[e] += seats
        com.addon_mrr[e] += np.where(module, 0.0, mrr)
        level_parts.append((e, day, com.total_mrr[e]))
        addons = {
            "idx": e,
            "day": day,
            "end": com.term_end[e].copy(),
            "seats": seats,
            "mrr": mrr,
            "module": module,
        }

    def cat(parts, i, dtype):
        return np.concatenate([x[i] for x in parts]).astype(dtype) if parts else np.zeros(0, dtype)

    starts = (
        {k: np.concatenate([x[k] for x in start_parts]) for k in start_parts[0]}
        if start_parts
        else {}
    )
    return Movements(
        churn_idx=cat(churn_parts, 0, np.int64),
        churn_day=cat(churn_parts, 1, np.int64),
        level_idx=cat(level_parts, 0, np.int64),
        level_day=cat(level_parts, 1, np.int64),
        level=cat(level_parts, 2, np.float64),
        cover_lo=cover_lo,
        cover_hi=cover_hi,
        starts=starts,
        addons=addons,
    )
