"""Snapshot dates, the as-of date, and the snapshot calendar every transform joins against.

Window bounds are computed here, in Python, and handed to the backend as plain dates: date
arithmetic differs between backends (``date - interval`` is a date on Spark and a timestamp
on DuckDB), so transforms compare dates with dates and never add intervals themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from itertools import pairwise

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from features.errors import ConfigError

WINDOWS_DAYS = (7, 14, 30, 60, 90, 120, 180, 365)
"""Window lengths N for which the calendar carries ``start_{N}d = t - N days``."""


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def default_as_of(latest_event: date | datetime | None) -> date:
    """The day after the latest event: the as-of date when none is given."""
    if latest_event is None:
        raise ConfigError("the events table has no rows before the as-of date; give --as-of")
    return _as_date(latest_event) + timedelta(days=1)


def first_of_next_month(day: date) -> date:
    if day.day == 1:
        return day
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def monthly_snapshot_dates(first_event_day: date, as_of: date, warmup_days: int = 90) -> list[date]:
    """Every first day of a month t with first_event_day + warm-up <= t <= as_of."""
    current = first_of_next_month(_as_date(first_event_day) + timedelta(days=warmup_days))
    dates = []
    while current <= as_of:
        dates.append(current)
        current = date(current.year + (current.month == 12), current.month % 12 + 1, 1)
    return dates


def weekly_snapshot_dates(first_event_day: date, as_of: date, warmup_days: int = 90) -> list[date]:
    """Every Monday t with first_event_day + warm-up <= t <= as_of."""
    start = _as_date(first_event_day) + timedelta(days=warmup_days)
    current = start + timedelta(days=(7 - start.weekday()) % 7)
    dates = []
    while current <= as_of:
        dates.append(current)
        current += timedelta(days=7)
    return dates


def parse_snapshot_dates(values: Iterable[str]) -> list[date]:
    """Explicit snapshot dates from ISO strings, sorted and de-duplicated."""
    out = set()
    for value in values:
        try:
            out.add(date.fromisoformat(value.strip()))
        except ValueError as err:
            raise ConfigError(f"snapshot date {value!r} is not an ISO date (YYYY-MM-DD)") from err
    return sorted(out)


def calendar_table(
    snapshot_dates: Sequence[date], as_of: date, horizon_days: int, grace_days: int
) -> pa.Table:
    """One row per snapshot date with its window bounds and label observability.

    ``day_before`` is t - 1; ``start_{N}d`` is t - N days (windows are [t - N, t));
    ``horizon_end`` is t + H; ``churn_known`` is t + H + grace <= as_of and
    ``expand_known`` is t + H <= as_of (labels are null otherwise)."""
    if not snapshot_dates:
        raise ConfigError(
            f"no snapshot dates before the as-of date {as_of}; the source may cover less than the "
            "warm-up period, or give --snapshots explicitly"
        )
    late = [d for d in snapshot_dates if d > as_of]
    if late:
        raise ConfigError(f"snapshot date {late[0]} is after the as-of date {as_of}")
    horizon = timedelta(days=horizon_days)
    grace = timedelta(days=grace_days)
    columns: dict[str, list] = {
        "snapshot_date": list(snapshot_dates),
        "day_before": [t - timedelta(days=1) for t in snapshot_dates],
        "horizon_end": [t + horizon for t in snapshot_dates],
        "churn_known": [t + horizon + grace <= as_of for t in snapshot_dates],
        "expand_known": [t + horizon <= as_of for t in snapshot_dates],
        "snapshot_ts": [datetime(t.year, t.month, t.day) for t in snapshot_dates],
    }
    for n in WINDOWS_DAYS:
        columns[f"start_{n}d"] = [t - timedelta(days=n) for t in snapshot_dates]
    schema = {
        name: pa.timestamp("us")
        if name == "snapshot_ts"
        else pa.bool_()
        if name.endswith("_known")
        else pa.date32()
        for name in columns
    }
    return pa.table({name: pa.array(values, type=schema[name]) for name, values in columns.items()})


def calendar(
    snapshot_dates: Sequence[date], as_of: date, horizon_days: int, grace_days: int
) -> ir.Table:
    """``calendar_table`` as an Ibis memtable (runs on any backend)."""
    return ibis.memtable(calendar_table(snapshot_dates, as_of, horizon_days, grace_days))


def snapshot_rows(subscriptions: ir.Table, cal: ir.Table) -> ir.Table:
    """(account_id, snapshot_date) for every account active on snapshot_date - 1.

    Active on day d: some subscription covers d (start_date <= d < end_date)."""
    covering = subscriptions.join(
        cal,
        [subscriptions.start_date <= cal.day_before, subscriptions.end_date > cal.day_before],
    )
    return covering.select("account_id", "snapshot_date").distinct()


SEGMENT_EDGES_DAYS = (0, 7, 30, 60, 90, 180)
"""Window edges t - N (days) of every snapshot t at which the timeline is cut into segments."""

EPOCH = date(1970, 1, 1)
UNBOUNDED_AGE = 1_000_000
"""The max_age of segment 0 (every day before the first edge): older than any window."""


def day_number(day: date) -> int:
    """Days since 1970-01-01: integer day arithmetic without backend date functions."""
    return (day - EPOCH).days


MAX_SEGMENT_DAYS = 31
"""Longest segment: a user's active days in one segment fit bits 0-30 of a BIGINT, leaving
bits 31-62 to the core features (see ``features.transforms.activity``)."""


def segment_edges(snapshot_dates: Sequence[date], edges_days: Sequence[int]) -> list[date]:
    """Every window edge t - N of every snapshot t, sorted and distinct, with extra edges
    that cut any longer gap into pieces of at most ``MAX_SEGMENT_DAYS``."""
    edges = sorted({t - timedelta(days=n) for t in snapshot_dates for n in edges_days})
    out = edges[:1]
    for end in edges[1:]:
        while (end - out[-1]).days > MAX_SEGMENT_DAYS:
            out.append(out[-1] + timedelta(days=MAX_SEGMENT_DAYS))
        out.append(end)
    return out


def day_segments_table(
    snapshot_dates: Sequence[date], edges_days: Sequence[int] = SEGMENT_EDGES_DAYS
) -> pa.Table:
    """(day, segment_id, day_num, day_bit) for every day in [first edge, last snapshot).

    The edges cut the timeline into segments [edge_i, edge_i+1), numbered from 1 in time
    order; days before the first edge form segment 0 (not listed: a left join leaves them
    unmatched) and days on or after the last snapshot belong to no snapshot. Because every
    window bound of every snapshot is an edge, a segment lies wholly inside or wholly outside
    each window. ``day_num`` is ``day_number(day)``; ``day_bit`` is 2 ** (days since the
    segment's start), so the bitwise OR of a group's day bits holds its distinct days in a
    segment, and their count is the popcount (an aggregate far cheaper than count distinct)."""
    edges = segment_edges(snapshot_dates, edges_days)
    days, segments, nums, bits = [], [], [], []
    for i, (start, end) in enumerate(pairwise(edges), start=1):
        day = start
        while day < end:
            days.append(day)
            segments.append(i)
            nums.append(day_number(day))
            bits.append(1 << (day - start).days)
            day += timedelta(days=1)
    return pa.table(
        {
            "day": pa.array(days, type=pa.date32()),
            "segment_id": pa.array(segments, type=pa.int64()),
            "day_num": pa.array(nums, type=pa.int64()),
            "day_bit": pa.array(bits, type=pa.int64()),
        }
    )


def segment_windows_table(
    snapshot_dates: Sequence[date], edges_days: Sequence[int] = SEGMENT_EDGES_DAYS
) -> pa.Table:
    """(segment_id, snapshot_date, snapshot_num, min_age, max_age) for every segment before t.

    A segment [start, end) with end <= t holds ages t - day from ``min_age`` = t - end + 1 to
    ``max_age`` = t - start; it is in the window [t - N, t) exactly when max_age <= N and in
    [t - N, t - M) when also min_age > M. Segment 0 (every day before the first edge) is
    before every snapshot; its ``max_age`` is ``UNBOUNDED_AGE`` (no nulls: they do not survive
    every backend's table loading alike). ``snapshot_num`` is ``day_number(t)``."""
    edges = segment_edges(snapshot_dates, edges_days)
    columns: dict[str, list] = {
        "segment_id": [],
        "snapshot_date": [],
        "snapshot_num": [],
        "min_age": [],
        "max_age": [],
    }

    def add(segment: int, t: date, min_age: int, max_age: int) -> None:
        columns["segment_id"].append(segment)
        columns["snapshot_date"].append(t)
        columns["snapshot_num"].append(day_number(t))
        columns["min_age"].append(min_age)
        columns["max_age"].append(max_age)

    for t in sorted(set(snapshot_dates)):
        add(0, t, (t - edges[0]).days + 1, UNBOUNDED_AGE)
        for i, (start, end) in enumerate(pairwise(edges), start=1):
            if end <= t:
                add(i, t, (t - end).days + 1, (t - start).days)
    types = {
        "segment_id": pa.int64(),
        "snapshot_date": pa.date32(),
        "snapshot_num": pa.int64(),
        "min_age": pa.int64(),
        "max_age": pa.int64(),
    }
    return pa.table({name: pa.array(values, type=types[name]) for name, values in columns.items()})
