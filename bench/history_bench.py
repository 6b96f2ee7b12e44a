"""History, refresh and alerts, against baselines measured in the same run (issue 12).

1. Writing history for 10,000 accounts (``history_rows`` + ``HistoryStore.write``: insert,
   commit, clean; first write and a re-run that replaces it) against writing the same
   scores as Parquet the way ``churnlight score`` does (``to_arrow`` + zstd Parquet). On the
   default DuckDB file, and on PostgreSQL when ``CHURNLIGHT_BENCH_POSTGRES_URL`` reaches one
   (``make postgres`` prints a URL).
2. Refresh to ready: a ``churnlight serve --features`` process with
   ``CHURNLIGHT_REFRESH_SECONDS=1``; a new champion is promoted in the MLflow registry and
   the clock runs until ``/readyz`` names it. Baseline: the same server's own build (load,
   score, serialise, history) at start.
3. A slow webhook receiver does not slow lookups: ``GET /v1/accounts/{id}`` p50/p99 on one
   connection against a server without alerts and against one delivering hundreds of
   ``tier_entered`` alerts to a receiver that takes ``SLOW_SECONDS`` per POST (deliveries
   still queued throughout); the two run side by side and are measured in alternating
   chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from pydantic_settings import BaseSettings, SettingsConfigDict

from bench.serving_bench import (
    REPO,
    SNAPSHOT,
    _free_port,
    _get,
    _http,
    drive,
    fit,
    phase,
    synthetic_table,
)

FULL = {"accounts": 10_000, "history": 10_000, "trees": 100, "requests": 8_000, "seconds": 10.0}
QUICK = {"accounts": 1_000, "history": 3_000, "trees": 40, "requests": 2_000, "seconds": 4.0}
REPEATS = 3
SLOW_SECONDS = 0.5
CHUNKS = 4
"""Lookup measurements alternate between the two servers in this many chunks."""


class HistoryBenchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_BENCH_", extra="ignore")
    postgres_url: str | None = None


# ---- 1. writing history -----------------------------------------------------------------------


def write_costs(batch: Any, scratch: Path, postgres: str | None) -> dict[str, Any]:
    from features.atomic import write_atomically
    from serving.history import HistoryStore
    from serving.history_rows import history_rows, new_run_id

    def parquet() -> None:
        table = batch.to_arrow()
        out = scratch / "scores.parquet"
        write_atomically(out, lambda tmp: pq.write_table(table, tmp, compression="zstd"))

    def history(store: HistoryStore) -> None:
        store.write(history_rows(batch, new_run_id(), datetime.now(UTC)), "bench")

    def best(fn: Any, *args: Any) -> float:
        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - started)
        return min(times)

    started = time.perf_counter()
    rows = history_rows(batch, new_run_id(), datetime.now(UTC))
    build = time.perf_counter() - started
    out: dict[str, Any] = {
        "rows": batch.n,
        "parquet_seconds": round(best(parquet), 4),
        "history_rows_seconds": round(build, 4),
        "history_bytes_per_row": round(rows.nbytes / max(batch.n, 1), 1),
    }
    stores = {"duckdb": f"duckdb:///{scratch / 'history.duckdb'}"}
    schema = _fresh_schema(postgres) if postgres else None
    if postgres and schema:
        stores["postgres"] = _schema_url(postgres, schema)
    try:
        for name, uri in stores.items():
            store = HistoryStore(uri)
            first = time.perf_counter()
            history(store)  # the first write creates the tables
            out[f"{name}_first_seconds"] = round(time.perf_counter() - first, 4)
            out[f"{name}_seconds"] = round(best(history, store), 4)  # re-runs: replace + clean
    finally:
        if postgres and schema:
            _drop_schema(postgres, schema)
    return out


def _fresh_schema(url: str) -> str | None:
    """A new empty schema in ``url``'s database (None when unreachable)."""
    import uuid

    try:
        import psycopg

        with psycopg.connect(url, autocommit=True, connect_timeout=5) as con:
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            con.execute(f'create schema "{schema}"')
    except Exception as err:
        print(f"   postgres not measured: {err}", flush=True)
        return None
    return schema


def _schema_url(url: str, schema: str) -> str:
    from urllib.parse import quote

    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


def _drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as con:
        con.execute(f'drop schema "{schema}" cascade')


