"""Who the customers are: segment, firmographics, price, term habit, and where they stand on
the first day of history.

A share of accounts (``existing_share``) are customers already: their tenure began up to
``max_prior_tenure_months`` before the history, their earlier terms are written as
subscription rows (renewals without gaps), and their latent state comes from running the
chain for up to 24 months before day one. The others sign on a day spread evenly over the
history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.arrays import sigmoid
from simulator.chain import ChainState
from simulator.commercial import (
    CUSTOMER,
    PROSPECT,
    CommercialState,
    cents,
    churn_logit,
    quota_for,
)
from simulator.config import SimulationConfig
from simulator.dates import add_months
from simulator.latent import LatentState, SegmentArrays, initial_latent, step_latent

INDUSTRIES = (
    "software",
    "fintech",
    "healthcare",
    "retail",
    "manufacturing",
    "education",
    "media",
    "logistics",
)
REGIONS = ("na", "emea", "apac")
REGION_SHARES = (0.5, 0.35, 0.15)
REGION_UTC_OFFSET_HOURS = np.array([-6.0, 1.0, 8.0])
BURN_IN_MONTHS = 24
SURVIVOR_ROUNDS = 40
"""Redraws of an existing customer's burn-in path at most; after that the last path stays
(with the default chain every path had survived after 7 and 9 rounds on 3,000 accounts)."""
MODULE_SHARE_AT_START = 0.15
DAYS_PER_MONTH = 365.25 / 12


@dataclass
class AccountBatch:
    """One chunk of accounts: static attributes, chain state on day one, and earlier lines."""

    index: np.ndarray  # global account number
    ids: list[str]
    segment: np.ndarray
    industry: np.ndarray
    region: np.ndarray
    csm: list[str | None]
    existing: np.ndarray
    tenure_start: np.ndarray  # day the first term began (or will begin)
    state: ChainState
    prior_lines: dict[str, np.ndarray]
    """Lines that began before day one: idx, start, end, seats, mrr, quota, module."""

    def __len__(self) -> int:
        return len(self.index)


def burn_in_survivors(
    latent: LatentState,
    seats: np.ndarray,
    tenure_months: np.ndarray,
    term_months: np.ndarray,
    burn: np.ndarray,
    config: SimulationConfig,
    seg: SegmentArrays,
    rng: np.random.Generator,
) -> int:
    """Run the latent chain through each existing customer's ``burn`` months before day one,
    keeping only paths that survive the term ends inside them: a path that churns at one (the
    chain's own churn odds) is drawn afresh and run again. Returns the redraws made.

    A real book's customers on any day are the survivors of their earlier renewals. Without
    this selection the history begins with customers a renewal would already have removed
    (a low own health level, say), who leave in its first two years: a transient that no
    account's features show, so a model fitted on early rows over-predicts its riskiest
    accounts later. Month ``j`` of the burn-in ends ``BURN_IN_MONTHS - 1 - j`` months before
    day one; a term ends there when the months since the tenure began are a positive multiple
    of the account's term (month granularity is enough for a selection)."""
    todo = np.flatnonzero(burn > 0)
    monthly = term_months == 1
    redraws = 0
    for round_ in range(SURVIVOR_ROUNDS):
        if not len(todo):
            break
        if round_:
            fresh = initial_latent(latent.segment[todo], seats[todo], config, seg, rng)
            fresh.age[:] = tenure_months[todo] - burn[todo]
            latent.put(todo, fresh)
            redraws += len(todo)
        path = latent.take(todo)
        path_burn, path_tenure = burn[todo], tenure_months[todo]
        path_term, path_monthly = term_months[todo], monthly[todo]
        alive = np.ones(len(todo), dtype=bool)
        for j in range(BURN_IN_MONTHS):
            steps = path_burn > BURN_IN_MONTHS - 1 - j
            if not steps.any():
                continue
            step_latent(path, config, seg, rng, mask=steps)
            since = path_tenure - (BURN_IN_MONTHS - 1 - j)
            ends = steps & alive & (since > 0) & (since % path_term == 0)
            odds = sigmoid(churn_logit(path, path_monthly, config, seg))
            alive &= ~(ends & (rng.random(len(todo)) < odds))
        latent.put(todo, path)
        todo = todo[~alive]
    return redraws


def account_id(index: int, total: int) -> str:
    return f"a{index:0{max(5, len(str(max(total - 1, 0))))}d}"


def draw_accounts(
    config: SimulationConfig,
    first: int,
    count: int,
    month_starts: np.ndarray,
    seg: SegmentArrays,
    rng: np.random.Generator,
) -> AccountBatch:
    """Accounts ``first`` .. ``first + count - 1`` as they stand on day one of the history."""
    n = count
    specs = list(config.segments.values())
    shares = np.array([s.share for s in specs])
    segment = rng.choice(len(specs), size=n, p=shares / shares.sum()).astype(np.int8)
    industry = rng.integers(0, len(INDUSTRIES), size=n).astype(np.int8)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARES).astype(np.int8)
    csm = _draw_csm(config, segment, rng)
    median = np.array([s.seats_median for s in specs])[segment]
    sigma = np.array([s.seats_sigma for s in specs])[segment]
    seats = np.clip(
        np.round(median * np.exp(sigma * rng.standard_normal(n))),
        seg.seats_min[segment],
        seg.seats_max[segment],
    ).astype(np.int64)
    price = np.array([s.price_per_seat for s in specs])[segment] * np.exp(
        0.12 * rng.standard_normal(n)
    )
    term_months = np.zeros(n, dtype=np.int16)
    for code, spec in enumerate(specs):
        rows = np.flatnonzero(segment == code)
        terms = np.array(list(spec.term_mix))
        probs = np.array(list(spec.term_mix.values()), dtype=float)
        term_months[rows] = rng.choice(terms, size=len(rows), p=probs / probs.sum())
    existing = rng.random(n) < config.existing_share

    day_one, day_end = int(month_starts[0]), int(month_starts[config.months])
    first_day = day_one + np.floor(rng.random(n) * (day_end - day_one)).astype(np.int64)
    max_prior_days = config.max_prior_tenure_months * DAYS_PER_MONTH
    prior_days = 1 + np.floor(rng.random(n) * max_prior_days).astype(np.int64)
    tenure_start = np.where(existing, day_one - prior_days, first_day)

    latent = initial_latent(segment, seats, config, seg, rng)
    tenure_months = np.floor((day_one - tenure_start) / DAYS_PER_MONTH).astype(np.int32)
    burn = np.where(existing, np.minimum(tenure_months, BURN_IN_MONTHS), 0)
    latent.age[:] = np.where(existing, tenure_months - burn, -1)
    burn_in_survivors(latent, seats, tenure_months, term_months, burn, config, seg, rng)
    latent.champion_lost[:] = False
    latent.champion_gained[:] = False

    # Existing customers are sized to their need on day one; the current term covers day_one-1.
    right_sized = np.clip(
        np.round(latent.need * (0.9 + 0.22 * rng.random(n))),
        seg.seats_min[segment],
        seg.seats_max[segment] * 1.5,
    ).astype(np.int64)
    seats = np.where(existing, right_sized, seats)
    term_index = _current_term_index(tenure_start, term_months, day_one - 1)
    term_start = np.where(existing, add_months(tenure_start, term_index * term_months), -1)
    term_end = np.where(existing, add_months(tenure_start, (term_index + 1) * term_months), -1)
    base_mrr = cents(seats * price)
    has_module = existing & (rng.random(n) < MODULE_SHARE_AT_START)
    module_mrr = np.where(has_module, cents(base_mrr * (0.15 + 0.2 * rng.random(n))), 0.0)
    commercial = CommercialState(
        status=np.where(existing, CUSTOMER, PROSPECT).astype(np.int8),
        first_day=first_day,
        term_months=term_months,
        price=price,
        term_start=term_start.astype(np.int64),
        term_end=term_end.astype(np.int64),
        seats=seats,
        base_mrr=np.where(existing, base_mrr, 0.0),
        module_mrr=module_mrr,
        addon_seats=np.zeros(n, dtype=np.int64),
        addon_mrr=np.zeros(n, dtype=np.int64).astype(float),
        quota=np.where(existing, quota_for(seats, term_months, config), 0.0),
        churn_day=np.full(n, -1, dtype=np.int64),
        offer=np.zeros(n),
        push=np.zeros(n),
    )
    prior = _prior_lines(existing, tenure_start, term_index, commercial, day_one, config)
    index = np.arange(first, first + n)
    return AccountBatch(
        index=index,
        ids=[account_id(int(i), config.accounts) for i in index],
        segment=segment,
        industry=industry,
        region=region,
        csm=csm,
        existing=existing,
        tenure_start=tenure_start.astype(np.int64),
        state=ChainState(latent, commercial),
        prior_lines=prior,
    )


