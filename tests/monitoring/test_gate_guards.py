"""A retrain whose latest snapshot lost an informative column keeps the champion, and the
JSON summary and the registered version say which feature."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from features.model_bundle import ModelBundle
from tests.training.helpers import write_synthetic
from training.dataset import ModelData
from training.locks import registry_lock
from training.options import TrainOptions
from training.publish import publish
from training.settings import TrainingSettings
from training.store import open_store
from training.summary import summary_payload


@pytest.mark.slow
def test_a_nulled_column_keeps_the_champion_and_names_it(
    book: tuple[ModelData, ModelBundle], tmp_path: Path
) -> None:
    from training import dataset
    from training.train import train_models

    settings = TrainingSettings(home=tmp_path / "models", train_threads=1)
    options = TrainOptions(backtests=2, threads=1, seed=11, labels=("churn_180d",), top_accounts=0)
    path = write_synthetic(tmp_path / "sound" / "features.parquet")
    with registry_lock(settings):
        first = publish(open_store(settings), settings, train_models(dataset.load(path), options))
    assert first.versions["churn_180d"].promoted

    data = dataset.load(path)
    latest = data.snapshot_date == data.snapshot_date.max()
    util = data.raw.column("seat_utilization_30d").to_numpy(zero_copy_only=False).astype(float)
    util[latest] = np.nan
    index = data.raw.schema.get_field_index("seat_utilization_30d")
    data.raw = data.raw.set_column(index, "seat_utilization_30d", pa.array(util, from_pandas=True))
    data.matrix[latest, data.feature_names.index("seat_utilization_30d")] = np.nan
    challenger = train_models(data, options)
    with registry_lock(settings):
        second = publish(open_store(settings), settings, challenger)

    decision = second.decisions["churn_180d"]
    assert not decision.promote
    assert decision.reason.startswith("the training data is broken: feature seat_utilization_30d")
    assert not second.versions["churn_180d"].promoted
    gate = summary_payload(challenger, second.decisions)["gate"]["churn_180d"]
    assert gate["data_findings"][0]["subject"] == "seat_utilization_30d"
