"""A real `churnlight serve` on 127.0.0.1 and Debian's Chromium driven by Playwright.

The server serves a small simulated source (200 accounts x 24 months; one CSM id is markup)
with models trained on it and a history of two scored snapshots (movers, score history). The
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
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from serving.auth import new_key
from tests.serving.helpers import SCRIPT
from tests.serving.server_process import ServerLog, free_port

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
    """`churnlight serve --source` on a small simulated source, as a user runs it: simulate,
    build features, train (no tuning), score the last two snapshots into the history. One
    account's CSM id in the source is markup (escaping must hold)."""
    root = tmp_path_factory.mktemp("ui-serve")
    source = root / "source"
    read, read_entry = new_key("browser")
    admin, admin_entry = new_key("ops")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CHURNLIGHT_HOME": str(root / "home"),
        "CHURNLIGHT_API_KEYS": read_entry,
        "CHURNLIGHT_ADMIN_KEYS": admin_entry,
        "CHURNLIGHT_REFRESH_SECONDS": "0",
        "CHURNLIGHT_SCORE_THREADS": "1",
        "CHURNLIGHT_TUNE_TRIALS": "0",
    }
    features = str(root / "features.parquet")
    steps = [
        ["simulate", "--accounts", "200", "--months", "24", "--seed", "3", "--out", str(source)],
        ["features", "--source", str(source), "--out", features],
        ["train", "--features", features, "--backtests", "1"],
        [
            "score",
            "--features",
            features,
            "--last-snapshots",
            "2",
            "--out",
            str(root / "scores.parquet"),
        ],
    ]
    for step in steps:
        # `make ui-screenshots` sets CHURNLIGHT_UI_SCREENSHOTS: the README's pictures show no
        # test markup (only the axe test runs then; the escaping test needs the markup)
        if step[0] == "features" and not os.environ.get("CHURNLIGHT_UI_SCREENSHOTS"):
            _put_markup_in_a_csm_id(source / "accounts.parquet")
        done = subprocess.run(
            [sys.executable, "-m", "churnlight", *step], cwd=root, env=env, capture_output=True
        )
        assert done.returncode == 0, (step, done.stdout[-2000:], done.stderr[-2000:])
    port = free_port()
    command = [sys.executable, "-m", "churnlight", "serve", "--source", str(source)]
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


MARKED = "a00001"
"""The account whose CSM id is markup; the other account the tests open is ``OTHER``."""
OTHER = "a00002"


def _put_markup_in_a_csm_id(accounts: Path) -> None:
    table = pq.read_table(accounts)
    csm = table.column("csm_id").to_pylist()
    ids = table.column("account_id").to_pylist()
    csm[ids.index(MARKED)] = SCRIPT
    index = table.schema.get_field_index("csm_id")
    pq.write_table(table.set_column(index, "csm_id", pa.array(csm, pa.string())), accounts)


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
