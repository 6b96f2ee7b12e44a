"""The API through TestClient: every endpoint, and exact status codes and details."""

from __future__ import annotations

import json
import logging

import pytest

from serving.errors import ModelLoadError
from serving.schemas import AccountScore, ModelResponse, PortfolioPage, ScoreResponse
from serving.scoring import tier_thresholds_for
from tests.serving.helpers import FEATURES

SNAPSHOT = "2024-07-01"
TYPE = "tag:churnlight,2026:problems/"


def assert_problem(response, slug: str, status: int, detail: str) -> None:
    """``response`` is the RFC 9457 problem of kind ``slug`` with this status and detail."""
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == TYPE + slug
    assert (body["status"], body["detail"]) == (status, detail)
    assert body["title"] and body["instance"].startswith("/")
    assert body["request_id"] == response.headers["x-request-id"]


# ---- authentication --------------------------------------------------------------------------

PROTECTED = [
    ("GET", "/v1/accounts/A001"),
    ("GET", "/v1/accounts"),
    ("POST", "/v1/score"),
    ("GET", "/v1/model"),
    ("GET", "/metrics"),
    ("POST", "/v1/admin/reload"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_no_key_is_401(client, method, path) -> None:
    response = client.request(method, path)

    assert_problem(
        response, "missing-key", 401, "missing API key: send Authorization: Bearer <key>"
    )
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize(
    "header", ["Bearer cl_wrong", "Bearer sha256:" + "0" * 64, "bearer cl_wrong"]
)
def test_a_wrong_key_is_401(client, method, path, header) -> None:
    response = client.request(method, path, headers={"Authorization": header})

    assert_problem(response, "invalid-key", 401, "invalid API key")


def test_the_hash_itself_is_not_a_key(client, keys) -> None:
    response = client.get("/v1/model", headers={"Authorization": f"Bearer {keys.read_hash}"})
    assert response.status_code == 401


def test_another_scheme_is_401(client, keys) -> None:
    response = client.get("/v1/model", headers={"Authorization": f"Basic {keys.read}"})

    assert response.status_code == 401
    assert response.json()["detail"] == "missing API key: send Authorization: Bearer <key>"


def test_a_read_key_on_an_admin_route_is_403(client, keys) -> None:
    response = client.post("/v1/admin/reload", headers=keys.read_headers)

    assert_problem(response, "admin-required", 403, "this route needs an admin key")


def test_an_admin_key_also_reads(client, keys) -> None:
    assert client.get("/v1/accounts/A001", headers=keys.admin_headers).status_code == 200


def test_healthz_and_readyz_are_open(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["accounts"] == 60


# ---- one account -----------------------------------------------------------------------------


def test_an_account_has_every_contract_field(client, keys) -> None:
    response = client.get("/v1/accounts/A001", headers=keys.read_headers)

    assert response.status_code == 200
    body = response.json()
    AccountScore.model_validate(body)  # the cached bytes follow the documented schema
    assert body["account_id"] == "A001"
    assert body["snapshot_date"] == SNAPSHOT
    assert body["churn_model_version"] == "churnlight-churn/1"
    assert body["expansion_model_version"] == "churnlight-expansion/1"
    assert body["revenue_at_risk"] == pytest.approx(body["mrr"] * 12 * body["churn_probability"])
    assert body["expected_expansion_mrr"] == pytest.approx(
        body["mrr"] * body["expansion_probability"] * 0.10
    )
    assert body["csm_id"] == "csm2" and body["segment"] == "mid_market"
    assert body["lifecycle_stage"] in ("onboarding", "adoption", "renewal")
    assert isinstance(body["days_to_renewal"], int)
    driver = body["churn"]["drivers_up"][0]
    fields = {"feature", "family", "signal", "role", "value", "contribution", "reason"}
    assert set(driver) == fields
    assert driver["contribution"] > 0
    assert body["main_reason"] == body["churn"]["main_reason"]
    assert body["main_reason"] is None or body["main_reason"]["role"] == "actionable"
    assert all(set(c) == fields and c["role"] == "context" for c in body["context"])
    assert response.headers["content-type"] == "application/json"


def test_an_unknown_account_is_404(client, keys) -> None:
    response = client.get("/v1/accounts/nope", headers=keys.read_headers)

    assert_problem(
        response, "unknown-account", 404, f"account 'nope' not found in the snapshot of {SNAPSHOT}"
    )
    assert response.json()["instance"] == "/v1/accounts/nope"


# ---- the portfolio ---------------------------------------------------------------------------


def test_the_portfolio_is_sorted_filtered_and_paginated(client, keys) -> None:
    everything = client.get("/v1/accounts", params={"limit": 500}, headers=keys.read_headers).json()
    PortfolioPage.model_validate(everything)
    assert everything["total"] == 60 and everything["next_offset"] is None
    at_risk = [item["revenue_at_risk"] for item in everything["items"]]
    assert at_risk == sorted(at_risk, reverse=True)

    page = client.get(
        "/v1/accounts",
        params={"sort": "churn_probability", "csm_id": "csm1", "limit": 5, "offset": 5},
        headers=keys.read_headers,
    ).json()
    mine = [i for i in everything["items"] if i["csm_id"] == "csm1"]
    expected = sorted(mine, key=lambda i: (-i["churn_probability"], i["account_id"]))[5:10]
    assert [i["account_id"] for i in page["items"]] == [i["account_id"] for i in expected]
    assert page["total"] == len(mine) and page["next_offset"] == 10

    filtered = client.get(
        "/v1/accounts",
        params=[
            ("segment", "smb"),
            ("segment", "enterprise"),
            ("risk_tier", "low"),
            ("risk_tier", "medium"),
            ("sort", "expansion_probability"),
            ("order", "asc"),
            ("limit", 500),
        ],
        headers=keys.read_headers,
    ).json()
    assert filtered["total"] == sum(
        1
        for i in everything["items"]
        if i["segment"] in ("smb", "enterprise") and i["risk_tier"] in ("low", "medium")
    )
    likely = [i["expansion_probability"] for i in filtered["items"]]
    assert likely == sorted(likely)


def test_lifecycle_filter(client, keys) -> None:
    body = client.get(
        "/v1/accounts",
        params={"lifecycle_stage": "renewal", "limit": 500},
        headers=keys.read_headers,
    ).json()
    assert body["total"] > 0
    assert {i["lifecycle_stage"] for i in body["items"]} == {"renewal"}


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"limit": 0}, "invalid request: query.limit: Input should be greater than or equal to 1"),
        (
            {"offset": -1},
            "invalid request: query.offset: Input should be greater than or equal to 0",
        ),
        (
            {"sort": "name"},
            "invalid request: query.sort: Input should be 'churn_probability', "
            "'revenue_at_risk', 'expansion_probability', 'expected_expansion_mrr', 'mrr' or "
            "'churn_by_renewal'",
        ),
        (
            {"risk_tier": "red"},
            "invalid request: query.risk_tier[0]: Input should be 'low', 'medium', 'high' or "
            "'critical'",
        ),
    ],
)
def test_bad_portfolio_queries_are_422(client, keys, params, detail) -> None:
    response = client.get("/v1/accounts", params=params, headers=keys.read_headers)

    assert_problem(response, "invalid-request", 422, detail)
    assert response.json()["errors"][0]["loc"] == detail.split(": ")[1]


