"""Events reduced to the segment tables every usage transform reads (the only raw-event scans).

The timeline is cut at every window edge of every snapshot (t, t - 7, t - 30, t - 60, t - 90,
t - 180; see ``features.snapshots.day_segments_table``), so each segment lies wholly inside
or outside every window of every snapshot, and sums over the segments of a window equal sums
over its days. Events are grouped per segment directly (an equality join of the event's day
to the small day -> segment map), which gives far fewer rows than one per user and day.

- ``user_segments``: per (account_id, user_id, segment_id): events, events of a core feature
  (``core_events``), quantity (null read as 1), distinct days, the last day (and its day
  number, null in segment 0), the sum of the events' day numbers (for exact age-weighted
  sums), whether a core feature was used (``core_used`` 0/1) and, when the core features
  fit in bits (``CoreFeatures.as_bits``), which ones (``core_bits``, bit i for the i-th).
  System events (null user_id) form their own group per account and segment.
- ``feature_segments``: the distinct (account_id, feature, segment_id) used, only needed
  when the core features do not fit in bits (no catalog, or more than ``MAX_CORE_BITS``).
- ``user_windows``: per (account_id, snapshot_date, user_id) with activity in the 60 days
  before t: flags and counts for the 7/30/31-60-day windows and the age of the last activity.

One aggregate over ~100 M events costs 1-3 s, about as much as the whole scan, so the user
scan folds three things into one bitwise OR of "marks": each day of a segment has its own
bit (0-30), each core feature its own bit (31-62). The OR's low bits give the distinct days
(their popcount) and the last day (the highest set bit), its high bits the core features
used; this spared a second scan of the events for core-feature breadth and a max.

``day`` is the UTC date of ``ts``; since snapshots fall on midnights, ts < t exactly when
day < t, so windows over days equal windows over timestamps. Events on or after the last
snapshot date are left out: no snapshot sees them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import ibis
import ibis.expr.types as ir

import features.ibis_compat  # noqa: F401  (bit_or on PySpark)
from features.snapshots import MAX_SEGMENT_DAYS
from features.transforms.base import KEYS, exact_sum

USER_WINDOW_DAYS = 60
CORE_SHIFT = MAX_SEGMENT_DAYS
"""Marks hold day bits 0 .. CORE_SHIFT - 1 and core-feature bits from CORE_SHIFT up."""
MAX_CORE_BITS = 63 - CORE_SHIFT
"""Core features that fit in the marks (bit 63 is the sign; never used)."""
DAY_BITS = (1 << CORE_SHIFT) - 1


@dataclass(frozen=True)
class CoreFeatures:
    """The core features of a run: ``names`` from the catalog, or None without a catalog
    (then every feature is core)."""

    names: tuple[str, ...] | None

    @property
    def as_bits(self) -> bool:
        """Whether each core feature gets its own bit in the user scan's marks (breadth then
        needs no scan of its own)."""
        return self.names is not None and len(self.names) <= MAX_CORE_BITS

    @property
    def any(self) -> bool:
        """Whether any feature is core (without a catalog, every feature is)."""
        return self.names is None or bool(self.names)

    def is_core(self, feature: ir.StringValue) -> ir.BooleanValue:
        """Whether an event of ``feature`` used a core feature (needs ``any``)."""
        if self.names is None:
            return feature.notnull()
        return feature.isin(list(self.names))

    def mark(self, feature: ir.StringValue) -> ir.IntegerValue:
        """The high bits an event of ``feature`` adds to its marks: its own bit when
        ``as_bits``, else one shared bit for any core feature."""
        one = ibis.literal(1 << CORE_SHIFT, "int64")
        if self.names is None:
            # Without a catalog every feature is core (feature is never null once validated).
            return ibis.ifelse(feature.notnull(), one, 0)
        if not self.names:
            return ibis.literal(0, "int64")
        if not self.as_bits:
            return ibis.ifelse(feature.isin(list(self.names)), one, 0)
        position = ibis.array(list(self.names)).index(feature)
        return ibis.ifelse(position >= 0, one << position.cast("int64"), 0)


def core_features(catalog: ir.Table | None) -> CoreFeatures:
    """The catalog's core features (a tiny query, run once), or every feature without one."""
    if catalog is None:
        return CoreFeatures(None)
    names = catalog.filter(catalog.is_core).feature.to_pyarrow().to_pylist()
    return CoreFeatures(tuple(sorted(names)))


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
    core: CoreFeatures,
    day_segments: ir.Table,
    last_snapshot: date,
) -> ir.Table:
    """The per-(account, user, segment) reduction of the events (see the module docstring).
    Segment 0 rows carry no marks: their days, core use and core bits are 0 or null, which
    no window reads (every window lies after the first edge)."""
    e = _segmented(events, day_segments, last_snapshot)
    grouped = e.group_by("account_id", "user_id", "segment_id").agg(
        n_events=e.count(),
        **({"core_events": core.is_core(e.feature).cast("int64").sum()} if core.any else {}),
        quantity=exact_sum(e.quantity.fill_null(1.0)),
        marks=(e.day_bit + core.mark(e.feature)).bit_or(),
        day_num_sum=e.day_num.sum(),
        # Segment 0 has no day bits (it is unbounded); its last day is the one max needed.
        last_day_0=e.day.max(where=e.segment_id == 0),
    )
    high = grouped.marks >> CORE_SHIFT
    if not core.any:
        grouped = grouped.mutate(core_events=ibis.literal(0, "int64"))
    grouped = grouped.mutate(
        core_used=ibis.ifelse(high.fill_null(0) != 0, 1, 0),
        day_bits=grouped.marks & DAY_BITS,
        **({"core_bits": high.fill_null(0)} if core.as_bits else {}),
    ).drop("marks")
    grouped = _with_highest_bit(grouped, "day_bits", "last_bit")
    # The day of the highest bit, by a join to the day map (no date arithmetic).
    days = day_segments.select(
        d_segment="segment_id", d_bit="day_bit", d_day="day", last_day_num="day_num"
    )
    dated = grouped.left_join(
        days, [grouped.segment_id == days.d_segment, grouped.last_bit == days.d_bit]
    )
    dated = dated.mutate(last_day=ibis.coalesce(dated.d_day, dated.last_day_0))
    dated = dated.drop("d_segment", "d_bit", "d_day", "last_day_0", "last_bit")
    return with_popcount(dated, "day_bits", "n_days")


