"""Fixtures of the training tests: a synthetic feature table and one training on it, shared
by the tests that only read them; a fresh MLflow store (SQLite in tmp_path) per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.helpers import write_synthetic
from training.options import TrainOptions
from training.results import TrainingResult
from training.settings import TrainingSettings

FAST = {"backtests": 2, "threads": 1, "seed": 11}


@pytest.fixture(scope="session")
def synthetic_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic(tmp_path_factory.mktemp("synthetic") / "features.parquet")


@pytest.fixture(scope="session")
def trained(synthetic_path: Path) -> TrainingResult:
    from training import dataset
    from training.train import train_models

    return train_models(dataset.load(synthetic_path), TrainOptions(**FAST))


@pytest.fixture
def settings(tmp_path: Path) -> TrainingSettings:
    """Training settings on a store of its own."""
    return TrainingSettings(home=tmp_path / "models", train_threads=1)
