"""Errors of the serving package; all derive from ``features.errors.ChurnlightError``.

``serving.handlers`` maps each class to one problem type (``serving.problems``: HTTP status,
stable ``type`` URI) with the message as its ``detail``; the command line prints the
message in red and exits 1."""

from __future__ import annotations

from features.errors import ChurnlightError, ConfigError

MODELS_NOT_LOADED = "models not loaded"


class ServingError(ChurnlightError):
    """Base of the errors a scoring request or a load can raise."""


class ModelsNotLoaded(ServingError):
    """The champion models or the snapshot are not (yet) loaded: HTTP 503."""


class ModelLoadError(ModelsNotLoaded):
    """The registry, a registered model or its bundle cannot be read."""


class SnapshotError(ModelsNotLoaded):
    """The feature snapshot to score cannot be read or built."""


class UnknownAccount(ServingError):
    """An account id is not in the scored snapshot: HTTP 404."""

    def __init__(self, account_id: str, snapshot_date: str | None) -> None:
        where = f"the snapshot of {snapshot_date}" if snapshot_date else "the snapshot"
        super().__init__(f"account {account_id!r} not found in {where}")
        self.account_id = account_id
        self.snapshot_date = snapshot_date

    def __reduce__(self) -> tuple[type[UnknownAccount], tuple[str, str | None]]:
        # raised in what-if workers (serving.what_if) and pickled back to the server
        return (UnknownAccount, (self.account_id, self.snapshot_date))


class TooLarge(ServingError):
    """A batch exceeds CHURNLIGHT_MAX_BATCH: HTTP 413."""


class MissingKey(ServingError):
    """No ``Authorization: Bearer <key>``: HTTP 401."""


class InvalidKey(ServingError):
    """A key no configured hash matches: HTTP 401."""


class AdminRequired(ServingError):
    """A read key on an admin route: HTTP 403."""


class RateLimited(ServingError):
    """A key's limit of scoring work is reached: HTTP 429 with ``Retry-After``."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InvalidFeatures(ServingError):
    """What-if feature values the models cannot use: HTTP 422."""


class ReloadFailed(ServingError):
    """A reload did not complete; the previous models keep serving: HTTP 503."""


class PlaybookError(ConfigError):
    """The playbook library breaks its schema; the message names the file and the key."""


class HistoryError(ServingError):
    """The history store cannot be opened, read or written."""


class HistoryUnavailable(ServingError):
    """The server has no history to answer from (off, or its store failed): HTTP 503."""


class NotInHistory(ServingError):
    """An account never scored into the history: HTTP 404."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id!r} has no scores in the history")
        self.account_id = account_id


class AlertsConfigError(ConfigError):
    """The alerts file breaks its schema; the message names the file and the key."""


class MovementsUnavailable(ServingError):
    """The book's MRR movements cannot be computed for the served snapshot: HTTP 503."""


class EffectsUnavailable(ServingError):
    """No play-effects model is registered: HTTP 503 (the scores still serve)."""
