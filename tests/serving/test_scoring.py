"""Scoring: encoding parity, tiers, revenue, drivers and reasons, the batch output."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from features.metadata import render_reason
from serving.playbooks import load_playbooks
from serving.scoring import (
    ModelView,
    RowFrame,
    ScoringConfig,
    TableFrame,
    risk_tiers,
    score_frame,
    top_columns,
)
from serving.settings import DEFAULT_PLAYBOOKS
from tests.serving.helpers import DERIVED, FEATURES, make_table, specs


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


def test_top_columns_orders_by_size_and_stops_at_the_sign() -> None:
    contributions = np.array([[0.1, -0.5, 0.3, 0.0], [-0.2, -0.1, -0.3, -0.4]])

    up, down = top_columns(contributions, 3)

    assert up.tolist() == [[2, 0, -1], [-1, -1, -1]]
    assert down.tolist() == [[1, -1, -1], [3, 2, 0]]
    assert [a.tolist() for a in top_columns(contributions, 9)] == [
        [[2, 0, -1, -1], [-1, -1, -1, -1]],
        [[1, -1, -1, -1], [3, 2, 0, 1]],
    ]


def test_scores_follow_the_contract_definitions(views, table, playbooks) -> None:
    churn, expansion = views
    config = ScoringConfig(top_k=3, expansion_uplift=0.2)

    batch = score_frame(TableFrame(table), churn, expansion, playbooks, config)

    matrix = churn.bundle.encode(table)
    np.testing.assert_allclose(
        batch.churn.probability, churn.bundle.predict_proba(matrix), atol=1e-12
    )
    mrr = table.column("mrr").to_numpy()
    np.testing.assert_allclose(batch.revenue_at_risk, mrr * 12 * batch.churn.probability)
    np.testing.assert_allclose(
        batch.expected_expansion_mrr, mrr * batch.expansion.probability * 0.2
    )
    assert batch.account_id.tolist() == table.column("account_id").to_pylist()
    assert set(batch.snapshot_date.tolist()) == {"2024-07-01"}
    record = batch.record(0)
    assert record["churn_model_version"] == "c/1"
    assert record["expansion_model_version"] == "e/1"
    assert record["what_if"] is False


def test_drivers_carry_value_contribution_and_the_rendered_reason(views, table, playbooks) -> None:
    churn, expansion = views
    batch = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig(top_k=4))
    by_name = {s.name: s for s in [*specs(), DERIVED]}

    for i in range(batch.n):
        record = batch.record(i)
        for score in ("churn", "expansion"):
            block = record[score]
            up = [d["contribution"] for d in block["drivers_up"]]
            down = [d["contribution"] for d in block["drivers_down"]]
            assert len(up) <= 4 and len(down) <= 4
            assert all(c > 0 for c in up) and up == sorted(up, reverse=True)
            assert all(c < 0 for c in down) and down == sorted(down)
            assert math.isclose(
                block["probability"], record[f"{score}_probability"], rel_tol=0, abs_tol=0
            )
            for driver in block["drivers_up"] + block["drivers_down"]:
                spec = by_name[driver["feature"]]
                assert driver["family"] == spec.family
                assert driver["reason"] == render_reason(spec, driver["value"])


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


def test_to_arrow_writes_every_contract_column(views, table, playbooks) -> None:
    churn, expansion = views
    batch = score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig())

    out = batch.to_arrow()

    for name in (
        "account_id",
        "snapshot_date",
        "churn_probability",
        "expansion_probability",
        "risk_tier",
        "mrr",
        "revenue_at_risk",
        "expected_expansion_mrr",
        "lifecycle_stage",
        "days_to_renewal",
        "churn_model_version",
        "expansion_model_version",
        "churn_drivers_up",
        "churn_drivers_down",
        "expansion_drivers_up",
        "expansion_drivers_down",
        "playbooks",
    ):
        assert name in out.schema.names, name
    assert out.num_rows == table.num_rows
    first = out.column("churn_drivers_up").to_pylist()[0][0]
    assert set(first) == {"feature", "family", "value", "category", "contribution", "reason"}
