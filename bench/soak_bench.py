"""Soak and fairness of the API (``python -m bench soak``): one `churnlight serve` child process
on 127.0.0.1, load from other processes (``bench.serving_load``).

1. **Fairness.** Key ``reader``'s lookups alone (idle), then the same lookups while key
   ``burst`` sends 1,000-row what-ifs on four connections. Reported: the lookup p99 under the
   burst against the idle p99 measured in the same run (bound: <= 3x), and how the burst was
   answered (200s, and 429s from the per-key limits).
2. **Soak.** Lookups, portfolio pages and one-row what-ifs at once, each from its own key and
   process, for 5 minutes (20 s with ``--quick``), with ``POST /v1/admin/reload?wait=true``
   every minute (5 s). Reported: throughput, p50/p99 per kind, errors (must be 0), the reloads,
   and the RSS of the server and its what-if workers at the start and the end of the soak
   (bound: growth <= 10%).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench import get_bench_settings
from bench.serving_bench import (
    REPO,
    SNAPSHOT,
    _free_port,
    _get,
    _http,
    fit,
    phase,
    register,
    synthetic_table,
)
from features.writer import write_feature_table

FULL = {"accounts": 10_000, "history": 20_000, "trees": 300, "fair": 15.0, "soak": 300.0}
QUICK = {"accounts": 1_000, "history": 4_000, "trees": 100, "fair": 4.0, "soak": 20.0}
RELOAD_EVERY = {"full": 60.0, "quick": 5.0}
BOUNDS = {"p99_under_burst": 3.0, "rss_growth": 0.10}
BURST_ROWS = 1000
SAMPLE_EVERY = {"full": 10.0, "quick": 1.0}
"""Seconds between two RSS samples of the soak (the time series in the results file)."""


def _start(load: list[dict[str, Any]], port: int) -> subprocess.Popen[str]:
    """A ``bench.serving_load`` process running ``load``; its config file is removed once
    the process has read it (see ``_finish``)."""
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)  # noqa: SIM115
    with handle:
        json.dump({"port": port, "phases": load}, handle)
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.serving_load", handle.name],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.config = handle.name  # type: ignore[attr-defined]
    return process


def _finish(process: subprocess.Popen[str], timeout: float) -> dict[str, dict[str, Any]]:
    out, err = process.communicate(timeout=timeout)
    os.unlink(process.config)  # type: ignore[attr-defined]
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed: {err[-2000:]}")
    return {p["name"]: p for p in json.loads(out.strip().splitlines()[-1])}


def _rss(pid: int) -> tuple[int, int]:
    """RSS of the server process, and of its child processes (the what-if workers)."""
    import psutil

    server = psutil.Process(pid)
    children = 0
    for child in server.children(recursive=True):
        try:
            children += child.memory_info().rss
        except psutil.NoSuchProcess:  # pragma: no cover - a worker replaced meanwhile
            continue
    return int(server.memory_info().rss), children


class _Tracer:
    """Tracemalloc snapshots of a server run by ``bench.traced_serve``: ``take`` signals it and
    waits for the file; ``growth`` compares each snapshot with the first."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.command = ["-m", "bench.traced_serve", str(folder)]
        self.pid = 0
        self.taken = 0

    def take(self) -> None:
        import signal

        path = self.folder / f"trace-{self.taken}.pickle"
        os.kill(self.pid, signal.SIGUSR1)
        deadline = time.perf_counter() + 300
        while not path.exists() and time.perf_counter() < deadline:
            time.sleep(0.2)
        self.taken += 1

    def growth(self, top: int = 15) -> list[str]:
        """Per snapshot after the first: its traced total, and the ``top`` lines whose
        allocations grew most since the first (with the last snapshot's tracebacks)."""
        import tracemalloc

        def load(n: int) -> tracemalloc.Snapshot:
            return tracemalloc.Snapshot.load(str(self.folder / f"trace-{n}.pickle"))

        first = load(0)
        lines = [f"trace 0: {sum(s.size for s in first.statistics('filename')) / 2**20:.1f} MB"]
        last = first
        for n in range(1, self.taken):
            last = load(n)
            total = sum(s.size for s in last.statistics("filename"))
            diff = sum(s.size_diff for s in last.compare_to(first, "filename"))
            lines.append(f"trace {n}: {total / 2**20:.1f} MB ({diff / 2**20:+.1f} MB)")
        for stat in last.compare_to(first, "traceback")[:top]:
            lines.append(f"{stat.size_diff / 2**20:+.2f} MB in {stat.count_diff:+,} blocks:")
            lines.extend(f"    {frame}" for frame in stat.traceback.format()[-FRAMES_SHOWN:])
        return lines


