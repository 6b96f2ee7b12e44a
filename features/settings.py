"""Settings of the features package, and the store settings training and serving share. The
only place in ``features`` that reads the environment.

``TrainingSettings`` and ``ServingSettings`` both derive from ``StoreSettings``, so
``churnlight train`` and ``churnlight serve`` meet in the same registry without
configuration: by default a SQLite store at ``<models_dir>/mlflow.db``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FeatureSettings(BaseSettings):
    """Defaults of the feature stage; every field can be set as ``CHURNLIGHT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_", extra="ignore")

    horizon_days: int = Field(180, ge=1, description="label horizon H in days")
    grace_days: int = Field(30, ge=0, description="days without coverage that make a churn")
    warmup_days: int = Field(90, ge=0, description="history required before the first snapshot")
    backend: str = Field("duckdb", pattern="^(duckdb|spark)$")
    duckdb_memory_limit: str = Field(
        "5GB", description="DuckDB's memory limit; larger intermediates spill to temp files"
    )
    duckdb_temp_directory: str | None = Field(None, description="spill folder; system temp else")
    duckdb_threads: int | None = Field(None, ge=1)
    spark_master: str = "local[2]"
    spark_shuffle_partitions: int = Field(4, ge=1, description="small for one machine")
    spark_driver_memory: str = "4g"
    spark_page_size: str = Field("2m", description="Spark memory page size (spark.buffer.pageSize)")


@lru_cache
def get_feature_settings() -> FeatureSettings:
    return FeatureSettings()


SQLITE_PREFIX = "sqlite:///"


class StoreSettings(BaseSettings):
    """The store and the registered models' names; every field can be set as
    ``CHURNLIGHT_<NAME>`` (e.g. ``CHURNLIGHT_TRACKING_URI``)."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_", extra="ignore")

    models_dir: Path = Field(
        Path("models"), description="local store: mlflow.db, artifacts/ and the lock files"
    )
    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking and registry URI; default sqlite:///<models_dir>/mlflow.db",
    )
    churn_model_name: str = "churnlight-churn"
    expansion_model_name: str = "churnlight-expansion"
    champion_alias: str = "champion"

    def resolved_models_dir(self) -> Path:
        return self.models_dir.expanduser().resolve()

    def resolved_tracking_uri(self) -> str:
        """The tracking URI, with the default SQLite path made absolute."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"{SQLITE_PREFIX}{self.resolved_models_dir() / 'mlflow.db'}"

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite store (``~`` expanded), else None."""
        uri = self.resolved_tracking_uri()
        if not uri.startswith(SQLITE_PREFIX):
            return None
        return Path(uri.removeprefix(SQLITE_PREFIX)).expanduser()

    def model_name(self, kind: str) -> str:
        """The registered-model name of 'churn' or 'expansion'."""
        return self.churn_model_name if kind == "churn" else self.expansion_model_name
