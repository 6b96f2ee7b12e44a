"""Plays with true effects: the policy's runs in the activities table, the truth files, an
inert play's exact zero, the sign of real effects, confounding, replay and determinism."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from features.contract import TABLES
from simulator.chain import advance
from simulator.config import SimulationConfig
from simulator.latent import SegmentArrays
from simulator.play_catalog import INERT_PLAYS, PLAY_CODES, PLAY_IDS, PlayPolicy
from simulator.play_truth import NO_PLAY, PlayTruth, eligible_rows, play_probabilities
from simulator.plays import apply_plays
from simulator.run import History, chain_rng, generate, simulate
from simulator.truth import labels_from_records, write_truth
from simulator.writer import TRUTH_DIR

pytestmark = pytest.mark.xdist_group("simulator")

PLAYS_CONFIG = SimulationConfig(
    accounts=300,
    months=24,
    seed=11,
    oracle_rows=50,
    oracle_rollouts=20,
    plays=PlayPolicy(truth_rollouts=100, truth_sample_rows=200),
)


@dataclass
class PlaysRun:
    path: Path
    history: History
    play_truth: PlayTruth
    rows: pd.DataFrame
    effects: pd.DataFrame


@pytest.fixture(scope="module")
def plays_run(tmp_path_factory: pytest.TempPathFactory) -> PlaysRun:
    from simulator.play_truth import write_play_truth

    path = tmp_path_factory.mktemp("plays") / "source"
    history = generate(PLAYS_CONFIG, path)
    write_truth(history, path)
    play_truth = write_play_truth(history, path)
    truth = path / TRUTH_DIR
    return PlaysRun(
        path,
        history,
        play_truth,
        pq.read_table(truth / "play_rows.parquet").to_pandas(),
        pq.read_table(truth / "play_effects.parquet").to_pandas(),
    )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_play_runs_are_activities_with_a_known_play(plays_run: PlaysRun) -> None:
    activities = pq.read_table(plays_run.path / "activities.parquet")
    assert activities.schema.names == list(TABLES["activities"].column_names)
    frame = activities.to_pandas()
    runs = frame[frame["play"].notna()]
    assert set(runs["play"]) == set(PLAY_IDS)  # every play is run somewhere
    assert frame["play"].isna().sum() > len(runs) > 100  # routine work is still most of it
    # A run is dated inside [t, t + 30 days) of its own month start t, and of no other.
    day = pd.to_datetime(runs["date"])
    assert day.dt.day.between(3, 28).all()


def test_play_rows_hold_the_treated_rows_the_activities_define(plays_run: PlaysRun) -> None:
    """The interface rule (a row is treated by P when a run of P is dated in [t, t + 30d))
    applied to the written source finds exactly play_rows' treated rows."""
    labels = pq.read_table(plays_run.path / TRUTH_DIR / "labels.parquet").to_pandas()
    labelled = labels[labels["churn_180d"].notna()][["account_id", "snapshot_date"]]
    acts = pq.read_table(plays_run.path / "activities.parquet").to_pandas()
    acts = acts[acts["play"].notna()]
    joined = labelled.merge(acts, on="account_id")
    in_window = (joined["date"] >= joined["snapshot_date"]) & (
        joined["date"] < joined["snapshot_date"] + timedelta(days=30)
    )
    from_source = set(
        joined[in_window][["account_id", "snapshot_date", "play"]].itertuples(index=False)
    )
    treated = plays_run.rows[plays_run.rows["treated"]]
    from_truth = set(treated[["account_id", "snapshot_date", "play"]].itertuples(index=False))
    assert from_source == from_truth
    assert len(from_truth) == plays_run.play_truth.treated_rows > 50


def test_the_truth_files_have_the_agreed_columns(plays_run: PlaysRun) -> None:
    assert list(plays_run.rows.columns) == [
        "account_id",
        "snapshot_date",
        "play",
        "treated",
        "churn_effect",
        "expand_effect",
        "segment",
    ]
    assert list(plays_run.effects.columns) == [
        "play",
        "label",
        "segment",
        "true_effect",
        "true_effect_all",
        "n_rows",
        "n_sample",
    ]
    effects = plays_run.effects
    assert set(effects["label"]) == {"churn_180d", "expand_180d"}
    assert set(effects["segment"]) == {"enterprise", "mid_market", "smb", "all"}
    assert len(effects) == len(PLAY_IDS) * 2 * 4
    untreated = plays_run.rows[~plays_run.rows["treated"]]
    assert untreated.groupby("play").size().min() > 150  # the random sample, every play
    assert plays_run.rows[["churn_effect", "expand_effect"]].abs().max().max() <= 1.0