FRAMES_SHOWN = 6


def _smaps(pid: int) -> dict[str, float]:
    """The server's resident memory (MB) by kind of mapping: ``heap`` (glibc's main arena),
    ``anon`` (other anonymous mappings: thread arenas, large blocks, Python's object arenas,
    Arrow's and DuckDB's allocators), ``file`` (mapped libraries and files)."""
    out = {"heap": 0, "anon": 0, "file": 0}
    kind: str | None = None
    with open(f"/proc/{pid}/smaps") as lines:
        for line in lines:
            head, _, rest = line.partition(" ")
            if not head.endswith(":"):  # a mapping: address perms offset dev inode [name]
                name = rest.split()[4] if len(rest.split()) > 4 else ""
                kind = "heap" if name == "[heap]" else "file" if name.startswith("/") else None
                kind = kind or ("anon" if not name else None)
            elif head == "Rss:" and kind is not None:
                out[kind] += int(rest.split()[0])
    return {k: round(v / 1024, 1) for k, v in out.items()}


def _sample(pid: int, started: float) -> dict[str, Any]:
    server, workers = _rss(pid)
    return {
        "t": round(time.perf_counter() - started, 1),
        "server_mb": round(server / 2**20, 1),
        "workers_mb": round(workers / 2**20, 1),
        **_smaps(pid),
    }


def _sampler(pid: int, every: float, started: float, stop: threading.Event) -> list[dict]:
    """RSS samples of the server and its workers every ``every`` seconds until ``stop``."""
    samples: list[dict] = []

    def loop() -> None:
        while not stop.wait(every):
            try:
                samples.append(_sample(pid, started))
            except (OSError, ValueError):  # pragma: no cover - the server exited
                return

    threading.Thread(target=loop, daemon=True).start()
    return samples


def _reloads(
    port: int,
    admin: str,
    every: float,
    stop: threading.Event,
    pid: int,
    started: float,
    tracer: _Tracer | None = None,
) -> list[dict]:
    """POST /v1/admin/reload?wait=true every ``every`` seconds until ``stop``; each entry
    holds the RSS sampled as the reload answered."""
    done: list[dict] = []

    def loop() -> None:
        while not stop.wait(every):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/admin/reload?wait=true",
                method="POST",
                headers={"Authorization": f"Bearer {admin}"},
            )
            began = time.perf_counter()
            try:
                with urllib.request.urlopen(request, timeout=600) as response:
                    status = response.status
            except urllib.error.HTTPError as err:
                status = err.code
            done.append(
                {
                    "status": status,
                    "seconds": round(time.perf_counter() - began, 2),
                    "after": _sample(pid, started),
                }
            )
            if tracer is not None:
                tracer.take()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    done.append({"thread": thread})  # type: ignore[dict-item]
    return done


