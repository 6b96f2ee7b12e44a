"""CS plays in the simulated world: who runs which play on whom (a confounded policy), and
what a play does to the account (its true effect).

- ``choose_plays``: each month, before the chain advances, every CSM spends their capacity
  (``PlayPolicy``) on the accounts of their book that *look* riskiest: no champion in the
  CRM, low utilisation, urgent tickets, overdue invoices, a renewal near, a young account, a
  detractor, each seen with noise, plus Gumbel noise. The play fits the situation (a missing
  champion calls for a champion rescue...) with randomness, so every play also reaches
  accounts it was not made for. Accounts that look risky are riskier: the naive comparison
  of played and unplayed accounts is confounded.
- ``apply_plays``: the play changes the chain's state at the start of the month, by an
  amount that depends on the segment and the situation (``EFFECTS`` below); a play's own
  chance of success is one uniform draw per run (``u``), recorded so the truth stage can
  apply the very same run to a copy of the state. ``success_check_in`` changes nothing.

A CSM's capacity is a rate over their book: the accounts are simulated in chunks, so each
chunk's share of the book gets the same share of the capacity (stochastic rounding) and is
ranked on its own. Nothing here draws from the chain's generator: with plays off the chain
is the one it always was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.chain import ChainState
from simulator.commercial import CUSTOMER
from simulator.config import SimulationConfig
from simulator.play_catalog import PLAY_CODES, PLAY_IDS, PlayPolicy

P = PLAY_CODES
PLAY_DAY_FIRST, PLAY_DAY_LAST = 2, 27
"""A run is dated between the 3rd and the 28th of its month: inside [t, t + 30 days) of its
own snapshot t (a month start) and of no other, even after a 28-day February."""
RESCUE_BOOST, RESCUE_LEVEL = 0.7, 0.3
"""A champion rescue that finds a new champion: health +``RESCUE_BOOST`` (decaying as health
does) and the account's own health level +``RESCUE_LEVEL`` (lasting: the executive sponsor
reached, the value review re-run). Sized so that where the champion left the rescue cuts
churn_180d by about a third, several points (docs/simulator.md, "Plays": sizes and sources)."""
EFFECTS = """\
champion_rescue: where no champion, a new one is found with chance 0.75/0.60/0.45
  (enterprise/mid-market/smb), health +0.7 and health level +0.3 (lasting); failed or
  champion present: health +0.03
adoption_campaign: adoption logit +0.8/0.9/0.6; where adoption < 0.45, +0.4 more and the
  account's own health level +0.2/0.2/0.1 (lasting)
expansion_conversation: add-on log-odds +2.2/1.8/1.2 where need > seats, else +0.1,
  halving each month
escalation_review: support pain resolved (to <= 0); health +0.3 where pain > 0.8
onboarding_rescue: first 6 months: adoption logit +1.0, health level +0.25; later +0.1
detractor_follow_up: where health < 0: health level +0.2/0.12/0.06
overdue_invoices: payment stress ends with chance 0.6
executive_business_review: health level +0.3/0.15/0; add-on log-odds +0.8/0.4/0
renewal_discount: churn log-odds -1.2 at the next term end; price x0.85 from the renewal
success_check_in: nothing (inert)"""


@dataclass
class PlayRuns:
    """Play runs, one entry per run: the account (global index), the month (index into the
    history's month starts), the play code, its success draw and its activity day."""

    acc: np.ndarray
    month: np.ndarray
    play: np.ndarray
    u: np.ndarray
    day: np.ndarray

    @classmethod
    def concat(cls, parts: list[PlayRuns]) -> PlayRuns:
        if not parts:
            return cls(*(np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.int8, float, int)))
        return cls(
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in cls.__dataclass_fields__
            }
        )

    def __len__(self) -> int:
        return len(self.acc)

    def in_month(self, month: int) -> PlayRuns:
        sel = self.month == month
        return PlayRuns(self.acc[sel], self.month[sel], self.play[sel], self.u[sel], self.day[sel])


