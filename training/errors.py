"""Errors of the training package; all derive from ``features.errors.ChurnlightError``."""

from __future__ import annotations

from features.errors import ChurnlightError


class TrainingError(ChurnlightError):
    """Training cannot proceed with this data or these options."""


class RegistryError(ChurnlightError):
    """The MLflow store or registry cannot be used as asked."""


class LockedError(ChurnlightError):
    """Another train or retrain holds the registry lock."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder
