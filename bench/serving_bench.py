"""Serving speed, against baselines measured in the same run (bounds of issue 5).

Setup, in a scratch folder: a synthetic feature table with the whole feature catalog
(10,000 accounts at the scored snapshot, 20,000 earlier rows to fit on), churn and
expansion models fitted with LightGBM at training's shape (depth 6, 31 leaves, 300 trees),
registered in a scratch MLflow store the way training registers them (pyfunc model, artifact
``bundle``, alias ``champion``). Then:

1. startup to ready: ``churnlight serve --features F`` in a child process, from spawn to the
   first ``/readyz`` 200 (import, registry load, scoring and serialising every account);
2. load from a second process (``bench.serving_load``) over 127.0.0.1, every phase bounded
   by a request count and a time cap: ``/healthz`` (the baseline: the same app, middleware
   and server, a trivial route), ``GET /v1/accounts/{id}`` and a one-row what-if
   ``POST /v1/score``; a latency phase on one connection and a throughput phase on four;
3. the in-process cost of one what-if row: LightGBM predict plus contributions of both
   models on that row, one thread (median);
4. batch scoring with explanations (``score_frame``: encode, TreeSHAP, drivers, reasons,
   playbooks; what the API's cache and ``churnlight score`` run) against LightGBM's own
   ``predict(pred_contrib=True)`` of both models on the same matrices, every core.

Bounds: accounts throughput >= 0.5 x healthz throughput and accounts p99 <= 3 x healthz p99
(four connections); what-if p50 <= 1.5 x in-process cost + healthz p50 (one connection);
batch <= 1.25 x LightGBM. No timing is asserted in tests; this is where they are checked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from features.metadata import FeatureSpec
from features.model_bundle import Calibration, FeatureColumn, ModelBundle, encode, save_bundle
from features.transforms import all_feature_specs
from features.writer import write_feature_table

REPO = Path(__file__).resolve().parent.parent
FULL = {"accounts": 10_000, "history": 20_000, "trees": 300, "requests": 20_000, "seconds": 12.0}
QUICK = {"accounts": 1_000, "history": 4_000, "trees": 100, "requests": 3_000, "seconds": 4.0}
SNAPSHOT = date(2024, 7, 1)
CATEGORIES = {
    "lifecycle_stage": ("onboarding", "adoption", "renewal"),
    "segment": ("smb", "mid_market", "enterprise"),
    "industry": ("fintech", "retail", "health", "media", "manufacturing"),
    "region": ("na", "emea", "apac", "latam"),
}
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 31,
    "max_depth": 6,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "seed": 1,
    "deterministic": True,
    "force_col_wise": True,
    "verbose": -1,
}
BOUNDS = {"throughput": 0.5, "p99": 3.0, "what_if": 1.5, "batch": 1.25}
CHUNKS = 5
"""What-if latency chunks, each after an in-process measurement."""


# ---- synthetic data and models ---------------------------------------------------------------


def _values(spec: FeatureSpec, n: int, rng: np.random.Generator) -> Any:
    if spec.kind == "categorical":
        options = CATEGORIES.get(spec.name, ("a", "b", "c"))
        return [options[i] for i in rng.integers(0, len(options), n)]
    draw = {
        "count": lambda: rng.poisson(3, n).astype(float),
        "fraction": lambda: rng.beta(2, 2, n),
        "ratio": lambda: rng.gamma(4, 0.25, n),
        "days": lambda: rng.integers(0, 400, n).astype(float),
        "currency": lambda: np.round(rng.lognormal(7, 1, n), 2),
        "units": lambda: rng.gamma(2, 50, n),
        "score": lambda: rng.integers(0, 11, n).astype(float),
        "flag": lambda: rng.integers(0, 2, n).astype(float),
        "change": lambda: rng.normal(0, 0.3, n),
        "per_day": lambda: rng.gamma(2, 5, n),
    }[spec.unit]()
    values = np.asarray(draw, dtype=float)
    values[rng.random(n) < 0.08] = np.nan
    return values


def synthetic_table(n: int, seed: int, snapshot: date) -> tuple[pa.Table, list[FeatureSpec]]:
    """n accounts with every catalog feature; labels from a sparse logistic model with
    interactions, so trees have structure to learn."""
    rng = np.random.default_rng(seed)
    specs = all_feature_specs()
    columns: dict[str, Any] = {
        "account_id": [f"A{seed}{i:06d}" for i in range(n)],
        "snapshot_date": pa.array([snapshot] * n, pa.date32()),
    }
    numeric = []
    for spec in specs:
        columns[spec.name] = _values(spec, n, rng)
        if spec.kind == "numeric":
            x = np.nan_to_num(columns[spec.name])
            numeric.append((x - x.mean()) / (x.std() or 1.0))
    z = np.column_stack(numeric)
    for label, offset in (("churn_180d", -1.5), ("expand_180d", -1.0)):
        picked = rng.choice(z.shape[1], 12, replace=False)
        weights = rng.normal(0, 0.8, 12)
        logit = offset + z[:, picked] @ weights + 0.7 * z[:, picked[0]] * z[:, picked[1]]
        columns[label] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    columns["csm_id"] = [f"csm{i % 40:02d}" for i in range(n)]
    return pa.table(columns), specs


def fit(table: pa.Table, specs: list[FeatureSpec], label: str, trees: int) -> ModelBundle:
    import lightgbm as lgb

    cols = [
        FeatureColumn(s.name, "categorical", CATEGORIES[s.name])
        if s.kind == "categorical"
        else FeatureColumn(s.name)
        for s in specs
    ]
    matrix = encode(table, cols)
    y = table.column(label).to_numpy().astype(float)
    data = lgb.Dataset(
        matrix,
        label=y,
        feature_name=[c.name for c in cols],
        categorical_feature=[j for j, c in enumerate(cols) if c.kind == "categorical"],
    )
    booster = lgb.train({**PARAMS, "num_threads": os.cpu_count() or 1}, data, trees)
    metadata = {
        "features": [s.to_dict() for s in specs],
        "horizon_days": 180,
        "as_of": SNAPSHOT.isoformat(),
        "params": PARAMS,
    }
    return ModelBundle(label, cols, Calibration("platt", 1.0, 0.0), booster, metadata)


def register(uri: str, bundles: dict[str, ModelBundle], scratch: Path) -> None:
    """Log each bundle as a pyfunc model with artifact ``bundle`` and alias ``champion``."""
    import mlflow
    from mlflow.tracking import MlflowClient

    class BundleModel(mlflow.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            return model_input

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment(
        "bench", artifact_location=(scratch / "artifacts").as_uri()
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


# ---- the server and the load ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except OSError:
        return 0, b""


def _http(method: str, path: str, key: str | None = None, body: bytes = b"") -> str:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode().decode("latin-1") + body.decode("latin-1")


def _what_if_body(row: dict[str, Any], rng: np.random.Generator) -> bytes:
    features = {}
    for name, value in row.items():
        if name in ("account_id", "snapshot_date", "csm_id") or name.endswith("_180d"):
            continue
        if isinstance(value, float) and value == value:
            value = round(value * float(rng.uniform(0.8, 1.2)), 4)
        elif isinstance(value, float):
            value = None
        features[name] = value
    return json.dumps({"rows": [{"features": features}]}).encode()


def drive(port: int, phases: list[dict[str, Any]], seconds: float) -> dict[str, dict[str, Any]]:
    """Run ``phases`` from a second process (``bench.serving_load``); results by phase name."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump({"port": port, "phases": phases}, handle)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.serving_load", handle.name],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=len(phases) * seconds * 2 + 60,
            check=True,
        )
    finally:
        os.unlink(handle.name)
    return {p["name"]: p for p in json.loads(out.stdout.strip().splitlines()[-1])}


