"""Settings of the training package. The only place in ``training`` that reads the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from features.settings import StoreSettings, load_settings


class TrainingSettings(StoreSettings):
    """Defaults of training, evaluation, registry and retraining; where the state lives
    (store, artifacts, locks) and the models' names come from ``StoreSettings``.

    Every field can be set as ``CHURNLIGHT_<NAME>`` (e.g. ``CHURNLIGHT_TRACKING_URI``)."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_", extra="ignore")

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
    tune_trials: int = Field(
        100, ge=0, description="Optuna trials at most per label (0: train with the defaults)"
    )
    tune_seconds: float = Field(
        60.0, gt=0, description="seconds of hyperparameter search per training, all labels"
    )
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


@lru_cache
def get_training_settings() -> TrainingSettings:
    """The training settings of the environment; a bad value is a ``ConfigError``."""
    return load_settings(TrainingSettings)