def test_an_unknown_query_parameter_is_422(client, keys) -> None:
    response = client.get(
        "/v1/accounts", params={"limt": 5, "risk": "x"}, headers=keys.read_headers
    )

    assert_problem(
        response,
        "invalid-request",
        422,
        "invalid request: query.limt: Extra inputs are not permitted; "
        "query.risk: Extra inputs are not permitted",
    )
    assert client.get("/healthz", params={"x": 1}).status_code == 422


def test_page_size_is_capped(client, keys, settings) -> None:
    body = client.get("/v1/accounts", params={"limit": 10_000}, headers=keys.read_headers).json()
    assert body["limit"] == settings.max_page_size


# ---- POST /v1/score --------------------------------------------------------------------------


def test_score_by_account_ids_returns_the_cached_records(client, keys) -> None:
    response = client.post(
        "/v1/score", json={"account_ids": ["A003", "missing", "A001"]}, headers=keys.read_headers
    )

    assert response.status_code == 200
    body = response.json()
    ScoreResponse.model_validate(body)
    assert [r["account_id"] for r in body["results"]] == ["A003", "A001"]
    assert body["not_found"] == ["missing"]
    single = client.get("/v1/accounts/A001", headers=keys.read_headers).json()
    assert body["results"][1] == single


def test_what_if_overrides_an_accounts_values(client, keys, models) -> None:
    cached = client.get("/v1/accounts/A001", headers=keys.read_headers).json()
    same = client.post(
        "/v1/score", json={"rows": [{"account_id": "A001"}]}, headers=keys.read_headers
    ).json()["results"][0]
    assert same["churn_probability"] == pytest.approx(cached["churn_probability"], abs=1e-12)
    assert same["what_if"] is True and same["snapshot_date"] == SNAPSHOT

    changed = client.post(
        "/v1/score",
        json={"rows": [{"account_id": "A001", "features": {"champion_departures_90d": 3}}]},
        headers=keys.read_headers,
    ).json()["results"][0]

    assert changed["churn_probability"] > cached["churn_probability"]
    assert changed["account_id"] == "A001"


