"""Ground truth for causes: how much each latent cause family adds to the churn log-odds of
the term-end decision, per (account, snapshot) row, written as ``_truth/causes.parquet``.

The churn decision at a term end is logistic in the latent state
(``simulator.commercial.churn_logit``). Each row's logit (without the monthly terms' offset,
which is timing) is split exactly into a *reference logit* and six causes:

    churn_logit - churn_monthly_offset * monthly = reference_logit + sum of the causes

The reference is an *ordinary* account of the same segment: with its champion, no payment
stress, the support pain every account lives with (``typical_pain_damage``), health at the
segment's mean plus that ordinary pain's damage, adoption at the logit such an account
settles at (``adoption_target + adoption_health * reference health + adoption_champion``)
and growth at the segment's mean.

Why ordinary pain and not none: support pain is an AR(1) log intensity around 0 whose
positive part always lowers health (``simulator.latent``), so no account ever has
``h_pain = 0``; against a pain-free reference the support cause was positive on every row
(median +0.18 log-odds on a 2,000-account source) and the top cause of a third of all rows
and of most rows where nothing else was wrong, which says nothing about the account. Every
other cause's reference is the ordinary state (a champion present, no stress, the mean
health and growth), whose cause has median ~0. Against ordinary pain, the support cause is
what this account's pain adds beyond what any account carries, and is negative for an
account with less than usual. Health is split by where it came from
(``simulator.latent``: health = health_level + health_noise + h_champion + h_pain +
h_stress), so a champion lost months ago still counts as a champion cause while its shock
lasts. A cause's value is in log-odds: > 0 raises the risk against the reference.

Effects that pass through adoption (a lost champion, pain or stress lower health, which
lowers the adoption target) count as ``adoption``: the cause is read where the decision
reads it, adoption being what usage shows.

The state is the one at the snapshot's month start (as ``truth.latent_columns``); the term
end may be months later, when the state will have moved.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from features.metadata import Family
from simulator.arrays import sigmoid
from simulator.commercial import churn_logit
from simulator.config import SEGMENTS, ChainParams, SimulationConfig
from simulator.latent import LatentState, SegmentArrays

if TYPE_CHECKING:
    from simulator.run import History

CAUSES = ("adoption", "champions", "support", "payments", "value", "consumption")
"""The actionable cause families, in the order ``top_cause`` breaks ties."""
CAUSE_COLUMNS = tuple(f"cause_{name}" for name in CAUSES)
CAUSE_FAMILIES: dict[str, tuple[Family, ...]] = {
    "adoption": ("usage_depth",),
    "champions": ("champions",),
    "support": ("support",),
    "payments": ("payments",),
    "value": ("voice_of_customer", "usage_depth"),
    "consumption": ("consumption",),
}
"""Cause -> the feature families (``features.metadata.FAMILIES``) whose features show it:
what a model's main reason may name when the cause is the row's ``top_cause``. The value a
customer perceives (health) shows in two places, what they say (NPS, CSAT) and what they do
(health pulls adoption and so usage), so either names it; every other cause has one."""
CAUSES_SCHEMA = pa.schema(
    [
        pa.field("account_id", pa.string(), nullable=False),
        pa.field("snapshot_date", pa.date32(), nullable=False),
        pa.field("segment", pa.string(), nullable=False),
        *(pa.field(name, pa.float64(), nullable=False) for name in CAUSE_COLUMNS),
        pa.field("reference_logit", pa.float64(), nullable=False),
        pa.field("churn_logit", pa.float64(), nullable=False),
        pa.field("days_to_term_end", pa.int64(), nullable=False),
        pa.field("term_months", pa.int64(), nullable=False),
        pa.field("top_cause", pa.string()),
    ]
)
"""``_truth/causes.parquet``: one row per (account_id, snapshot_date) of ``labels.parquet``.
Causes and logits in log-odds; ``churn_logit`` is the chain's logit at a term end with the
row's state (monthly offset included); ``top_cause`` is null when no cause is positive."""


