"""Prescription with play effects: the account record's playbooks and ``GET /v1/plays``, on an
effects model fitted and registered in the test (the way `churnlight plays` does)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from features.effects_bundle import EffectsBundle
from serving.loading import load_models
from serving.playbooks import load_playbooks
from serving.prescription import pooled_prior, relative_effect
from serving.routes.plays import NO_EFFECTS
from serving.settings import DEFAULT_PLAYBOOKS
from tests.serving.conftest import Models, register
from tests.training.effects_source import champion_rescue_book
from training.effects.fit import EffectsOptions, fit_effects
from training.effects.publish import publish_effects
from training.settings import TrainingSettings


@dataclass(frozen=True)
class EffectsRegistry:
    tracking_uri: str
    result_rows: list[dict]


@pytest.fixture(scope="module")
def effects_registry(tmp_path_factory: pytest.TempPathFactory, models: Models) -> EffectsRegistry:
    root = tmp_path_factory.mktemp("effects-registry")
    scratch = root / "bundles"
    scratch.mkdir()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    register(uri, "churnlight-churn", models.churn, scratch, {})
    register(uri, "churnlight-expansion", models.expansion, scratch, {})
    data, runs = champion_rescue_book()
    result = fit_effects(data, runs, ["champion_rescue", "adoption_campaign"], EffectsOptions())
    publish_effects(result, TrainingSettings(tracking_uri=uri), plot_path=root / "plays.png")
    return EffectsRegistry(uri, result.rows)


def test_the_fitted_effect_is_a_churn_reduction_with_evidence(effects_registry) -> None:
    cells = {(r["play"], r["label"], r["segment"]): r for r in effects_registry.result_rows}
    rescue = cells[("champion_rescue", "churn_180d", "all")]
    assert rescue["evidence"] == "ok"
    assert rescue["ci_high"] < 0  # it saves accounts
    assert rescue["naive"] > rescue["effect"]  # the plain comparison understates it
    assert cells[("adoption_campaign", "churn_180d", "all")]["evidence"] == "not enough evidence"


@pytest.mark.slow
def test_records_rank_fitting_plays_by_expected_arr_saved(
    make_client, effects_registry, settings, keys
) -> None:
    client = make_client(
        settings=settings.model_copy(update={"tracking_uri": effects_registry.tracking_uri}),
        load=load_models,
    )
    page = client.get("/v1/accounts?limit=60", headers=keys.read_headers).json()
    with_rescue = [a["account_id"] for a in page["items"] if "champion_rescue" in a["playbooks"]]
    assert with_rescue
    cells = {(r["play"], r["label"], r["segment"]): r for r in effects_registry.result_rows}
    seen_effect = seen_saving = False
    for account_id in with_rescue:
        record = client.get(f"/v1/accounts/{account_id}", headers=keys.read_headers).json()
        plays = record["playbooks"]
        for play in plays:
            assert {
                "churn_effect",
                "expand_effect",
                "expected_arr_saved",
                "expected_arr_churn",
                "expected_arr_expansion",
            } <= set(play)
        rescue = next(p for p in plays if p["id"] == "champion_rescue")
        # the cell's relative effect (its segment's when that has evidence), shrunk to the
        # pooled prior of the fitted cells, x the account's own churn probability; the
        # rescue cell's interval excludes 0, so it saves ARR
        cell = cells.get(("champion_rescue", "churn_180d", record["segment"]))
        if cell is None or cell["evidence"] != "ok":
            cell = cells[("champion_rescue", "churn_180d", "all")]
        rel = relative_effect(
            cell, pooled_prior(EffectsBundle([], effects_registry.result_rows), "churn_180d")
        )
        assert rel is not None
        relative = rel.relative
        p = record["churn_probability"]
        assert rescue["churn_effect"] == pytest.approx(p * relative, abs=1e-4)
        if cell["ci_high"] < 0:
            assert rescue["expected_arr_saved"] == pytest.approx(
                12 * record["mrr"] * -rescue["churn_effect"], abs=0.02
            )
            # the registry's effects model holds no expansion share: churn only
            assert rescue["expected_arr_churn"] == rescue["expected_arr_saved"]
            assert rescue["expected_arr_expansion"] is None
            seen_saving = True
        else:
            assert rescue["expected_arr_saved"] is None
        seen_effect = seen_effect or rescue["churn_effect"] < 0
        # plays expected to save first (highest first), then those without an estimate,
        # then those expected to lose ARR (serving.prescription._rank_key)
        saving = [p for p in plays if (p["expected_arr_saved"] or 0) > 0]
        losing = [p for p in plays if p["expected_arr_saved"] is not None and p not in saving]
        unknown = [p for p in plays if p["expected_arr_saved"] is None]
        assert [p["expected_arr_saved"] for p in saving] == sorted(
            (p["expected_arr_saved"] for p in saving), reverse=True
        )
        assert [p["expected_arr_saved"] for p in losing] == sorted(
            (p["expected_arr_saved"] for p in losing), reverse=True
        )
        assert plays == saving + unknown + losing
    assert seen_effect and seen_saving

    body = client.get("/v1/plays", headers=keys.read_headers).json()
    assert body["effects_model_version"] == "churnlight-effects/1"
    ids = [p["id"] for p in body["plays"]]
    assert ids[:2] == ["champion_rescue", "adoption_campaign"]  # library order, all of it
    assert ids == [p.id for p in load_playbooks(DEFAULT_PLAYBOOKS).playbooks]
    rescue_cells = next(p for p in body["plays"] if p["id"] == "champion_rescue")["effects"]
    overall = next(c for c in rescue_cells if c["label"] == "churn_180d" and c["segment"] == "all")
    assert overall["evidence"] == "ok" and overall["uplift_model"] is True
    assert overall["ci_low"] <= overall["effect"] <= overall["ci_high"] < 0
    unused = next(p for p in body["plays"] if p["id"] == "escalation_review")
    assert unused["effects"] == []


def test_without_an_effects_model_records_are_as_before_and_plays_is_503(client, keys) -> None:
    page = client.get("/v1/accounts?limit=60", headers=keys.read_headers).json()
    account = next(a["account_id"] for a in page["items"] if a["playbooks"])
    record = client.get(f"/v1/accounts/{account}", headers=keys.read_headers).json()
    assert record["playbooks"]
    for play in record["playbooks"]:
        assert set(play) == {"id", "title", "score", "actions", "owner", "because"}

    response = client.get("/v1/plays", headers=keys.read_headers)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "tag:churnlight,2026:problems/effects-unavailable"
    assert problem["detail"] == NO_EFFECTS
    assert client.get("/v1/plays").status_code == 401
