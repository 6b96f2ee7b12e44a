"""A churn model trained once on the synthetic book (``tests.training.helpers``), for the
monitoring tests that need a model with a reference profile."""

from __future__ import annotations

import pytest

from features.model_bundle import ModelBundle
from tests.training.helpers import write_synthetic
from training.options import TrainOptions


@pytest.fixture(scope="session")
def churn_bundle(tmp_path_factory: pytest.TempPathFactory) -> ModelBundle:
    from training import dataset
    from training.train import train_models

    path = write_synthetic(tmp_path_factory.mktemp("book") / "features.parquet")
    options = TrainOptions(backtests=2, threads=1, seed=11, labels=("churn_180d",))
    return train_models(dataset.load(path), options).labels["churn_180d"].bundle
