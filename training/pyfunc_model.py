"""The MLflow pyfunc model of a churnlight bundle ("models from code").

``training.run_logging`` logs this file as the model's code; MLflow copies it into the model
artifact and runs that copy when the model is loaded, so a loader (serving, a notebook) needs
``mlflow`` and the ``features`` package, never ``training``. ``predict`` takes the feature
columns (a DataFrame with the columns of the model's signature) and returns calibrated
probabilities.
"""

from __future__ import annotations

import mlflow.models
import mlflow.pyfunc


class ChurnlightModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    def load_context(self, context):  # type: ignore[no-untyped-def]
        from features.model_bundle import load_bundle

        self.bundle = load_bundle(context.artifacts["bundle"])

    # No type hints: MLflow reads them as an input schema and warns about Any.
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return self.bundle.predict_proba(model_input)


mlflow.models.set_model(ChurnlightModel())
