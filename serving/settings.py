"""Settings of the serving package. The only place in ``serving`` that reads the environment.

Every field can be set as ``CHURNLIGHT_<NAME>``. The store and the models' names come from
``features.settings.StoreSettings``, as in ``training.settings``, so ``churnlight
train`` and ``churnlight serve`` meet in the same registry without configuration."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from features.settings import StoreSettings

KEY_ENTRY = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9_.-]{0,63}:)?sha256:[0-9a-f]{64}$")
"""A configured key: ``[name:]sha256:<64 hex digits>`` (``serving.auth`` reads the name)."""
DEFAULT_PLAYBOOKS = Path(__file__).resolve().parent / "playbooks.yaml"


class ServingSettings(StoreSettings):
    """Defaults of the API and of batch scoring."""

    model_config = SettingsConfigDict(env_prefix="CHURNLIGHT_", extra="ignore")

    # -- where the snapshot comes from (the models: ``StoreSettings``) ---------------------
    source: Path | None = Field(
        default=None, description="source whose --latest-only features are scored (serve --source)"
    )
    features: Path | None = Field(
        default=None, description="feature table whose latest snapshot is scored (serve --features)"
    )
    playbooks_path: Path = Field(
        default=DEFAULT_PLAYBOOKS, description="the playbook library (YAML)"
    )
    forecast_calibration: Path = Field(
        default=Path("models/forecast/calibration.json"),
        description="interval calibration written by `churnlight forecast --backtest N`; the "
        "forecast's intervals are corrected by it when it exists",
    )

    # -- security and limits ---------------------------------------------------------------
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="read keys, comma-separated [name:]sha256:<hex> (a name, then the hash)",
    )
    admin_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="admin (reload) keys, comma-separated [name:]sha256:<hex>",
    )
    max_batch: int = Field(default=1000, ge=1, description="account ids or rows per POST /v1/score")
    max_body_bytes: int = Field(default=1_000_000, ge=1024, description="largest request body")
    max_page_size: int = Field(default=500, ge=1, description="largest page of GET /v1/accounts")
    key_concurrency: int = Field(
        default=2, ge=1, description="POST /v1/score requests in flight per key name; beyond: 429"
    )
    key_refusal_delay_seconds: float = Field(
        default=0.25,
        ge=0,
        le=10,
        description="a scoring request refused for its key's limits is answered 429 after this "
        "many seconds (at most its Retry-After): a client resending at once costs the server "
        "little; 0 = at once",
    )
    key_what_if_rows_per_second: float = Field(
        default=500.0,
        ge=0,
        description="what-if rows per second per key name (from a bucket of one full batch); "
        "beyond: 429; 0 = no rate limit",
    )

    # -- scores ----------------------------------------------------------------------------
    tier_medium: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="churn probability of 'medium'; unset (all three): relative to the base rate",
    )
    tier_high: float | None = Field(
        default=None, gt=0, lt=1, description="churn probability of 'high'"
    )
    tier_critical: float | None = Field(
        default=None, gt=0, lt=1, description="churn probability of 'critical'"
    )
    top_drivers: int = Field(default=5, ge=1, le=50, description="drivers up and down per score")
    min_driver_contribution: float = Field(
        default=0.02, ge=0, description="drivers under this many log-odds are not listed"
    )
    missing_main_reason_min: float = Field(
        default=0.25,
        ge=0,
        description="a driver whose value is missing is a main reason only from this log-odds",
    )
    expansion_uplift: float = Field(
        default=0.10,
        gt=0,
        description="expected MRR uplift of an expanding account (the contract's +10% threshold: "
        "a lower bound); expected_expansion_mrr = mrr * expansion_probability * uplift",
    )
    score_threads: int = Field(
        default=0, ge=0, description="threads of batch scoring; 0 = every core"
    )
    what_if_processes: int = Field(
        default=0,
        ge=0,
        description="worker processes scoring what-if batches of 2 or more rows (started on "
        "the first; each holds the served models); 0 = one fewer than the cores, at least 1",
    )

    # -- history, refresh and alerts ------------------------------------------------------
    history: bool = Field(
        default=True, description="record every scored snapshot in the history store"
    )
    history_uri: str | None = Field(
        default=None,
        description="Ibis URL of the history store (e.g. postgresql://user:pw@host/db); "
        "default duckdb:///<home>/history/history.duckdb",
    )
    history_lock_seconds: float = Field(
        default=30.0, ge=0, description="how long to wait for a DuckDB history file in use"
    )
    refresh_seconds: float = Field(
        default=60.0,
        ge=0,
        description="serve: check the champions and the snapshot's file this often, reload "
        "when they changed; 0 = never",
    )
    alerts_file: Path | None = Field(
        default=None, description="webhook subscriptions (YAML); unset: no alerts"
    )
    alerts_dead_letter: Path | None = Field(
        default=None,
        description="JSONL of alerts that could not be delivered; "
        "default <home>/history/alerts-dead-letter.jsonl",
    )
    alerts_max_attempts: int = Field(default=5, ge=1, le=20, description="tries per alert")
    alerts_max_seconds: float = Field(
        default=120.0, gt=0, description="time budget of one alert's tries, seconds"
    )
    alerts_backoff_seconds: float = Field(
        default=1.0, ge=0, description="first retry delay; doubles each try, plus jitter"
    )
    alerts_timeout_seconds: float = Field(
        default=10.0, gt=0, description="timeout of one POST, seconds"
    )
    alerts_queue: int = Field(
        default=10_000, ge=1, description="alerts waiting for delivery; beyond: dead letter"
    )
    alerts_workers: int = Field(default=2, ge=1, le=32, description="delivery threads")

    # -- the web pages (/ui) ----------------------------------------------------------------
    ui_session_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="key that signs the /ui session cookie (32+ characters); unset: a random "
        "one per process, so sessions end when the server restarts",
    )
    ui_session_minutes: int = Field(
        default=480, ge=1, le=10080, description="a /ui sign-in lasts this long"
    )
    ui_mlflow_url: str | None = Field(
        default=None,
        pattern=r"^https?://",
        description="address of the MLflow UI (e.g. http://127.0.0.1:5000): the Model page "
        "links each champion's training run there",
    )

    # -- the server -------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = Field(default="info", pattern="^(debug|info|warning|error)$")

    @field_validator("api_keys", "admin_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_keys", "admin_keys")
    @classmethod
    def _check_hashes(cls, value: list[str]) -> list[str]:
        for position, entry in enumerate(value, start=1):
            if not KEY_ENTRY.match(entry):
                # Never echo the entry: it may be a plain key pasted by mistake.
                raise ValueError(
                    f"entry {position} is not a key hash of the form [name:]sha256:<64 hex "
                    "digits> (a name of letters, digits, '_', '.', '-'); configure hashes only "
                    "(`churnlight keys new --name NAME` prints a key and its entry)"
                )
        return value

    @model_validator(mode="after")
    def _check_tiers(self) -> ServingSettings:
        given = [t is not None for t in (self.tier_medium, self.tier_high, self.tier_critical)]
        if not any(given):
            return self
        if not all(given):
            raise ValueError(
                "set all three tier thresholds (CHURNLIGHT_TIER_MEDIUM, _HIGH, _CRITICAL) or "
                "none (tiers relative to the base rate)"
            )
        if not self.tier_medium < self.tier_high < self.tier_critical:  # type: ignore[operator]
            raise ValueError(
                f"tier thresholds must rise: medium {self.tier_medium} < high {self.tier_high} "
                f"< critical {self.tier_critical}"
            )
        return self

    @property
    def tier_thresholds(self) -> tuple[float, float, float] | None:
        """The fixed thresholds, or None: relative to the churn model's base rate."""
        if self.tier_medium is None or self.tier_high is None or self.tier_critical is None:
            return None
        return (self.tier_medium, self.tier_high, self.tier_critical)

    def resolved_history_uri(self) -> str:
        """The history store's Ibis URL (the default DuckDB file made absolute)."""
        if self.history_uri:
            return self.history_uri
        return f"duckdb:///{self.history_dir() / 'history.duckdb'}"

    def resolved_dead_letter(self) -> Path:
        """Where undeliverable alerts go."""
        if self.alerts_dead_letter is not None:
            return self.alerts_dead_letter
        return self.history_dir() / "alerts-dead-letter.jsonl"

    def threads(self) -> int:
        """Threads of batch scoring and of the snapshot's explanations."""
        return self.score_threads or os.cpu_count() or 1

    def what_if_workers(self) -> tuple[int, int]:
        """What-if worker processes, and the threads each explains with: together one core
        fewer than ``threads()`` (at least one of each), so the event loop keeps a core."""
        spare = max(1, self.threads() - 1)
        processes = self.what_if_processes or spare
        return processes, max(1, spare // processes)


def secret_from_env(name: str) -> str | None:
    """The value of the environment variable ``name`` (an alert subscription's ``secret_env``),
    read here because this module is the package's only reader of the environment."""
    value = os.environ.get(name)
    return value if value else None


@lru_cache
def get_serving_settings() -> ServingSettings:
    return ServingSettings()


def load_settings(**overrides: object) -> ServingSettings:
    """Settings from the environment with ``overrides`` (None values ignored); a bad value
    becomes a ``ConfigError`` naming the variable, never echoing a key."""
    from pydantic import ValidationError

    from features.errors import ConfigError

    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return ServingSettings(**given)  # type: ignore[arg-type]
    except ValidationError as err:
        problems = []
        for e in err.errors():
            name = str(e["loc"][0]) if e["loc"] else ""
            where = f"CHURNLIGHT_{name.upper()}" if name else "settings"
            problems.append(f"{where}: {e['msg'].removeprefix('Value error, ')}")
        raise ConfigError("invalid serving settings: " + "; ".join(problems)) from err
