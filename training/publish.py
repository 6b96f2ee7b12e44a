"""Publishing a training: gate, log the run, register and promote.

The order is chosen so that a failure or a kill at any point leaves the registry and the
champion as they were:

1. gate (``training.gate``): the current champion (read only) is scored on the challenger's
   last backtest window;
2. the run (``training.run_logging``): parameters, metrics, plots and both models are logged
   (tracking, not registry);
3. registry (``training.registration``): each model becomes a pending version, the champion
   alias moves for the labels that passed the gate, then the versions are committed; an
   exception undoes the step, and ``recover`` cleans up after a kill.

Every writer holds ``training.locks.registry_lock``, so two trainings never overlap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from training.gate import GateDecision, gate
from training.registration import VersionOutcome, register_and_promote
from training.run_logging import log_run
from training.store import Store

if TYPE_CHECKING:
    from training.settings import TrainingSettings
    from training.train import TrainingResult


@dataclass
class Publication:
    run_id: str
    decisions: dict[str, GateDecision]
    versions: dict[str, VersionOutcome]


def publish(
    store: Store,
    settings: TrainingSettings,
    result: TrainingResult,
    register: bool = True,
    run_name: str | None = None,
    tags: dict[str, str] | None = None,
) -> Publication:
    """Gate, log, register and promote (see the module docs for the order). Tabular results
    are logged but never registered."""
    register = register and result.mode == "temporal"
    decisions = gate(store, settings, result) if register else {}
    logged = log_run(store, result, decisions, run_name=run_name, tags=tags)
    versions = register_and_promote(store, settings, logged, decisions) if register else {}
    return Publication(logged.run_id, decisions, versions)
