"""Consumption: metered units against the quota of the current term.

``quota_burn_ratio`` > 1 means burning faster than the entitlement allows; a positive
``quota_runout_days_before_renewal`` means that, at the last 30 days' pace, the quota runs
out that many days before the term ends (an expansion conversation)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, spec_maker
from features.transforms.activity import in_segment_window, windowed_segments
from features.transforms.base import (
    EXACT,
    KEYS,
    FeatureInputs,
    attach,
    days_between,
    exact_sum,
    nulls_for,
    safe_div,
)
from features.transforms.commercial import covering_lines

FAMILY: Family = "consumption"


_spec = spec_maker(FAMILY, requires=("consumption",))


FEATURES = [
    _spec(
        "consumption_30d",
        "Metered units consumed in the last 30 days",
        "units",
        "{value} units consumed in the last 30 days",
        canonical=True,
    ),
    _spec(
        "quota_burn_ratio",
        "Units used this term against the quota pro rata of the elapsed term",
        "ratio",
        "Consuming quota at {value} the contracted pace",
        canonical=True,
    ),
    _spec(
        "consumption_7d",
        "Metered units consumed in the last 7 days",
        "units",
        "{value} units consumed in the last 7 days",
    ),
    _spec(
        "consumption_90d",
        "Metered units consumed in the last 90 days",
        "units",
        "{value} units consumed in the last 90 days",
    ),
    _spec(
        "consumption_trend_30_90",
        "Units in the last 30 days against the 30-day average of the 60 days before (acceleration)",
        "ratio",
        "Consumption is at {value} of its earlier pace",
    ),
    _spec(
        "quota_used_fraction",
        "Share of the term's quota already used",
        "fraction",
        "{value} of the quota used",
    ),
    _spec(
        "term_elapsed_fraction",
        "Share of the current metered term elapsed",
        "fraction",
        "{value} of the term elapsed",
    ),
    _spec(
        "quota_runout_days_before_renewal",
        "Days between the projected quota exhaustion (at "
        "the last 30 days' pace) and the term end; positive: runs out first",
        "days",
        "At this pace the quota runs out {value} before renewal",
    ),
]

COLUMN_NEEDS: dict[str, tuple[str, ...]] = {
    name: ("subscriptions.quota",)
    for name in (
        "quota_burn_ratio",
        "quota_used_fraction",
        "term_elapsed_fraction",
        "quota_runout_days_before_renewal",
    )
}
"""See ``features.transforms.column_needs``."""


def build(inputs: FeatureInputs) -> ir.Table:
    if not inputs.has("consumption"):
        return nulls_for(inputs.rows, FEATURES)
    consumption = inputs.table("consumption")
    # Units per (account, segment) first: every window edge is a segment edge (days before
    # the first edge or on/after the last snapshot are in no window and drop out here).
    ds = inputs.day_segments
    dated = consumption.join(ds, consumption.date == ds.day)
    per_segment = dated.group_by("account_id", "segment_id").agg(units=exact_sum(dated.units))
    w = windowed_segments(per_segment, inputs.segment_windows, 90)
    windows = w.group_by(list(KEYS)).agg(
        consumption_7d=exact_sum(w.units, in_segment_window(w, 7)),
        consumption_30d=exact_sum(w.units, in_segment_window(w, 30)),
        consumption_31_90d=exact_sum(w.units, in_segment_window(w, 90, after=30)),
        consumption_90d=exact_sum(w.units),
    )
    out = attach(
        inputs.rows,
        windows,
        ["consumption_7d", "consumption_30d", "consumption_31_90d", "consumption_90d"],
    )
    out = attach(out, _current_term_usage(inputs, consumption, per_segment))
    expected = out.quota * out.elapsed_days.cast("float64") / out.term_days.cast("float64")
    quota_ok = out.quota.notnull() & (out.quota > 0)
    daily_rate = out.consumption_30d / 30.0
    remaining = out.quota - out.used
    runout_in = safe_div(remaining, daily_rate)
    days_left = (out.term_days - out.elapsed_days).cast("float64")
    return out.select(
        *KEYS,
        consumption_30d=out.consumption_30d.cast("float64"),
        quota_burn_ratio=ibis.ifelse(quota_ok, out.used / expected, ibis.null("float64")),
        consumption_7d=out.consumption_7d.cast("float64"),
        consumption_90d=out.consumption_90d.cast("float64"),
        consumption_trend_30_90=safe_div(out.consumption_30d, out.consumption_31_90d / 2.0),
        quota_used_fraction=ibis.ifelse(quota_ok, out.used / out.quota, ibis.null("float64")),
        term_elapsed_fraction=safe_div(out.elapsed_days, out.term_days),
        quota_runout_days_before_renewal=ibis.ifelse(
            quota_ok, days_left - runout_in, ibis.null("float64")
        ),
    )


def _current_term_usage(
    inputs: FeatureInputs, consumption: ir.Table, per_segment: ir.Table
) -> ir.Table:
    """Per snapshot: quota, elapsed and total days of the current term, and units used in it.

    The current term is the line covering t - 1 with a quota and the latest start_date
    (ties: the smallest subscription_id). Units used = units dated in [term start, t)."""
    subs = inputs.table("subscriptions")
    lines = covering_lines(inputs.frame, subs.filter(subs.quota.notnull()), "day_before")
    ranked = lines.mutate(
        rank=ibis.row_number().over(
            ibis.window(
                group_by=[lines.account_id, lines.snapshot_date],
                order_by=[lines.start_date.desc(), lines.subscription_id.asc()],
            )
        )
    )
    terms = ranked.filter(ranked.rank == 0).select(*KEYS, "start_date", "end_date", "quota")
    # Units before a day d = running total over rows dated < d. Query points sort before the
    # consumption rows of the same date, so their running total excludes that date (however
    # many rows a date has: no per-day aggregation needed).
    points = _running_rows(inputs, consumption, per_segment, terms).select(
        "account_id",
        "date",
        "units",
        is_query=ibis.literal(0),
        snapshot_date=ibis.null("date"),
        which=ibis.literal(""),
    )
    starts = terms.select(
        "account_id",
        date="start_date",
        units=ibis.literal(0.0),
        is_query=ibis.literal(1),
        snapshot_date="snapshot_date",
        which=ibis.literal("start"),
    )
    ends = terms.select(
        "account_id",
        date="snapshot_date",
        units=ibis.literal(0.0),
        is_query=ibis.literal(1),
        snapshot_date="snapshot_date",
        which=ibis.literal("end"),
    )
    stacked = points.union(starts).union(ends)
    running = stacked.mutate(
        before=stacked.units.cast(EXACT)
        .sum()
        .over(
            ibis.window(
                group_by=stacked.account_id,
                order_by=[stacked.date, stacked.is_query.desc()],
                rows=(None, 0),
            )
        )
        .cast("float64")
    ).filter(ibis._.is_query == 1)
    totals = running.group_by(list(KEYS)).agg(
        before_start=running.before.max(where=running.which == "start"),
        before_end=running.before.max(where=running.which == "end"),
    )
    joined = terms.join(totals, list(KEYS))
    return joined.select(
        *KEYS,
        quota=joined.quota,
        used=(joined.before_end - joined.before_start).cast("float64"),
        elapsed_days=days_between(joined.snapshot_date, joined.start_date),
        term_days=days_between(joined.end_date, joined.start_date),
    )


def _running_rows(
    inputs: FeatureInputs, consumption: ir.Table, per_segment: ir.Table, terms: ir.Table
) -> ir.Table:
    """(account_id, date, units): the rows the running total needs, far fewer than the
    metered rows. A segment's units count as one row on its first day, exact for every query
    point that is not inside it: snapshot dates are segment edges, so only a term start can
    fall inside a segment, and the segments of an account holding one of its term starts
    stay day by day. Days outside every segment (before the first edge, or on and after the
    last snapshot) stay day by day too."""
    ds = inputs.day_segments
    starts = terms.select(s_account="account_id", s_day="start_date").distinct()
    split = (
        starts.join(ds, starts.s_day == ds.day)
        .select(x_account="s_account", x_segment="segment_id")
        .distinct()
    )
    first_days = ds.group_by(f_segment="segment_id").agg(first_day=ds.day.min())
    whole = per_segment.anti_join(
        split,
        [per_segment.account_id == split.x_account, per_segment.segment_id == split.x_segment],
    )
    whole = whole.join(first_days, whole.segment_id == first_days.f_segment).select(
        "account_id", date="first_day", units="units"
    )
    located = consumption.left_join(ds, consumption.date == ds.day)
    located = located.left_join(
        split,
        [located.account_id == split.x_account, located.segment_id == split.x_segment],
    )
    daily = located.filter(located.segment_id.isnull() | located.x_account.notnull())
    return whole.union(daily.select("account_id", "date", "units"))