def test_what_if_rows_without_an_account_score_the_given_values(client, keys, models) -> None:
    features = {
        "mrr": 1000.0,
        "seats": 20,
        "seat_utilization_30d": 0.3,
        "champion_departures_90d": 2,
        "lifecycle_stage": "renewal",
        "segment": "smb",
        "days_to_renewal": 40,
        "nps_last": None,
    }
    response = client.post(
        "/v1/score", json={"rows": [{"features": features}]}, headers=keys.read_headers
    )

    assert response.status_code == 200
    result = response.json()["results"][0]
    AccountScore.model_validate(result)
    expected = models.churn.predict_proba({k: [features.get(k)] for k in FEATURES})[0]
    assert result["churn_probability"] == pytest.approx(expected, abs=1e-12)
    assert result["account_id"] is None and result["snapshot_date"] is None
    assert result["mrr"] == 1000.0 and result["lifecycle_stage"] == "renewal"
    assert result["revenue_at_risk"] == pytest.approx(1000.0 * 12 * result["churn_probability"])


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({}, "invalid request: body: give exactly one of account_ids or rows"),
        (
            {"account_ids": ["A001"], "rows": [{"features": {}}]},
            "invalid request: body: give exactly one of account_ids or rows",
        ),
        ({"account_ids": []}, "invalid request: body: the batch is empty"),
        (
            {"account_id": ["A001"]},
            "invalid request: body.account_id: Extra inputs are not permitted",
        ),
        (
            {"rows": [{"features": {"seat_utilization_30d": [1]}}]},
            "invalid request: body.rows[0].features.seat_utilization_30d: takes a number, text, "
            "true/false or null",
        ),
        (
            {"rows": [{"features": {"colour": 1, "seat_utilisation": 2}}]},
            "unknown feature(s) 'colour', 'seat_utilisation'; GET /v1/model lists the features",
        ),
        (
            {"rows": [{"features": {"seat_utilization_30d": "high"}}]},
            "feature 'seat_utilization_30d' takes a number; got 'high'",
        ),
        (
            {"rows": [{"features": {"mrr_per_seat": 40}}]},
            "feature 'mrr_per_seat' is computed from 'mrr' and 'seats'; give those instead",
        ),
        (
            {"rows": [{"features": {"segment": 3}}]},
            "feature 'segment' takes a category (text); got 3.0",
        ),
    ],
)
def test_bad_score_requests_are_422(client, keys, payload, detail) -> None:
    response = client.post("/v1/score", json=payload, headers=keys.read_headers)

    assert_problem(
        response,
        "invalid-request" if detail.startswith("invalid") else "invalid-features",
        422,
        detail,
    )


