"""Simulator speed and memory: `simulate` at 10,000 accounts x 36 months (>= 100 M events).

The simulation runs in its own process (so its peak RSS is its own, read from wait4) and
writes to a scratch folder. Baseline, measured in the same run: the "I/O floor", the time
pyarrow's ParquetWriter takes to write the same number of rows of a trivial events table
(one pre-built block of random rows, written again and again). Reported: events, seconds
(generation and truth), events/s, peak RSS against the 4 GB bound, simulator time / floor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import EVENTS
from simulator.writer import arrow_schema

FULL = {"accounts": 10_000, "months": 36, "seed": 1}
QUICK = {"accounts": 500, "months": 36, "seed": 1}
RSS_BOUND_MB = 4096
BLOCK_ROWS = 1_000_000

CHILD = """
import json, sys
from simulator.config import SimulationConfig
from simulator.run import simulate
config = SimulationConfig(**json.loads(sys.argv[1]))
summary = simulate(config, sys.argv[2])
print(json.dumps(summary.to_dict()))
"""


def run_child(config: dict, out: Path) -> tuple[dict, float, float]:
    """Run ``simulate`` in a fresh interpreter: (its summary, wall seconds, peak RSS in MB).

    The child's own peak RSS comes from wait4, so other benchmarks' processes never mix in."""
    log = out.parent / "child.log"
    started = time.perf_counter()
    with open(out.parent / "child.json", "wb") as stdout, open(log, "wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(config), str(out)],
            stdout=stdout,
            stderr=stderr,
            cwd=Path(__file__).resolve().parent.parent,
        )
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"simulate failed ({proc.returncode}): {log.read_text()[-2000:]}")
    lines = (out.parent / "child.json").read_text().strip().splitlines()
    return json.loads(lines[-1]), seconds, usage.ru_maxrss / 1024


def io_floor(rows: int, out: Path) -> float:
    """Seconds pyarrow takes to write ``rows`` rows of a trivial events table."""
    rng = np.random.default_rng(0)
    schema = arrow_schema(EVENTS)
    accounts = pa.array([f"a{i:05d}" for i in range(10_000)])
    users = pa.array([f"a{i // 40:05d}-u{i % 40:03d}" for i in range(400_000)])
    features = pa.array([f"feature_{i}" for i in range(16)])
    block = pa.Table.from_arrays(
        [
            accounts.take(np.sort(rng.integers(0, 10_000, BLOCK_ROWS))),
            users.take(rng.integers(0, 400_000, BLOCK_ROWS)),
            pa.array(
                np.sort(rng.integers(1_600 * 10**12, 1_700 * 10**12, BLOCK_ROWS)),
                pa.timestamp("us"),
            ),
            features.take(rng.integers(0, 16, BLOCK_ROWS)),
            pa.array(np.ones(BLOCK_ROWS)),
        ],
        schema=schema,
    )
    started = time.perf_counter()
    with pq.ParquetWriter(out, schema) as writer:
        written = 0
        while written < rows:
            part = block.slice(0, min(BLOCK_ROWS, rows - written))
            writer.write_table(part)
            written += part.num_rows
    seconds = time.perf_counter() - started
    out.unlink()
    return seconds


def run(quick: bool = False) -> dict[str, object]:
    config = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="churnlight-simbench-") as scratch:
        out = Path(scratch) / "source"
        summary, wall, peak_mb = run_child(config, out)
        disk_mb = sum(p.stat().st_size for p in out.glob("*.parquet")) / 2**20
        events = int(summary["events"])
        floor = io_floor(events, Path(scratch) / "floor.parquet")
    truth = summary.get("truth") or {}
    return {
        **config,
        "events": events,
        "wall_seconds": round(wall, 1),
        "generate_seconds": summary["seconds_generate"],
        "truth_seconds": summary["seconds_truth"],
        "events_per_second": round(events / summary["seconds_generate"]),
        "peak_rss_mb": round(peak_mb),
        "rss_bound_mb": RSS_BOUND_MB,
        "parquet_mb": round(disk_mb),
        "floor_seconds": round(floor, 1),
        "ratio_vs_floor": round(summary["seconds_generate"] / floor, 2),
        "annual_churn": truth.get("annual_churn"),
        "annual_churn_by_segment": truth.get("annual_churn_by_segment"),
        "label_mismatches": truth.get("label_mismatches"),
        "annual_expansion_share": truth.get("annual_expansion_share"),
        "oracle_churn_auc": truth.get("oracle_churn_auc"),
        "oracle_expand_auc": truth.get("oracle_expand_auc"),
        "cpus": os.cpu_count(),
    }


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"  # type: ignore[arg-type]


def _auc(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.3f}"  # type: ignore[arg-type]


def report(results: dict[str, object]) -> list[str]:
    r: dict = results
    scale_ok = r["events"] >= 100_000_000 or r["accounts"] < FULL["accounts"]
    ok = r["peak_rss_mb"] < RSS_BOUND_MB and scale_ok
    return [
        f"simulate {r['accounts']:,} accounts x {r['months']} months: {r['events']:,} events, "
        f"{r['parquet_mb']:,} MB of Parquet",
        f"time: {r['wall_seconds']} s wall = {r['generate_seconds']} s tables + "
        f"{r['truth_seconds']} s truth -> {r['events_per_second']:,} events/s",
        f"peak RSS {r['peak_rss_mb']:,} MB (bound < {r['rss_bound_mb']:,} MB)",
        f"I/O floor (pyarrow writes the same rows of a trivial table): {r['floor_seconds']} s "
        f"-> simulator / floor = {r['ratio_vs_floor']}",
        f"annual churn {_pct(r['annual_churn'])}, accounts expanding per year "
        f"{_pct(r['annual_expansion_share'])}, oracle ROC-AUC churn "
        f"{_auc(r['oracle_churn_auc'])} / expansion {_auc(r['oracle_expand_auc'])}",
        "simulator bounds (>= 100 M events at full scale, peak RSS < 4 GB): "
        + ("met" if ok else "NOT MET"),
    ]
