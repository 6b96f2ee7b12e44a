"""Events reduced to the segment tables every usage transform reads (the only raw-event scans).

The timeline is cut at every window edge of every snapshot (t, t - 7, t - 30, t - 60, t - 90,
t - 180; see ``features.snapshots.day_segments_table``), so each segment lies wholly inside
or outside every window of every snapshot, and sums over the segments of a window equal sums
over its days. Events are grouped per segment directly (an equality join of the event's day
to the small day -> segment map), which gives far fewer rows than one per user and day.

- ``user_segments``: per (account_id, user_id, segment_id): events, whether a core
  feature was used (``core_used`` 0/1), quantity (null read as 1), distinct days (the
  popcount of the OR of the days' bits, see ``day_segments_table``), the last day and the
  sum of the events' day numbers (for exact age-weighted sums). System events (null
  user_id) form their own group per account and segment. Each aggregate costs about 2 s per
  100 M events, so none is kept that another column gives.
- ``feature_segments``: the distinct (account_id, feature, segment_id) used (core features
  only when there is a catalog).
- ``user_windows``: per (account_id, snapshot_date, user_id) with activity in the 60 days
  before t: flags and counts for the 7/30/31-60-day windows and the age of the last activity.

``day`` is the UTC date of ``ts``; since snapshots fall on midnights, ts < t exactly when
day < t, so windows over days equal windows over timestamps. Events on or after the last
snapshot date are left out: no snapshot sees them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import ibis
import ibis.expr.types as ir

import features.ibis_compat  # noqa: F401  (bit_or on PySpark)
from features.transforms.base import KEYS, days_between

USER_WINDOW_DAYS = 60
CORE_BIT = 1 << 62
"""Set in a segment's marks when a core feature was used; day bits use bits 0-61."""
DAY_BITS = CORE_BIT - 1


def core_features(catalog: ir.Table | None) -> ir.Table | None:
    """The catalog's core features, or None when there is no catalog (every feature is core)."""
    if catalog is None:
        return None
    return catalog.filter(catalog.is_core).select("feature")


def _segmented(events: ir.Table, day_segments: ir.Table, last_snapshot: date) -> ir.Table:
    """Events before the last snapshot with their day, segment_id (0 before the first edge)
    and day_num (null in segment 0)."""
    limit = ibis.timestamp(datetime(last_snapshot.year, last_snapshot.month, last_snapshot.day))
    e = events.filter(events.ts < limit)
    e = e.mutate(day=e.ts.date())
    joined = e.left_join(day_segments, e.day == day_segments.day)
    return joined.mutate(segment_id=joined.segment_id.fill_null(0))


def user_segments(
    events: ir.Table,
    core: ir.Table | Sequence[str] | None,
    day_segments: ir.Table,
    last_snapshot: date,
) -> ir.Table:
    """``core``: the core features (a table of ``feature`` or a list); None: every feature."""
    e = _segmented(events, day_segments, last_snapshot)
    # Without a catalog every feature is core (feature is never null in a validated table).
    if core is None:
        is_core = e.feature.notnull()
    elif isinstance(core, ir.Table):
        is_core = e.feature.isin(core.feature)
    else:
        # a column (not a scalar literal) even for an empty list, so it can be summed
        is_core = e.feature.isin(list(core)) if core else e.feature.isnull() & False
    # One OR gives both the distinct days (bits 0-61) and whether a core feature was used
    # (bit 62): an aggregate less over every event.
    marks = e.day_bit + ibis.ifelse(is_core, CORE_BIT, 0)
    grouped = e.group_by("account_id", "user_id", "segment_id").agg(
        n_events=e.count(),
        quantity=e.quantity.fill_null(1.0).sum(),
        marks=marks.bit_or(),
        last_day=e.day.max(),
        day_num_sum=e.day_num.sum(),
    )
    grouped = grouped.mutate(
        core_used=((grouped.marks >> 62) & 1).fill_null(0), day_bits=grouped.marks & DAY_BITS
    ).drop("marks")
    return _with_popcount(grouped, "day_bits", "n_days")


def _with_popcount(t: ir.Table, bits: str, out: str) -> ir.Table:
    """``out`` = the number of set bits of the non-negative BIGINT column ``bits`` (null stays
    null), by the shift-and-add popcount; one projection per step keeps the SQL linear."""
    x = "_popcount"
    t = t.mutate(**{x: t[bits] - ((t[bits] >> 1) & 0x5555555555555555)})
    t = t.mutate(**{x: (t[x] & 0x3333333333333333) + ((t[x] >> 2) & 0x3333333333333333)})
    t = t.mutate(**{x: (t[x] + (t[x] >> 4)) & 0x0F0F0F0F0F0F0F0F})
    for shift in (8, 16, 32):
        t = t.mutate(**{x: t[x] + (t[x] >> shift)})
    return t.mutate(**{out: t[x] & 0x7F}).drop(x, bits)


def feature_segments(
    events: ir.Table,
    day_segments: ir.Table,
    last_snapshot: date,
    core: Sequence[str] | None = None,
) -> ir.Table:
    """``core``: only these features (the catalog's core ones; the only ones any transform
    reads when there is a catalog); None: every feature."""
    if core is not None:
        events = events.filter(events.feature.isin(list(core)) if core else ibis.literal(False))
    e = _segmented(events, day_segments, last_snapshot)
    return e.select("account_id", "feature", "segment_id").distinct()


def in_segment_window(w: ir.Table, days: int, after: int = 0) -> ir.BooleanValue:
    """True for segment rows of ``w`` (joined to the segment windows) inside [t - days,
    t - after): ages in [after + 1, days]."""
    inside = w.max_age <= days
    return inside & (w.min_age > after) if after else inside


def windowed_segments(segments: ir.Table, segment_windows: ir.Table, max_days: int) -> ir.Table:
    """Each segment row once per snapshot whose [t - max_days, t) window holds it."""
    sw = segment_windows.filter(segment_windows.max_age <= max_days)
    joined = segments.join(sw, segments.segment_id == sw.segment_id)
    return joined.drop("segment_id_right") if "segment_id_right" in joined.columns else joined


def user_windows(segments: ir.Table, segment_windows: ir.Table) -> ir.Table:
    named = segments.filter(segments.user_id.notnull())
    w = windowed_segments(named, segment_windows, USER_WINDOW_DAYS)
    in_30 = in_segment_window(w, 30)
    return w.group_by([*KEYS, "user_id"]).agg(
        in_7=in_segment_window(w, 7).cast("int64").max(),
        in_30=in_30.cast("int64").max(),
        in_31_60=in_segment_window(w, 60, after=30).cast("int64").max(),
        core_30=(in_30 & (w.core_used == 1)).cast("int64").max(),
        events_30=w.n_events.sum(where=in_30),
        days_30=w.n_days.sum(where=in_30),
        last_age=days_between(w.snapshot_date, w.last_day).min(),
    )