def test_invalid_json_is_422(client, keys) -> None:
    response = client.post(
        "/v1/score",
        content=b'{"account_ids": [',
        headers={**keys.read_headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["type"] == TYPE + "invalid-request"
    assert response.json()["detail"].startswith("invalid request: body[")


def test_a_what_if_on_an_unknown_account_is_404(client, keys) -> None:
    response = client.post(
        "/v1/score", json={"rows": [{"account_id": "nope"}]}, headers=keys.read_headers
    )

    assert_problem(
        response, "unknown-account", 404, f"account 'nope' not found in the snapshot of {SNAPSHOT}"
    )


def test_a_batch_over_the_limit_is_413(client, keys) -> None:
    response = client.post(
        "/v1/score",
        json={"account_ids": [f"A{i:03d}" for i in range(21)]},
        headers=keys.read_headers,
    )

    assert_problem(
        response,
        "batch-too-large",
        413,
        "batch of 21 items exceeds the limit of 20 (CHURNLIGHT_MAX_BATCH); split it",
    )


def test_a_body_over_the_limit_is_413(client, keys) -> None:
    big = {"account_ids": ["x" * 100] * 300}  # ~31 kB > 20 kB

    declared = client.post("/v1/score", json=big, headers=keys.read_headers)

    def chunks():
        body = json.dumps(big).encode()
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    streamed = client.post(  # no Content-Length: counted while it streams
        "/v1/score",
        content=chunks(),
        headers={**keys.read_headers, "Content-Type": "application/json"},
    )

    for response in (declared, streamed):
        assert_problem(response, "body-too-large", 413, "request body exceeds 20000 bytes")


# ---- the model, metrics, logs ----------------------------------------------------------------


def test_model_describes_versions_training_metrics_and_features(client, keys, models) -> None:
    response = client.get("/v1/model", headers=keys.read_headers)

    assert response.status_code == 200
    body = response.json()
    ModelResponse.model_validate(body)
    churn = body["churn"]
    assert churn["version"] == "1" and churn["label"] == "churn_180d"
    assert churn["calibration"] == "platt" and body["expansion"]["calibration"] == "isotonic"
    assert churn["training"]["train_window"] == {
        "first_snapshot": "2023-01-01",
        "last_snapshot": "2023-12-01",
    }
    assert [f["name"] for f in churn["features"]] == [*FEATURES, "mrr_per_seat"]
    derived = churn["features"][-1]
    assert (derived["kind"], derived["op"], derived["inputs"]) == (
        "derived",
        "ratio",
        ["mrr", "seats"],
    )
    assert derived["family"] == "commercial"
    utilisation = next(f for f in churn["features"] if f["name"] == "seat_utilization_30d")
    assert utilisation["family"] == "usage_depth" and utilisation["unit"] == "fraction"
    assert sum(f["importance_gain"] for f in churn["features"]) == pytest.approx(1, abs=1e-4)
    assert churn["explain_ms_per_row"] > 0
    assert body["accounts"] == 60 and body["snapshot_date"] == SNAPSHOT
    assert "champion_rescue" in body["playbooks"]
    medium, high, critical = tier_thresholds_for(models.churn.metadata["base_rate"])
    assert body["scoring"]["tier_thresholds"] == {
        "medium": medium,
        "high": high,
        "critical": critical,
    }
    assert body["scoring"]["tier_basis"] == "base_rate"
    assert "reference" not in churn["training"]  # peer quantiles stay in the bundle


def test_metrics_are_prometheus_text(client, keys) -> None:
    client.get("/v1/accounts/A001", headers=keys.read_headers)
    client.get("/v1/accounts/nope", headers=keys.read_headers)

    text = client.get("/metrics", headers=keys.read_headers).text

    route = 'route="/v1/accounts/{account_id}"'
    assert (
        f'churnlight_http_requests_total{{key="crm",method="GET",{route},status="200"}} 1.0' in text
    )
    assert f'{{key="crm",method="GET",{route},status="404"}} 1.0' in text
    assert "churnlight_accounts_scored 60.0" in text
    assert "churnlight_ready 1.0" in text
    assert "churnlight_http_request_duration_seconds_bucket" in text


def test_access_logs_are_json_with_request_ids_and_no_secrets(client, keys, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="churnlight.access"):
        given = client.get(
            "/v1/accounts/A001", headers={**keys.read_headers, "X-Request-ID": "req-42"}
        )
        fresh = client.get("/v1/accounts/A001?x=1", headers=keys.read_headers)

    assert given.headers["x-request-id"] == "req-42"
    assert len(fresh.headers["x-request-id"]) == 32
    records = [r for r in caplog.records if r.name == "churnlight.access"]
    fields = [r.fields for r in records]
    assert fields[0]["request_id"] == "req-42"
    assert fields[0]["route"] == "/v1/accounts/{account_id}"
    assert fields[0]["status"] == 200 and fields[0]["role"] == "read"
    assert fields[0]["key"] == "crm"  # the key's name says which integration called
    assert fields[1]["request_id"] == fresh.headers["x-request-id"]
    from serving.logs import JsonFormatter

    lines = [JsonFormatter().format(r) for r in records]
    for line in lines:
        parsed = json.loads(line)
        assert parsed["message"] == "request"
        assert keys.read not in line and keys.read_hash not in line


def test_a_bad_request_id_is_replaced(client) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "x" * 65})
    assert len(response.headers["x-request-id"]) == 32


