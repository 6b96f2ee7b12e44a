"""Reload: the new models serve once complete; requests in flight never fail or mix versions."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from serving.loading import models_from_bundles
from tests.serving.helpers import make_table
from tests.serving.test_api import assert_problem


def alternating_loader(models, other_models, delay: float = 0.0):
    """Version 1, 2, 1, 2, ... on successive loads, each load taking ``delay`` seconds."""
    calls = {"n": 0}
    lock = threading.Lock()

    def load(settings):
        with lock:
            calls["n"] += 1
            n = calls["n"]
        time.sleep(delay)
        pair = models if n % 2 else other_models
        version = "1" if n % 2 else "2"
        return models_from_bundles(pair.churn, pair.expansion, version, version)

    return load


def expected_churn(pair, account_index: int) -> float:
    row = make_table(60, seed=2).slice(account_index, 1)
    return float(pair.churn.predict_proba(row)[0])


def test_reload_swaps_models_without_failing_requests_in_flight(
    make_client, keys, models, other_models
) -> None:
    client = make_client(load=alternating_loader(models, other_models, delay=0.2))
    expected = {
        "churnlight-churn/1": expected_churn(models, 1),
        "churnlight-churn/2": expected_churn(other_models, 1),
    }
    assert expected["churnlight-churn/1"] != pytest.approx(expected["churnlight-churn/2"])
    stop = threading.Event()

    def hammer(kind: str) -> list[tuple[int, str, float]]:
        seen = []
        while not stop.is_set():
            if kind == "get":
                response = client.get("/v1/accounts/A001", headers=keys.read_headers)
                body = response.json()
            else:
                response = client.post(
                    "/v1/score", json={"rows": [{"account_id": "A001"}]}, headers=keys.read_headers
                )
                body = response.json()["results"][0] if response.status_code == 200 else {}
            seen.append(
                (
                    response.status_code,
                    body.get("churn_model_version"),
                    body.get("churn_probability"),
                )
            )
        return seen

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(hammer, kind) for kind in ("get", "get", "post", "post")]
        versions = []
        for _ in range(3):
            response = client.post("/v1/admin/reload?wait=true", headers=keys.admin_headers)
            assert response.status_code == 200
            versions.append(response.json()["churn_model_version"])
            time.sleep(0.05)
        stop.set()
        seen = [item for f in futures for item in f.result()]

    assert versions == ["churnlight-churn/2", "churnlight-churn/1", "churnlight-churn/2"]
    assert len(seen) > 20
    assert {status for status, _, _ in seen} == {200}
    assert {version for _, version, _ in seen} == set(expected)
    for _, version, probability in seen:  # each answer comes from one model, never a mix
        assert probability == pytest.approx(expected[version], abs=1e-12)


def test_reload_without_wait_answers_202_and_finishes_in_the_background(
    make_client, keys, models, other_models
) -> None:
    release = threading.Event()
    load_two = alternating_loader(models, other_models)

    def load(settings):
        if client_ready.is_set():  # the reload (not the start) waits until the test lets go
            assert release.wait(30)
        return load_two(settings)

    client_ready = threading.Event()
    client = make_client(load=load)
    client_ready.set()

    response = client.post("/v1/admin/reload", headers=keys.admin_headers)

    assert response.status_code == 202
    assert response.json()["status"] == "reloading"
    assert response.json()["churn_model_version"] == "churnlight-churn/1"  # still serving
    assert client.get("/readyz").json()["status"] == "reloading"
    running = client.app.state.holder.reload()  # joins the reload in flight
    release.set()
    running.result(timeout=30)
    account = client.get("/v1/accounts/A001", headers=keys.read_headers).json()
    assert account["churn_model_version"] == "churnlight-churn/2"
    assert client.get("/readyz").json()["status"] == "ready"


def test_a_failed_reload_keeps_the_previous_models_serving(make_client, keys, models) -> None:
    calls = {"n": 0}

    def load(settings):
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("registry unreachable")
        return models_from_bundles(models.churn, models.expansion, "1", "1")

    client = make_client(load=load)

    response = client.post("/v1/admin/reload?wait=true", headers=keys.admin_headers)

    assert_problem(
        response,
        "reload-failed",
        503,
        "reload failed, the previous models keep serving: registry unreachable",
    )
    still = client.get("/v1/accounts/A001", headers=keys.read_headers)
    assert still.status_code == 200
    assert still.json()["churn_model_version"] == "churnlight-churn/1"
    assert client.get("/readyz").json()["status"] == "ready"
    metrics = client.get("/metrics", headers=keys.read_headers).text
    assert 'churnlight_loads{outcome="failed"} 1.0' in metrics
    assert 'churnlight_loads{outcome="ok"} 1.0' in metrics


def test_a_reload_after_a_failed_start_makes_the_app_ready(make_client, keys, models) -> None:
    calls = {"n": 0}

    def load(settings):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("store not there yet")
        return models_from_bundles(models.churn, models.expansion, "1", "1")

    client = make_client(load=load)
    assert client.get("/readyz").status_code == 503

    response = client.post("/v1/admin/reload?wait=true", headers=keys.admin_headers)

    assert response.status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/accounts/A001", headers=keys.read_headers).status_code == 200
