"""What every feature family receives, and small helpers they share.

Transforms are pure: they take Ibis tables and return an Ibis table keyed by
(account_id, snapshot_date), never connecting or executing. Leakage rule for all of them:
a row of snapshot t uses only data with timestamps strictly before t (dates strictly
before t). Windows are [t - N days, t), selected by ``activity.in_segment_window``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from features.metadata import FeatureSpec

KEYS = ("account_id", "snapshot_date")


@dataclass(frozen=True)
class FeatureInputs:
    """The inputs of every family.

    - ``rows``: (account_id, snapshot_date) of every account active on t - 1;
    - ``frame``: ``rows`` joined with the calendar (day_before, start_{N}d, snapshot_ts, ...);
    - ``day_segments``: (day, segment_id, day_num) of every day in [first edge, last t)
      (see ``features.snapshots.day_segments_table``);
    - ``segment_windows``: (segment_id, snapshot_date, snapshot_num, min_age, max_age) of
      every segment before t (see ``features.snapshots.segment_windows_table``);
    - ``tables``: validated contract tables (absent optional tables are missing);
    - ``user_segments``, ``feature_segments``, ``user_windows``: the per-segment reductions
      of the events (see ``features.transforms.activity``), materialised once by the
      pipeline; ``feature_segments`` is None when the core features ride in
      ``user_segments.core_bits`` instead."""

    rows: ir.Table
    frame: ir.Table
    day_segments: ir.Table
    segment_windows: ir.Table
    tables: Mapping[str, ir.Table]
    user_segments: ir.Table
    feature_segments: ir.Table | None
    user_windows: ir.Table

    def has(self, table: str) -> bool:
        return table in self.tables

    def table(self, name: str) -> ir.Table:
        return self.tables[name]


def attach(
    rows: ir.Table,
    features: ir.Table,
    zero_fill: Sequence[str] = (),
) -> ir.Table:
    """Left-join per-snapshot ``features`` onto ``rows``; counts with no rows become 0."""
    joined = rows.left_join(features, list(KEYS))
    joined = joined.drop(*[f"{k}_right" for k in KEYS if f"{k}_right" in joined.columns])
    if zero_fill:
        joined = joined.mutate(**{name: joined[name].fill_null(0) for name in zero_fill})
    return joined


def nulls_for(rows: ir.Table, specs: Sequence[FeatureSpec]) -> ir.Table:
    """``rows`` with every feature of ``specs`` null (their tables are absent)."""
    typed = {
        spec.name: ibis.null("string") if spec.kind == "categorical" else ibis.null("float64")
        for spec in specs
    }
    return rows.select(*KEYS, **typed)


def safe_div(num: ir.NumericValue, den: ir.NumericValue) -> ir.FloatingValue:
    """num / den as a float; null when den is 0 or null."""
    den_f = den.cast("float64")
    return ibis.ifelse(den_f == 0, ibis.null("float64"), num.cast("float64") / den_f)


def days_between(later: ir.Value, earlier: ir.Value) -> ir.IntegerValue:
    """Whole days from ``earlier`` to ``later`` (dates)."""
    return later.delta(earlier, unit="day")


MICROSECONDS_PER_SECOND = 1_000_000


def seconds_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Seconds from ``earlier`` to ``later`` (timestamps), to the microsecond.

    The same number on every backend: the difference is taken as a whole count of
    microseconds (exact on DuckDB and Spark alike), then divided. ``delta(unit="second")``
    is not: DuckDB counts the second boundaries crossed, Spark truncates the difference, so
    23:59:59.9 to 00:00:00.1 is 1 s on one and 0 s on the other; ``epoch_seconds()`` keeps
    the fraction on DuckDB and drops it on Spark."""
    micros = later.delta(earlier, unit="microsecond")
    return micros.cast("float64") / MICROSECONDS_PER_SECOND


EXACT = ibis.expr.datatypes.Decimal(38, 10)
"""The type fractional numbers are summed in: a float sum depends on the order its terms are
added in, which a parallel engine (DuckDB's threads, Spark's partitions) does not fix, so the
same source gave features a few ulps apart from run to run, and LightGBM, binning on
distinct values, models a little apart. A decimal sum is exact integer arithmetic: each term
rounded to 1e-10 (the same way every run), then summed in any order to the same total."""


def exact_sum(value: ir.NumericValue, where: ir.BooleanValue | None = None) -> ir.FloatingValue:
    """The sum of ``value`` (nulls skipped; null when none), the same in every run and on
    every backend whatever the order the rows arrive in (see ``EXACT``)."""
    return value.cast(EXACT).sum(where=where).cast("float64")


def exact_mean(value: ir.NumericValue) -> ir.FloatingValue:
    """The mean of ``value`` (nulls skipped; null when none), order-independent like
    ``exact_sum``; usable with ``.over(window)`` as ``exact_window_mean``."""
    return safe_div(exact_sum(value), value.count())


def exact_window_mean(value: ir.NumericValue, window: object) -> ir.FloatingValue:
    """The mean of ``value`` over ``window`` (an ``ibis.window``), order-independent."""
    total = value.cast(EXACT).sum().over(window).cast("float64")
    return safe_div(total, value.count().over(window))