def _with_highest_bit(t: ir.Table, bits: str, out: str) -> ir.Table:
    """``out`` = the highest set bit of the non-negative ``bits`` (below 2 ** 32) as a power
    of two, 0 for 0: the bits below it are smeared to ones, then halved away."""
    t = t.mutate(**{out: t[bits]})
    for shift in (1, 2, 4, 8, 16):
        t = t.mutate(**{out: t[out] | (t[out] >> shift)})
    return t.mutate(**{out: t[out] - (t[out] >> 1)})


def with_popcount(t: ir.Table, bits: str, out: str) -> ir.Table:
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
    events: ir.Table, day_segments: ir.Table, last_snapshot: date, core: CoreFeatures
) -> ir.Table:
    """Only the core features (all features without a catalog): the only ones read."""
    if core.names is not None:
        names = list(core.names)
        events = events.filter(events.feature.isin(names) if names else ibis.literal(False))
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


WINDOW_FLAGS = {"in_7": 1, "in_30": 2, "in_31_60": 4, "core_30": 8}
"""The 0/1 columns of ``user_windows``, each a bit of one OR (one aggregate, not four)."""


def user_windows(segments: ir.Table, segment_windows: ir.Table) -> ir.Table:
    named = segments.filter(segments.user_id.notnull())
    w = windowed_segments(named, segment_windows, USER_WINDOW_DAYS)
    in_30 = in_segment_window(w, 30)
    conditions = {
        "in_7": in_segment_window(w, 7),
        "in_30": in_30,
        "in_31_60": in_segment_window(w, 60, after=30),
        "core_30": in_30 & (w.core_used == 1),
    }
    flags = sum(
        (ibis.ifelse(cond, WINDOW_FLAGS[name], 0) for name, cond in conditions.items()),
        start=ibis.literal(0, "int64"),
    )
    grouped = w.group_by([*KEYS, "user_id"]).agg(
        flags=flags.bit_or(),
        events_30=w.n_events.sum(where=in_30),
        days_30=w.n_days.sum(where=in_30),
        # Segment 0 never lies in a 60-day window, so every row here has a day number.
        last_age=(w.snapshot_num - w.last_day_num).min(),
    )
    return grouped.mutate(
        **{name: (grouped.flags & bit) // bit for name, bit in WINDOW_FLAGS.items()}
    ).drop("flags")
