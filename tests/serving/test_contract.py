"""What integrators build on beyond the routes' bodies: ETags, per-key limits (429 with
Retry-After), key names, and a model card that names no local path."""

from __future__ import annotations

import asyncio
import dataclasses
import json

import httpx
import pytest

from serving.auth import new_key
from serving.errors import RateLimited
from serving.gate import ScoreGate
from serving.limits import KeyLimits
from serving.routes.model import public_facts
from tests.serving.conftest import Models, fixed_loader
from tests.serving.test_api import assert_problem

# ---- ETag / If-None-Match --------------------------------------------------------------------


def test_an_account_has_an_etag_and_a_current_copy_is_304(client, keys) -> None:
    first = client.get("/v1/accounts/A001", headers=keys.read_headers)
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert client.get("/v1/accounts/A002", headers=keys.read_headers).headers["etag"] != etag

    for header in (etag, f'"x", {etag}', f"W/{etag}", "*"):
        again = client.get(
            "/v1/accounts/A001", headers={**keys.read_headers, "If-None-Match": header}
        )
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == etag

    stale = client.get("/v1/accounts/A001", headers={**keys.read_headers, "If-None-Match": '"x"'})
    assert stale.status_code == 200
    assert stale.content == first.content


def test_the_etag_follows_the_record_not_the_load(make_client, keys, other_models) -> None:
    """Two loads of the same models give the same ETags; other models give new ones."""
    a = make_client().get("/v1/accounts/A001", headers=keys.read_headers).headers["etag"]
    b = make_client().get("/v1/accounts/A001", headers=keys.read_headers).headers["etag"]
    other = make_client(load=fixed_loader(other_models, "2", "2"))
    c = other.get("/v1/accounts/A001", headers={**keys.read_headers, "If-None-Match": a})

    assert a == b
    assert c.status_code == 200 and c.headers["etag"] != a


def test_an_unknown_account_with_if_none_match_is_still_404(client, keys) -> None:
    response = client.get("/v1/accounts/nope", headers={**keys.read_headers, "If-None-Match": "*"})
    assert response.status_code == 404


# ---- per-key limits --------------------------------------------------------------------------


def test_what_if_rows_over_the_keys_rate_are_429_with_retry_after(make_client, settings, keys):
    # the bucket holds one full batch (20 rows); it refills at 1 row per second
    client = make_client(settings=settings.model_copy(update={"key_what_if_rows_per_second": 1}))
    client.app.state.limits.clock = lambda: 1000.0  # no refill while batches are scored
    batch = {"rows": [{"account_id": f"A{i:03d}"} for i in range(1, 21)]}

    assert client.post("/v1/score", json=batch, headers=keys.read_headers).status_code == 200
    refused = client.post(
        "/v1/score", json={"rows": [{"account_id": "A001"}] * 5}, headers=keys.read_headers
    )

    assert refused.status_code == 429
    assert refused.json()["type"] == "tag:churnlight,2026:problems/rate-limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    assert "key 'crm' is over its what-if rate of 1 rows per second" in refused.json()["detail"]
    # another key has its own bucket; lookups and cached batches are not rate limited
    assert client.post("/v1/score", json=batch, headers=keys.admin_headers).status_code == 200
    assert client.get("/v1/accounts/A001", headers=keys.read_headers).status_code == 200
    cached = client.post("/v1/score", json={"account_ids": ["A001"]}, headers=keys.read_headers)
    assert cached.status_code == 200


def test_scoring_requests_in_flight_beyond_the_keys_limit_are_429(make_client, settings, keys):
    """Three what-if batches at once from one key with a concurrency of 1: the first scores
    (in a worker process), the two that arrive meanwhile are refused at once."""
    client = make_client(settings=settings.model_copy(update={"key_concurrency": 1}))
    batch = {"rows": [{"account_id": f"A{i:03d}"} for i in range(1, 21)]}

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            return await asyncio.gather(
                *(http.post("/v1/score", json=batch, headers=keys.read_headers) for _ in range(3))
            )

    statuses = sorted(r.status_code for r in asyncio.run(burst()))

    assert statuses == [200, 429, 429]
    assert client.post("/v1/score", json=batch, headers=keys.read_headers).status_code == 200


