"""Ground truth for causes: the log-odds split is exact, each cause answers to its own
latent driver, and adding the health accumulators changed no simulated value."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from features.contract import TABLES
from features.metadata import FAMILIES
from simulator.causes import (
    CAUSE_COLUMNS,
    CAUSE_FAMILIES,
    CAUSES,
    CAUSES_SCHEMA,
    cause_contributions,
    reference_logit,
    reference_state,
    top_cause,
    typical_pain_damage,
)
from simulator.commercial import churn_logit
from simulator.config import ChainParams, SimulationConfig
from simulator.latent import LatentState, SegmentArrays, initial_latent, step_latent
from simulator.run import simulate

pytestmark = pytest.mark.xdist_group("simulator")

CONFIG = SimulationConfig()


def accounts(n: int, seed: int = 0, months: int = 0, config: SimulationConfig = CONFIG):
    """``n`` accounts (segments in turn) after ``months`` steps of the default chain."""
    seg = SegmentArrays.from_config(config)
    rng = np.random.default_rng(seed)
    segment = np.arange(n) % 3
    state = initial_latent(segment, np.full(n, 20.0), config, seg, rng)
    for _ in range(months):
        step_latent(state, config, seg, rng)
    return state


def with_chain(**params: float) -> SimulationConfig:
    return CONFIG.model_copy(update={"chain": ChainParams(**params)})


def step(state: LatentState, config: SimulationConfig, seed: int) -> LatentState:
    """One month of ``state`` (copied) under ``config``, with draws fixed by ``seed``."""
    out = state.copy()
    step_latent(out, config, SegmentArrays.from_config(config), np.random.default_rng(seed))
    return out


def logit_without_timing(state: LatentState) -> np.ndarray:
    monthly = np.zeros(len(state), dtype=bool)
    return churn_logit(state, monthly, CONFIG, SegmentArrays.from_config(CONFIG))


# ---- the split is exact -------------------------------------------------------------------


def test_causes_plus_reference_equal_the_chain_logit() -> None:
    state = accounts(3000, seed=1, months=30)
    causes = cause_contributions(state, CONFIG)
    total = reference_logit(state.segment, CONFIG) + sum(causes[name] for name in CAUSES)

    np.testing.assert_allclose(total, logit_without_timing(state), rtol=0, atol=1e-12)
    assert all(np.abs(causes[name]).max() > 0.01 for name in CAUSES)  # every cause is live


def test_health_is_its_level_plus_the_tracked_shocks_when_there_is_no_noise() -> None:
    """With no health noise and no initial deviation, health off its level is exactly the
    sum of the champion, pain and stress accumulators: every shock is tracked."""
    config = with_chain(health_sigma=0.0)
    seg = SegmentArrays.from_config(config)
    state = accounts(2000, seed=2, config=config)
    state.health[:] = state.health_level
    rng = np.random.default_rng(3)
    for _ in range(24):
        step_latent(state, config, seg, rng)

    np.testing.assert_allclose(state.health_noise, 0.0, rtol=0, atol=1e-12)
    for part in (state.h_champion, state.h_pain, state.h_stress):
        assert np.abs(part).max() > 0.1


def test_the_reference_account_has_no_cause() -> None:
    ref = reference_state(np.array([0, 1, 2]), CONFIG)
    causes = cause_contributions(ref, CONFIG)

    for name in CAUSES:
        assert np.all(causes[name] == 0.0), name
    assert list(top_cause(causes)) == [None, None, None]
    # SMB by hand: intercept -2.3, health -0.15 plus ordinary pain's damage d, settled
    # adoption logit 0.45 + 0.9 * (-0.15 + d) + 0.4, champion present, growth 0.002.
    d = typical_pain_damage(CONFIG.chain)
    adoption = 1 / (1 + math.exp(-(0.45 + 0.9 * (-0.15 + d) + 0.4)))
    smb = -2.3 - 1.0 * (-0.15 + d) - 1.5 * (adoption - 0.6) - 0.7 - 25 * 0.002
    assert reference_logit(np.array([2]), CONFIG)[0] == pytest.approx(smb, abs=1e-12)
    assert ref.h_pain == pytest.approx([d] * 3, abs=0)


def test_ordinary_pain_damage_is_what_long_running_accounts_carry() -> None:
    """``typical_pain_damage`` against the chain itself: the mean ``h_pain`` of 4,000
    accounts over months 60-119 (the chain forgets its start in ~30 months)."""
    seg = SegmentArrays.from_config(CONFIG)
    state = accounts(4000, seed=11)
    rng = np.random.default_rng(12)
    seen = []
    for month in range(120):
        step_latent(state, CONFIG, seg, rng)
        if month >= 60:
            seen.append(state.h_pain.mean())

    d = typical_pain_damage(CONFIG.chain)
    assert -0.3 < d < -0.2  # pain_effect 0.12 x E[max(pain, 0)] ~0.315 / (1 - 0.85)
    assert np.mean(seen) == pytest.approx(d, abs=0.01)


def test_ordinary_pain_damage_by_hand() -> None:
    """No noise and no spikes: no pain. Spikes every month and no noise: pain settles at
    spike / (1 - rho) = 4, so h_pain at -0.12 x 4 / 0.15 = -3.2 (on the grid's resolution).
    Noise only: E[max(G, 0)] = sd / sqrt(2 pi), sd = 0.35 / sqrt(1 - 0.49)."""
    assert typical_pain_damage(ChainParams(pain_sigma=0.0, pain_spike_p=0.0)) == 0.0
    always = ChainParams(pain_sigma=0.0, pain_spike_p=1.0)
    assert typical_pain_damage(always) == pytest.approx(-3.2, abs=1e-3)
    sd = 0.35 / math.sqrt(1 - 0.7**2)
    noise = ChainParams(pain_spike_p=0.0)
    assert typical_pain_damage(noise) == pytest.approx(
        -0.12 * sd / math.sqrt(2 * math.pi) / 0.15, abs=1e-9
    )


def test_support_is_no_cause_of_an_ordinary_account() -> None:
    """Over a long-running book the support cause is centred like the other causes (the
    median account is ordinary), not a default positive every account carries."""
    state = accounts(3000, seed=13, months=80)
    causes = cause_contributions(state, CONFIG)

    assert abs(np.median(causes["support"])) < 0.06
    assert abs(np.median(causes["champions"])) < 0.06
    assert (causes["support"] < 0).mean() > 0.4


def test_top_cause_is_the_largest_positive_cause_or_none() -> None:
    causes = {name: np.zeros(3) for name in CAUSES}
    causes["support"][:] = [0.4, -0.2, 0.0]
    causes["payments"][:] = [0.9, -0.1, 0.0]
    causes["value"][:] = [-2.0, -0.3, 0.0]

    assert list(top_cause(causes)) == ["payments", None, None]


# ---- each cause answers to its own driver -------------------------------------------------


def test_champion_loss_raises_champions_not_value_support_payments_consumption() -> None:
    """The same month with the same draws, once with every champion leaving and once with
    none leaving. A loss adds 0.7 (champion absent) + 1.0 x (0.55 shock + 0.06 drift) of
    health = 1.31 log-odds. Adoption's target falls with the champion too, a smaller
    rise that counts as adoption (what usage shows)."""
    state = accounts(900, seed=4, months=12)
    state.champion[:] = True
    lost = step(state, with_chain(champion_leave=1 - 1e-12, champion_leave_health=0.0), 5)
    kept = step(state, with_chain(champion_leave=1e-12, champion_leave_health=0.0), 5)
    assert lost.champion_lost.all() and not kept.champion_lost.any()
    a, b = cause_contributions(lost, CONFIG), cause_contributions(kept, CONFIG)

    np.testing.assert_allclose(a["champions"] - b["champions"], 1.31, rtol=0, atol=1e-12)
    for name in ("value", "support", "payments", "consumption"):
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-12, err_msg=name)
    rise = a["adoption"] - b["adoption"]
    assert (rise > 0).all() and (rise < 0.15).all()


def test_support_pain_spikes_raise_the_support_cause() -> None:
    calm = with_chain(pain_sigma=0.0, pain_spike_p=0.0)
    spiky = with_chain(pain_sigma=0.0, pain_spike_p=1.0)
    state = accounts(300, seed=6)
    state.pain[:] = 0.0
    a, b = state.copy(), state.copy()
    for k in range(3):
        a, b = step(a, spiky, k), step(b, calm, k)
    spiked, quiet = cause_contributions(a, CONFIG), cause_contributions(b, CONFIG)

    assert (a.pain > 1.0).all()
    assert (spiked["support"] > 0.3).all()
    # no pain at all for three months: less support damage than an ordinary account
    np.testing.assert_allclose(quiet["support"], typical_pain_damage(CONFIG.chain), atol=1e-12)


def test_payment_stress_counts_as_payments() -> None:
    state = accounts(300, seed=7, months=6)
    stressed = state.copy()
    stressed.stress[:] = True
    calm = state.copy()
    calm.stress[:] = False
    a, b = cause_contributions(stressed, CONFIG), cause_contributions(calm, CONFIG)

    np.testing.assert_allclose(a["payments"] - b["payments"], 1.0, rtol=0, atol=1e-12)
    for name in ("adoption", "champions", "support", "value", "consumption"):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


# ---- the written table --------------------------------------------------------------------


def test_causes_parquet_has_one_row_per_label_row_and_the_exact_split(small_run) -> None:
    truth = small_run.path / "_truth"
    causes = pq.read_table(truth / "causes.parquet")
    labels = pq.read_table(truth / "labels.parquet")
    assert causes.schema == CAUSES_SCHEMA
    for key in ("account_id", "snapshot_date"):
        assert causes.column(key).equals(labels.column(key)), key
    frame = causes.to_pandas()

    offset = CONFIG.chain.churn_monthly_offset * (frame["term_months"] == 1)
    total = frame["reference_logit"] + frame[list(CAUSE_COLUMNS)].sum(axis=1)
    np.testing.assert_allclose(total, frame["churn_logit"] - offset, rtol=0, atol=1e-12)
    best = frame[list(CAUSE_COLUMNS)].max(axis=1)
    assert frame["top_cause"].isna().equals(best <= 0)
    named = frame[frame["top_cause"].notna()]
    chosen = [row[f"cause_{row['top_cause']}"] for _, row in named.iterrows()]
    np.testing.assert_array_equal(chosen, best[named.index])
    assert (frame["days_to_term_end"] >= 0).all()  # 0: a term ends on the snapshot date


def test_causes_parquet_agrees_with_the_latent_state(small_run) -> None:
    """Rows in more pain have a larger support cause, never below ordinary pain's damage
    (no pain at all); rows without a champion a champion cause of at least 0.7; rows in
    payment stress a payments cause of at least 1.0."""
    truth = small_run.path / "_truth"
    causes = pq.read_table(truth / "causes.parquet").to_pandas()
    latent = pq.read_table(truth / "latent.parquet").to_pandas()
    rows = causes.merge(
        latent.rename(columns={"month_start": "snapshot_date"}),
        on=["account_id", "snapshot_date"],
        suffixes=("", "_latent"),
    )
    assert len(rows) == len(causes)

    d = typical_pain_damage(CONFIG.chain)
    assert (rows["cause_support"] >= d - 1e-12).all()
    in_pain = rows.loc[rows["support_pain"] > 1.0, "cause_support"]
    calm = rows.loc[rows["support_pain"] <= 0, "cause_support"]
    assert len(in_pain) > 20 and in_pain.median() > calm.median() + 0.1
    assert (rows.loc[~rows["champion"], "cause_champions"] >= 0.7).all()
    assert (rows.loc[rows["payment_stress"], "cause_payments"] >= 1.0).all()
    assert rows["payment_stress"].any() and (~rows["champion"]).any()
    assert (rows["term_months"] == rows["term_months_latent"]).all()


def test_every_cause_maps_to_a_feature_family() -> None:
    assert tuple(CAUSE_FAMILIES) == CAUSES
    named = [family for families in CAUSE_FAMILIES.values() for family in families]
    assert set(named) <= set(FAMILIES)
    # each cause has its own first family; only value also reads as usage (what customers do)
    assert len({families[0] for families in CAUSE_FAMILIES.values()}) == len(CAUSES)
    assert {c for c, families in CAUSE_FAMILIES.items() if len(families) > 1} == {"value"}


# ---- the accumulators changed nothing -----------------------------------------------------


def test_the_accumulators_feed_nothing_back() -> None:
    """Scrambled accumulators leave every other field of the step and the generator's
    state unchanged: they are outputs only."""
    state = accounts(500, seed=8, months=6)
    scrambled = state.copy()
    noise = np.random.default_rng(9).normal(size=(3, len(state)))
    scrambled.h_champion[:], scrambled.h_pain[:], scrambled.h_stress[:] = noise
    seg = SegmentArrays.from_config(CONFIG)
    rng_a, rng_b = np.random.default_rng(10), np.random.default_rng(10)
    step_latent(state, CONFIG, seg, rng_a)
    step_latent(scrambled, CONFIG, seg, rng_b)

    assert rng_a.bit_generator.state == rng_b.bit_generator.state
    for name in ("health", "adoption_logit", "growth", "log_need", "champion", "stress", "pain"):
        np.testing.assert_array_equal(getattr(state, name), getattr(scrambled, name), name)


TINY = SimulationConfig(
    accounts=60, months=8, seed=9, chunk_accounts=25, oracle_rows=40, oracle_rollouts=20
)
BEFORE_CAUSES = {
    "accounts.parquet": "23c46a70f1d4b362",
    "subscriptions.parquet": "f5402595509c44d8",
    "events.parquet": "ad38028a677ff712",
    "users.parquet": "6ebd778118a03d1c",
    "feature_catalog.parquet": "a8e1ad617b2aec4c",
    "consumption.parquet": "6150f3a39cc67e93",
    "contacts.parquet": "0bf0e080d186e98c",
    "tickets.parquet": "400daf4146ed6bfe",
    "surveys.parquet": "482d580442fb1d87",
    "activities.parquet": "3165450904f32519",
    "invoices.parquet": "125deeec7044bb44",
    "_truth/labels.parquet": "a50760014cbac246",
    "_truth/oracle.parquet": "8812eb6b44ede148",
    "_truth/latent.parquet": "2c40f3b35002fbb8",
}
"""Content digests of ``TINY``'s tables, recorded by commit 5e12af5 (before the health
accumulators and causes existed) with ``content_digest``; surveys re-recorded when CSAT
began to answer to support pain (a deterministic term: no draw and no other table moved).
The observable tables (events to invoices) re-recorded when escalations began to follow
support pain alone and tickets to wait on fixes instead of 2% staying open for ever: their
draws come from the observables' own stream, so every observable table after the first
changed draw moved, while accounts, subscriptions and the truth (labels, oracle, latent
states), which no observable feeds, held the values recorded by 5e12af5. Subscriptions,
labels, latent states and the observables re-recorded again when existing customers became
the survivors of their burn-in renewals (a path that churns before day one is drawn again:
new draws, so every later value of the chunk moves); the accounts table, drawn before the
burn-in, and the oracle (empty here: eight months close no 180-day label) did not move.
The content, not the file bytes: Parquet files name the writer's version, the values must
not change."""


ADDED_LATER = {f"p_churn_by_{d}d" for d in (30, 60, 90, 180, 270, 365)}
"""Columns added since (the oracle's churn curve, ``simulator.survival_truth``): left out of
the digest, so it still proves that every value held before is unchanged."""


def content_digest(path: Path) -> str:
    table = pq.read_table(path)
    table = table.drop_columns([c for c in table.column_names if c in ADDED_LATER])
    text = json.dumps([table.column_names, table.to_pydict()], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def test_the_source_is_the_one_simulated_before_causes_existed(tmp_path) -> None:
    """No new draw and no reordering: every table of a seeded source holds exactly the
    values it held before. (A numpy release that changed its normal sampler would move
    these too; then re-record them from a commit without causes.)"""
    simulate(TINY, tmp_path)
    assert set(BEFORE_CAUSES) >= {f"{table}.parquet" for table in TABLES}

    assert {name: content_digest(tmp_path / name) for name in BEFORE_CAUSES} == BEFORE_CAUSES
    assert (tmp_path / "_truth" / "causes.parquet").exists()
