"""Ground truth: labels agree with the features package, rollouts replay the realised path,
oracle probabilities are calibrated, and the rates sit in their target bands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.pipeline import build_labels
from features.sources import open_source
from features.validation import validate_source
from simulator.chain import advance
from simulator.config import SimulationConfig
from simulator.dates import to_date
from simulator.latent import SegmentArrays
from simulator.run import chain_rng, simulate
from simulator.truth import labels_from_records, realised_labels

pytestmark = pytest.mark.xdist_group("simulator")


def chain_labels(run) -> pd.DataFrame:
    history = run.history
    ms = history.month_starts
    snapshots = np.array([m for m in range(3, run.config.months + 1)])
    mine = realised_labels(history, snapshots, history.as_of)
    mine["account_id"] = np.array(history.account_ids)[mine["acc"].to_numpy()]
    mine["snapshot_date"] = [to_date(int(ms[m])) for m in mine["month"]]
    return mine


def test_chain_labels_equal_build_labels(small_run) -> None:
    """One label semantics: the chain's own records give what features.build_labels gives."""
    expected = build_labels(open_source(small_run.path)).to_pyarrow().to_pandas()
    mine = chain_labels(small_run)
    expected["snapshot_date"] = expected["snapshot_date"].astype(object)
    merged = expected.merge(
        mine, on=["account_id", "snapshot_date"], how="outer", suffixes=("", "_chain")
    )

    assert len(merged) == len(expected) == len(mine)
    for name in ("churn_180d", "expand_180d"):
        assert merged[name].astype("Int64").equals(merged[f"{name}_chain"].astype("Int64")), name
    assert small_run.truth.label_mismatches == 0
    stored = pq.read_table(small_run.path / "_truth" / "labels.parquet")
    assert stored.column_names == ["account_id", "snapshot_date", "churn_180d", "expand_180d"]
    assert stored.num_rows == len(expected)


@pytest.mark.slow
def test_chain_labels_equal_build_labels_when_lines_share_dates(tmp_path) -> None:
    """Seed 4 has an account whose base and module lines share their dates and renew
    without a gap: no churn. (Guards the total order of churn_dates' windows.)"""
    summary = simulate(
        SimulationConfig(accounts=150, months=18, seed=4, oracle_rows=10, oracle_rollouts=5),
        tmp_path,
    )
    assert summary.truth is not None
    assert summary.truth.label_mismatches == 0


def test_replaying_a_chunk_with_its_own_draws_gives_the_realised_labels(small_run) -> None:
    """Rollouts restricted to the realised random path (the chunk's generator state at t)
    reproduce the realised labels: the rollout and the history share one transition."""
    history, cfg = small_run.history, small_run.config
    ms = history.month_starts
    seg = SegmentArrays.from_config(cfg)
    realised = chain_labels(small_run).set_index(["acc", "month"])
    checked = 0
    for m in (3, 6, 9):
        state = history.boundary[m].copy()
        rng = chain_rng(cfg, 0)
        rng.bit_generator.state = history.rng_states[(0, m)]
        records = []
        k = 0
        while ms[m + k] < ms[m] + cfg.horizon_days:
            mv = advance(state, int(ms[m + k]), int(ms[m + k + 1]), cfg, seg, rng)
            records.append((mv.churn_idx, mv.churn_day, mv.level_idx, mv.level_day, mv.level))
            k += 1
        cols = [np.concatenate([r[i] for r in records]) for i in range(5)]
        active = np.flatnonzero(history.mrr_eve[m] > 0)
        churned, expanded = labels_from_records(
            *cols, active, int(ms[m]), history.mrr_eve[m, active], cfg.horizon_days
        )
        for a, c, e in zip(active, churned, expanded, strict=True):
            row = realised.loc[(a, m)]
            if pd.notna(row["churn_180d"]):
                assert row["churn_180d"] == int(c), (a, m)
                checked += 1
            assert row["expand_180d"] == int(e), (a, m)
    assert checked > 100


def test_labels_from_records_on_the_window_edges() -> None:
    """Churn on t counts, on t + H does not; +10% exactly counts, +9.9% does not."""
    t, h = 1000, 180
    churned, expanded = labels_from_records(
        churn_acc=np.array([0, 1]),
        churn_day=np.array([t, t + h]),
        level_acc=np.array([2, 3, 4, 5]),
        level_day=np.array([t + 5, t + 5, t - 1, t + h - 1]),
        level=np.array([110.0, 109.9, 200.0, 0.0]),
        row_acc=np.arange(6),
        row_t=t,
        row_base=np.full(6, 100.0),
        horizon_days=h,
    )
    assert churned.tolist() == [True, False, False, False, False, False]
    assert expanded.tolist() == [False, False, True, False, False, False]


def test_oracle_is_a_calibrated_probability(small_run) -> None:
    oracle = pq.read_table(small_run.path / "_truth" / "oracle.parquet").to_pandas()

    assert len(oracle) == small_run.truth.oracle_rows > 0
    for name in ("p_churn_180d", "p_expand_180d"):
        assert oracle[name].between(0, 1).all()
    assert list(oracle.columns) == [  # as docs/simulator.md lists them
        "account_id",
        "snapshot_date",
        "p_churn_180d",
        "p_expand_180d",
        "churn_180d",
        "expand_180d",
        "mrr",
        *(f"p_churn_by_{d}d" for d in (30, 60, 90, 180, 270, 365)),
        "segment",
        "health",
        "health_level",
        "adoption",
        "growth",
        "need_ratio",
        "champion",
        "payment_stress",
        "support_pain",
        "age_months",
        "term_months",
        "days_to_term_end",
    ]
    # Mean oracle probability matches the realised frequency within sampling error.
    for label in ("churn_180d", "expand_180d"):
        known = oracle[oracle[label].notna()]
        p, y = known[f"p_{label}"].to_numpy(), known[label].to_numpy(dtype=float)
        se = np.sqrt(np.sum(p * (1 - p))) / len(p)
        assert abs(p.mean() - y.mean()) < 4 * se + 0.01, label
    assert 0.5 < small_run.truth.oracle_churn_auc <= 1.0


def test_summary_json_holds_rates_aucs_and_config(small_summary) -> None:
    path, summary = small_summary
    stored = json.loads((path / "_truth" / "summary.json").read_text())

    assert stored["config"]["seed"] == summary.seed
    assert stored["summary"]["events"] == summary.events > 0
    truth = stored["summary"]["truth"]
    for key in ("annual_churn", "annual_expansion_share", "oracle_churn_auc", "oracle_expand_auc"):
        assert key in truth


@pytest.mark.slow
def test_rates_and_oracle_auc_sit_in_their_target_bands(tmp_path) -> None:
    summary = simulate(SimulationConfig(accounts=2000, months=24, seed=11), tmp_path)
    truth = summary.truth
    assert truth is not None
    by_segment = truth.annual_churn_by_segment

    assert 0.10 <= truth.annual_churn <= 0.20
    assert by_segment["smb"] > by_segment["mid_market"] > by_segment["enterprise"]
    assert 0.15 <= truth.annual_expansion_share <= 0.25
    assert 0.80 <= truth.oracle_churn_auc <= 0.92
    assert truth.oracle_rows == 3000 and truth.oracle_rollouts == 300
    # The whole source passes the contract's validation, row rules included.
    validate_source(open_source(tmp_path))
