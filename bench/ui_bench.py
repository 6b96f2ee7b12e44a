"""The portfolio page's server time against the JSON endpoint for the same rows (issue 15).

Setup: a synthetic snapshot of 10,000 accounts with the whole feature catalog (as in
``bench.serving_bench``), churn and expansion models fitted on 20,000 earlier rows (100
trees: the page's cost does not depend on the trees), served by ``create_app`` in this
process with its state loaded once. A session cookie comes from signing in through the form.

Measured: each request is one direct call of the ASGI app (middleware, routing, the
handler, the response body; no socket, no client), alternating the two kinds so both see
the same machine load. Pairs:

- ``GET /ui?limit=50`` (page 1 of 10,000 sorted by revenue at risk: the HTML table, totals
  over every matching account, filter options) vs ``GET /v1/accounts?limit=50``;
- the same with filters (``segment=smb&risk_tier=high&sort=mrr``);
- every page once: ``offset`` advancing 50 a request (the page renders rows it never
  rendered before: the pages cache each account's row, as the API caches its JSON).

Bounds: the page's median <= 300 ms, and <= 3 x the JSON endpoint's median for the same
rows. No timing is asserted in tests; this is where it is checked.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.serving_bench import SNAPSHOT, fit, synthetic_table
from features.writer import write_feature_table

FULL = {"accounts": 10_000, "history": 20_000, "trees": 100, "repeats": 190}
QUICK = {"accounts": 1_000, "history": 4_000, "trees": 30, "repeats": 15}
BOUNDS = {"page_ms": 300.0, "ratio": 3.0}
QUERIES = {
    "first page": "limit=50",
    "filtered": "segment=smb&risk_tier=high&sort=mrr&limit=50",
    "every page once": "limit=50&offset={offset}",
}
"""The same query string for both (the page takes the API's parameters). The pages cache each
account's rendered row (as the API caches each record's JSON), so the first two measure
warm rows; the third walks through the portfolio, one new page per request: rows rendered
for the first time."""


async def call(app: Any, path: str, query: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    """One GET through the ASGI app; the body (the status must be 200)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    chunks: list[bytes] = []
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    if status != [200]:
        raise RuntimeError(f"GET {path}?{query} answered {status}")
    return b"".join(chunks)


async def measure(app: Any, cookie: str, key: str, repeats: int) -> dict[str, Any]:
    page_headers = [(b"cookie", f"churnlight_ui={cookie}".encode())]
    json_headers = [(b"authorization", f"Bearer {key}".encode())]
    out: dict[str, Any] = {}
    for name, template in QUERIES.items():
        times: dict[str, list[float]] = {"page": [], "json": []}
        sizes = {}
        for i in range(repeats + 5):  # the first five warm up
            query = template.format(offset=50 * i)
            for kind in ("page", "json") if i % 2 == 0 else ("json", "page"):
                path, headers = (
                    ("/ui", page_headers) if kind == "page" else ("/v1/accounts", json_headers)
                )
                started = time.perf_counter()
                body = await call(app, path, query, headers)
                elapsed = 1000 * (time.perf_counter() - started)
                if i >= 5:
                    times[kind].append(elapsed)
                sizes[kind] = len(body)
        out[name] = {
            kind: {
                "median_ms": round(statistics.median(values), 3),
                "p95_ms": round(sorted(values)[int(0.95 * len(values)) - 1], 3),
                "bytes": sizes[kind],
            }
            for kind, values in times.items()
        }
        ratio = out[name]["page"]["median_ms"] / out[name]["json"]["median_ms"]
        out[name]["ratio"] = round(ratio, 2)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from serving.auth import new_key
    from serving.loading import models_from_bundles
    from serving.settings import ServingSettings

    size = QUICK if quick else FULL
    results: dict[str, Any] = {
        "load_average_start": round(os.getloadavg()[0], 2),
        "accounts": size["accounts"],
        "repeats": size["repeats"],
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="churnlight-uibench-") as scratch_dir:
        scratch = Path(scratch_dir)
        history, specs = synthetic_table(size["history"], 1, date(2024, 1, 1))
        snapshot, _ = synthetic_table(size["accounts"], 2, SNAPSHOT)
        features = write_feature_table(
            snapshot, scratch / "features.parquet", {"features": [s.to_dict() for s in specs]}
        )
        churn = fit(history, specs, "churn_180d", size["trees"])
        expansion = fit(history, specs, "expand_180d", size["trees"])
        key, entry = new_key("bench")
        settings = ServingSettings(
            api_keys=[entry],
            features=features,
            home=scratch / "home",
            history=False,
            refresh_seconds=0,
        )
        app = create_app(
            settings, load=lambda _: models_from_bundles(churn, expansion, "1", "1"), wait=True
        )
        with TestClient(app) as client:
            login = client.get("/ui/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', login)
            assert token is not None
            client.post("/ui/login", data={"csrf_token": token.group(1), "api_key": key})
            cookie = client.cookies["churnlight_ui"]
            results["build_seconds"] = app.state.holder.current().seconds["total"]
            results["queries"] = asyncio.run(measure(app, cookie, key, size["repeats"]))
    results["load_average_end"] = round(os.getloadavg()[0], 2)
    results["bounds"] = BOUNDS
    results["ok"] = all(
        q["page"]["median_ms"] <= BOUNDS["page_ms"] and q["ratio"] <= BOUNDS["ratio"]
        for q in results["queries"].values()
    )
    return results


def report(results: dict[str, Any]) -> list[str]:
    lines = [
        f"{results['accounts']:,} accounts, {results['repeats']} requests of each kind, "
        f"{results['cpus']} cpus, load average {results['load_average_start']} -> "
        f"{results['load_average_end']}"
    ]
    for name, q in results["queries"].items():
        page, api = q["page"], q["json"]
        lines.append(
            f"{name}: page median {page['median_ms']:.2f} ms (p95 {page['p95_ms']:.2f}, "
            f"{page['bytes']:,} B) vs JSON {api['median_ms']:.2f} ms (p95 {api['p95_ms']:.2f}, "
            f"{api['bytes']:,} B): {q['ratio']:.2f}x (bound {BOUNDS['ratio']}x, "
            f"page <= {BOUNDS['page_ms']:.0f} ms)"
        )
    lines.append("within bounds" if results["ok"] else "OUT OF BOUNDS")
    return lines