def test_an_inert_play_changes_exactly_nothing(plays_run: PlaysRun) -> None:
    [inert] = INERT_PLAYS
    rows = plays_run.rows[plays_run.rows["play"] == inert]
    assert rows["treated"].sum() > 5 and (~rows["treated"]).sum() > 100
    assert (rows["churn_effect"] == 0.0).all() and (rows["expand_effect"] == 0.0).all()
    effects = plays_run.effects[plays_run.effects["play"] == inert]
    assert (effects["true_effect_all"] == 0.0).all()
    assert (effects.dropna()["true_effect"] == 0.0).all()


def test_a_play_that_works_has_the_right_sign(plays_run: PlaysRun) -> None:
    effects = plays_run.effects.set_index(["play", "label", "segment"])
    # A discount delays churn but lowers MRR (so fewer rows reach +10%).
    assert effects.loc[("renewal_discount", "churn_180d", "all"), "true_effect_all"] < -0.01
    assert effects.loc[("renewal_discount", "expand_180d", "all"), "true_effect_all"] < -0.01
    assert effects.loc[("expansion_conversation", "expand_180d", "all"), "true_effect_all"] > 0.01
    assert effects.loc[("champion_rescue", "churn_180d", "all"), "true_effect"] < -0.01


def test_champion_rescue_helps_where_the_champion_left(plays_run: PlaysRun) -> None:
    history = plays_run.history
    acc, month = eligible_rows(history)
    champion = np.concatenate(
        [history.boundary[m].latent.champion[acc[month == m]] for m in np.unique(month)]
    )
    order = np.argsort(month, kind="stable")  # the order the concatenation above has
    acc, month = acc[order], month[order]
    rng = np.random.default_rng(0)
    pick = np.r_[
        rng.choice(np.flatnonzero(~champion), 150, replace=False),
        rng.choice(np.flatnonzero(champion), 150, replace=False),
    ]
    arms = np.stack([np.full(300, NO_PLAY), np.full(300, PLAY_CODES["champion_rescue"])])
    # The run's own success draw as the policy draws it: a rescue does not always find one.
    success = rng.random(300)
    churn, _ = play_probabilities(history, acc[pick], month[pick], arms, success, 99)
    effect = churn[1] - churn[0]
    without, with_champion = effect[:150].mean(), effect[150:].mean()
    # Several points where the champion left (docs/simulator.md: sizes and their sources),
    # a fifth of the rate without the play or more (on these 150 rows it reads 0.25-0.4
    # depending on the world's draws; about a third on large samples).
    assert without < -0.03
    assert without / churn[0][:150].mean() < -0.2
    assert abs(with_champion) < abs(without) / 4


def test_the_naive_comparison_is_confounded(plays_run: PlaysRun) -> None:
    """Played rows churn more than unplayed ones although plays lower churn: the policy
    targets accounts that look risky."""
    labels = pq.read_table(plays_run.path / TRUTH_DIR / "labels.parquet").to_pandas()
    labels = labels[labels["churn_180d"].notna()]
    treated = plays_run.rows[plays_run.rows["treated"]]
    keys = set(treated[["account_id", "snapshot_date"]].itertuples(index=False))
    is_treated = [
        k in keys for k in labels[["account_id", "snapshot_date"]].itertuples(index=False)
    ]
    churn = labels["churn_180d"].astype(float).to_numpy()
    naive = churn[np.array(is_treated)].mean() - churn[~np.array(is_treated)].mean()
    truth = treated["churn_effect"].mean()
    assert truth < 0
    assert naive - truth > 0.03


