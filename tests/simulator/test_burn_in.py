"""Existing customers on day one are survivors of the renewals before it
(``simulator.accounts.burn_in_survivors``): a burn-in path that churns at a term end is drawn
again, so the book does not begin with customers a renewal would already have removed."""

from __future__ import annotations

import numpy as np

from simulator.accounts import DAYS_PER_MONTH, burn_in_survivors, draw_accounts
from simulator.config import SimulationConfig, make_config
from simulator.dates import month_starts
from simulator.latent import SegmentArrays, initial_latent

CONFIG = SimulationConfig(accounts=3000, months=12, seed=1, existing_share=1.0)


def test_long_standing_customers_have_a_better_own_health_level_than_fresh_draws() -> None:
    seg = SegmentArrays.from_config(CONFIG)
    days = month_starts(CONFIG.start_date, CONFIG.months + 1)
    batch = draw_accounts(CONFIG, 0, 3000, days, seg, np.random.default_rng(5))
    latent = batch.state.latent
    tenure = np.floor((int(days[0]) - batch.tenure_start) / DAYS_PER_MONTH)
    older = tenure >= 12  # at least one renewal of a yearly term behind them
    lift = latent.health_level[older] - seg.health_mean[latent.segment[older]]
    # Without the selection the mean lift is 0 (the draws' own mean), about 0.01 here with a
    # standard error of 0.013; with it, about 0.11.
    assert older.sum() > 2000
    assert lift.mean() > 0.06


def _burn(config: SimulationConfig, n: int, seed: int) -> tuple[int, np.ndarray]:
    seg = SegmentArrays.from_config(config)
    rng = np.random.default_rng(seed)
    segment = rng.integers(0, 3, n).astype(np.int8)
    seats = np.full(n, 20)
    latent = initial_latent(segment, seats, config, seg, rng)
    tenure = rng.integers(1, 48, n).astype(np.int32)
    burn = np.minimum(tenure, 24)
    terms = np.full(n, 12, dtype=np.int16)
    redraws = burn_in_survivors(latent, seats, tenure, terms, burn, config, seg, rng)
    return redraws, latent.health_level


def test_no_redraws_where_nobody_can_churn_and_many_where_most_would() -> None:
    never = make_config(
        accounts=10,
        segments={
            name: spec.model_copy(update={"churn_intercept": -40.0})
            for name, spec in CONFIG.segments.items()
        },
    )
    assert _burn(never, 400, 3)[0] == 0
    assert _burn(CONFIG, 400, 3)[0] > 40
