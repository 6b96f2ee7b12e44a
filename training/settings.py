"""Settings of the training package. The only place in ``training`` that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainingSettings(BaseSettings):
    """Defaults of training, evaluation, registry and retraining.

    Every field can be set as ``CHURNLIGHT_<NAME>`` (e.g. ``CHURNLIGHT_TRACKING_URI``)."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_", extra="ignore")

    models_dir: Path = Field(
        Path("models"), description="local store: mlflow.db, artifacts/ and the lock files"
    )
    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking and registry URI; default sqlite:///<models_dir>/mlflow.db",
    )
    artifact_location: str | None = Field(
        None, description="artifact root of a new experiment; default <models_dir>/artifacts"
    )
    experiment_name: str = "churnlight"
    churn_model_name: str = "churnlight-churn"
    expansion_model_name: str = "churnlight-expansion"
    champion_alias: str = "champion"

    train_seed: int = Field(20240601, ge=0, description="seed of every random choice in training")
    train_threads: int = Field(
        0, ge=0, description="LightGBM threads; 0 = one below 200,000 fit rows, else every core"
    )
    backtest_windows: int = Field(3, ge=1, description="rolling-origin backtest windows")
    eval_window_snapshots: int = Field(
        3, ge=1, description="snapshot dates per evaluation window (and per validation fold)"
    )
    cv_folds: int = Field(5, ge=2, description="stratified folds in tabular mode")
    promotion_auc_tolerance: float = Field(
        0.01, ge=0, description="a challenger may be this much below the champion's ROC-AUC"
    )
    promotion_max_ece: float = Field(
        0.03, ge=0, le=1, description="a challenger's expected calibration error bound"
    )
    monotone_tolerance: float = Field(
        0.002, ge=0, description="validation AUC monotone constraints may cost before dropped"
    )
    lock_timeout_seconds: float = Field(
        0.0, ge=0, description="how long retrain/train wait for the registry lock"
    )

    def resolved_models_dir(self) -> Path:
        return self.models_dir.expanduser().resolve()

    def resolved_tracking_uri(self) -> str:
        """The tracking URI, with the default SQLite path made absolute."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{self.resolved_models_dir() / 'mlflow.db'}"

    def resolved_artifact_location(self) -> str:
        if self.artifact_location:
            return self.artifact_location
        return (self.resolved_models_dir() / "artifacts").as_uri()

    def lock_dir(self) -> Path:
        """Where the lock files live: beside a SQLite store, else in models_dir."""
        uri = self.resolved_tracking_uri()
        if uri.startswith("sqlite:///"):
            return Path(uri.removeprefix("sqlite:///")).expanduser().resolve().parent
        return self.resolved_models_dir()

    def model_name(self, kind: str) -> str:
        """The registered-model name of 'churn' or 'expansion'."""
        return self.churn_model_name if kind == "churn" else self.expansion_model_name


@lru_cache
def get_training_settings() -> TrainingSettings:
    return TrainingSettings()
