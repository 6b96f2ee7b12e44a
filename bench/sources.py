"""Simulated sources for benchmarks, generated once per size and kept under bench/results/."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from simulator.config import SimulationConfig
from simulator.run import simulate

CACHE = Path(__file__).resolve().parent / "results" / "sources"


@dataclass(frozen=True)
class BenchSource:
    path: Path
    events: int


def ensure_source(accounts: int, months: int, seed: int) -> BenchSource:
    """The simulated source of this size, generated on first use (no ground truth)."""
    path = CACHE / f"a{accounts}-m{months}-s{seed}"
    done = path / "_bench_source.json"
    if done.exists():
        return BenchSource(path, json.loads(done.read_text())["events"])
    if path.exists():
        shutil.rmtree(path)  # an interrupted generation
    config = SimulationConfig(accounts=accounts, months=months, seed=seed, oracle_rows=0)
    summary = simulate(config, path, with_truth=False)
    done.write_text(json.dumps({"events": summary.events}))
    return BenchSource(path, summary.events)