def test_key_limits_count_in_flight_work_and_refill_the_bucket() -> None:
    now = [0.0]
    limits = KeyLimits(concurrency=2, rows_per_second=10, capacity=20, clock=lambda: now[0])

    with limits.admit("crm", 0), limits.admit("crm", 0):
        with pytest.raises(RateLimited) as caught, limits.admit("crm", 0):
            pass
        assert caught.value.retry_after == 1
        with limits.admit("warehouse", 0):  # another name, other slots
            pass
    with limits.admit("crm", 20):  # a full bucket takes a full batch
        pass
    with pytest.raises(RateLimited) as caught, limits.admit("crm", 15):
        pass
    assert caught.value.retry_after == 2  # 15 rows at 10 rows/s
    now[0] = 1.5
    with limits.admit("crm", 15):  # refilled 15 rows
        pass
    with KeyLimits(1, 0, 20).admit("x", 10_000):  # 0: no rate limit
        pass


def _call(app, path: str, headers: dict[str, str], body: bytes) -> tuple[list[dict], list[str]]:
    """``app`` called as the server calls it: the messages it sent, and each ``receive``."""
    received: list[str] = []
    sent: list[dict] = []

    async def receive() -> dict:
        received.append("http.request")
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (name.lower().encode(), value.encode())
            for name, value in {
                **headers,
                "Content-Type": "application/json",
                "Content-Length": str(len(body)),
            }.items()
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(app(scope, receive, send))
    return sent, received


def test_a_busy_key_is_refused_before_its_body_is_read(client, keys) -> None:
    """A key holding all its slots (concurrency 2) is answered 429 from its headers: the body
    (a full batch) is never received, so a burst of refusals costs the loop little. A
    refusal that reads or parses the body first fails the test."""
    body = json.dumps({"rows": [{"account_id": "A001"}] * 20}).encode()
    limits = client.app.state.limits
    with limits.admit("crm", 0), limits.admit("crm", 0):
        sent, received = _call(client.app, "/v1/score", keys.read_headers, body)
        # another key, and a GET, pass while crm is busy
        other, _ = _call(client.app, "/v1/score", keys.admin_headers, b'{"account_ids":["A001"]}')
        lookup = client.get("/v1/accounts/A001", headers=keys.read_headers)

    assert received == []
    start, end = sent
    headers = dict(start["headers"])
    assert (start["status"], headers[b"retry-after"]) == (429, b"1")
    assert headers[b"content-type"] == b"application/problem+json"
    problem = json.loads(end["body"])
    assert problem["type"] == "tag:churnlight,2026:problems/rate-limited"
    assert problem["detail"] == (
        "key 'crm' has 2 scoring request(s) in flight, its limit (CHURNLIGHT_KEY_CONCURRENCY); "
        "send the next when one completes"
    )
    assert problem["instance"] == "/v1/score" and problem["request_id"]
    assert other[0]["status"] == 200 and lookup.status_code == 200
    # the access log's key and route are in the metrics
    metrics = client.get("/metrics", headers=keys.admin_headers).text
    assert (
        'churnlight_http_requests_total{key="crm",method="POST",route="/v1/score",status="429"}'
        " 1.0" in metrics
    )


def test_a_refused_request_waits_the_refusal_delay_before_its_429(client, keys) -> None:
    """The gate answers a refusal only after the key's refusal delay (a client that resends
    at once then sends a few requests a second, not thousands); the other requests pass
    without waiting. The app's gate takes the delay from the settings."""
    gate = client.app.middleware_stack
    while not isinstance(gate, ScoreGate):
        gate = gate.app
    assert gate.refusal_delay == client.app.state.settings.key_refusal_delay_seconds == 0.25
    events: list[object] = []

    async def pause(seconds: float) -> None:
        events.append(("pause", seconds))

    gate.pause = pause
    body = json.dumps({"account_ids": ["A001"]}).encode()
    limits = client.app.state.limits
    with limits.admit("crm", 0), limits.admit("crm", 0):
        refused, _ = _call(client.app, "/v1/score", keys.read_headers, body)
    events.extend(message["type"] for message in refused)
    admitted, _ = _call(client.app, "/v1/score", keys.read_headers, body)

    assert events == [("pause", 0.25), "http.response.start", "http.response.body"]
    assert refused[0]["status"] == 429 and admitted[0]["status"] == 200

    gate.refusal_delay = 0.0
    events.clear()
    with limits.admit("crm", 0), limits.admit("crm", 0):
        refused, _ = _call(client.app, "/v1/score", keys.read_headers, body)
    assert events == [] and refused[0]["status"] == 429