def _draw_csm(config: SimulationConfig, segment: np.ndarray, rng: np.random.Generator) -> list:
    out: list[str | None] = [None] * len(segment)
    draws = rng.random(len(segment))
    for code, (name, spec) in enumerate(config.segments.items()):
        if spec.accounts_per_csm == 0:
            continue
        book = max(1, int(np.ceil(config.accounts * spec.share / spec.accounts_per_csm)))
        for i in np.flatnonzero(segment == code):
            out[i] = f"csm-{name[:3]}-{int(draws[i] * book) + 1:02d}"
    return out


def _current_term_index(tenure_start: np.ndarray, term: np.ndarray, day: int) -> np.ndarray:
    """k such that the k-th term from ``tenure_start`` covers ``day`` (for day >= start)."""
    k = np.maximum(np.floor((day - tenure_start) / (term * DAYS_PER_MONTH)), 0).astype(np.int64)
    for _ in range(3):
        k = np.where(add_months(tenure_start, (k + 1) * term) <= day, k + 1, k)
        k = np.where((k > 0) & (add_months(tenure_start, k * term) > day), k - 1, k)
    return k


def _prior_lines(
    existing: np.ndarray,
    tenure_start: np.ndarray,
    term_index: np.ndarray,
    com: CommercialState,
    day_one: int,
    config: SimulationConfig,
) -> dict[str, np.ndarray]:
    """Earlier terms (renewed without gaps, a little smaller and cheaper) and the current
    term's lines of every existing account."""
    idx = np.flatnonzero(existing)
    counts = term_index[idx] + 1
    rows = np.repeat(idx, counts)
    j = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    term = com.term_months[rows].astype(np.int64)
    start = add_months(tenure_start[rows], j * term)
    end = add_months(tenure_start[rows], (j + 1) * term)
    years_before = np.maximum(com.term_start[rows] - start, 0) / 365.25
    seats = np.maximum(np.round(com.seats[rows] * np.exp(-0.06 * years_before)), 1).astype(np.int64)
    mrr = cents(seats * com.price[rows] / 1.03**years_before)
    module_rows = np.flatnonzero(com.module_mrr > 0)
    return {
        "idx": np.concatenate([rows, module_rows]),
        "start": np.concatenate([start, com.term_start[module_rows]]),
        "end": np.concatenate([end, com.term_end[module_rows]]),
        "seats": np.concatenate([seats, np.full(len(module_rows), -1)]),
        "mrr": np.concatenate([mrr, com.module_mrr[module_rows]]),
        "quota": np.concatenate(
            [quota_for(seats, term, config), np.full(len(module_rows), np.nan)]
        ),
        "module": np.concatenate(
            [np.zeros(len(rows), dtype=bool), np.ones(len(module_rows), dtype=bool)]
        ),
    }
