"""The logged pyfunc model: typed ``predict`` that MLflow accepts without a warning, and that
scores a pandas DataFrame (and MLflow's other input forms) like the bundle in memory."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from features.model_bundle import save_bundle
from training.run_logging import PYFUNC_CODE, input_example, model_signature


@pytest.mark.slow
def test_a_logged_model_scores_a_dataframe_like_its_bundle(trained, tmp_path) -> None:
    import mlflow
    import mlflow.pyfunc

    outcome = trained.labels["churn_180d"]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("pyfunc", artifact_location=tmp_path.as_uri())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with mlflow.start_run(experiment_id=experiment):
                info = mlflow.pyfunc.log_model(
                    name="churn",
                    python_model=str(PYFUNC_CODE),
                    artifacts={"bundle": str(save_bundle(outcome.bundle, tmp_path / "bundle"))},
                    signature=model_signature(outcome.bundle),
                    input_example=input_example(trained, outcome.bundle),
                )
            model = mlflow.pyfunc.load_model(info.model_uri)
    finally:
        mlflow.set_tracking_uri(previous)

    hints = [str(w.message) for w in caught if "type hint" in str(w.message).lower()]
    assert hints == []
    rows = trained.data.raw.slice(0, 200)
    frame = rows.select(outcome.bundle.input_columns).to_pandas()
    for column in outcome.bundle.columns:
        if column.kind == "categorical":
            frame[column.name] = frame[column.name].astype(object)
    expected = outcome.bundle.predict_proba(rows)
    np.testing.assert_array_equal(np.asarray(model.predict(frame)), expected)
    np.testing.assert_array_equal(np.asarray(model.predict(frame.to_dict("list"))), expected)
    np.testing.assert_array_equal(
        np.asarray(model.predict(frame.iloc[:, :3])),
        outcome.bundle.predict_proba(rows.select(list(frame.columns[:3]))),
    )