PAIN_GRID_STEP = 1e-4
"""Resolution of ``typical_pain_damage``'s grid over the spikes' sum (in pain units)."""


@lru_cache(maxsize=8)
def typical_pain_damage(chain: ChainParams) -> float:
    """``h_pain`` of an ordinary account, long a customer: its expectation under the
    chain's stationary support pain, ``-pain_effect * E[max(pain, 0)] / (1 - health_rho)``
    (<= 0).

    Stationary pain is a Gaussian part, N(0, pain_sigma^2 / (1 - pain_rho^2)), plus the
    decayed spikes ``pain_spike * sum_k pain_rho^k B_k`` (B_k Bernoulli(pain_spike_p)),
    whose distribution is built exactly on a grid of ``PAIN_GRID_STEP``; given the spikes'
    sum S, E[max(G + S, 0)] = S Phi(S / sd) + sd phi(S / sd). No draw: a function of the
    parameters alone."""
    rho, spike, p = chain.pain_rho, chain.pain_spike, chain.pain_spike_p
    size = math.ceil(spike / (1.0 - rho) / PAIN_GRID_STEP) + 2
    spikes = np.zeros(size)
    spikes[0] = 1.0
    k = 0
    while p > 0 and spike * rho**k >= PAIN_GRID_STEP / 2:
        shift = round(spike * rho**k / PAIN_GRID_STEP)
        moved = (1.0 - p) * spikes
        moved[shift:] += p * spikes[: size - shift]
        spikes = moved
        k += 1
    x = np.arange(size) * PAIN_GRID_STEP
    sd = chain.pain_sigma / math.sqrt(1.0 - rho**2)
    if sd > 0:
        z = x / sd
        cdf = 0.5 * (1.0 + np.array([math.erf(v / math.sqrt(2.0)) for v in z]))
        pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
        positive = float(np.sum(spikes * (x * cdf + sd * pdf)))
    else:
        positive = float(np.sum(spikes * x))
    return -chain.pain_effect * positive / (1.0 - chain.health_rho)


def reference_health(segment: np.ndarray, config: SimulationConfig) -> np.ndarray:
    """Health of a reference account of ``segment`` (codes): the segment's mean plus the
    damage of ordinary support pain."""
    seg = SegmentArrays.from_config(config)
    return seg.health_mean[segment] + typical_pain_damage(config.chain)


def adoption_reference_logit(segment: np.ndarray, config: SimulationConfig) -> np.ndarray:
    """The adoption logit a reference account of ``segment`` (codes) settles at."""
    p = config.chain
    health = reference_health(segment, config)
    return p.adoption_target + p.adoption_health * health + p.adoption_champion


def reference_state(segment: np.ndarray, config: SimulationConfig) -> LatentState:
    """Reference accounts of ``segment`` (codes): champion present, no stress, ordinary
    support pain (``typical_pain_damage``; the ``pain`` of the month itself is 0, which no
    decision reads), health at the segment mean plus that damage, settled adoption, growth
    at the mean."""
    seg = SegmentArrays.from_config(config)
    segment = np.asarray(segment, dtype=np.int8)
    n = len(segment)
    zeros = np.zeros(n)
    health = reference_health(segment, config)
    return LatentState(
        segment=segment,
        health_level=seg.health_mean[segment],
        health=health.copy(),
        h_champion=zeros.copy(),
        h_pain=np.full(n, typical_pain_damage(config.chain)),
        h_stress=zeros.copy(),
        adoption_logit=adoption_reference_logit(segment, config),
        growth=seg.growth_mean[segment],
        log_need=zeros.copy(),
        champion=np.ones(n, dtype=bool),
        champion_lost=np.zeros(n, dtype=bool),
        champion_gained=np.zeros(n, dtype=bool),
        stress=np.zeros(n, dtype=bool),
        pain=zeros.copy(),
        age=np.zeros(n, dtype=np.int32),
    )


