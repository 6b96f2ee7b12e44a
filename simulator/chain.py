"""The account chain: latent state plus commercial state, advanced one month at a time.

``advance`` is the single transition used by the history (``simulator.run``) and by the
oracle's Monte-Carlo rollouts (``simulator.truth``): same code, same semantics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.commercial import PROSPECT, CommercialState, Movements, step_commercial
from simulator.config import SimulationConfig
from simulator.latent import LatentState, SegmentArrays, step_latent
from simulator.shifts import adoption_offset


@dataclass
class ChainState:
    latent: LatentState
    commercial: CommercialState

    def __len__(self) -> int:
        return len(self.latent)

    def take(self, index: np.ndarray) -> ChainState:
        return ChainState(self.latent.take(index), self.commercial.take(index))

    def copy(self) -> ChainState:
        return ChainState(self.latent.copy(), self.commercial.copy())

    @classmethod
    def concat(cls, parts: list[ChainState]) -> ChainState:
        return cls(
            LatentState.concat([p.latent for p in parts]),
            CommercialState.concat([p.commercial for p in parts]),
        )


def advance(
    state: ChainState,
    month_start: int,
    month_end: int,
    config: SimulationConfig,
    seg: SegmentArrays,
    rng: np.random.Generator,
) -> Movements:
    """One month [month_start, month_end): the latent step of every account that is or is
    becoming a customer, then that month's commercial decisions. Mutates ``state``."""
    com = state.commercial
    live = (com.status != PROSPECT) | (com.first_day < month_end)
    offset = adoption_offset(state.latent.segment, month_start, config.covariate_shift)
    step_latent(state.latent, config, seg, rng, mask=live, adoption_offset=offset)
    return step_commercial(com, state.latent, month_start, month_end, config, seg, rng)


def roll_forward(
    state: ChainState,
    month_starts: np.ndarray,
    first_month: int,
    until_day: int,
    config: SimulationConfig,
    seg: SegmentArrays,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``advance`` month by month from ``month_starts[first_month]`` while a month starts
    before ``until_day``; the months' churn records (index, day) and MRR levels (index, day,
    level), concatenated in time order. Mutates ``state``."""
    records: list[tuple[np.ndarray, ...]] = []
    m = first_month
    while month_starts[m] < until_day:
        mv = advance(state, int(month_starts[m]), int(month_starts[m + 1]), config, seg, rng)
        records.append((mv.churn_idx, mv.churn_day, mv.level_idx, mv.level_day, mv.level))
        m += 1
    churn_idx, churn_day, level_idx, level_day, level = (
        np.concatenate([r[i] for r in records]) for i in range(5)
    )
    return churn_idx, churn_day, level_idx, level_day, level