@dataclass
class Signals:
    """What the CS team sees of an account at a month start (with the noise of seeing)."""

    no_champion: np.ndarray
    adoption: np.ndarray
    pain_high: np.ndarray
    stress: np.ndarray
    renewal_near: np.ndarray
    """the term ends within 180 days (the renewals a CSM works towards)"""
    renewal_soon: np.ndarray
    """... within 90 days"""
    young: np.ndarray
    unmet_need: np.ndarray
    detractor: np.ndarray

    def risk(self) -> np.ndarray:
        return (
            1.4 * self.no_champion
            + 3.0 * np.maximum(0.6 - self.adoption, 0.0)
            + 0.8 * self.pain_high
            + 1.0 * self.stress
            + 1.5 * self.renewal_near
            + 0.5 * self.young
            + 0.6 * self.detractor
        )

    def play_weights(self, segment: np.ndarray) -> np.ndarray:
        """(plays, accounts) weights of each play given the situation; every play > 0."""
        w = np.full((len(PLAY_IDS), len(segment)), 0.25)
        w[P["champion_rescue"]] += 3.0 * self.no_champion
        w[P["adoption_campaign"]] += 2.5 * (self.adoption < 0.45)
        w[P["expansion_conversation"]] += 1.5 * self.unmet_need
        w[P["escalation_review"]] += 2.5 * self.pain_high
        w[P["onboarding_rescue"]] += 3.0 * self.young
        w[P["detractor_follow_up"]] += 1.5 * self.detractor
        w[P["overdue_invoices"]] += 3.0 * self.stress
        w[P["executive_business_review"]] += 1.5 * (self.renewal_soon & (segment < 2))
        w[P["renewal_discount"]] += 1.2 * self.renewal_soon
        w[P["success_check_in"]] += 0.5
        return w


def visible_signals(
    state: ChainState, month_start: int, crm_champion: np.ndarray, rng: np.random.Generator
) -> Signals:
    """The signals a CSM reads at ``month_start``: the champion as the CRM records it
    (``crm_champion``), utilisation and NPS with noise, the rest as the source shows it."""
    lat, com = state.latent, state.commercial
    n = len(state)
    z = rng.standard_normal((2, n))
    return Signals(
        no_champion=~crm_champion,
        adoption=lat.adoption + 0.08 * z[0],
        pain_high=lat.pain > 0.8,
        stress=lat.stress.astype(bool),
        renewal_near=(com.term_end - month_start) <= 180,
        renewal_soon=(com.term_end - month_start) <= 90,
        young=lat.age <= 4,
        unmet_need=lat.need > 1.05 * np.maximum(com.seats + com.addon_seats, 1),
        detractor=lat.health + 0.5 * z[1] < -0.3,
    )


