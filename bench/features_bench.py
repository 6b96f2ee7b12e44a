"""Feature-table speed and memory against baselines measured in the same run.

1. On a simulated source of 10,000 accounts x 36 months (>= 100 M events): the whole
   monthly feature table (`churnlight features`) against the floor, a plain DuckDB aggregate
   over the same events (per account and month: events, distinct users, distinct
   features). Bound: ratio <= 4, peak RSS < 6 GB.
2. On a ~10 M-event source: a straightforward pandas implementation of the canonical
   usage features (tests/features/reference.py restricted to usage inputs) against churnlight's
   whole feature table.

Each measurement runs in its own process so its peak RSS is its own. The big comparison
runs floor, pipeline, floor, pipeline, floor and compares the medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sources import ensure_source

FLOOR_SQL = """
SELECT account_id, date_trunc('month', ts) AS month, count(*) AS events,
       count(DISTINCT user_id) AS users, count(DISTINCT feature) AS features
FROM read_parquet('{events}') GROUP BY ALL
"""

PANDAS_USAGE = """
import sys, pyarrow.parquet as pq
from pathlib import Path
from tests.features.reference import reference_features
src = Path(sys.argv[1])
tables = {n: pq.read_table(src / f"{n}.parquet").to_pandas()
          for n in ("accounts", "subscriptions", "events", "feature_catalog")}
frame = reference_features(tables)
print(len(frame))
"""

FLOOR = """
import sys, duckdb
con = duckdb.connect()
rows = con.execute(sys.argv[1]).fetchall()
print(len(rows))
"""


REPEATS = 2
"""Pipeline runs, each followed by a floor run (the floor also runs once before)."""


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float


def measure(args: list[str]) -> Measured:
    """Run ``args`` to completion; its wall time and its own peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        stderr = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{args[:3]} failed ({proc.returncode}): {stderr[-2000:]}")
    return Measured(round(seconds, 2), round(usage.ru_maxrss / 1024, 1))


def features_command(source: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "churnlight",
        "features",
        "--source",
        str(source),
        "--out",
        str(out),
    ]


def run(quick: bool = False) -> dict[str, object]:
    """Both comparisons; ``quick`` shrinks the sources for a smoke run."""
    big = ensure_source(accounts=400 if quick else 10_000, months=36, seed=7)
    mid = ensure_source(accounts=100 if quick else 1_000, months=36, seed=8)
    results: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "features.parquet"
        floor_args = [
            sys.executable,
            "-c",
            FLOOR,
            FLOOR_SQL.format(events=big.path / "events.parquet"),
        ]
        # Interleaved and repeated: this machine's speed drifts by 10-20% from minute to
        # minute, so one floor run next to one pipeline run gave ratios 15% apart.
        floors = [measure(floor_args)]
        ours = []
        for _ in range(1 if quick else REPEATS):
            ours.append(measure(features_command(big.path, out)))
            floors.append(measure(floor_args))
        floor_s = statistics.median(m.seconds for m in floors)
        ours_s = statistics.median(m.seconds for m in ours)
        results["big"] = {
            "events": big.events,
            "floor_seconds": round(floor_s, 2),
            "floor_runs": [m.seconds for m in floors],
            "features_seconds": round(ours_s, 2),
            "features_runs": [m.seconds for m in ours],
            "ratio_vs_floor": round(ours_s / floor_s, 2),
            "ratio_bound": 4.0,
            "features_peak_rss_mb": max(m.peak_rss_mb for m in ours),
            "rss_bound_mb": 6144,
            "floor_peak_rss_mb": max(m.peak_rss_mb for m in floors),
        }
        pandas_usage = measure([sys.executable, "-c", PANDAS_USAGE, str(mid.path)])
        ours_mid = measure(features_command(mid.path, out))
        results["mid"] = {
            "events": mid.events,
            "pandas_usage_seconds": pandas_usage.seconds,
            "pandas_peak_rss_mb": pandas_usage.peak_rss_mb,
            "features_seconds": ours_mid.seconds,
            "features_peak_rss_mb": ours_mid.peak_rss_mb,
            "ratio_vs_pandas": round(ours_mid.seconds / pandas_usage.seconds, 2),
        }
    return results


def report(results: dict[str, object]) -> list[str]:
    big, mid = results["big"], results["mid"]  # type: ignore[index]
    lines = [
        f"features, {big['events']:,} events: {big['features_seconds']}s vs DuckDB floor "
        f"{big['floor_seconds']}s (medians; runs {big['features_runs']} and "
        f"{big['floor_runs']}) -> ratio {big['ratio_vs_floor']} (bound <= 4); peak RSS "
        f"{big['features_peak_rss_mb']:,} MB (bound < 6,144 MB)",
        f"features, {mid['events']:,} events: {mid['features_seconds']}s (all families) vs pandas "
        f"canonical usage {mid['pandas_usage_seconds']}s -> ratio {mid['ratio_vs_pandas']}; "
        f"peak RSS {mid['features_peak_rss_mb']:,} MB vs {mid['pandas_peak_rss_mb']:,} MB",
    ]
    ok = big["ratio_vs_floor"] <= 4 and big["features_peak_rss_mb"] < 6144
    lines.append("features bounds: " + ("met" if ok else "NOT MET"))
    return lines
