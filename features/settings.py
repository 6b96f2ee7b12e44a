"""Settings of the features package. The only place that reads the environment."""

from __future__ import annotations

from functools import lru_cache

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
