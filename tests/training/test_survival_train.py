"""The survival model as `churnlight train` trains it: labels as known at the backtest's cut,
the backtest against Kaplan-Meier, and the registry round trip (train -> churnlight-survival
@champion -> serving's loader and the pyfunc model give the same curves)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.survival_bundle import HORIZONS_DAYS
from tests.training.conftest import FAST
from tests.training.helpers import write_synthetic_times
from training import dataset
from training.options import TrainOptions
from training.settings import TrainingSettings
from training.survival import MAX_TREES
from training.survival_train import CUT_MONTHS, known_at, months_before, train_survival


@pytest.fixture(scope="module")
def times_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_times(tmp_path_factory.mktemp("times") / "features.parquet")


def test_labels_as_known_at_the_cut() -> None:
    # cut 2024-07-01, grace 30: churns confirmed by 2024-06-01, 152 days after 2024-01-01
    snapshot = np.array(["2024-01-01"] * 4 + ["2024-06-15"], dtype="datetime64[D]")
    days = np.array([100.0, 152.0, 153.0, 200.0, 10.0])
    observed = np.array([1.0, 1.0, 1.0, 0.0, 1.0])
    got_days, got_observed = known_at(days, observed, snapshot, date(2024, 7, 1), 30)
    np.testing.assert_array_equal(got_days[:4], [100, 152, 152, 152])
    np.testing.assert_array_equal(got_observed[:4], [1, 1, 0, 0])
    assert np.isnan(got_days[4]) and np.isnan(got_observed[4])  # after cut - grace


def test_the_backtest_beats_kaplan_meier_and_curves_are_monotone(times_path: Path) -> None:
    data = dataset.load(times_path)
    result = train_survival(data, TrainOptions(**FAST))
    assert result is not None
    as_of = date.fromisoformat(data.facts["as_of"])
    assert result.window["cut"] == months_before(as_of, CUT_MONTHS).isoformat()
    assert result.window["test_rows"] > 0 and result.window["test_churns"] > 0
    model, km = result.metrics["survival"], result.metrics["kaplan_meier"]
    assert model["ibs"] < km["ibs"]
    assert model["td_auc"]["180"] > 0.65
    # sampling noise alone moves the worst decile of a calibrated curve by a point or more
    floors = result.window["calibration_max_noise_floor"]
    assert set(floors) == {"90", "180"}
    assert all(0.005 < floors[d] < 0.2 for d in floors)
    assert result.window["calibration_noise_floor_180"] < floors["180"]  # the mean of ten bins
    # the final model is fit under the training settings' tree cap and says so
    assert result.bundle.booster.num_trees() <= MAX_TREES
    assert result.bundle.metadata["max_trees"] == MAX_TREES
    curves = result.bundle.churn_by(data.matrix, HORIZONS_DAYS)
    assert (np.diff(curves, axis=1) >= 0).all() and ((curves >= 0) & (curves <= 1)).all()
    # the test rows lie in the three months from the cut, none before it
    tested = data.snapshot_date[result.test_rows]
    assert tested.min() >= np.datetime64(result.window["cut"])
    assert tested.max() < np.datetime64(result.window["test_end"])


def test_no_time_columns_no_survival_model(synthetic_path: Path) -> None:
    assert train_survival(dataset.load(synthetic_path), TrainOptions(**FAST)) is None


@pytest.mark.slow
def test_train_registers_the_survival_champion_and_serving_reads_it(
    times_path: Path, settings: TrainingSettings
) -> None:
    import mlflow.pyfunc

    from serving.loading import load_models
    from serving.settings import ServingSettings
    from training.retrain import train_and_publish

    job = train_and_publish(times_path, TrainOptions(**FAST), settings)
    version = job.publication.versions["churn_time"]
    assert version.name == "churnlight-survival" and version.promoted
    assert job.payload["survival"]["metrics"]["td_auc"]["180"] is not None
    assert job.payload["gate"]["churn_time"]["promote"]

    served = load_models(ServingSettings(home=settings.home))
    assert served.survival is not None and served.survival_info is not None
    assert served.survival_info.label == f"churnlight-survival/{version.version}"
    data = job.result.data
    want = job.result.survival.bundle.churn_by(data.matrix[:50], HORIZONS_DAYS)
    got = served.survival.churn_by(served.survival.encode(data.raw.slice(0, 50)), HORIZONS_DAYS)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)

    # Logging validated the churn model by loading it, which imported ``churnlight_bundle``
    # from that run's scratch copy (deleted since): forget it, as a fresh process would.
    for name in [m for m in sys.modules if m.split(".")[0] == "churnlight_bundle"]:
        del sys.modules[name]
    uri = settings.resolved_tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model("models:/churnlight-survival@champion")
    frame = data.raw.slice(0, 50).to_pandas()
    predicted = model.predict(frame)
    assert isinstance(predicted, pd.DataFrame)
    assert list(predicted.columns) == [f"churn_by_{d}d" for d in HORIZONS_DAYS]
    np.testing.assert_allclose(predicted.to_numpy(), want, rtol=0, atol=1e-12)

    # --no-survival: nothing trained, registered or moved for it
    again = train_and_publish(times_path, TrainOptions(**FAST, survival=False), settings)
    assert again.result.survival is None
    assert "churn_time" not in again.publication.versions
    assert "survival" not in again.payload
    reloaded = load_models(ServingSettings(home=settings.home))
    assert reloaded.survival_info is not None
    assert reloaded.survival_info.version == version.version
