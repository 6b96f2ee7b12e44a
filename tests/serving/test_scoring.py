"""Scoring: encoding parity, tiers, revenue, drivers and reasons, the batch output."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from features.metadata import render_reason
from features.reasons import ReasonConfig
from features.signals import SIGNAL_OF
from serving.playbooks import load_playbooks
from serving.scoring import (
    FALLBACK_TIERS,
    ModelView,
    RowFrame,
    ScoringConfig,
    TableFrame,
    risk_tiers,
    score_frame,
    tier_thresholds_for,
)
from serving.settings import DEFAULT_PLAYBOOKS
from tests.serving.helpers import DERIVED, FEATURES, SCORE_FILE_SCHEMA, make_table, specs


@pytest.fixture(scope="module")
def table():
    return make_table(40, seed=9)


@pytest.fixture(scope="module")
def views(models):
    return ModelView(models.churn, "c/1"), ModelView(models.expansion, "e/1")


@pytest.fixture(scope="module")
def playbooks():
    return load_playbooks(DEFAULT_PLAYBOOKS)


def test_fast_row_encoder_matches_the_bundle_encoder(views, table) -> None:
    churn, _ = views
    rows = table.to_pylist()
    rows[0]["segment"] = "unheard-of"  # unseen category -> missing, as in the bundle encoder
    rows[1]["seat_utilization_30d"] = None
    rows[2]["champion_departures_90d"] = True  # booleans are numbers
    rows[3].pop("nps_last")  # a column the row lacks -> missing
    rows[4]["seats"] = 0  # derived ratio over zero -> missing
    rows[5]["mrr"] = None  # derived from a null -> missing
    rows[6]["mrr"] = "1200.5"  # numeric text is parsed, as pandas does

    fast = churn.encode_rows(rows)
    reference = churn.bundle.encode({k: [r.get(k) for r in rows] for k in FEATURES})

    assert fast.shape == (len(rows), len(FEATURES) + 1)
    assert np.isnan(fast[4, -1]) and np.isnan(fast[5, -1])
    assert fast[0, -1] == pytest.approx(rows[0]["mrr"] / rows[0]["seats"])
    np.testing.assert_array_equal(fast, reference)


@pytest.mark.parametrize(
    ("p", "tier"),
    [
        (0.0, "low"),
        (0.0999, "low"),
        (0.10, "medium"),
        (0.2499, "medium"),
        (0.25, "high"),
        (0.4999, "high"),
        (0.5, "critical"),
        (1.0, "critical"),
    ],
)
def test_a_threshold_belongs_to_the_higher_tier(p, tier) -> None:
    assert risk_tiers(np.array([p]), (0.10, 0.25, 0.50)).tolist() == [tier]


def test_default_tiers_follow_the_base_rate_odds() -> None:
    # base rate 0.1: odds 1/9; x1.5, x3, x6 -> odds 1/6, 1/3, 2/3 -> p 1/7, 1/4, 2/5
    assert tier_thresholds_for(0.1) == (0.1429, 0.25, 0.4)
    # a book whose churn is rare still gets high and critical accounts
    low, high, critical = tier_thresholds_for(0.02)
    assert critical < 0.15 and low < high < critical
    assert tier_thresholds_for(None) == FALLBACK_TIERS
    assert tier_thresholds_for(0.0) == FALLBACK_TIERS


def test_fixed_tiers_win_over_the_base_rate(views, table, playbooks) -> None:
    churn, expansion = views
    relative = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig())
    fixed = ScoringConfig(tier_thresholds=(0.9, 0.95, 0.99))
    pinned = score_frame(TableFrame(table), churn, expansion, playbooks, fixed)

    assert (
        relative.risk_tier.tolist()
        == risk_tiers(relative.churn.probability, tier_thresholds_for(churn.base_rate)).tolist()
    )
    assert set(pinned.risk_tier.tolist()) == {"low"}  # no probability reaches 0.9 here
    assert set(relative.risk_tier.tolist()) != {"low"}


def test_revenue_fields_on_hand_made_mrr(views, table, playbooks) -> None:
    churn, expansion = views
    rows = table.slice(0, 3).to_pylist()
    rows[0]["mrr"], rows[1]["mrr"], rows[2]["mrr"] = 1000.0, 0.0, None

    batch = score_frame(
        RowFrame(rows), churn, expansion, playbooks, ScoringConfig(expansion_uplift=0.2)
    )
    records = [batch.record(i) for i in range(3)]

    p0, e0 = records[0]["churn_probability"], records[0]["expansion_probability"]
    assert records[0]["revenue_at_risk"] == pytest.approx(12_000 * p0)
    assert records[0]["expected_expansion_mrr"] == pytest.approx(200 * e0)
    assert records[1]["revenue_at_risk"] == 0.0
    assert records[1]["expected_expansion_mrr"] == 0.0
    assert records[2]["mrr"] is None
    assert records[2]["revenue_at_risk"] is None
    assert records[2]["expected_expansion_mrr"] is None


def test_scores_follow_the_contract_definitions(views, table, playbooks) -> None:
    churn, expansion = views
    config = ScoringConfig(top_k=3, expansion_uplift=0.2)

    batch = score_frame(TableFrame(table), churn, expansion, playbooks, config)

    matrix = churn.bundle.encode(table)
    np.testing.assert_allclose(
        batch.churn.probability, churn.bundle.predict_proba(matrix), atol=1e-12
    )
    assert batch.account_id.tolist() == table.column("account_id").to_pylist()
    assert set(batch.snapshot_date.tolist()) == {"2024-07-01"}
    record = batch.record(0)
    assert record["churn_model_version"] == "c/1"
    assert record["expansion_model_version"] == "e/1"
    assert record["what_if"] is False


def test_drivers_are_signals_whose_contributions_add_up(views, table, playbooks) -> None:
    churn, expansion = views
    # every signal listed, none left out as noise: the drivers must add up exactly
    config = ScoringConfig(top_k=50, reasons=ReasonConfig(min_contribution=0.0))
    batch = score_frame(TableFrame(table), churn, expansion, playbooks, config)
    by_name = {s.name: s for s in [*specs(), DERIVED]}

    for score, view in (("churn", churn), ("expansion", expansion)):
        contributions, _ = view.bundle.contributions(view.bundle.encode(table))
        for i in range(batch.n):
            block = batch.record(i)[score]
            drivers = block["drivers_up"] + block["drivers_down"]
            up = [d["contribution"] for d in block["drivers_up"]]
            down = [d["contribution"] for d in block["drivers_down"]]
            assert all(c > 0 for c in up) and up == sorted(up, reverse=True)
            assert all(c < 0 for c in down) and down == sorted(down)
            for driver in drivers:
                members = [
                    j for j, n in enumerate(view.names) if SIGNAL_OF.get(n, n) == driver["signal"]
                ]
                assert view.index[driver["feature"]] in members
                assert driver["contribution"] == pytest.approx(contributions[i, members].sum())
                spec = by_name[driver["feature"]]
                assert driver["family"] == spec.family
                assert driver["role"] == spec.role
                assert driver["reason"].startswith(render_reason(spec, driver["value"]))
            listed = sum(d["contribution"] for d in drivers)
            assert listed == pytest.approx(block["raw_score"] - block["base_value"], abs=1e-9)


def test_main_reason_is_the_largest_actionable_driver_up(views, table, playbooks) -> None:
    churn, expansion = views
    batch = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig(top_k=50))
    seen_context_first = False
    for i in range(batch.n):
        record = batch.record(i)
        up = record["churn"]["drivers_up"]
        minimum = ReasonConfig().missing_main_min
        actionable = [
            d
            for d in up
            if d["role"] == "actionable"
            and (d["value"] is not None or d["contribution"] >= minimum)
        ]
        assert record["main_reason"] == (actionable[0] if actionable else None)
        assert record["main_reason"] == record["churn"]["main_reason"]
        assert all(c["role"] == "context" for c in record["context"])
        assert record["context"] == [d for d in up if d["role"] == "context"][:2]
        seen_context_first |= bool(up) and up[0]["role"] == "context"
    assert seen_context_first  # the data has rows where timing or size leads the drivers


def test_what_if_rows_score_like_the_same_rows_in_a_table(views, table, playbooks) -> None:
    churn, expansion = views
    rows = table.slice(0, 3).to_pylist()

    live = score_frame(RowFrame(rows), churn, expansion, playbooks, ScoringConfig(), what_if=True)
    cached = score_frame(
        TableFrame(table.slice(0, 3)), churn, expansion, playbooks, ScoringConfig()
    )

    np.testing.assert_allclose(live.churn.probability, cached.churn.probability, atol=1e-12)
    np.testing.assert_allclose(live.expansion.probability, cached.expansion.probability, atol=1e-12)
    assert [live.record(i)["churn"] for i in range(3)] == [
        cached.record(i)["churn"] for i in range(3)
    ]
    assert live.playbooks == cached.playbooks
    assert live.record(0)["what_if"] is True


@pytest.mark.parametrize("threads", [1, 2])
def test_one_row_scores_like_the_same_row_in_a_batch(views, table, playbooks, threads) -> None:
    """A single row takes LightGBM's single-row path, its two models side by side with two
    threads; neither changes a number."""
    churn, expansion = views
    batch = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig())
    for i in (0, 7, 21):
        row = RowFrame([table.slice(i, 1).to_pylist()[0]])
        one = score_frame(row, churn, expansion, playbooks, ScoringConfig(), threads=threads)
        assert one.record(0) == batch.record(i)


def test_single_rows_scored_from_many_threads_at_once_keep_their_own_results(
    views, table, playbooks
) -> None:
    churn, expansion = views
    rows = table.to_pylist()
    batch = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig())

    def one(i: int) -> dict:
        frame = RowFrame([rows[i % len(rows)]])
        return score_frame(frame, churn, expansion, playbooks, ScoringConfig(), threads=2).record(0)

    with ThreadPoolExecutor(4) as pool:
        records = list(pool.map(one, range(200)))
    for i, record in enumerate(records):
        assert record == batch.record(i % len(rows))


def test_to_arrow_writes_exactly_the_documented_columns(views, table, playbooks) -> None:
    churn, expansion = views
    batch = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig())

    out = batch.to_arrow()

    assert out.schema == SCORE_FILE_SCHEMA
    assert out.num_rows == table.num_rows
    records = [batch.record(i) for i in range(batch.n)]
    assert out.column("main_reason").to_pylist() == [
        r["main_reason"]["reason"] if r["main_reason"] else None for r in records
    ]
    assert out.column("context").to_pylist() == [
        [c["reason"] for c in r["context"]] for r in records
    ]
