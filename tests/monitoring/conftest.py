"""A churn model trained once on the synthetic book (``tests.training.helpers``), for the
monitoring tests that need a model with a reference profile, and the data it trained on."""

from __future__ import annotations

import pytest

from features.model_bundle import ModelBundle
from tests.training.helpers import write_synthetic
from training.dataset import ModelData
from training.options import TrainOptions


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[ModelData, ModelBundle]:
    from training import dataset
    from training.train import train_models

    path = write_synthetic(tmp_path_factory.mktemp("book") / "features.parquet")
    data = dataset.load(path)
    options = TrainOptions(backtests=2, threads=1, seed=11, labels=("churn_180d",))
    return data, train_models(data, options).labels["churn_180d"].bundle


@pytest.fixture(scope="session")
def churn_bundle(book: tuple[ModelData, ModelBundle]) -> ModelBundle:
    return book[1]
