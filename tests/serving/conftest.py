"""Fixtures of the serving tests: two tiny models, a 60-account snapshot, keys, an app.

The models are fitted once per session (40 trees of 7 leaves, a second or less); the MLflow
registry fixture creates one SQLite store per session the way training registers models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features.model_bundle import ModelBundle, save_bundle
from serving.app import create_app
from serving.auth import new_key
from serving.loading import LoadedModels, models_from_bundles
from serving.settings import ServingSettings
from tests.serving.helpers import fit_bundle, make_table, write_snapshot


@dataclass(frozen=True)
class Models:
    churn: ModelBundle
    expansion: ModelBundle


@dataclass(frozen=True)
class Keys:
    read: str
    read_hash: str
    admin: str
    admin_hash: str

    @property
    def read_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.read}"}

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin}"}


@pytest.fixture(scope="session")
def models() -> Models:
    train = make_table(500, seed=1)
    return Models(fit_bundle(train, "churn_180d"), fit_bundle(train, "expand_180d"))


@pytest.fixture(scope="session")
def other_models() -> Models:
    """A second pair, trained on other rows: a 'new champion' for reload tests."""
    train = make_table(500, seed=11)
    return Models(
        fit_bundle(train, "churn_180d", seed=3, rounds=25),
        fit_bundle(train, "expand_180d", seed=3, rounds=25),
    )


@pytest.fixture(scope="session")
def snapshot_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_snapshot(make_table(60, seed=2), tmp_path_factory.mktemp("snap") / "f.parquet")


@pytest.fixture(scope="session")
def keys() -> Keys:
    """A read key named ``crm`` (its entry is ``crm:sha256:<hex>``) and an unnamed admin key."""
    read, read_hash = new_key("crm")
    admin, admin_hash = new_key()
    return Keys(read, read_hash, admin, admin_hash)


@pytest.fixture
def settings(keys: Keys, snapshot_path: Path, tmp_path: Path) -> ServingSettings:
    return ServingSettings(
        api_keys=[keys.read_hash],
        admin_keys=[keys.admin_hash],
        features=snapshot_path,
        home=tmp_path / "no-store",
        max_batch=20,
        max_body_bytes=20_000,
        score_threads=1,
    )


def fixed_loader(models: Models, churn_version: str = "1", expansion_version: str = "1"):
    def load(settings: ServingSettings) -> LoadedModels:
        return models_from_bundles(models.churn, models.expansion, churn_version, expansion_version)

    return load


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(settings: ServingSettings, models: Models) -> Iterator[AppFactory]:
    """Start an app (waiting for its first load) and give its TestClient; closed after."""
    opened: list[TestClient] = []

    def make(**kwargs: Any) -> TestClient:
        kwargs.setdefault("load", fixed_loader(models))
        app_settings = kwargs.pop("settings", settings)
        client = TestClient(create_app(app_settings, wait=True, **kwargs))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: AppFactory) -> TestClient:
    return make_client()


# ---- an MLflow registry like the one training writes ---------------------------------------


@dataclass(frozen=True)
class Registry:
    tracking_uri: str
    models_dir: Path


def register(
    uri: str, name: str, bundle: ModelBundle, scratch: Path, metrics: dict[str, float]
) -> str:
    """Log ``bundle`` as a pyfunc model with artifact ``bundle`` under a run, register it as
    ``name`` and point alias ``champion`` at it (as ``training`` does); return the version."""
    import mlflow

    class BundleModel(mlflow.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> Any:
            return model_input

    directory = save_bundle(bundle, scratch / f"{name}-{len(list(scratch.iterdir()))}" / "bundle")
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        return _log(uri, name, directory, scratch, metrics, BundleModel)
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def _log(
    uri: str, name: str, directory: Path, scratch: Path, metrics: dict[str, float], model_class: Any
) -> str:
    import mlflow
    from mlflow.tracking import MlflowClient

    experiment = mlflow.get_experiment_by_name("churnlight")
    experiment_id = (
        experiment.experiment_id
        if experiment
        else mlflow.create_experiment(
            "churnlight", artifact_location=(scratch.parent / "artifacts").as_uri()
        )
    )
    with mlflow.start_run(experiment_id=experiment_id):
        mlflow.log_metrics(metrics)
        mlflow.log_params({"num_leaves": 7})
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=model_class(),
            artifacts={"bundle": str(directory)},
            pip_requirements=["churnlight"],
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    MlflowClient(uri, uri).set_registered_model_alias(name, "champion", version)
    return version


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory, models: Models) -> Registry:
    root = tmp_path_factory.mktemp("registry")
    scratch = root / "bundles"
    scratch.mkdir()
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # one run per model here; training logs both labels' metrics as <label>.<name>
    register(
        uri,
        "churnlight-churn",
        models.churn,
        scratch,
        {"churn_180d.roc_auc": 0.8, "churn_180d.explain_ms_per_row": 0.05, "seconds.fit": 1.0},
    )
    register(uri, "churnlight-expansion", models.expansion, scratch, {"expand_180d.roc_auc": 0.7})
    return Registry(uri, root)


# ---- history stores: an embedded DuckDB file and a real PostgreSQL ---------------------------


@pytest.fixture(params=["duckdb", "postgres"])
def history_uri(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty history store on each backend (PostgreSQL: a schema of its own)."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'history.duckdb'}"
        return
    from tests.postgres import postgres_schema_url

    yield from postgres_schema_url()


def scored(
    models: Models, table: Any, churn_version: str = "1", expansion_version: str = "1"
) -> Any:
    """``table`` scored by ``models`` with the default playbooks (a ScoredBatch)."""
    from serving.playbooks import load_playbooks
    from serving.scoring import ModelView, ScoringConfig, TableFrame, score_frame
    from serving.settings import DEFAULT_PLAYBOOKS

    churn = ModelView(models.churn, f"churnlight-churn/{churn_version}")
    expansion = ModelView(models.expansion, f"churnlight-expansion/{expansion_version}")
    return score_frame(
        TableFrame(table), churn, expansion, load_playbooks(DEFAULT_PLAYBOOKS), ScoringConfig(), 1
    )
