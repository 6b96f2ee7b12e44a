"""The project's error hierarchy. Every error a user can cause derives from ChurnlightError."""

from __future__ import annotations


class ChurnlightError(Exception):
    """Base class of every error churnlight raises on purpose.

    Messages say what failed, the value that caused it, and what to do next."""


class SourceError(ChurnlightError):
    """A source cannot be opened or a table in it cannot be read."""


class ValidationError(ChurnlightError):
    """A source breaks the data contract; ``report`` lists every problem found."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class ConfigError(ChurnlightError):
    """An option or a configuration file has a value churnlight cannot use."""


class FeatureTableError(SourceError):
    """A feature table cannot be scored or trained on as it is: a key is null or repeated, a
    column the models read is missing, or a column holds values of a type that cannot be cast.
    The message names the column(s) and a few of the rows."""
