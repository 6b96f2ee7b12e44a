"""The register-and-promote transaction, and the recovery of what a killed one left.

Each logged model becomes a version tagged ``churnlight.state=pending``; the champion alias
moves for the labels that passed the gate; then the versions are tagged ``committed``. An
exception restores the aliases and deletes the versions and any registered model the
transaction created. A kill (the step lasts milliseconds) can leave a pending version
behind, never a moved alias; ``recover`` deletes such leftovers and is run under the registry
lock before every train and retrain. A step of a rollback or a recovery that fails is logged
(logger ``churnlight.training``) and the others still run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from training.store import Store
from training.versions import champion_version

if TYPE_CHECKING:
    from training.gate import GateDecision
    from training.run_logging import LoggedRun
    from training.settings import TrainingSettings

log = logging.getLogger("churnlight.training")

STATE_TAG = "churnlight.state"
MANAGED_TAG = "churnlight.managed"


@dataclass
class VersionOutcome:
    label: str
    name: str
    version: str
    promoted: bool
    reason: str
    champion_before: str | None
    champion_after: str | None


def register_and_promote(
    store: Store,
    settings: TrainingSettings,
    logged: LoggedRun,
    decisions: dict[str, GateDecision],
) -> dict[str, VersionOutcome]:
    """Register every logged model and move the champion alias where the gate allows.

    All or nothing: on any exception the aliases are restored, the new versions deleted
    (and a registered model this call created), and the exception re-raised."""

    client = store.client
    alias = settings.champion_alias
    created_models: list[str] = []
    created_versions: list[tuple[str, str]] = []
    previous: dict[str, str | None] = {}
    outcomes: dict[str, VersionOutcome] = {}
    try:
        for label, uri in logged.model_uris.items():
            decision = decisions[label]
            name = decision.model_name
            description = f"churnlight model of {label}; alias '{alias}' is served"
            if ensure_registered_model(client, name, description):
                created_models.append(name)
            version = client.create_model_version(
                name,
                source=uri,
                run_id=logged.run_id,
                tags={
                    STATE_TAG: "pending",
                    "churnlight.label": label,
                    "churnlight.gate": "promote" if decision.promote else "keep",
                    "churnlight.gate_reason": decision.reason[:5000],
                },
            )
            created_versions.append((name, str(version.version)))
            outcomes[label] = VersionOutcome(
                label,
                name,
                str(version.version),
                decision.promote,
                decision.reason,
                decision.champion_version,
                decision.champion_version,
            )
        for label, outcome in outcomes.items():
            if not decisions[label].promote:
                continue
            current = champion_version(store, outcome.name, alias)
            previous[outcome.name] = None if current is None else str(current.version)
            client.set_registered_model_alias(outcome.name, alias, outcome.version)
            outcome.champion_after = outcome.version
        for name, version in created_versions:
            client.set_model_version_tag(name, version, STATE_TAG, "committed")
    except BaseException:
        _rollback(store, alias, previous, created_versions, created_models)
        raise
    return outcomes


def _rollback(
    store: Store,
    alias: str,
    previous: dict[str, str | None],
    versions: list[tuple[str, str]],
    models: list[str],
) -> None:
    """Undo a failed transaction, every step tried even when one fails (each failure is
    logged: the registry may then need ``recover`` or a hand)."""
    client = store.client
    for name, version in previous.items():
        try:
            if version is None:
                client.delete_registered_model_alias(name, alias)
            else:
                client.set_registered_model_alias(name, alias, version)
        except Exception as err:
            log.error(
                "rollback: could not restore alias %r of %s to %s: %s", alias, name, version, err
            )
    for name, version in versions:
        try:
            client.delete_model_version(name, version)
        except Exception as err:
            log.error("rollback: could not delete version %s/%s: %s", name, version, err)
    for name in models:
        try:
            client.delete_registered_model(name)
        except Exception as err:
            log.error("rollback: could not delete registered model %s: %s", name, err)


def recover(store: Store, settings: TrainingSettings) -> dict[str, Any]:
    """Undo what a killed train or retrain left: pending versions (deleted), registered
    models it created that hold no version (deleted), runs still marked running (KILLED).
    Call it only under ``registry_lock``. A model whose versions cannot be listed, or an
    empty model that cannot be deleted, is logged and left for the next recovery."""
    from mlflow.exceptions import MlflowException

    client = store.client
    removed: list[str] = []
    names = (settings.churn_model_name, settings.expansion_model_name)
    for name in (*names, settings.effects_model_name, settings.survival_model_name):
        try:
            versions = client.search_model_versions(f"name = '{name}'")
        except MlflowException as err:
            log.error("recover: could not list the versions of %s: %s", name, err)
            continue
        for version in versions:
            if (version.tags or {}).get(STATE_TAG) == "pending":
                for alias in list(version.aliases or []):
                    client.delete_registered_model_alias(name, alias)
                client.delete_model_version(name, version.version)
                removed.append(f"{name}/{version.version}")
        try:
            model = client.get_registered_model(name)
            managed = (model.tags or {}).get(MANAGED_TAG) == "true"
            if managed and not client.search_model_versions(f"name = '{name}'"):
                client.delete_registered_model(name)
                removed.append(name)
        except MlflowException as err:
            if err.error_code != "RESOURCE_DOES_NOT_EXIST":  # never registered: nothing to do
                log.error("recover: could not delete the empty model %s: %s", name, err)
    killed = []
    for run in client.search_runs(
        [store.experiment_id], filter_string="attributes.status = 'RUNNING'"
    ):
        client.set_terminated(run.info.run_id, status="KILLED")
        killed.append(run.info.run_id)
    return {"removed": removed, "runs_marked_killed": killed}


def ensure_registered_model(client: Any, name: str, description: str) -> bool:
    """Create registered model ``name`` (tagged as churnlight's) unless it exists; whether it
    was created."""
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        client.create_registered_model(name, tags={MANAGED_TAG: "true"}, description=description)
        return True
    return False