def choose_plays(
    state: ChainState,
    month_start: int,
    crm_champion: np.ndarray,
    groups: np.ndarray,
    group_rate: np.ndarray,
    eligible: np.ndarray,
    policy: PlayPolicy,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, play codes, success draws) of this month's runs among ``state``'s rows.

    ``groups``: each row's CSM (or pool) code; ``group_rate``: the share of a group's
    eligible accounts its capacity covers in a month; ``eligible``: active customers out of
    their cool-down. Draws a fixed number of values per row, whatever the state."""
    n = len(state)
    signals = visible_signals(state, month_start, crm_champion, rng)
    noise = rng.gumbel(size=n)
    pick_noise = rng.gumbel(size=(len(PLAY_IDS), n))
    success = rng.random(n)
    rounding = rng.random(len(group_rate))
    risk = np.where(eligible, signals.risk() + policy.noise * noise, -np.inf)
    count = np.bincount(groups[eligible], minlength=len(group_rate))
    capacity = np.floor(group_rate * count + rounding).astype(np.int64)
    order = np.lexsort((-risk, groups))
    g = groups[order]
    first = np.r_[True, g[1:] != g[:-1]]
    rank = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    chosen = np.sort(order[(rank < capacity[g]) & np.isfinite(risk[order])])
    weights = signals.play_weights(state.latent.segment)
    play = np.argmax(np.log(weights) + pick_noise, axis=0).astype(np.int8)
    return chosen, play[chosen], success[chosen]


def apply_plays(state: ChainState, rows: np.ndarray, play: np.ndarray, u: np.ndarray) -> None:
    """Apply runs of ``play`` (codes) with success draws ``u`` to ``state``'s ``rows`` in
    place, at a month start (before the month's step). See ``EFFECTS``."""
    lat, com = state.latent, state.commercial
    seg = lat.segment[rows]

    def at(name: str) -> np.ndarray:
        return rows[play == P[name]]

    def by_segment(values: tuple[float, float, float], name: str) -> np.ndarray:
        return np.array(values)[seg[play == P[name]]]

    r = at("champion_rescue")
    if len(r):
        chance = by_segment((0.75, 0.6, 0.45), "champion_rescue")
        found = ~lat.champion[r] & (u[play == P["champion_rescue"]] < chance)
        boost = np.where(found, RESCUE_BOOST, 0.03)
        lat.champion[r] |= found
        lat.health[r] += boost
        lat.h_champion[r] += boost
        lat.health_level[r] += np.where(found, RESCUE_LEVEL, 0.0)
    r = at("adoption_campaign")
    if len(r):
        low = lat.adoption[r] < 0.45
        lat.adoption_logit[r] += by_segment((0.8, 0.9, 0.6), "adoption_campaign") + 0.4 * low
        lat.health_level[r] += by_segment((0.2, 0.2, 0.1), "adoption_campaign") * low
    r = at("expansion_conversation")
    if len(r):
        unmet = lat.need[r] > np.maximum(com.seats[r] + com.addon_seats[r], 1)
        lift = by_segment((2.2, 1.8, 1.2), "expansion_conversation")
        com.push[r] += np.where(unmet, lift, 0.1)
    r = at("escalation_review")
    if len(r):
        relief = np.where(lat.pain[r] > 0.8, 0.3, 0.0)
        lat.pain[r] = np.minimum(lat.pain[r], 0.0)
        lat.health[r] += relief
        lat.h_pain[r] += relief
    r = at("onboarding_rescue")
    if len(r):
        young = lat.age[r] <= 6
        lat.adoption_logit[r] += np.where(young, 1.0, 0.1)
        lat.health_level[r] += np.where(young, 0.25, 0.0)
    r = at("detractor_follow_up")
    if len(r):
        lift = by_segment((0.2, 0.12, 0.06), "detractor_follow_up")
        lat.health_level[r] += np.where(lat.health[r] < 0, lift, 0.0)
    r = at("overdue_invoices")
    if len(r):
        lat.stress[r] &= ~(u[play == P["overdue_invoices"]] < 0.6)
    r = at("executive_business_review")
    if len(r):
        lat.health_level[r] += by_segment((0.3, 0.15, 0.0), "executive_business_review")
        com.push[r] += by_segment((0.8, 0.4, 0.0), "executive_business_review")
    r = at("renewal_discount")
    if len(r):
        com.offer[r] += 1.2
        com.price[r] *= 0.85
    # success_check_in: nothing.


class ChunkPlays:
    """The plays of one chunk of accounts over the history: the policy's memory (cool-down)
    and the runs, for the activities table and the truth stage."""

    def __init__(
        self,
        config: SimulationConfig,
        policy: PlayPolicy,
        csm: list[str | None],
        first: int,
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.policy = policy
        self.first = first
        self.rng = rng
        names = sorted({c for c in csm if c is not None})
        code = {name: i + 1 for i, name in enumerate(names)}
        self.groups = np.array([code.get(c, 0) if c else 0 for c in csm], dtype=np.int64)
        rate = np.full(len(names) + 1, policy.pool_share)
        per_csm = {
            "ent": policy.capacity_enterprise
            / max(config.segments["enterprise"].accounts_per_csm, 1),
            "mid": policy.capacity_mid_market
            / max(config.segments["mid_market"].accounts_per_csm, 1),
            "smb": policy.pool_share,
        }
        for name, i in code.items():
            rate[i] = min(per_csm.get(name.split("-")[1], policy.pool_share), 1.0)
        self.rate = rate
        self.last = np.full(len(csm), -(10**6), dtype=np.int64)
        self.parts: list[PlayRuns] = []

    def month(self, m: int, month_start: int, state: ChainState, crm_champion: np.ndarray) -> None:
        """Choose and apply this month's runs (``state`` is the chunk's, at ``month_start``)."""
        com = state.commercial
        active = (com.status == CUSTOMER) & (com.mrr_on(month_start - 1) > 0)
        eligible = active & (m - self.last >= self.policy.cooldown_months)
        rows, play, u = choose_plays(
            state,
            month_start,
            crm_champion,
            self.groups,
            self.rate,
            eligible,
            self.policy,
            self.rng,
        )
        day = month_start + self.rng.integers(PLAY_DAY_FIRST, PLAY_DAY_LAST + 1, size=len(rows))
        apply_plays(state, rows, play, u)
        self.last[rows] = m
        self.parts.append(PlayRuns(rows + self.first, np.full(len(rows), m), play, u, day))

    def runs(self) -> PlayRuns:
        return PlayRuns.concat(self.parts)