def test_openapi_documents_every_route_with_examples(client) -> None:
    spec = client.get("/openapi.json").json()

    assert {
        "/v1/accounts/{account_id}",
        "/v1/accounts",
        "/v1/accounts/{account_id}/history",
        "/v1/movers",
        "/v1/score",
        "/v1/model",
        "/v1/admin/reload",
        "/healthz",
        "/readyz",
        "/metrics",
    } <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["AccountScore"]["examples"][0]["account_id"] == "A00042"
    assert len(schemas["ScoreRequest"]["examples"]) == 2
    assert schemas["AccountHistory"]["examples"][0]["points"][0]["snapshot_date"] == "2024-06-01"
    assert schemas["MoversPage"]["examples"][0]["items"][0]["what_changed"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


# ---- models not loaded -----------------------------------------------------------------------


def failing_loader(settings):
    raise ModelLoadError("no MLflow store at '/nowhere/mlflow.db'; train and promote models first")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/accounts/A001", None),
        ("GET", "/v1/accounts", None),
        ("POST", "/v1/score", {"account_ids": ["A001"]}),
        ("GET", "/v1/model", None),
    ],
)
def test_without_models_every_scoring_route_is_503(make_client, keys, method, path, body) -> None:
    client = make_client(load=failing_loader)

    response = client.request(method, path, json=body, headers=keys.read_headers)

    assert_problem(response, "models-not-loaded", 503, "models not loaded")
    assert response.headers["retry-after"] == "5"
    assert "/nowhere" not in response.text  # the load error's paths stay in the log


def test_without_models_health_is_up_and_ready_is_503(make_client) -> None:
    client = make_client(load=failing_loader)

    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert_problem(ready, "models-not-loaded", 503, "models not loaded")
    assert ready.json()["load_status"] == "failed"


def test_an_unexpected_load_error_is_also_503(make_client, keys) -> None:
    def broken(settings):
        raise RuntimeError("disk on fire")

    client = make_client(load=broken)

    response = client.get("/v1/accounts/A001", headers=keys.read_headers)
    assert_problem(response, "models-not-loaded", 503, "models not loaded")


def test_a_missing_snapshot_is_503(make_client, settings, keys, tmp_path) -> None:
    client = make_client(
        settings=settings.model_copy(update={"features": tmp_path / "none.parquet"})
    )

    assert client.get("/v1/accounts/A001", headers=keys.read_headers).status_code == 503


def test_a_what_if_batch_scores_every_row_in_order(client, keys) -> None:
    rows = [
        {"account_id": "A001"},
        {"account_id": "A002", "features": {"open_high_tickets": 4}},
        {"features": {"mrr": 50.0, "segment": "smb"}},
    ]

    response = client.post("/v1/score", json={"rows": rows}, headers=keys.read_headers)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["account_id"] for r in results] == ["A001", "A002", None]
    assert all(r["what_if"] for r in results)
    single = client.post("/v1/score", json={"rows": [rows[1]]}, headers=keys.read_headers).json()
    assert results[1] == single["results"][0]
