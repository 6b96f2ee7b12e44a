"""Settings of the training package. The only place in ``training`` that reads the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from features.settings import StoreSettings


class TrainingSettings(StoreSettings):
    """Defaults of training, evaluation, registry and retraining; the store's location and
    the models' names come from ``StoreSettings``.

    Every field can be set as ``CHURNLIGHT_<NAME>`` (e.g. ``CHURNLIGHT_TRACKING_URI``)."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_", extra="ignore")

    artifact_location: str | None = Field(
        None, description="artifact root of a new experiment; default <models_dir>/artifacts"
    )
    experiment_name: str = "churnlight"

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

    def resolved_artifact_location(self) -> str:
        if self.artifact_location:
            return self.artifact_location
        return (self.resolved_models_dir() / "artifacts").as_uri()

    def lock_dir(self) -> Path:
        """Where the lock files live: beside a SQLite store, else in models_dir."""
        db = self.sqlite_path()
        return db.resolve().parent if db is not None else self.resolved_models_dir()


@lru_cache
def get_training_settings() -> TrainingSettings:
    return TrainingSettings()