def test_a_short_bucket_counts_the_rows_and_hands_the_body_on(make_client, settings, keys):
    """With less than a full batch in the key's bucket the rows are counted before the route
    runs: a batch the bucket holds is answered as usual from the replayed body; one it does
    not hold is 429, even when it would fail validation (the count comes first)."""
    client = make_client(settings=settings.model_copy(update={"key_what_if_rows_per_second": 1}))
    client.app.state.limits.clock = lambda: 1000.0  # no refill
    five = {"rows": [{"account_id": f"A00{i}"} for i in range(1, 6)]}
    ok = [client.post("/v1/score", json=five, headers=keys.read_headers) for _ in range(4)]
    invalid = {"rows": [{"account_id": "A001", "unknown_field": 1}] * 5}
    refused = client.post("/v1/score", json=invalid, headers=keys.read_headers)

    assert [r.status_code for r in ok] == [200] * 4  # 20 rows: the bucket's one full batch
    assert [len(r.json()["results"]) for r in ok] == [5] * 4
    assert [x["account_id"] for x in ok[3].json()["results"]] == [f"A00{i}" for i in range(1, 6)]
    assert_problem(
        refused,
        "rate-limited",
        429,
        "key 'crm' is over its what-if rate of 1 rows per second "
        "(CHURNLIGHT_KEY_WHAT_IF_ROWS_PER_SECOND): 5 row(s) can be scored in 5 s",
    )


def test_a_key_name_is_in_the_429_and_shared_by_its_keys(make_client, settings, keys) -> None:
    second, entry = new_key("crm")  # a rotation: the same name, another key
    client = make_client(
        settings=settings.model_copy(
            update={"key_what_if_rows_per_second": 1, "api_keys": [keys.read_hash, entry]}
        )
    )
    client.app.state.limits.clock = lambda: 1000.0  # no refill while the batch is scored
    batch = {"rows": [{"account_id": "A001"}] * 20}
    assert client.post("/v1/score", json=batch, headers=keys.read_headers).status_code == 200

    refused = client.post(
        "/v1/score",
        json={"rows": [{"account_id": "A001"}]},
        headers={"Authorization": f"Bearer {second}"},
    )
    assert_problem(
        refused,
        "rate-limited",
        429,
        "key 'crm' is over its what-if rate of 1 rows per second "
        "(CHURNLIGHT_KEY_WHAT_IF_ROWS_PER_SECOND): 1 row(s) can be scored in 1 s",
    )


# ---- no local paths in /v1/model -------------------------------------------------------------


def test_the_model_card_names_no_local_path(make_client, models, keys, snapshot_path) -> None:
    facts = {
        "feature_table": {
            "path": "/home/ana/churn/features.parquet",
            "source": "s3-mounted/src",
            "source_fingerprint": "9f2c",
            "as_of": "2024-07-01",
        },
        "output": "C:\\Users\\ana\\models",
        "share": "\\\\fileserver\\churn",
        "store": "file:///srv/mlflow",
        "notes": ["kept", "~/private"],
    }
    churn = dataclasses.replace(models.churn, metadata={**models.churn.metadata, **facts})
    client = make_client(load=fixed_loader(Models(churn, models.expansion)))

    response = client.get("/v1/model", headers=keys.read_headers)

    assert response.status_code == 200
    training = response.json()["churn"]["training"]
    assert training["feature_table"] == {"source_fingerprint": "9f2c", "as_of": "2024-07-01"}
    assert training["notes"] == ["kept"]
    assert not {"output", "share", "store"} & set(training)
    assert response.json()["snapshot_origin"] == "features"
    for leak in ("/home/ana", "Users", "fileserver", "/srv", "private", str(snapshot_path)):
        assert leak not in response.text


def test_public_facts_keep_what_is_not_a_path() -> None:
    facts = {"as_of": "2024-07-01", "params": {"objective": "binary", "dir": "/tmp/x"}, "n": 3}

    assert public_facts(facts) == {"as_of": "2024-07-01", "params": {"objective": "binary"}, "n": 3}
