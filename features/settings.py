"""Settings of the features package, and the store settings training and serving share. The
only place in ``features`` that reads the environment.

``TrainingSettings`` and ``ServingSettings`` both derive from ``StoreSettings``, so
``churnlight train`` and ``churnlight serve`` meet in the same registry without
configuration: by default a SQLite store at ``<home>/mlflow.db``, where ``CHURNLIGHT_HOME``
(default: the user's data directory) is the one place for churnlight's state."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, model_validator
from pydantic import ValidationError as SettingsValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.errors import ConfigError


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
TRACKING_SERVER_SCHEMES = ("http", "https", "databricks", "databricks-uc")
"""Tracking URIs of a server, which keeps the artifacts at its own artifact root."""
STORE_FILE = "mlflow.db"
HOME_VARIABLE = "CHURNLIGHT_HOME"
TRACKING_VARIABLE = "CHURNLIGHT_TRACKING_URI"


@dataclass(frozen=True)
class StateLocation:
    """Where churnlight's state lives, every path absolute.

    ``home`` is the state directory and ``home_from`` says what decided it: the setting
    ``CHURNLIGHT_HOME``, ``CHURNLIGHT_TRACKING_URI`` (the directory of its SQLite file), or
    ``default`` (the user's data directory). ``artifact_location`` is None when a tracking
    server keeps the artifacts."""

    home: Path
    home_from: str
    tracking_uri: str
    artifact_location: str | None
    locks: Path
    history: Path

    @property
    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite store, else None."""
        if not self.tracking_uri.startswith(SQLITE_PREFIX):
            return None
        return Path(self.tracking_uri.removeprefix(SQLITE_PREFIX))

    def to_dict(self) -> dict[str, Any]:
        db = self.sqlite_path
        return {
            "home": str(self.home),
            "home_from": self.home_from,
            "tracking_uri": self.tracking_uri,
            "store_exists": db.exists() if db is not None else None,
            "artifact_location": self.artifact_location,
            "locks": str(self.locks),
            "history": str(self.history),
        }


class StoreSettings(BaseSettings):
    """Where the state lives, and the registered models' names; every field can be set as
    ``CHURNLIGHT_<NAME>``.

    One setting, ``CHURNLIGHT_HOME``, decides where the state lives: the MLflow store
    (``<home>/mlflow.db``: tracking and registry), the artifacts of runs and models
    (``<home>/artifacts``), the lock files (``<home>/locks``) and the score history
    (``<home>/history``). Unset, the home is the directory of the SQLite file that
    ``CHURNLIGHT_TRACKING_URI`` names, else the user's data directory (``platformdirs``:
    ``~/.local/share/churnlight`` on Linux) — never the working directory, so a scheduler
    started anywhere finds the same state. ``CHURNLIGHT_TRACKING_URI`` points at another
    store (a tracking server keeps the artifacts itself) and ``CHURNLIGHT_ARTIFACT_LOCATION``
    at another artifact root; a SQLite store outside a set home is refused (its locks and
    its artifacts would be split from it)."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_", extra="ignore")

    home: Path | None = Field(
        None,
        description="the state directory: mlflow.db, artifacts/, locks/, history/; "
        "default: the directory of a SQLite CHURNLIGHT_TRACKING_URI, else the user's data dir",
    )
    tracking_uri: str | None = Field(
        None,
        description="MLflow tracking and registry URI; default sqlite:///<home>/mlflow.db",
    )
    artifact_location: str | None = Field(
        None,
        description="artifact root of a new experiment; default <home>/artifacts (a tracking "
        "server: its own)",
    )
    models_dir: Path | None = Field(
        None, description="no longer read (CHURNLIGHT_HOME replaced it); refused when set"
    )
    churn_model_name: str = "churnlight-churn"
    expansion_model_name: str = "churnlight-expansion"
    effects_model_name: str = Field(
        "churnlight-effects", description="the play-effects model (`churnlight plays`)"
    )
    survival_model_name: str = "churnlight-survival"
    champion_alias: str = "champion"

    @model_validator(mode="after")
    def _one_place_for_state(self) -> StoreSettings:
        # A relative path would move the state with the working directory: a scheduler
        # started elsewhere would find (or create) another store.
        if self.home is not None and not self.home.expanduser().is_absolute():
            raise ValueError(
                f"{HOME_VARIABLE} must be an absolute path, not {str(self.home)!r} (a relative "
                f"one moves with the working directory); e.g. {HOME_VARIABLE}="
                f"{_absolute(self.home)}"
            )
        relative = _relative_sqlite(self.tracking_uri)
        if relative is not None:
            raise ValueError(
                f"{TRACKING_VARIABLE} names the relative SQLite path {relative!r}, which moves "
                f"with the working directory; give an absolute one, e.g. "
                f"{SQLITE_PREFIX}{_absolute(Path(relative)).as_posix()}"
            )
        if self.models_dir is not None:
            raise ValueError(
                f"CHURNLIGHT_MODELS_DIR ({self.models_dir}) is no longer read; set "
                f"{HOME_VARIABLE}={self.models_dir} instead (the store, artifacts, locks and "
                "history live there)"
            )
        db = _sqlite_file(self.tracking_uri)
        if self.home is not None and db is not None:
            home = _absolute(self.home)
            if not db.is_relative_to(home):
                raise ValueError(
                    f"{TRACKING_VARIABLE} names the SQLite file {db}, outside {HOME_VARIABLE} "
                    f"{home}: the store would be split from its locks and artifacts; unset "
                    f"{TRACKING_VARIABLE} (the store is then {home / STORE_FILE}) or set "
                    f"{HOME_VARIABLE} to {db.parent}"
                )
        return self

    def state(self) -> StateLocation:
        """Where the store, the artifacts, the locks and the history are (absolute paths)."""
        db = _sqlite_file(self.tracking_uri)
        if self.home is not None:
            home, home_from = _absolute(self.home), HOME_VARIABLE
        elif db is not None:
            home, home_from = db.parent, TRACKING_VARIABLE
        else:
            home, home_from = default_home(), "default"
        if db is not None:
            uri = f"{SQLITE_PREFIX}{db.as_posix()}"
        elif self.tracking_uri:
            uri = self.tracking_uri
        else:
            uri = f"{SQLITE_PREFIX}{(home / STORE_FILE).as_posix()}"
        if self.artifact_location:
            artifacts: str | None = self.artifact_location
        elif uri.split(":", 1)[0].lower() in TRACKING_SERVER_SCHEMES:
            artifacts = None
        else:
            artifacts = (home / "artifacts").as_uri()
        return StateLocation(home, home_from, uri, artifacts, home / "locks", home / "history")

    def state_dir(self) -> Path:
        return self.state().home

    def resolved_tracking_uri(self) -> str:
        """The tracking URI; a SQLite file's path made absolute."""
        return self.state().tracking_uri

    def resolved_artifact_location(self) -> str | None:
        """The artifact root of a new experiment; None: the tracking server's own."""
        return self.state().artifact_location

    def sqlite_path(self) -> Path | None:
        """The database file of a SQLite store (absolute), else None."""
        return self.state().sqlite_path

    def lock_dir(self) -> Path:
        """Where the registry and store lock files live."""
        return self.state().locks

    def history_dir(self) -> Path:
        """Where the score history lives."""
        return self.state().history

    def model_name(self, kind: str) -> str:
        """The registered-model name of 'churn', 'expansion' or 'survival'."""
        if kind == "survival":
            return self.survival_model_name
        return self.churn_model_name if kind == "churn" else self.expansion_model_name


def default_home() -> Path:
    """The state directory when nothing sets it: the user's data directory
    (``$XDG_DATA_HOME/churnlight``, by default ``~/.local/share/churnlight``, on Linux;
    ``~/Library/Application Support/churnlight`` on macOS; ``%LOCALAPPDATA%\\churnlight`` on
    Windows)."""
    from platformdirs import user_data_path

    return _absolute(user_data_path("churnlight", appauthor=False))


def get_store_settings() -> StoreSettings:
    """The store settings of the environment; a bad value is a ``ConfigError``."""
    return load_settings(StoreSettings)


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(cls: type[SettingsT], **values: Any) -> SettingsT:
    """``cls`` from the environment and ``values``; a bad value becomes one ``ConfigError``
    line naming each variable."""
    try:
        return cls(**values)
    except SettingsValidationError as err:
        raise settings_error(err) from err


def settings_error(err: SettingsValidationError) -> ConfigError:
    """One line for every problem of a settings class, each named by its variable."""
    problems = []
    for e in err.errors():
        name = str(e["loc"][0]) if e["loc"] else ""
        where = f"CHURNLIGHT_{name.upper()}: " if name else ""
        problems.append(f"{where}{e['msg'].removeprefix('Value error, ')}")
    return ConfigError("invalid settings: " + "; ".join(problems))


def _sqlite_text(uri: str | None) -> str | None:
    """The path part of a ``sqlite:///`` URI naming a file, else None."""
    if not uri or not uri.startswith(SQLITE_PREFIX):
        return None
    path = uri.removeprefix(SQLITE_PREFIX).split("?", 1)[0]
    return None if not path or path == ":memory:" else path


def _relative_sqlite(uri: str | None) -> str | None:
    """The path of a ``sqlite:///`` URI whose file is relative (``sqlite:///mlflow.db``)."""
    path = _sqlite_text(uri)
    return path if path is not None and not Path(path).expanduser().is_absolute() else None


def _sqlite_file(uri: str | None) -> Path | None:
    """The absolute database file of a ``sqlite:///`` URI, else None."""
    path = _sqlite_text(uri)
    return None if path is None else _absolute(Path(path))


def _absolute(path: Path) -> Path:
    return path.expanduser().resolve()
