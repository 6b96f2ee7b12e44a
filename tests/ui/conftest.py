"""A real `churnlight serve` on 127.0.0.1 and Debian's Chromium driven by Playwright.

The server serves a 60-account snapshot (one CSM id is markup) scored by two tiny models
registered in an MLflow store, with a history of two snapshots (movers, score history). The
browser is the system's ``chromium`` (``.ci/chromium`` installs it; ``make test`` exports its
path as CHURNLIGHT_TEST_CHROMIUM): Playwright downloads nothing."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from serving.auth import new_key
from serving.history import HistoryStore
from serving.history_rows import history_rows, new_run_id
from tests.serving.conftest import Models, register, scored
from tests.serving.helpers import JUNE, fit_bundle, make_table, ui_table, write_snapshot
from tests.serving.test_refresh_serve import ServerLog, free_port

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "out" / "ui"


@dataclass(frozen=True)
class Served:
    base: str
    read_key: str
    admin_key: str
    log: ServerLog

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON API's answer (with the read key), to compare the pages with."""
        connection = http.client.HTTPConnection(self.base.removeprefix("http://"), timeout=60)
        headers = {"Authorization": f"Bearer {self.read_key}"}
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        connection.request(method, path, payload, headers)
        answer = connection.getresponse()
        data = answer.read()
        assert answer.status == 200, data
        return json.loads(data)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("ui-serve")
    train = make_table(500, seed=1)
    models = Models(fit_bundle(train, "churn_180d"), fit_bundle(train, "expand_180d"))
    scratch = root / "bundles"
    scratch.mkdir()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    register(uri, "churnlight-churn", models.churn, scratch, {"churn_180d.roc_auc": 0.8})
    register(uri, "churnlight-expansion", models.expansion, scratch, {"expand_180d.roc_auc": 0.7})
    features = write_snapshot(ui_table(120), root / "features.parquet")
    history = f"duckdb:///{root / 'history.duckdb'}"
    june = scored(models, ui_table(120, seed=5, snapshot_date=JUNE))
    HistoryStore(history).write(history_rows(june, new_run_id(), datetime.now(UTC)), "test")
    read, read_entry = new_key("browser")
    admin, admin_entry = new_key("ops")
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CHURNLIGHT_TRACKING_URI": uri,
        "CHURNLIGHT_HOME": str(root),
        "CHURNLIGHT_API_KEYS": read_entry,
        "CHURNLIGHT_ADMIN_KEYS": admin_entry,
        "CHURNLIGHT_HISTORY_URI": history,
        "CHURNLIGHT_REFRESH_SECONDS": "0",
        "CHURNLIGHT_SCORE_THREADS": "1",
    }
    command = [sys.executable, "-m", "churnlight", "serve", "--features", str(features)]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    log = ServerLog(server.stderr)
    try:
        assert log.wait_ready("churnlight-churn/1", "churnlight-expansion/1"), log.lines[-20:]
        yield Served(f"http://127.0.0.1:{port}", read, admin, log)
    finally:
        server.terminate()
        server.wait(timeout=30)


def chromium_path() -> str:
    """The system Chromium: CHURNLIGHT_TEST_CHROMIUM (set by `make test`), else on PATH."""
    found = os.environ.get("CHURNLIGHT_TEST_CHROMIUM") or shutil.which("chromium")
    found = found or shutil.which("chromium-browser")
    if not found:
        pytest.fail("no chromium: run .ci/chromium (make test does) to install Debian's package")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=args)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    yield opened
    context.close()


def sign_in(page: Any, served: Served, key: str | None = None, path: str = "/ui") -> None:
    """Sign in through the form (redirected there from ``path``)."""
    page.goto(served.base + path)
    assert page.url.startswith(served.base + "/ui/login")
    page.get_by_label("API key").fill(key or served.read_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(served.base + path)
