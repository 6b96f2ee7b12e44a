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
