"""Simulated sources shared by the simulator tests: built once per session, seeded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.config import SimulationConfig
from simulator.run import History, SimulationSummary, generate, simulate
from simulator.truth import Truth, write_truth

SMALL = SimulationConfig(accounts=120, months=18, seed=5, oracle_rows=400, oracle_rollouts=200)


@dataclass
class SimulatedSource:
    config: SimulationConfig
    path: Path
    history: History
    truth: Truth


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SimulatedSource:
    """120 accounts x 18 months with truth; the in-memory chain is kept for replay tests."""
    path = tmp_path_factory.mktemp("sim") / "source"
    history = generate(SMALL, path)
    truth = write_truth(history, path)
    return SimulatedSource(SMALL, path, history, truth)


@pytest.fixture(scope="session")
def small_summary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulationSummary]:
    """The same config through ``simulate`` into another folder (for determinism)."""
    path = tmp_path_factory.mktemp("sim_again") / "source"
    return path, simulate(SMALL, path)