def phase(name: str, requests: list[str], connections: int, count: int, seconds: float) -> dict:
    return {
        "name": name,
        "requests": requests,
        "connections": connections,
        "count": count,
        "seconds": seconds,
    }


def server_cpu(pid: int) -> float:
    """Seconds of CPU the server process has used (user + system, all threads)."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def measure_load(
    pid: int,
    port: int,
    key: str,
    ids: list[str],
    bodies: list[bytes],
    bundles: list[ModelBundle],
    size: dict[str, Any],
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every phase, and the what-if comparison.

    The what-if latency phase runs in chunks, each just after an in-process measurement of
    the same rows, so both sides of that ratio see the same machine. The server's CPU time
    per request (from the OS) is kept beside the wall-clock figures: on a shared machine the
    wall clock also measures the other tenants, CPU time does not."""
    health = [_http("GET", "/healthz")]
    accounts = [_http("GET", f"/v1/accounts/{a}", key) for a in ids]
    what_if = [_http("POST", "/v1/score", key, b) for b in bodies]
    rows = [json.loads(b)["rows"][0]["features"] for b in bodies]
    n, cap = size["requests"], size["seconds"]
    load = drive(port, [phase("warmup", health + accounts[:200] + what_if[:50], 2, 600, 10.0)], 10)
    before = server_cpu(pid)
    load |= drive(port, [phase("healthz_latency", health, 1, n // 4, cap / 2)], cap)
    health_cpu = (server_cpu(pid) - before) / max(load["healthz_latency"]["sent"], 1)
    load |= drive(
        port,
        [
            phase("healthz_throughput", health, 4, n, cap),
            phase("accounts_latency", accounts, 1, n // 4, cap / 2),
            phase("accounts_throughput", accounts, 4, n, cap),
        ],
        cap,
    )
    chunks, walls, cpus, server = [], [], [], []
    for _ in range(CHUNKS):
        wall, cpu = in_process_what_if_ms(bundles, rows)
        walls.append(wall)
        cpus.append(cpu)
        before = server_cpu(pid)
        chunk = drive(port, [phase("what_if_latency", what_if, 1, n // 100, cap / 8)], cap)
        latency = chunk["what_if_latency"]
        server.append(1000 * (server_cpu(pid) - before) / max(latency["sent"], 1))
        chunks.append(latency)
    load["what_if_latency"] = {
        "name": "what_if_latency",
        "connections": 1,
        "sent": sum(c["sent"] for c in chunks),
        "errors": sum(c["errors"] for c in chunks),
        "seconds": round(sum(c["seconds"] for c in chunks), 3),
        "requests_per_second": round(
            sum(c["sent"] for c in chunks) / sum(c["seconds"] for c in chunks), 1
        ),
        **{q: float(np.median([c[q] for c in chunks])) for q in ("p50_ms", "p90_ms", "p99_ms")},
        "chunks_p50_ms": [c["p50_ms"] for c in chunks],
    }
    load |= drive(port, [phase("what_if_throughput", what_if, 4, n // 5, cap)], cap)
    what_if_costs = {
        "in_process_ms": round(float(np.median(walls)), 4),
        "in_process_chunks_ms": [round(w, 4) for w in walls],
        "in_process_cpu_ms": round(float(np.median(cpus)), 4),
        "server_cpu_ms": round(float(np.median(server)), 4),
        "healthz_server_cpu_ms": round(1000 * health_cpu, 4),
    }
    return load, what_if_costs


def in_process_what_if_ms(
    bundles: list[ModelBundle], rows: list[dict[str, Any]]
) -> tuple[float, float]:
    """Median wall and CPU ms of LightGBM predict + pred_contrib of both models on one row,
    one thread (the rows the what-if requests send, encoded beforehand)."""
    from serving.scoring import ModelView

    views = [ModelView(b, "x") for b in bundles]
    encoded = [[view.encode_rows([row]) for view in views] for row in rows]
    walls, cpus = [], []
    for _ in range(2):
        for matrices in encoded:
            started, cpu = time.perf_counter(), time.thread_time()
            for bundle, matrix in zip(bundles, matrices, strict=True):
                bundle.booster.predict(matrix, raw_score=True, num_threads=1)
                bundle.booster.predict(matrix, pred_contrib=True, num_threads=1)
            walls.append(time.perf_counter() - started)
            cpus.append(time.thread_time() - cpu)
    return 1000 * float(np.median(walls)), 1000 * float(np.median(cpus))


def batch_vs_lightgbm(
    bundles: dict[str, ModelBundle], table: pa.Table, reps: int
) -> dict[str, float]:
    from serving.playbooks import load_playbooks
    from serving.scoring import ModelView, ScoringConfig, TableFrame, score_frame
    from serving.settings import DEFAULT_PLAYBOOKS

    threads = os.cpu_count() or 1
    churn = ModelView(bundles["churnlight-churn"], "c")
    expansion = ModelView(bundles["churnlight-expansion"], "e")
    playbooks = load_playbooks(DEFAULT_PLAYBOOKS)
    matrices = [churn.bundle.encode(table), expansion.bundle.encode(table)]
    ours, theirs, per_model = [], [], {"churn": [], "expansion": []}
    for _ in range(reps):
        started = time.perf_counter()
        for kind, view, matrix in zip(per_model, (churn, expansion), matrices, strict=True):
            t0 = time.perf_counter()
            view.booster.predict(matrix, pred_contrib=True, num_threads=threads)
            per_model[kind].append(time.perf_counter() - t0)
        theirs.append(time.perf_counter() - started)
        started = time.perf_counter()
        score_frame(TableFrame(table), churn, expansion, playbooks, ScoringConfig(), threads)
        ours.append(time.perf_counter() - started)
    rows = table.num_rows
    return {
        "rows": rows,
        "threads": threads,
        "lightgbm_seconds": round(min(theirs), 3),
        "churnlight_seconds": round(min(ours), 3),
        "explain_ms_per_row": {
            k: round(1000 * min(v) * threads / rows, 4) for k, v in per_model.items()
        },
    }


# ---- the benchmark ----------------------------------------------------------------------------


def run(quick: bool = False) -> dict[str, Any]:
    from serving.auth import new_key

    size = QUICK if quick else FULL
    results: dict[str, Any] = {
        "load_average_start": round(os.getloadavg()[0], 2),
        "accounts": size["accounts"],
        "trees": size["trees"],
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="churnlight-servebench-") as scratch_dir:
        scratch = Path(scratch_dir)
        history, specs = synthetic_table(size["history"], 1, date(2024, 1, 1))
        snapshot, _ = synthetic_table(size["accounts"], 2, SNAPSHOT)
        features = write_feature_table(
            snapshot, scratch / "features.parquet", {"features": [s.to_dict() for s in specs]}
        )
        started = time.perf_counter()
        bundles = {
            "churnlight-churn": fit(history, specs, "churn_180d", size["trees"]),
            "churnlight-expansion": fit(history, specs, "expand_180d", size["trees"]),
        }
        results["fit_seconds"] = round(time.perf_counter() - started, 1)
        uri = f"sqlite:///{scratch / 'mlflow.db'}"
        register(uri, bundles, scratch)

        key, digest = new_key()
        port = _free_port()
        env = {
            **os.environ,
            "CHURNLIGHT_TRACKING_URI": uri,
            "CHURNLIGHT_API_KEYS": digest,
            "CHURNLIGHT_ADMIN_KEYS": "",
        }
        log = open(scratch / "server.log", "wb")  # noqa: SIM115 - closed below
        started = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "churnlight",
                "serve",
                "--features",
                str(features),
                "--port",
                str(port),
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            ready: dict[str, Any] = {}
            while time.perf_counter() - started < 600:
                status, body = _get(f"http://127.0.0.1:{port}/readyz")
                if status == 200:
                    ready = json.loads(body)
                    break
                if server.poll() is not None:
                    raise RuntimeError(
                        f"server exited: {(scratch / 'server.log').read_text()[-2000:]}"
                    )
                time.sleep(0.05)
            else:
                raise RuntimeError("server not ready within 600 s")
            results["startup_to_ready_seconds"] = round(time.perf_counter() - started, 2)
            results["server_build_seconds"] = ready["build_seconds"]
            rng = np.random.default_rng(3)
            ids = snapshot.column("account_id").to_pylist()
            picked = [ids[i] for i in rng.permutation(len(ids))]
            bodies = [_what_if_body(row, rng) for row in snapshot.slice(0, 200).to_pylist()]
            status, body = _get(
                f"http://127.0.0.1:{port}/v1/accounts/{ids[0]}", {"Authorization": f"Bearer {key}"}
            )
            if status != 200 or not json.loads(body)["churn"]["drivers_up"]:
                raise RuntimeError(f"lookup failed: {status} {body[:300]!r}")
            load, costs = measure_load(
                server.pid, port, key, picked, bodies, list(bundles.values()), size
            )
            results["load"] = load
            results["what_if"] = costs
            results["what_if_in_process_ms"] = costs["in_process_ms"]
        finally:
            server.terminate()
            server.wait(timeout=30)
            log.close()
        results["batch"] = batch_vs_lightgbm(bundles, snapshot, reps=2)
    results["load_average_end"] = round(os.getloadavg()[0], 2)
    return results | {"ratios": ratios(results)}


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    load = r["load"]
    health_tp, accounts_tp = load["healthz_throughput"], load["accounts_throughput"]
    health_lat, what_if = load["healthz_latency"], load["what_if_latency"]
    budget = BOUNDS["what_if"] * r["what_if_in_process_ms"] + health_lat["p50_ms"]
    batch = r["batch"]
    out = {
        "accounts_vs_healthz_throughput": accounts_tp["requests_per_second"]
        / health_tp["requests_per_second"],
        "accounts_vs_healthz_p99": accounts_tp["p99_ms"] / health_tp["p99_ms"],
        "what_if_p50_ms": what_if["p50_ms"],
        "what_if_budget_ms": budget,
        "what_if_vs_budget": what_if["p50_ms"] / budget,
        "what_if_cpu_vs_budget": r["what_if"]["server_cpu_ms"]
        / (
            BOUNDS["what_if"] * r["what_if"]["in_process_cpu_ms"]
            + r["what_if"]["healthz_server_cpu_ms"]
        ),
        "batch_vs_lightgbm": batch["churnlight_seconds"] / batch["lightgbm_seconds"],
        "errors": sum(p["errors"] for p in load.values()),
    }
    out["met"] = {
        "throughput": out["accounts_vs_healthz_throughput"] >= BOUNDS["throughput"],
        "p99": out["accounts_vs_healthz_p99"] <= BOUNDS["p99"],
        "what_if": out["what_if_vs_budget"] <= 1.0,
        "batch": out["batch_vs_lightgbm"] <= BOUNDS["batch"],
        "no_errors": out["errors"] == 0,
    }
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def report(results: dict[str, Any]) -> list[str]:
    r, q = results, results["ratios"]
    load, batch = r["load"], r["batch"]

    def line(name: str) -> str:
        p = load[name]
        return (
            f"{name:22} {p['requests_per_second']:>8,.0f} req/s  p50 {p['p50_ms']:.3f} ms  "
            f"p99 {p['p99_ms']:.3f} ms  ({p['sent']:,} requests, {p['connections']} conn, "
            f"{p['errors']} errors)"
        )

    def ok(name: str) -> str:
        return "ok" if q["met"][name] else "NOT MET"

    build = r["server_build_seconds"]
    return [
        f"{r['accounts']:,} accounts, 2 models of {r['trees']} trees (31 leaves, depth 6), "
        f"{r['cpus']} cpus; load from a second process over 127.0.0.1; load average "
        f"{r['load_average_start']} at start, {r['load_average_end']} at end",
        f"startup to ready: {r['startup_to_ready_seconds']} s (server build: models "
        f"{build['models']} s, snapshot {build['snapshot']} s, score {build['score']} s, "
        f"serialise {build['serialise']} s)",
        *(line(p) for p in load if p != "warmup"),
        f"GET /v1/accounts/{{id}} vs /healthz: throughput "
        f"{q['accounts_vs_healthz_throughput']:.2f}x (bound >= {BOUNDS['throughput']}) "
        f"{ok('throughput')}; p99 {q['accounts_vs_healthz_p99']:.2f}x "
        f"(bound <= {BOUNDS['p99']}) {ok('p99')}",
        f"what-if one row: p50 {q['what_if_p50_ms']:.3f} ms vs budget "
        f"{q['what_if_budget_ms']:.3f} ms = 1.5 x in-process {r['what_if_in_process_ms']:.3f} ms "
        f"+ healthz p50 {load['healthz_latency']['p50_ms']:.3f} ms -> "
        f"{q['what_if_vs_budget']:.2f} of budget {ok('what_if')}",
        f"  server CPU per what-if (all threads; the two models run side by side, so CPU "
        f"exceeds wall time; not a bound): {r['what_if']['server_cpu_ms']:.3f} ms vs 1.5 x "
        f"{r['what_if']['in_process_cpu_ms']:.3f} ms + "
        f"{r['what_if']['healthz_server_cpu_ms']:.3f} ms (healthz) -> "
        f"{q['what_if_cpu_vs_budget']:.2f}",
        f"batch with explanations, {batch['rows']:,} rows, {batch['threads']} threads: "
        f"{batch['churnlight_seconds']} s vs LightGBM pred_contrib {batch['lightgbm_seconds']} s "
        f"= {q['batch_vs_lightgbm']:.2f}x (bound <= {BOUNDS['batch']}) {ok('batch')}",
        f"explanation cost per row (one thread): churn {batch['explain_ms_per_row']['churn']} ms, "
        f"expansion {batch['explain_ms_per_row']['expansion']} ms",
        "serving bounds: " + ("met" if all(q["met"].values()) else "NOT MET"),
    ]