def reference_logit(segment: np.ndarray, config: SimulationConfig) -> np.ndarray:
    """Churn log-odds at a (non-monthly) term end of the reference account of each segment."""
    seg = SegmentArrays.from_config(config)
    ref = reference_state(segment, config)
    return churn_logit(ref, np.zeros(len(ref), dtype=bool), config, seg)


def cause_contributions(lat: LatentState, config: SimulationConfig) -> dict[str, np.ndarray]:
    """Log-odds each cause adds to the term-end churn logit of ``lat`` against the
    reference account of its segment; keys are ``CAUSES``. Their sum plus
    ``reference_logit`` is the chain's logit without the monthly offset."""
    p = config.chain
    seg = SegmentArrays.from_config(config)
    s = lat.segment
    adoption_ref = sigmoid(adoption_reference_logit(s, config))
    return {
        "adoption": p.churn_adoption * (lat.adoption - adoption_ref),
        "champions": p.churn_champion * (lat.champion - 1.0) + p.churn_health * lat.h_champion,
        "support": p.churn_health * (lat.h_pain - typical_pain_damage(p)),
        "payments": p.churn_stress * lat.stress + p.churn_health * lat.h_stress,
        "value": p.churn_health * (lat.health_level - seg.health_mean[s] + lat.health_noise),
        "consumption": p.churn_growth * (lat.growth - seg.growth_mean[s]),
    }


def top_cause(causes: dict[str, np.ndarray]) -> np.ndarray:
    """Per row, the name of the cause adding the most log-odds (first of ``CAUSES`` on a
    tie), or None when no cause is positive (the account is no riskier than the reference
    on any count)."""
    matrix = np.column_stack([causes[name] for name in CAUSES])
    best = np.argmax(matrix, axis=1)
    names = np.array(CAUSES, dtype=object)[best]
    names[matrix[np.arange(len(matrix)), best] <= 0] = None
    return names


def causes_table(history: History, acc: np.ndarray, months: np.ndarray) -> pa.Table:
    """The causes of (acc, month) rows of the realised chain at the rows' month starts, in
    the order given: the columns of ``CAUSES_SCHEMA``."""
    config = history.config
    seg = SegmentArrays.from_config(config)
    acc = np.asarray(acc, dtype=np.int64)
    months = np.asarray(months, dtype=np.int64)
    n = len(acc)
    cols: dict[str, np.ndarray] = {
        "account_id": np.array(history.account_ids, dtype=object)[acc],
        "snapshot_date": history.month_starts[months].astype(np.int32),
        "segment": np.empty(n, dtype=object),
        **{name: np.empty(n) for name in CAUSE_COLUMNS},
        "reference_logit": np.empty(n),
        "churn_logit": np.empty(n),
        "days_to_term_end": np.empty(n, dtype=np.int64),
        "term_months": np.empty(n, dtype=np.int64),
        "top_cause": np.empty(n, dtype=object),
    }
    for m in np.unique(months):
        sel = np.flatnonzero(months == m)
        state = history.boundary[m].take(acc[sel])
        lat, com = state.latent, state.commercial
        causes = cause_contributions(lat, config)
        values = {
            "segment": np.array(SEGMENTS, dtype=object)[lat.segment],
            **{f"cause_{name}": value for name, value in causes.items()},
            "reference_logit": reference_logit(lat.segment, config),
            "churn_logit": churn_logit(lat, com.term_months == 1, config, seg),
            "days_to_term_end": com.term_end - int(history.month_starts[m]),
            "term_months": com.term_months,
            "top_cause": top_cause(causes),
        }
        for name, value in values.items():
            cols[name][sel] = value
    return pa.table(
        [pa.array(cols[f.name], type=f.type) for f in CAUSES_SCHEMA], schema=CAUSES_SCHEMA
    )
