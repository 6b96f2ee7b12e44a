"""The latent monthly state of every account, and the one step function that advances it.

Per account and month: health (how much value the customer gets; AR(1) around the
account's own level), adoption (a logit pulled towards a target that rises with health and a
present champion), business growth (the customer's monthly log growth of seat need, and the
need itself), champion presence (leaves, sometimes replaced), payment stress (on/off) and
support pain (log intensity with spikes). Nothing observable feeds back into it, so the
same step serves the history and the oracle's rollouts.

Health is also tracked by where it came from: ``h_champion``, ``h_pain`` and ``h_stress``
accumulate the shocks of champion changes, support pain and payment stress with health's
own AR(1) decay, so health = health_level + health_noise + h_champion + h_pain + h_stress
(``simulator.causes`` reads this). They are outputs only: no draw and no decision reads
them, so adding them changed no simulated value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.arrays import Arrays, logit, sigmoid
from simulator.config import SimulationConfig


@dataclass
class SegmentArrays:
    """Per-segment parameters as arrays indexed by the segment code (0 ent, 1 mid, 2 smb)."""

    health_mean: np.ndarray
    churn_intercept: np.ndarray
    expand_intercept: np.ndarray
    growth_mean: np.ndarray
    champion_replace: np.ndarray
    stress_enter: np.ndarray
    seats_min: np.ndarray
    seats_max: np.ndarray

    @classmethod
    def from_config(cls, config: SimulationConfig) -> SegmentArrays:
        specs = list(config.segments.values())
        return cls(
            **{
                name: np.array([getattr(s, name) for s in specs], dtype=float)
                for name in cls.__dataclass_fields__
            }
        )


@dataclass
class LatentState(Arrays):
    """One row per account path; ``champion_lost`` / ``champion_gained`` flag the last step."""

    segment: np.ndarray  # int8, static
    health_level: np.ndarray  # the account's own long-run health, static
    health: np.ndarray
    h_champion: np.ndarray  # part of health - health_level from champion losses, gains, absence
    h_pain: np.ndarray  # part from support pain
    h_stress: np.ndarray  # part from payment stress
    adoption_logit: np.ndarray
    growth: np.ndarray  # monthly log growth of seat need
    log_need: np.ndarray  # log of the seats the customer's business needs
    champion: np.ndarray  # bool
    champion_lost: np.ndarray  # bool
    champion_gained: np.ndarray  # bool
    stress: np.ndarray  # bool
    pain: np.ndarray
    age: np.ndarray  # int32 months as a customer (negative before the first start)

    @property
    def adoption(self) -> np.ndarray:
        return sigmoid(self.adoption_logit)

    @property
    def need(self) -> np.ndarray:
        return np.exp(self.log_need)

    @property
    def health_noise(self) -> np.ndarray:
        """Health off its level not explained by the tracked shocks: the initial deviation
        and the monthly noise, decayed by health's rho."""
        return self.health - self.health_level - self.h_champion - self.h_pain - self.h_stress


def initial_latent(
    segment: np.ndarray,
    seats: np.ndarray,
    config: SimulationConfig,
    seg: SegmentArrays,
    rng: np.random.Generator,
) -> LatentState:
    """The state of accounts at their first day as customers."""
    p = config.chain
    n = len(segment)
    z = rng.standard_normal((5, n))
    u = rng.random((2, n))
    level = seg.health_mean[segment] + p.health_account_sd * z[0]
    stationary_sd = p.health_sigma / np.sqrt(1.0 - p.health_rho**2)
    growth_sd = p.growth_sigma / np.sqrt(1.0 - p.growth_rho**2)
    return LatentState(
        segment=segment.astype(np.int8),
        health_level=level,
        health=level + 0.5 * stationary_sd * z[1],
        h_champion=np.zeros(n),
        h_pain=np.zeros(n),
        h_stress=np.zeros(n),
        adoption_logit=p.adoption_start + 0.4 * z[2],
        growth=seg.growth_mean[segment] + growth_sd * z[3],
        log_need=np.log(seats) + 0.08 * z[4],
        champion=u[0] < 0.85,
        champion_lost=np.zeros(n, dtype=bool),
        champion_gained=np.zeros(n, dtype=bool),
        stress=u[1] < 0.04,
        pain=np.zeros(n),
        age=np.zeros(n, dtype=np.int32),
    )


def step_latent(
    state: LatentState,
    config: SimulationConfig,
    seg: SegmentArrays,
    rng: np.random.Generator,
    mask: np.ndarray | None = None,
    adoption_offset: np.ndarray | float = 0.0,
) -> None:
    """Advance ``state`` by one month in place (rows outside ``mask`` stay as they are).
    ``adoption_offset``: added to the adoption target (``simulator.shifts``).

    The draws depend only on the number of rows, so a seeded generator reproduces a path."""
    p = config.chain
    n = len(state)
    z = rng.standard_normal((4, n))
    u = rng.random((3, n))
    s = state.segment

    leave_p = sigmoid(logit(p.champion_leave) - p.champion_leave_health * state.health)
    lost = state.champion & (u[0] < leave_p)
    gained = ~state.champion & (u[0] < seg.champion_replace[s])
    champion = (state.champion & ~lost) | gained
    stress = np.where(state.stress, u[1] >= p.stress_exit, u[1] < seg.stress_enter[s])
    pain = p.pain_rho * state.pain + p.pain_sigma * z[0] + p.pain_spike * (u[2] < p.pain_spike_p)
    growth = p.growth_rho * state.growth + (1 - p.growth_rho) * seg.growth_mean[s]
    growth = growth + p.growth_sigma * z[1]
    health = (
        state.health_level
        + p.health_rho * (state.health - state.health_level)
        + p.health_sigma * z[2]
        - p.champion_loss_shock * lost
        + p.champion_gain_boost * gained
        - p.champion_absent_drift * ~champion
        - p.pain_effect * np.maximum(pain, 0.0)
        - p.stress_effect * stress
    )
    # The same shocks again, each decayed like health: where health's deviation came from.
    # (Kept out of the expression above so health's arithmetic, and thus every draw that
    # depends on it, is unchanged.)
    h_champion = (
        p.health_rho * state.h_champion
        - p.champion_loss_shock * lost
        + p.champion_gain_boost * gained
        - p.champion_absent_drift * ~champion
    )
    h_pain = p.health_rho * state.h_pain - p.pain_effect * np.maximum(pain, 0.0)
    h_stress = p.health_rho * state.h_stress - p.stress_effect * stress
    target = p.adoption_target + p.adoption_health * health + p.adoption_champion * champion
    target = target + adoption_offset
    adoption_logit = (
        state.adoption_logit
        + p.adoption_speed * (target - state.adoption_logit)
        + p.adoption_sigma * z[3]
    )
    updates = {
        "champion": champion,
        "champion_lost": lost,
        "champion_gained": gained,
        "stress": stress,
        "pain": pain,
        "growth": growth,
        "log_need": state.log_need + growth,
        "health": health,
        "h_champion": h_champion,
        "h_pain": h_pain,
        "h_stress": h_stress,
        "adoption_logit": adoption_logit,
        "age": state.age + 1,
    }
    for name, value in updates.items():
        current = getattr(state, name)
        if mask is None:
            current[...] = value
        else:
            current[mask] = value[mask]