def run(quick: bool = False) -> dict[str, Any]:
    from serving.auth import new_key

    size = QUICK if quick else FULL
    every = RELOAD_EVERY["quick" if quick else "full"]
    results: dict[str, Any] = {
        "load_average_start": round(os.getloadavg()[0], 2),
        "accounts": size["accounts"],
        "trees": size["trees"],
        "cpus": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory(prefix="churnlight-soak-") as scratch_dir:
        scratch = Path(scratch_dir)
        history, specs = synthetic_table(size["history"], 1, date(2024, 1, 1))
        snapshot, _ = synthetic_table(size["accounts"], 2, SNAPSHOT)
        features = write_feature_table(
            snapshot, scratch / "features.parquet", {"features": [s.to_dict() for s in specs]}
        )
        bundles = {
            "churnlight-churn": fit(history, specs, "churn_180d", size["trees"]),
            "churnlight-expansion": fit(history, specs, "expand_180d", size["trees"]),
        }
        uri = f"sqlite:///{scratch / 'mlflow.db'}"
        register(uri, bundles, scratch)
        keys = {name: new_key(name) for name in ("reader", "pages", "whatif", "burst")}
        admin, admin_entry = new_key("ops")
        port = _free_port()
        env = {
            **os.environ,
            "CHURNLIGHT_TRACKING_URI": uri,
            "CHURNLIGHT_HOME": str(scratch),
            "CHURNLIGHT_API_KEYS": ",".join(entry for _, entry in keys.values()),
            "CHURNLIGHT_ADMIN_KEYS": admin_entry,
            "CHURNLIGHT_REFRESH_SECONDS": "0",
            "CHURNLIGHT_LOG_LEVEL": "warning",
        }
        port_args = ["--port", str(port)]
        serve = ["serve", "--features", str(features), *port_args]
        tracer = _Tracer(scratch / "traces") if get_bench_settings().tracemalloc else None
        command = ["-m", "churnlight"] if tracer is None else tracer.command
        log = open(scratch / "server.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen(
            [sys.executable, *command, *serve],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_ready(server, port, scratch)
            ids = snapshot.column("account_id").to_pylist()
            rng = np.random.default_rng(5)
            picked = [ids[i] for i in rng.permutation(len(ids))[:2000]]
            results["fairness"] = _fairness(port, keys, picked, size["fair"])
            if tracer is not None:
                tracer.pid = server.pid
            results["soak"] = _soak(
                server.pid, port, keys, admin, picked, size["soak"], every, tracer
            )
        finally:
            server.terminate()
            server.wait(timeout=60)
            log.close()
    results["load_average_end"] = round(os.getloadavg()[0], 2)
    return results | {"ratios": ratios(results)}


def _wait_ready(server: subprocess.Popen[bytes], port: int, scratch: Path) -> None:
    started = time.perf_counter()
    while time.perf_counter() - started < 900:
        if _get(f"http://127.0.0.1:{port}/readyz")[0] == 200:
            return
        if server.poll() is not None:
            raise RuntimeError(f"server exited: {(scratch / 'server.log').read_text()[-2000:]}")
        time.sleep(0.1)
    raise RuntimeError("server not ready within 900 s")


def _lookups(keys: dict[str, tuple[str, str]], picked: list[str]) -> list[str]:
    key = keys["reader"][0]
    return [_http("GET", f"/v1/accounts/{i}", key) for i in picked]


def _fairness(
    port: int, keys: dict[str, tuple[str, str]], picked: list[str], seconds: float
) -> dict[str, Any]:
    lookups = _lookups(keys, picked)
    idle = _finish(_start([phase("idle", lookups, 2, 10**9, seconds)], port), seconds * 4 + 120)[
        "idle"
    ]
    rows = [{"account_id": i, "features": {"nps_last": 3}} for i in picked[:BURST_ROWS]]
    body = json.dumps({"rows": rows}).encode()
    burst_requests = [_http("POST", "/v1/score", keys["burst"][0], body)]
    burst = _start([phase("burst", burst_requests, 4, 10**9, seconds + 2)], port)
    under = _finish(
        _start([phase("under_burst", lookups, 2, 10**9, seconds)], port), seconds * 4 + 120
    )["under_burst"]
    burst_result = _finish(burst, seconds * 4 + 600)["burst"]
    return {"idle": idle, "under_burst": under, "burst": burst_result}


def _soak(
    pid: int,
    port: int,
    keys: dict[str, tuple[str, str]],
    admin: str,
    picked: list[str],
    seconds: float,
    every: float,
    tracer: _Tracer | None = None,
) -> dict[str, Any]:
    lookups = _lookups(keys, picked)
    pages = [
        _http("GET", f"/v1/accounts?limit=50&offset={50 * k}&sort={sort}", keys["pages"][0])
        for k in range(20)
        for sort in ("revenue_at_risk", "churn_probability")
    ]
    what_ifs = [
        _http(
            "POST",
            "/v1/score",
            keys["whatif"][0],
            json.dumps({"rows": [{"account_id": i, "features": {"nps_last": 2}}]}).encode(),
        )
        for i in picked[:200]
    ]
    started = time.perf_counter()
    if tracer is not None:
        tracer.take()
    rss_start = _rss(pid)
    samples = [_sample(pid, started)]
    stop = threading.Event()
    sampled = _sampler(pid, SAMPLE_EVERY["full" if seconds >= 60 else "quick"], started, stop)
    reloads = _reloads(port, admin, every, stop, pid, started, tracer)
    kinds = {
        "lookups": _start([phase("lookups", lookups, 2, 10**9, seconds)], port),
        "pages": _start([phase("pages", pages, 1, 10**9, seconds)], port),
        "what_ifs": _start([phase("what_ifs", what_ifs, 1, 10**9, seconds)], port),
    }
    out = {name: _finish(p, seconds * 2 + 600)[name] for name, p in kinds.items()}
    stop.set()
    reloads[0]["thread"].join(timeout=600)
    rss_end = _rss(pid)
    samples += sampled
    samples.append(_sample(pid, started))
    traced = {} if tracer is None else {"tracemalloc": tracer.growth()}
    return {
        **traced,
        **out,
        "reloads": [r for r in reloads if "thread" not in r],
        "samples": samples,
        "rss_start_mb": round(sum(rss_start) / 2**20, 1),
        "rss_end_mb": round(sum(rss_end) / 2**20, 1),
        "server_rss_mb": [round(rss_start[0] / 2**20, 1), round(rss_end[0] / 2**20, 1)],
        "workers_rss_mb": [round(rss_start[1] / 2**20, 1), round(rss_end[1] / 2**20, 1)],
    }


def ratios(r: dict[str, Any]) -> dict[str, Any]:
    fair, soak = r["fairness"], r["soak"]
    kinds = ("lookups", "pages", "what_ifs")
    out = {
        "lookup_p99_under_burst_vs_idle": fair["under_burst"]["p99_ms"] / fair["idle"]["p99_ms"],
        "rss_growth": soak["rss_end_mb"] / soak["rss_start_mb"] - 1,
        "soak_errors": sum(soak[k]["errors"] for k in kinds)
        + sum(1 for x in soak["reloads"] if x["status"] != 200),
        "lookup_errors_under_burst": fair["under_burst"]["errors"],
    }
    out["met"] = {
        "p99_under_burst": out["lookup_p99_under_burst_vs_idle"] <= BOUNDS["p99_under_burst"],
        "rss_growth": out["rss_growth"] <= BOUNDS["rss_growth"],
        "no_errors": out["soak_errors"] == 0 and out["lookup_errors_under_burst"] == 0,
    }
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}


def report(results: dict[str, Any]) -> list[str]:
    r, q = results, results["ratios"]
    fair, soak = r["fairness"], r["soak"]

    def line(name: str, p: dict[str, Any]) -> str:
        return (
            f"{name:12} {p['requests_per_second']:>8,.1f} req/s  p50 {p['p50_ms']:.3f} ms  "
            f"p99 {p['p99_ms']:.3f} ms  ({p['sent']:,} requests, statuses {p['statuses']})"
        )

    return [
        f"{r['accounts']:,} accounts, {r['trees']} trees, {r['cpus']} cpus, load average "
        f"{r['load_average_start']} -> {r['load_average_end']}",
        "fairness: key 'reader' looks up while key 'burst' sends 1,000-row what-ifs",
        "  " + line("idle", fair["idle"]),
        "  " + line("under burst", fair["under_burst"]),
        "  " + line("burst", fair["burst"]),
        f"  lookup p99 under burst vs idle: {q['lookup_p99_under_burst_vs_idle']:.2f}x "
        f"(bound {BOUNDS['p99_under_burst']}x: "
        f"{'met' if q['met']['p99_under_burst'] else 'MISSED'})",
        "soak: lookups, pages and what-ifs at once, a reload every interval",
        *("  " + line(k, soak[k]) for k in ("lookups", "pages", "what_ifs")),
        f"  reloads: {[x['status'] for x in soak['reloads']]} "
        f"({[x['seconds'] for x in soak['reloads']]} s)",
        f"  RSS {soak['rss_start_mb']} MB -> {soak['rss_end_mb']} MB "
        f"({q['rss_growth']:+.1%}; bound +{BOUNDS['rss_growth']:.0%}: "
        f"{'met' if q['met']['rss_growth'] else 'MISSED'}; server "
        f"{' -> '.join(map(str, soak['server_rss_mb']))} MB, what-if workers "
        f"{' -> '.join(map(str, soak['workers_rss_mb']))} MB)",
        f"  errors: {q['soak_errors']} ({'met' if q['met']['no_errors'] else 'MISSED'})",
        "  server RSS after each reload (MB): "
        + ", ".join(f"{x['after']['server_mb']}" for x in soak["reloads"] if "after" in x),
        "  RSS over time (t s: server MB [heap/anon/file] + workers MB): "
        + "; ".join(
            f"{x['t']:.0f}: {x['server_mb']} [{x['heap']}/{x['anon']}/{x['file']}] "
            f"+ {x['workers_mb']}"
            for x in _every_minute(soak["samples"])
        ),
        *("  " + line for line in soak.get("tracemalloc", [])),
    ]


def _every_minute(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first sample, one per started minute, and the last."""
    if not samples:
        return []
    picked = [samples[0]]
    for x in samples[1:-1]:
        if x["t"] // 60 > picked[-1]["t"] // 60:
            picked.append(x)
    return [*picked, samples[-1]] if len(samples) > 1 else picked
