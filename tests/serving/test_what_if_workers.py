"""What-if batches are scored in a worker process: lookups answer while one is in flight, the
answers equal the in-process ones, errors come back as problems, a reload's models are used."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from typing import Any

import httpx
import pytest

from tests.serving.test_api import SNAPSHOT, assert_problem
from tests.serving.test_reload import alternating_loader

BATCH = [
    {"account_id": "A001"},
    {"account_id": "A002", "features": {"open_high_tickets": 4}},
    {"features": {"mrr": 50.0, "segment": "smb"}},
]


def _hold(started: Any, gate: Any) -> None:
    """Runs in the worker: keeps it busy until the test opens ``gate``."""
    started.set()
    gate.wait()


def _single_rows(client, keys) -> list[dict[str, Any]]:
    """Each row of ``BATCH`` scored alone (a single row is scored in the serving process)."""
    return [
        client.post("/v1/score", json={"rows": [row]}, headers=keys.read_headers).json()["results"][
            0
        ]
        for row in BATCH
    ]


def test_a_lookup_answers_while_a_what_if_batch_waits_in_the_worker(client, keys) -> None:
    """The worker is held busy; the batch is handed to it and waits there, and a lookup
    answers meanwhile. A batch scored on the event loop or in a thread of the server never
    reaches the worker and is answered before the lookup runs: the test fails."""
    workers = client.app.state.what_ifs
    pool = workers.pool
    submitted = asyncio.Event()
    submit = pool.submit

    def observed_submit(*args: Any, **kwargs: Any) -> Any:
        future = submit(*args, **kwargs)
        loop.call_soon_threadsafe(submitted.set)
        return future

    pool.submit = observed_submit  # type: ignore[method-assign]

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            what_if = asyncio.create_task(
                http.post("/v1/score", json={"rows": BATCH}, headers=keys.read_headers)
            )
            handed = asyncio.create_task(submitted.wait())
            done, _ = await asyncio.wait({what_if, handed}, return_when=asyncio.FIRST_COMPLETED)
            assert handed in done and not what_if.done(), "the batch never reached the worker"
            lookup = await http.get("/v1/accounts/A001", headers=keys.read_headers)
            assert not what_if.done()
            gate.set()
            return lookup, await what_if

    with multiprocessing.get_context("spawn").Manager() as manager:
        started, gate = manager.Event(), manager.Event()
        held = submit(_hold, started, gate)
        assert started.wait(timeout=120), "the worker did not start"
        loop = asyncio.new_event_loop()
        try:
            lookup, response = loop.run_until_complete(scenario())
        finally:
            loop.close()
        held.result()

    assert lookup.status_code == 200
    assert lookup.json()["account_id"] == "A001"
    assert response.status_code == 200
    assert response.json()["results"] == _single_rows(client, keys)


def test_a_batch_scored_in_the_worker_equals_its_rows_scored_alone(client, keys) -> None:
    response = client.post("/v1/score", json={"rows": BATCH}, headers=keys.read_headers)

    assert response.status_code == 200
    body = response.json()
    assert body["snapshot_date"] == SNAPSHOT
    assert body["results"] == _single_rows(client, keys)


def test_a_batch_naming_an_unknown_account_is_404_from_the_worker(client, keys) -> None:
    rows = [{"account_id": "A001"}, {"account_id": "nope"}]

    response = client.post("/v1/score", json={"rows": rows}, headers=keys.read_headers)

    assert_problem(
        response, "unknown-account", 404, f"account 'nope' not found in the snapshot of {SNAPSHOT}"
    )


def test_a_batch_with_an_unknown_feature_is_422_from_the_worker(client, keys) -> None:
    rows = [{"account_id": "A001"}, {"features": {"colour": 1}}]

    response = client.post("/v1/score", json={"rows": rows}, headers=keys.read_headers)

    assert_problem(
        response,
        "invalid-features",
        422,
        "unknown feature(s) 'colour'; GET /v1/model lists the features",
    )


def test_after_a_reload_the_worker_scores_with_the_new_models(
    make_client, keys, models, other_models
) -> None:
    client = make_client(load=alternating_loader(models, other_models))
    before = client.post("/v1/score", json={"rows": BATCH}, headers=keys.read_headers).json()

    reload = client.post("/v1/admin/reload?wait=true", headers=keys.admin_headers)
    after = client.post("/v1/score", json={"rows": BATCH}, headers=keys.read_headers).json()

    assert reload.status_code == 200
    assert {r["churn_model_version"] for r in before["results"]} == {"churnlight-churn/1"}
    assert {r["churn_model_version"] for r in after["results"]} == {"churnlight-churn/2"}
    assert after["results"] == _single_rows(client, keys)
    assert after["results"][0]["churn_probability"] != pytest.approx(
        before["results"][0]["churn_probability"]
    )


def test_workers_run_at_a_lower_cpu_priority(client) -> None:
    """Where the cores are short, the event loop goes before a batch."""
    from serving.what_if import WORKER_NICE

    worker_niceness = client.app.state.what_ifs.pool.submit(os.nice, 0).result(timeout=300)
    assert worker_niceness == min(19, os.nice(0) + WORKER_NICE)


SERVER = """
import os, sys, time
from serving.what_if import WhatIfWorkers

if __name__ == "__main__":
    workers = WhatIfWorkers(1)
    print(workers.pool.submit(os.getpid).result(), flush=True)
    time.sleep(600)
"""


def test_workers_exit_when_the_server_is_killed(tmp_path) -> None:
    """A server killed without stopping its pool: its worker exits by itself (a worker that
    does not watch its parent waits for batches forever, and the test times out)."""
    import signal
    import subprocess
    import sys
    import time

    import psutil

    script = tmp_path / "server.py"
    script.write_text(SERVER)
    server = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        worker = int(server.stdout.readline())
        assert psutil.pid_exists(worker)
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if psutil.Process(worker).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    else:
        psutil.Process(worker).kill()
        raise AssertionError("the worker outlived its server")
