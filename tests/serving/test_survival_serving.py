"""Churn curves where they show: the account record, the portfolio's sort and filter, the
batch file; their agreement with the served churn probability; and nothing changed without
a survival model."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from features.survival_bundle import HORIZONS_DAYS, churn_by
from serving.cache import Portfolio
from serving.loading import models_from_bundles
from serving.playbooks import load_playbooks
from serving.scoring import ModelView, ScoredBatch, ScoringConfig, TableFrame, score_frame
from serving.settings import DEFAULT_PLAYBOOKS
from serving.survival import SurvivalView
from tests.serving.conftest import Keys, Models
from tests.serving.helpers import fit_survival_bundle, make_table

CURVE_COLUMNS = [f"churn_by_{d}d" for d in HORIZONS_DAYS] + ["churn_by_renewal"]


@pytest.fixture(scope="module")
def survival():
    return fit_survival_bundle(make_table(500, seed=1))


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return make_table(60, seed=2)


def _score(models: Models, table: pa.Table, survival=None, lazy: bool = False) -> ScoredBatch:
    churn = ModelView(models.churn, "churnlight-churn/1")
    expansion = ModelView(models.expansion, "churnlight-expansion/1")
    view = (
        None if survival is None else SurvivalView.of(survival, "churnlight-survival/3", lazy=lazy)
    )
    playbooks = load_playbooks(DEFAULT_PLAYBOOKS)
    return score_frame(
        TableFrame(table), churn, expansion, playbooks, ScoringConfig(), survival=view
    )


def test_the_curve_is_monotone_and_its_180_day_point_is_the_churn_probability(
    models: Models, table: pa.Table, survival
) -> None:
    batch = _score(models, table, survival)
    assert batch.survival is not None
    curve = batch.survival.curve
    assert curve.shape == (60, len(HORIZONS_DAYS))
    assert (np.diff(curve, axis=1) >= 0).all()
    assert ((curve >= 0) & (curve <= 1)).all()
    at_180 = curve[:, HORIZONS_DAYS.index(180)]
    np.testing.assert_allclose(at_180, batch.churn.probability, rtol=0, atol=1e-12)
    record = batch.record(0)
    assert [p["days"] for p in record["churn_curve"]] == list(HORIZONS_DAYS)
    point = next(p for p in record["churn_curve"] if p["days"] == 180)
    assert point["probability"] == pytest.approx(record["churn_probability"], abs=1e-12)
    # the shape is the survival model's: the unanchored curve differs from the anchored one
    raw = survival.churn_by(survival.encode(table), HORIZONS_DAYS)
    assert np.abs(raw[:, 3] - at_180).max() > 1e-3


def test_churn_by_renewal_is_the_curve_at_the_renewal_day(
    models: Models, table: pa.Table, survival
) -> None:
    batch = _score(models, table, survival)
    assert batch.survival is not None
    renewal = np.asarray(table.column("days_to_renewal").to_numpy(), dtype=float)
    by_renewal = batch.survival.by_renewal
    assert np.isfinite(by_renewal).all()
    # between the curve's horizons around the renewal day (both anchored alike)
    curve = batch.survival.curve
    for i in range(len(renewal)):
        below = [j for j, d in enumerate(HORIZONS_DAYS) if d <= renewal[i]]
        above = [j for j, d in enumerate(HORIZONS_DAYS) if d >= renewal[i] + 1]
        if below:
            assert by_renewal[i] >= curve[i, below[-1]] - 1e-12
        if above:
            assert by_renewal[i] <= curve[i, above[0]] + 1e-12
    # and exactly the unanchored curve at days_to_renewal + 1, scaled like the 180-day point
    hazards = survival.hazards(survival.encode(table))
    raw_renewal = churn_by(hazards, renewal + 1)
    raw_180 = churn_by(hazards, [180])[:, 0]
    k = np.log1p(-batch.churn.probability) / np.log1p(-raw_180)
    np.testing.assert_allclose(by_renewal, 1 - (1 - raw_renewal) ** k, rtol=1e-9)


def test_drivers_of_the_365_day_risk_are_the_largest_positive_contributions(
    models: Models, table: pa.Table, survival
) -> None:
    batch = _score(models, table, survival)
    assert batch.survival is not None and batch.survival.drivers is not None
    contributions, _ = survival.drivers(survival.encode(table))
    names = survival.feature_names
    for i, drivers in enumerate(batch.survival.drivers):
        assert 1 <= len(drivers) <= 3
        values = [d["contribution"] for d in drivers]
        assert values == sorted(values, reverse=True) and min(values) > 0
        best = int(np.argmax(contributions[i]))
        assert drivers[0]["feature"] == names[best]
    record = batch.record(0)
    assert record["churn_curve_drivers"] == batch.survival.drivers[0]
    assert record["survival_model_version"] == "churnlight-survival/3"


def test_curve_drivers_found_on_demand_are_those_found_up_front(
    models: Models, table: pa.Table, survival
) -> None:
    eager = _score(models, table, survival)
    lazy = _score(models, table, survival, lazy=True)
    assert lazy.survival is not None and lazy.survival.lazy is not None
    assert lazy.survival.drivers is None
    portfolio = Portfolio.build(lazy)
    # building the portfolio (every record serialised) found no driver
    assert all(r is None for r in portfolio.responses)
    first = portfolio.response_at(5)
    assert json.loads(first) == json.loads(json.dumps(eager.record(5)))
    assert [i for i, r in enumerate(portfolio.responses) if r is not None] == [5]
    # several at once, in the order asked, each kept once found (5: the response kept)
    answers = portfolio.responses_at([7, 5, 9])
    assert answers[1] is first
    bodies = [json.loads(b) for b in answers]
    assert [b["account_id"] for b in bodies] == [str(lazy.account_id[i]) for i in (7, 5, 9)]
    assert [b["churn_curve_drivers"] for b in bodies] == [
        eager.survival.drivers[i] for i in (7, 5, 9)
    ]
    assert [i for i, r in enumerate(portfolio.responses) if r is not None] == [5, 7, 9]
    # a record read from the batch itself (alerts) finds its own
    assert lazy.record(11)["churn_curve_drivers"] == eager.survival.drivers[11]


def test_without_a_survival_model_the_fields_are_null_and_the_file_unchanged(
    models: Models, table: pa.Table, survival
) -> None:
    without = _score(models, table)
    with_curves = _score(models, table, survival)
    record = without.record(0)
    assert record["churn_curve"] is None and record["churn_by_renewal"] is None
    assert record["churn_curve_drivers"] is None and record["survival_model_version"] is None
    assert without.summary(0)["churn_by_renewal"] is None
    plain, curved = without.to_arrow(), with_curves.to_arrow()
    assert not set(CURVE_COLUMNS) & set(plain.schema.names)
    assert curved.schema.names == plain.schema.names + CURVE_COLUMNS
    assert curved.select(plain.schema.names).equals(plain)
    # and the rest of the record is the same
    other = with_curves.record(0)
    for key in ("churn_curve", "churn_by_renewal", "churn_curve_drivers", "survival_model_version"):
        other.pop(key)
        record.pop(key)
    assert other == record


def _loader(models: Models, survival):
    def load(settings):
        return models_from_bundles(models.churn, models.expansion, "1", "1", survival, "3")

    return load


def test_the_account_record_carries_the_curve(make_client, keys: Keys, models, survival) -> None:
    client = make_client(load=_loader(models, survival))
    body = client.get("/v1/accounts/A000", headers=keys.read_headers).json()
    assert [p["days"] for p in body["churn_curve"]] == list(HORIZONS_DAYS)
    point = next(p for p in body["churn_curve"] if p["days"] == 180)
    assert point["probability"] == pytest.approx(body["churn_probability"], abs=1e-12)
    assert 0 <= body["churn_by_renewal"] <= 1
    assert body["churn_curve_drivers"] and body["survival_model_version"] == (
        "churnlight-survival/3"
    )


def test_records_by_id_and_in_a_batch_carry_the_same_drivers_and_etag(
    make_client, keys: Keys, models, survival
) -> None:
    client = make_client(load=_loader(models, survival))
    batch = client.post(
        "/v1/score", json={"account_ids": ["A003", "A001"]}, headers=keys.read_headers
    ).json()
    first = client.get("/v1/accounts/A001", headers=keys.read_headers)
    again = client.get("/v1/accounts/A001", headers=keys.read_headers)
    assert batch["results"][1] == first.json() == again.json()
    assert first.json()["churn_curve_drivers"]
    assert first.headers["ETag"] == again.headers["ETag"]
    assert (
        batch["results"][0]["churn_curve_drivers"]
        == (
            client.get("/v1/accounts/A003", headers=keys.read_headers).json()["churn_curve_drivers"]
        )
    )


def test_the_portfolio_sorts_and_filters_by_churn_by_renewal(
    make_client, keys: Keys, models, survival
) -> None:
    client = make_client(load=_loader(models, survival))
    page = client.get(
        "/v1/accounts",
        params={"sort": "churn_by_renewal", "limit": 100},
        headers=keys.read_headers,
    ).json()
    values = [item["churn_by_renewal"] for item in page["items"]]
    assert len(values) == 60 and values == sorted(values, reverse=True)
    middle = float(np.median(values))
    high = client.get(
        "/v1/accounts",
        params={"min_churn_by_renewal": middle, "limit": 100, "sort": "mrr"},
        headers=keys.read_headers,
    ).json()
    assert high["total"] == sum(v >= middle for v in values)
    assert all(item["churn_by_renewal"] >= middle for item in high["items"])
    low = client.get(
        "/v1/accounts",
        params={"max_churn_by_renewal": middle, "limit": 100},
        headers=keys.read_headers,
    ).json()
    assert low["total"] == sum(v <= middle for v in values)
    bad = client.get("/v1/accounts", params={"min_churn_by_renewal": 2}, headers=keys.read_headers)
    assert bad.status_code == 422


def test_without_a_survival_model_the_api_answers_as_before(client, keys: Keys) -> None:
    body = client.get("/v1/accounts/A000", headers=keys.read_headers).json()
    assert body["churn_curve"] is None and body["churn_by_renewal"] is None
    page = client.get(
        "/v1/accounts", params={"sort": "churn_by_renewal"}, headers=keys.read_headers
    )
    assert page.status_code == 200
    assert all(item["churn_by_renewal"] is None for item in page.json()["items"])
    filtered = client.get(
        "/v1/accounts", params={"min_churn_by_renewal": 0}, headers=keys.read_headers
    ).json()
    assert filtered["total"] == 0  # no account has a renewal probability to compare