def register(uri: str, bundles: dict[str, Any], scratch: Path) -> None:
    """Register each bundle as a new version with alias ``champion`` (as training does)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from features.model_bundle import save_bundle

    class BundleModel(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
            return model_input

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    found = mlflow.get_experiment_by_name("bench")
    experiment = (
        found.experiment_id
        if found
        else mlflow.create_experiment("bench", artifact_location=(scratch / "artifacts").as_uri())
    )
    client = MlflowClient(uri, uri)
    for name, bundle in bundles.items():
        directory = save_bundle(bundle, scratch / name / "bundle")
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=BundleModel(),
                artifacts={"bundle": str(directory)},
                pip_requirements=["churnlight"],
                registered_model_name=name,
            )
        client.set_registered_model_alias(name, "champion", str(info.registered_model_version))


# ---- servers ----------------------------------------------------------------------------------


class Server:
    """``churnlight serve --features F`` in a child process."""

    def __init__(self, features: Path, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.log = log
        self._out = open(log, "wb")  # noqa: SIM115 - closed by stop()
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "churnlight", "serve"),
                *("--features", str(features), "--port", str(self.port)),
            ],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

    def ready(self, versions: tuple[str, str] | None = None, limit: float = 600) -> dict:
        """Wait (polling /readyz every 20 ms) until ready with ``versions`` if given."""
        while time.perf_counter() - self.started < limit:
            status, body = _get(f"http://127.0.0.1:{self.port}/readyz")
            if status == 200:
                ready = json.loads(body)
                got = (ready["churn_model_version"], ready["expansion_model_version"])
                if versions is None or got == versions:
                    return ready
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.02)
        raise RuntimeError(f"server not ready within {limit} s")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)
        self._out.close()


def refresh_to_ready(
    features: Path, uri: str, bundles: dict[str, Any], scratch: Path, key_hash: str
) -> dict[str, Any]:
    env = {
        "CHURNLIGHT_TRACKING_URI": uri,
        "CHURNLIGHT_HOME": str(scratch / "models-refresh"),
        "CHURNLIGHT_API_KEYS": key_hash,
        "CHURNLIGHT_REFRESH_SECONDS": "1",
    }
    server = Server(features, env, scratch / "refresh.log")
    try:
        first = server.ready()
        promoted = time.perf_counter()
        register(uri, bundles, scratch / "second")
        ready = server.ready(("churnlight-churn/2", "churnlight-expansion/2"))
        seconds = time.perf_counter() - promoted
    finally:
        server.stop()
    return {
        "refresh_interval_seconds": 1.0,
        "promote_to_ready_seconds": round(seconds, 3),
        "start_build_seconds": first["build_seconds"],
        "refresh_build_seconds": ready["build_seconds"],
    }


# ---- 3. a slow receiver ---------------------------------------------------------------------


class SlowReceiver:
    def __init__(self, seconds: float) -> None:
        received = self.received = [0]

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received[0] += 1
                time.sleep(seconds)  # the slow receiver under test
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def lookups(
    features: Path, uri: str, scratch: Path, key: str, key_hash: str, ids: list[str], size: dict
) -> dict[str, Any]:
    """Both servers run side by side; their measurements alternate in ``CHUNKS`` chunks, so
    both see the same machine (other tenants come and go); medians over the chunks."""
    import numpy as np

    requests = [_http("GET", f"/v1/accounts/{a}", key) for a in ids]
    n, cap = size["requests"] // CHUNKS, size["seconds"] / CHUNKS
    base = {
        "CHURNLIGHT_TRACKING_URI": uri,
        "CHURNLIGHT_API_KEYS": key_hash,
        "CHURNLIGHT_REFRESH_SECONDS": "0",
    }
    receiver = SlowReceiver(SLOW_SECONDS)
    alerts = scratch / "alerts.yaml"
    alerts.write_text(
        f"subscriptions:\n  - url: {receiver.url}\n    events: [tier_entered]\n"
        "    min_tier: medium\n"
    )
    servers: dict[str, Server] = {}
    chunks: dict[str, list[dict[str, Any]]] = {"without_alerts": [], "slow_receiver": []}
    out: dict[str, Any] = {}
    try:
        for name, extra in (
            ("without_alerts", {}),
            ("slow_receiver", {"CHURNLIGHT_ALERTS_FILE": str(alerts)}),
        ):
            env = {**base, "CHURNLIGHT_HOME": str(scratch / f"models-{name}"), **extra}
            servers[name] = Server(features, env, scratch / f"{name}.log")
        for server in servers.values():
            server.ready()
            drive(server.port, [phase("warmup", requests[:500], 1, 1000, 5.0)], 5)
        out["alerts_received_before"] = receiver.received[0]
        for k in range(CHUNKS):
            for name, server in servers.items():
                part = requests[k::CHUNKS]
                chunks[name].append(drive(server.port, [phase(name, part, 1, n, cap)], cap)[name])
        out["alerts_received_by_end"] = receiver.received[0]
        for name, parts in chunks.items():
            out[name] = {
                "sent": sum(c["sent"] for c in parts),
                "errors": sum(c["errors"] for c in parts),
                **{
                    q: round(float(np.median([c[q] for c in parts])), 4)
                    for q in ("p50_ms", "p99_ms")
                },
                "chunks_p50_ms": [c["p50_ms"] for c in parts],
            }
    finally:
        for server in servers.values():
            server.stop()
        receiver.stop()
    return out


# ---- the benchmark ----------------------------------------------------------------------------


def run(quick: bool = False) -> dict[str, Any]:
    from serving.auth import new_key
    from serving.playbooks import load_playbooks
    from serving.scoring import ModelView, ScoringConfig, TableFrame, score_frame
    from serving.settings import DEFAULT_PLAYBOOKS

    size = QUICK if quick else FULL
    results: dict[str, Any] = {
        "accounts": size["accounts"],
        "trees": size["trees"],
        "cpus": os.cpu_count(),
        "load_average_start": round(os.getloadavg()[0], 2),
    }
    with tempfile.TemporaryDirectory(prefix="churnlight-historybench-") as scratch_dir:
        scratch = Path(scratch_dir)
        from features.writer import write_feature_table

        train, specs = synthetic_table(size["history"], 1, SNAPSHOT.replace(year=2024, month=1))
        snapshot, _ = synthetic_table(size["accounts"], 2, SNAPSHOT)
        features = write_feature_table(
            snapshot, scratch / "features.parquet", {"features": [s.to_dict() for s in specs]}
        )
        bundles = {
            "churnlight-churn": fit(train, specs, "churn_180d", size["trees"]),
            "churnlight-expansion": fit(train, specs, "expand_180d", size["trees"]),
        }
        churn = ModelView(bundles["churnlight-churn"], "churnlight-churn/1")
        expansion = ModelView(bundles["churnlight-expansion"], "churnlight-expansion/1")
        batch = score_frame(
            TableFrame(snapshot),
            churn,
            expansion,
            load_playbooks(DEFAULT_PLAYBOOKS),
            ScoringConfig(),
            os.cpu_count() or 1,
        )
        results["write"] = write_costs(batch, scratch, HistoryBenchSettings().postgres_url)

        uri = f"sqlite:///{scratch / 'mlflow.db'}"
        register(uri, bundles, scratch / "first")
        key, digest = new_key()
        results["refresh"] = refresh_to_ready(features, uri, bundles, scratch, digest)
        ids = snapshot.column("account_id").to_pylist()
        results["lookups"] = lookups(features, uri, scratch, key, digest, ids, size)
    results["load_average_end"] = round(os.getloadavg()[0], 2)
    return results | {"ratios": ratios(results)}


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    write, refresh, lookups = r["write"], r["refresh"], r["lookups"]
    out: dict[str, Any] = {
        "history_vs_parquet_duckdb": write["duckdb_seconds"] / write["parquet_seconds"],
        "refresh_to_ready_vs_start_build": refresh["promote_to_ready_seconds"]
        / refresh["start_build_seconds"]["total"],
        "lookup_p50_slow_receiver_vs_none": lookups["slow_receiver"]["p50_ms"]
        / lookups["without_alerts"]["p50_ms"],
        "lookup_p99_slow_receiver_vs_none": lookups["slow_receiver"]["p99_ms"]
        / lookups["without_alerts"]["p99_ms"],
        "lookup_errors": lookups["slow_receiver"]["errors"] + lookups["without_alerts"]["errors"],
    }
    if "postgres_seconds" in write:
        out["history_vs_parquet_postgres"] = write["postgres_seconds"] / write["parquet_seconds"]
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def report(results: dict[str, Any]) -> list[str]:
    r, q = results, results["ratios"]
    w, f, lk = r["write"], r["refresh"], r["lookups"]
    lines = [
        f"{r['accounts']:,} accounts, models of {r['trees']} trees, {r['cpus']} cpus; load "
        f"average {r['load_average_start']} at start, {r['load_average_end']} at end",
        f"scores Parquet (to_arrow + zstd, atomic): {w['parquet_seconds']} s; history rows "
        f"built in {w['history_rows_seconds']} s ({w['history_bytes_per_row']} bytes a row)",
        f"history on DuckDB: {w['duckdb_seconds']} s a re-run (first write "
        f"{w['duckdb_first_seconds']} s) = {q['history_vs_parquet_duckdb']:.2f}x the Parquet",
    ]
    if "postgres_seconds" in w:
        lines.append(
            f"history on PostgreSQL: {w['postgres_seconds']} s a re-run (first "
            f"{w['postgres_first_seconds']} s) = "
            f"{q['history_vs_parquet_postgres']:.2f}x the Parquet"
        )
    build = f["refresh_build_seconds"]
    lines += [
        f"refresh: promoted -> /readyz names the new champions in {f['promote_to_ready_seconds']} "
        f"s with a {f['refresh_interval_seconds']:g} s interval = "
        f"{q['refresh_to_ready_vs_start_build']:.2f}x the server's start build "
        f"({f['start_build_seconds']['total']} s); the refresh's build: models "
        f"{build['models']} s, score {build['score']} s, serialise {build['serialise']} s, "
        f"history {build.get('history', 0)} s",
    ]
    for name in ("without_alerts", "slow_receiver"):
        p = lk[name]
        lines.append(
            f"GET /v1/accounts/{{id}} {name:15} p50 {p['p50_ms']:.3f} ms  p99 {p['p99_ms']:.3f} ms"
            f"  ({p['sent']:,} requests, {p['errors']} errors; chunk p50s {p['chunks_p50_ms']})"
        )
    lines.append(
        f"slow receiver ({SLOW_SECONDS} s a POST; alerts received: {lk['alerts_received_before']} "
        f"before, {lk['alerts_received_by_end']} by the end, the rest still queued): "
        f"p50 {q['lookup_p50_slow_receiver_vs_none']:.2f}x, "
        f"p99 {q['lookup_p99_slow_receiver_vs_none']:.2f}x the server without alerts"
    )
    return lines
