"""The book's MRR movements read from a source: validated subscriptions and accounts in,
``forecast.movements`` tables out. Used by `churnlight book` and ``/v1/portfolio/movements``."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from forecast.book import (
    DEFAULT_GRACE_DAYS,
    GROUP_COLUMNS,
    Book,
    BookError,
    book_from_tables,
    movement_records,
)
from serving.errors import MovementsUnavailable

__all__ = [
    "DEFAULT_GRACE_DAYS",
    "GROUP_COLUMNS",
    "Book",
    "BookCache",
    "BookError",
    "movement_records",
    "read_book",
]


def read_book(
    source: str | Path,
    as_of: date | None = None,
    grace_days: int = DEFAULT_GRACE_DAYS,
    backend: str | None = None,
) -> Book:
    """Validate ``source`` (the same checks as `churnlight features`; bad rows stop the run)
    and compute every account's monthly movements up to the as-of date."""
    from features.sources import connect, open_source
    from features.validation import validate_source

    opened = open_source(source, backend=backend, con=connect(backend))
    validated = validate_source(opened, as_of=as_of)
    tables = validated.tables
    return book_from_tables(
        tables["subscriptions"], tables["accounts"], validated.as_of, grace_days
    )


class BookCache:
    """One book per served snapshot, computed on first use (it validates the source)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str, str] | None = None
        self._book: Book | None = None

    def get(self, source: str | None, as_of: str | None, grace_days: int) -> Book:
        if not source:
            raise MovementsUnavailable(
                "the served snapshot names no source, so its subscriptions are unknown; "
                "serve with --source SRC, or features built by `churnlight features`"
            )
        if not Path(source).exists():
            name = Path(source).name
            raise MovementsUnavailable(f"the snapshot's source {name!r} is no longer readable")
        key = (source, as_of or "")
        with self._lock:
            if self._key != key or self._book is None:
                parsed = date.fromisoformat(as_of) if as_of else None
                self._book = read_book(source, as_of=parsed, grace_days=grace_days)
                self._key = key
            return self._book
