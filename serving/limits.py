"""Per-key limits of scoring work: requests in flight, and what-if rows per second.

``POST /v1/score`` is the API's only costly route: a what-if batch scores and explains every
row live, and a cached batch copies up to ``CHURNLIGHT_MAX_BATCH`` records. Each key name
(``serving.auth``) may have ``CHURNLIGHT_KEY_CONCURRENCY`` such requests in flight, and may
score ``CHURNLIGHT_KEY_WHAT_IF_ROWS_PER_SECOND`` what-if rows per second on average, from a
bucket holding one full batch (or one second of rows, if more). Past either limit the request
is refused with 429 and ``Retry-After`` (after a short delay: ``serving.gate``); nothing
queues, so one key's burst neither grows the server's memory nor delays other keys' work
beyond the cores it holds. Lookups
(``GET``) are never limited. ``serving.gate`` refuses before the body is read (``busy``,
``short``, ``check``); the route then ``admit``s the validated batch.

Every call happens on the event loop, so the counters need no lock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from serving.errors import RateLimited


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    in_flight: int = 0


@dataclass
class KeyLimits:
    concurrency: int
    rows_per_second: float
    """0: no rate limit."""
    capacity: float
    clock: Callable[[], float] = time.monotonic
    _keys: dict[str, _Bucket] = field(default_factory=dict)

    @classmethod
    def of(cls, concurrency: int, rows_per_second: float, max_batch: int) -> KeyLimits:
        return cls(concurrency, rows_per_second, float(max(max_batch, rows_per_second)))

    def busy(self, key: str) -> None:
        """``RateLimited`` if ``key`` holds all its slots: ``admit`` would refuse any request."""
        bucket = self._keys.get(key)
        if bucket is not None and bucket.in_flight >= self.concurrency:
            self._refusal(key, 0, self.clock())

    def short(self, key: str, max_rows: int) -> bool:
        """Whether ``key``'s bucket might refuse a batch of up to ``max_rows`` what-if rows
        now (the rows of a request must then be counted to decide)."""
        if self.rows_per_second <= 0:
            return False
        bucket = self._keys.get(key)
        if bucket is None:
            return self.capacity < max_rows
        now = self.clock()
        tokens = bucket.tokens + (now - bucket.stamp) * self.rows_per_second
        return min(self.capacity, tokens) < max_rows

    def check(self, key: str, what_if_rows: int) -> None:
        """``RateLimited`` if ``admit`` would refuse ``key`` now; takes nothing."""
        self._refusal(key, what_if_rows, self.clock())

    @contextmanager
    def admit(self, key: str, what_if_rows: int) -> Iterator[None]:
        """Hold one of ``key``'s slots (and take ``what_if_rows`` from its bucket) while
        the block runs; ``RateLimited`` when none is free or the bucket is short."""
        bucket = self._refusal(key, what_if_rows, self.clock())
        if self.rows_per_second > 0 and what_if_rows:
            bucket.tokens -= what_if_rows
        bucket.in_flight += 1
        try:
            yield
        finally:
            bucket.in_flight -= 1

    def _refusal(self, key: str, what_if_rows: int, now: float) -> _Bucket:
        """``key``'s bucket, refilled to ``now``; ``RateLimited`` when it cannot take the work."""
        bucket = self._keys.get(key)
        if bucket is None:
            bucket = self._keys[key] = _Bucket(self.capacity, now)
        if bucket.in_flight >= self.concurrency:
            raise RateLimited(
                f"key {key!r} has {bucket.in_flight} scoring request(s) in flight, its limit "
                "(CHURNLIGHT_KEY_CONCURRENCY); send the next when one completes",
                retry_after=1,
            )
        if self.rows_per_second > 0 and what_if_rows:
            bucket.tokens = min(
                self.capacity, bucket.tokens + (now - bucket.stamp) * self.rows_per_second
            )
            bucket.stamp = now
            if bucket.tokens < what_if_rows:
                wait = math.ceil((what_if_rows - bucket.tokens) / self.rows_per_second)
                raise RateLimited(
                    f"key {key!r} is over its what-if rate of {self.rows_per_second:g} rows per "
                    f"second (CHURNLIGHT_KEY_WHAT_IF_ROWS_PER_SECOND): {what_if_rows} row(s) "
                    f"can be scored in {wait} s",
                    retry_after=wait,
                )
        return bucket
