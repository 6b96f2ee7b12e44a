"""The MLflow pyfunc model of a churnlight survival bundle ("models from code").

Logged by ``training.survival_publish`` with the package ``churnlight_bundle`` (the bundle
code of ``features``, see ``training.run_logging.bundle_code``), so it loads where churnlight
is not installed. ``predict`` takes the feature columns and returns P(churn by d) for d in
30, 60, 90, 180, 270 and 365 days, one column ``churn_by_<d>d`` each (not anchored to a
churn score: that is serving's step)."""

from __future__ import annotations

from typing import Any

import mlflow.models
import mlflow.pyfunc
import pandas as pd


class ChurnlightSurvivalModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:  # type: ignore[name-defined]
        from churnlight_bundle.survival_bundle import load_survival_bundle

        self.bundle = load_survival_bundle(context.artifacts["bundle"])

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,  # type: ignore[name-defined]
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        from churnlight_bundle.survival_bundle import HORIZONS_DAYS

        curves = self.bundle.churn_by(self.bundle.encode(model_input), HORIZONS_DAYS)
        return pd.DataFrame(curves, columns=[f"churn_by_{d}d" for d in HORIZONS_DAYS])


mlflow.models.set_model(ChurnlightSurvivalModel())
