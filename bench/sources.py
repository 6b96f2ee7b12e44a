"""Simulated sources for benchmarks, generated once per size and kept under bench/results/."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import simulator
from simulator.config import SimulationConfig
from simulator.run import simulate

CACHE = Path(__file__).resolve().parent / "results" / "sources"


@dataclass(frozen=True)
class BenchSource:
    path: Path
    events: int


def _simulator_digest() -> str:
    """A hash of the simulator's code: a changed simulator never reuses an old source."""
    digest = hashlib.sha256()
    for file in sorted(Path(simulator.__file__).parent.glob("*.py")):
        digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def ensure_source(accounts: int, months: int, seed: int) -> BenchSource:
    """The simulated source of this size, generated on first use (no ground truth)."""
    path = CACHE / f"a{accounts}-m{months}-s{seed}-{_simulator_digest()}"
    done = path / "_bench_source.json"
    if done.exists():
        return BenchSource(path, json.loads(done.read_text())["events"])
    if path.exists():
        shutil.rmtree(path)  # an interrupted generation
    config = SimulationConfig(accounts=accounts, months=months, seed=seed, oracle_rows=0)
    summary = simulate(config, path, with_truth=False)
    done.write_text(json.dumps({"events": summary.events}))
    return BenchSource(path, summary.events)
