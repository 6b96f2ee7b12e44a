"""The MLflow store: the client on the configured tracking URI, with the experiment.

The store is created once, under ``store.lock`` (``training.locks``), before anything else
touches it; readers open it with ``create=False`` and get a ``RegistryError`` when it is not
there."""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from training.errors import RegistryError
from training.locks import store_lock

if TYPE_CHECKING:
    from training.settings import TrainingSettings


@dataclass
class Store:
    client: Any
    tracking_uri: str
    experiment_id: str


def quiet_mlflow() -> None:
    """MLflow's INFO lines and download progress bars have no place in CLI output (MLflow
    sets its logger's level when imported, so this runs after the import)."""
    import mlflow  # noqa: F401

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    with contextlib.suppress(Exception):
        from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

        os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = "false"


def open_store(settings: TrainingSettings, create: bool = True) -> Store:
    """The MLflow client on the configured store, with the experiment.

    With ``create`` the store and the experiment are created if missing, under
    ``store.lock`` (concurrent creators of one SQLite store race otherwise). Readers pass
    ``create=False`` and get a ``RegistryError`` if the store does not exist."""
    quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    uri = settings.resolved_tracking_uri()
    db = settings.sqlite_path()
    if db is not None and not create and not db.exists():
        raise RegistryError(
            f"no MLflow store at {db}; train a model first (`churnlight train`), or set "
            "CHURNLIGHT_TRACKING_URI to the store that holds the models"
        )
    if db is not None:
        db.parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    with store_lock(settings.lock_dir()):
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.get_experiment_by_name(settings.experiment_name)
        if experiment is not None:
            experiment_id = experiment.experiment_id
        elif create:
            experiment_id = client.create_experiment(
                settings.experiment_name, artifact_location=settings.resolved_artifact_location()
            )
        else:
            raise RegistryError(
                f"the store {uri} has no experiment {settings.experiment_name!r}; "
                "train a model first (`churnlight train`)"
            )
    return Store(client, uri, experiment_id)
