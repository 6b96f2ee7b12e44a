"""The MLflow pyfunc model of a churnlight bundle ("models from code").

``training.run_logging`` logs this file as the model's code, with the package
``churnlight_bundle`` (a copy of ``features/errors.py`` and ``features/model_bundle.py``) as
its ``code_paths``; MLflow copies both into the model and puts the package on ``sys.path``
when the model is loaded. A loader therefore needs only the model's own pip requirements
(mlflow, lightgbm, numpy, pandas, ...), not churnlight: ``mlflow models serve``,
``mlflow.pyfunc.spark_udf`` or a plain virtualenv work. ``predict`` takes the feature columns
(a DataFrame with the columns of the model's signature) and returns calibrated
probabilities.
"""

from __future__ import annotations

from typing import Any

import mlflow.models
import mlflow.pyfunc
import numpy as np
import pandas as pd


class ChurnlightModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:  # type: ignore[name-defined]
        from churnlight_bundle.model_bundle import load_bundle

        self.bundle = load_bundle(context.artifacts["bundle"])

    # ``pd.DataFrame`` is a hint MLflow takes as is: no schema is inferred from it (the
    # logged signature is the schema) and the input is handed over unchanged.
    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,  # type: ignore[name-defined]
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> np.ndarray:
        return self.bundle.predict_proba(model_input)


mlflow.models.set_model(ChurnlightModel())