def test_replaying_with_the_recorded_plays_gives_the_realised_labels(plays_run: PlaysRun) -> None:
    """The history's path is the chain stepped from the pre-play state with each month's
    recorded runs applied first: the truth stage's arms use that very transition."""
    history, cfg = plays_run.history, PLAYS_CONFIG
    ms = history.month_starts
    seg = SegmentArrays.from_config(cfg)
    assert history.plays is not None
    chunk = np.arange(cfg.chunk_accounts)  # chunk 0: accounts 0 .. 249, its own generator
    m0 = 4
    state = history.boundary[m0].take(chunk)
    rng = chain_rng(cfg, 0)
    rng.bit_generator.state = history.rng_states[(0, m0)]
    records = []
    k = 0
    while ms[m0 + k] < ms[m0] + cfg.horizon_days:
        runs = history.plays.in_month(m0 + k)
        in_chunk = runs.acc < cfg.chunk_accounts
        apply_plays(state, runs.acc[in_chunk], runs.play[in_chunk], runs.u[in_chunk])
        mv = advance(state, int(ms[m0 + k]), int(ms[m0 + k + 1]), cfg, seg, rng)
        records.append((mv.churn_idx, mv.churn_day, mv.level_idx, mv.level_day, mv.level))
        k += 1
    ca, cd, la, ld, lv = (np.concatenate([r[i] for r in records]) for i in range(5))
    active = np.flatnonzero(history.mrr_eve[m0, chunk] > 0)
    mine = labels_from_records(
        ca, cd, la, ld, lv, active, int(ms[m0]), history.mrr_eve[m0, active], cfg.horizon_days
    )
    realised = labels_from_records(
        history.churn_acc,
        history.churn_day,
        history.level_acc,
        history.level_day,
        history.level,
        active,
        int(ms[m0]),
        history.mrr_eve[m0, active],
        cfg.horizon_days,
    )
    assert len(active) > 100 and mine[0].sum() > 3
    np.testing.assert_array_equal(mine[0], realised[0])
    np.testing.assert_array_equal(mine[1], realised[1])


def test_same_seed_same_plays_and_truth(plays_run: PlaysRun, tmp_path: Path) -> None:
    simulate(PLAYS_CONFIG, tmp_path / "again")
    for name in ("activities.parquet", "subscriptions.parquet", "events.parquet"):
        assert _digest(plays_run.path / name) == _digest(tmp_path / "again" / name), name
    for name in ("play_rows.parquet", "play_effects.parquet", "labels.parquet"):
        truth = plays_run.path / TRUTH_DIR / name
        assert _digest(truth) == _digest(tmp_path / "again" / TRUTH_DIR / name), name
    other = PLAYS_CONFIG.model_copy(update={"seed": PLAYS_CONFIG.seed + 1})
    simulate(other, tmp_path / "other")
    other_rows = pq.read_table(tmp_path / "other" / TRUTH_DIR / "play_rows.parquet")
    assert not other_rows.to_pandas().equals(plays_run.rows)


def test_the_cli_runs_plays_by_default_and_not_with_no_plays(tmp_path: Path) -> None:
    base = ["simulate", "--accounts", "60", "--months", "12", "--seed", "2"]
    small = ["--oracle-rows", "20", "--rollouts", "5", "--json"]
    on = CliRunner().invoke(app, [*base, *small, "--out", str(tmp_path / "on")])
    assert on.exit_code == 0, on.output
    assert "play" in pq.read_schema(tmp_path / "on" / "activities.parquet").names
    assert (tmp_path / "on" / TRUTH_DIR / "play_effects.parquet").exists()
    off = CliRunner().invoke(app, [*base, *small, "--out", str(tmp_path / "off"), "--no-plays"])
    assert off.exit_code == 0, off.output
    assert "play" not in pq.read_schema(tmp_path / "off" / "activities.parquet").names
    assert not (tmp_path / "off" / TRUTH_DIR / "play_rows.parquet").exists()


def test_a_simulated_source_validates_against_the_playbook_library(plays_run: PlaysRun) -> None:
    """Every simulated play is in the default library: validation warns about none."""
    from features.sources import open_source
    from features.validation import validate_source
    from serving.playbooks import load_playbooks
    from serving.settings import DEFAULT_PLAYBOOKS

    known = load_playbooks(DEFAULT_PLAYBOOKS).ids
    assert set(PLAY_IDS) <= set(known)
    validated = validate_source(open_source(plays_run.path), known_plays=known)
    assert validated.report.ok and validated.report.problems == []
    warned = validate_source(open_source(plays_run.path), known_plays=known[:-1])
    assert [p.examples for p in warned.report.problems] == [[known[-1]]]
