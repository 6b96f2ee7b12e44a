"""Usage depth: active users against seats, core-feature breadth, frequency, departments.

Input is the events aggregated per (account_id, user_id, segment) and per (account_id,
feature, segment) (see ``features.transforms.activity``), so no transform here scans raw
events. Events with a null
user_id count as events but never as users."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, spec_maker
from features.transforms.activity import in_segment_window, windowed_segments, with_popcount
from features.transforms.base import (
    KEYS,
    FeatureInputs,
    attach,
    exact_sum,
    exact_window_mean,
    safe_div,
)
from features.transforms.commercial import mrr_and_seats

FAMILY: Family = "usage_depth"
SLOPE_DAYS = 90


_spec = spec_maker(FAMILY)


FEATURES = [
    _spec(
        "active_users_30d",
        "Distinct users with an event in the last 30 days",
        "count",
        "{value} users active in the last 30 days",
        canonical=True,
    ),
    _spec(
        "seat_utilization_30d",
        "Active users in the last 30 days per licensed seat",
        "fraction",
        "{value} of licensed seats active in the last 30 days",
        canonical=True,
    ),
    _spec(
        "core_breadth_30d",
        "Share of core features used in the last 30 days",
        "fraction",
        "{value} of core features used in the last 30 days",
        canonical=True,
    ),
    _spec(
        "events_30d",
        "Product events in the last 30 days",
        "count",
        "{value} product events in the last 30 days",
        canonical=True,
    ),
    _spec(
        "events_trend_30_90",
        "Events in the last 30 days against the 30-day average of the 60 days before",
        "ratio",
        "Usage is at {value} of its earlier level",
        canonical=True,
    ),
    _spec(
        "active_users_7d",
        "Distinct users active in the last 7 days",
        "count",
        "{value} users active in the last 7 days",
    ),
    _spec(
        "active_users_60d",
        "Distinct users active in the last 60 days",
        "count",
        "{value} users active in the last 60 days",
    ),
    _spec(
        "active_users_change_30d",
        "Change of 30-day active users against the 30 days before",
        "change",
        "Active users {direction} {abs_pct} against the previous 30 days",
    ),
    _spec(
        "new_active_users_30d",
        "Users active in the last 30 days but not the 30 before",
        "count",
        "{value} newly active users in the last 30 days",
    ),
    _spec(
        "lost_active_users_30d",
        "Users active 31-60 days ago but not in the last 30 days",
        "count",
        "{value} users stopped using the product in the last 30 days",
    ),
    _spec(
        "stickiness_30d",
        "Average daily active users over 30-day active users (DAU/MAU)",
        "fraction",
        "Daily use is {value} of monthly users (DAU/MAU)",
    ),
    _spec(
        "top_user_share_30d",
        "Share of the last 30 days' events made by the busiest user",
        "fraction",
        "One user makes {value} of all usage",
    ),
    _spec(
        "seat_utilization_vs_segment",
        "Seat utilisation against the segment's mean at the snapshot",
        "ratio",
        "Seat utilisation is {value} the segment average",
    ),
    _spec(
        "events_7d",
        "Product events in the last 7 days",
        "count",
        "{value} events in the last 7 days",
    ),
    _spec(
        "events_90d",
        "Product events in the last 90 days",
        "count",
        "{value} events in the last 90 days",
    ),
    _spec(
        "events_180d",
        "Product events in the last 180 days",
        "count",
        "{value} events in the last 180 days",
    ),
    _spec(
        "events_vs_history_180d",
        "Events in the last 30 days against the 30-day average of the last 180 days",
        "ratio",
        "Usage is at {value} of its 6-month average",
    ),
    _spec(
        "events_slope_90d",
        "Linear trend of daily events over 90 days, per 30 days, relative to the mean",
        "change",
        "Usage {direction} {abs_pct} a month over 90 days",
    ),
    _spec(
        "events_per_active_user_30d",
        "Events per active user in the last 30 days",
        "count",
        "{value} events per active user",
    ),
    _spec(
        "quantity_30d",
        "Sum of event quantities in the last 30 days (null read as 1)",
        "units",
        "{value} units of activity in the last 30 days",
    ),
    _spec(
        "core_breadth_90d",
        "Share of core features used in the last 90 days",
        "fraction",
        "{value} of core features used in the last 90 days",
    ),
    _spec(
        "core_breadth_change_30d",
        "Core features used in the last 30 days minus the 30 "
        "before, over the number of core features",
        "change",
        "Core-feature breadth {direction} {abs_pct} against the previous month",
    ),
    _spec(
        "core_users_30d",
        "Users active in core features in the last 30 days",
        "count",
        "{value} users active in core features",
    ),
    _spec(
        "core_event_share_30d",
        "Share of users' product events in the last 30 days that were in core features",
        "fraction",
        "{value} of users' activity in the last 30 days was in core features",
    ),
    _spec(
        "core_event_share_90d",
        "Share of users' product events in the last 90 days that were in core features",
        "fraction",
        "{value} of users' activity in the last 90 days was in core features",
    ),
    _spec(
        "departments_active_30d",
        "Departments with an active user in the last 30 days",
        "count",
        "{value} departments use the product",
        requires=("users",),
    ),
    _spec(
        "departments_change_30d",
        "Departments active in the last 30 days minus the 30 before",
        "count",
        "Departments using the product changed by {value}",
        requires=("users",),
    ),
    _spec(
        "provisioned_users",
        "Users provisioned and not deactivated",
        "count",
        "{value} provisioned users",
        requires=("users",),
    ),
    _spec(
        "users_deactivated_90d",
        "Users deactivated in the last 90 days",
        "count",
        "{value} users deactivated in the last 90 days",
        requires=("users",),
    ),
]

COLUMN_NEEDS: dict[str, tuple[str, ...]] = {
    "seat_utilization_30d": ("subscriptions.seats",),
    "seat_utilization_vs_segment": ("subscriptions.seats", "events.user_id"),
    "active_users_change_30d": ("events.user_id",),
    "stickiness_30d": ("events.user_id",),
    "events_per_active_user_30d": ("events.user_id",),
    "core_event_share_30d": ("events.user_id",),
    "core_event_share_90d": ("events.user_id",),
}
"""See ``features.transforms.column_needs``."""

# sum(x) and sum(x^2) of x = -age over ages 1..n: constants of the least-squares slope.
_N = SLOPE_DAYS
_SX = -_N * (_N + 1) / 2
_SXX = _N * (_N + 1) * (2 * _N + 1) / 6


def _account_level(inputs: FeatureInputs) -> ir.Table:
    us = inputs.user_segments
    # No feature scan: the core features ride in the user scan's bits.
    with_bits = inputs.feature_segments is None
    # Users' events only (system events have no user and say nothing about adoption).
    named = us.user_id.notnull()
    per_segment = {
        "n_events": us.n_events.sum(),
        "user_events": us.n_events.sum(where=named),
        "core_events": us.core_events.sum(where=named),
        "quantity": exact_sum(us.quantity),
        "day_num_sum": us.day_num_sum.sum(),
    }
    if with_bits:
        per_segment["core_bits"] = us.core_bits.bit_or()
    segments = us.group_by("account_id", "segment_id").agg(**per_segment)
    w = windowed_segments(segments, inputs.segment_windows, 180)
    in_30 = in_segment_window(w, 30)
    in_90 = in_segment_window(w, 90)
    # Sum of n * age over the segment's events: t * n - sum(day numbers), exact integers.
    age_sum = w.snapshot_num * w.n_events - w.day_num_sum
    sums = {
        "events_7d": w.n_events.sum(where=in_segment_window(w, 7)),
        "events_30d": w.n_events.sum(where=in_30),
        "events_31_90d": w.n_events.sum(where=in_segment_window(w, 90, after=30)),
        "events_90d": w.n_events.sum(where=in_90),
        "events_180d": w.n_events.sum(),
        "quantity_30d": exact_sum(w.quantity, in_30),
        "user_events_30d": w.user_events.sum(where=in_30),
        "user_events_90d": w.user_events.sum(where=in_90),
        "core_events_30d": w.core_events.sum(where=in_30),
        "core_events_90d": w.core_events.sum(where=in_90),
        "age_weighted_90d": age_sum.sum(where=in_90),
    }
    if with_bits:
        # Core features used in a window: the set bits of the OR of its segments' bits.
        sums["core_bits_30d"] = w.core_bits.bit_or(where=in_30)
        sums["core_bits_31_60d"] = w.core_bits.bit_or(where=in_segment_window(w, 60, after=30))
        sums["core_bits_90d"] = w.core_bits.bit_or(where=in_90)
    out = w.group_by(list(KEYS)).agg(**sums)
    if with_bits:
        for window in ("30d", "31_60d", "90d"):
            out = with_popcount(out, f"core_bits_{window}", f"core_features_{window}")
    return out


def _user_level(inputs: FeatureInputs) -> ir.Table:
    per_user = inputs.user_windows
    in_30 = per_user.in_30 == 1
    in_prev = per_user.in_31_60 == 1
    return per_user.group_by(list(KEYS)).agg(
        active_users_7d=per_user.in_7.sum(),
        active_users_30d=per_user.in_30.sum(),
        active_users_60d=per_user.user_id.count(),
        active_users_31_60d=per_user.in_31_60.sum(),
        new_active_users_30d=(in_30 & ~in_prev).cast("int64").sum(),
        lost_active_users_30d=(in_prev & ~in_30).cast("int64").sum(),
        top_user_events_30d=per_user.events_30.max(),
        user_days_30d=per_user.days_30.sum(),
        core_users_30d=per_user.core_30.sum(),
    )


def _core_denominators(inputs: FeatureInputs) -> ir.Table:
    """The number of core features per snapshot date."""
    dates = inputs.frame.select("snapshot_date").distinct()
    if inputs.has("feature_catalog"):
        catalog = inputs.table("feature_catalog")
        return dates.mutate(n_core=catalog.is_core.cast("int64").sum())
    # No catalog: every feature is core; the denominator counts the distinct features seen
    # in all accounts' events before t: those whose first segment ends by t.
    fs = inputs.feature_segments
    assert fs is not None, "without a catalog the pipeline scans the features used"
    first_seen = fs.group_by("feature").agg(first_segment=fs.segment_id.min())
    seen = first_seen.join(
        inputs.segment_windows, first_seen.first_segment == inputs.segment_windows.segment_id
    )
    seen = dates.join(seen, "snapshot_date")
    return seen.group_by("snapshot_date").agg(n_core=seen.feature.count())


def _core_breadth_from_scan(inputs: FeatureInputs, fs: ir.Table) -> ir.Table:
    """Distinct core features used per snapshot, from the (account, feature, segment) scan."""
    if inputs.has("feature_catalog"):
        catalog = inputs.table("feature_catalog")
        fs = fs.filter(fs.feature.isin(catalog.filter(catalog.is_core).feature))
    w = windowed_segments(fs, inputs.segment_windows, 90)
    # Flags per feature, then sums: cheaper than three filtered count-distincts.
    per_feature = w.group_by([*KEYS, "feature"]).agg(
        in_30=in_segment_window(w, 30).cast("int64").max(),
        in_31_60=in_segment_window(w, 60, after=30).cast("int64").max(),
    )
    return per_feature.group_by(list(KEYS)).agg(
        core_features_30d=per_feature.in_30.sum(),
        core_features_31_60d=per_feature.in_31_60.sum(),
        core_features_90d=per_feature.count(),
    )


def _departments(inputs: FeatureInputs) -> ir.Table:
    per_user = inputs.user_windows
    users = inputs.table("users")
    dept = users.select("user_id", dept_account="account_id", department="department")
    joined = per_user.join(
        dept,
        [per_user.user_id == dept.user_id, per_user.account_id == dept.dept_account],
    )
    named = joined.filter(joined.department.notnull())
    per_department = named.group_by([*KEYS, "department"]).agg(
        in_30=named.in_30.max(), in_31_60=named.in_31_60.max()
    )
    departments = per_department.group_by(list(KEYS)).agg(
        departments_active_30d=per_department.in_30.sum(),
        departments_31_60d=per_department.in_31_60.sum(),
    )
    frame = inputs.frame
    provisioned_users = users.select(
        u_account="account_id", created_at="created_at", deactivated_at="deactivated_at"
    )
    roster = frame.join(
        provisioned_users,
        [
            frame.account_id == provisioned_users.u_account,
            provisioned_users.created_at < frame.snapshot_ts,
        ],
    )
    deactivated = roster.deactivated_at
    provisioned = roster.group_by(list(KEYS)).agg(
        provisioned_users=(deactivated.isnull() | (deactivated >= roster.snapshot_ts))
        .cast("int64")
        .sum(),
        users_deactivated_90d=(
            deactivated.notnull()
            & (deactivated >= roster.start_90d.cast("timestamp"))
            & (deactivated < roster.snapshot_ts)
        )
        .cast("int64")
        .sum(),
    )
    return departments.outer_join(provisioned, list(KEYS)).select(
        account_id=ibis.coalesce(ibis._.account_id, ibis._.account_id_right),
        snapshot_date=ibis.coalesce(ibis._.snapshot_date, ibis._.snapshot_date_right),
        departments_active_30d=ibis._.departments_active_30d,
        departments_31_60d=ibis._.departments_31_60d,
        provisioned_users=ibis._.provisioned_users,
        users_deactivated_90d=ibis._.users_deactivated_90d,
    )


def build(inputs: FeatureInputs) -> ir.Table:
    account_level = _account_level(inputs)
    user_level = _user_level(inputs)
    seats = mrr_and_seats(inputs.frame, inputs.table("subscriptions"), "day_before").select(
        *KEYS, "seats"
    )
    counts = [
        "events_7d",
        "events_30d",
        "events_31_90d",
        "events_90d",
        "events_180d",
        "quantity_30d",
        "age_weighted_90d",
        "user_events_30d",
        "user_events_90d",
        "core_events_30d",
        "core_events_90d",
    ]
    user_counts = [
        "active_users_7d",
        "active_users_30d",
        "active_users_60d",
        "active_users_31_60d",
        "new_active_users_30d",
        "lost_active_users_30d",
        "top_user_events_30d",
        "user_days_30d",
        "core_users_30d",
    ]
    breadth = ["core_features_30d", "core_features_31_60d", "core_features_90d"]
    if inputs.feature_segments is None:
        out = attach(inputs.rows, account_level, [*counts, *breadth])
    else:
        out = attach(inputs.rows, account_level, counts)
        out = attach(out, _core_breadth_from_scan(inputs, inputs.feature_segments), breadth)
    out = attach(out, user_level, user_counts)
    out = attach(out, seats)
    out = out.left_join(_core_denominators(inputs), "snapshot_date")
    out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    if inputs.has("users"):
        out = attach(
            out,
            _departments(inputs),
            [
                "departments_active_30d",
                "departments_31_60d",
                "provisioned_users",
                "users_deactivated_90d",
            ],
        )
        departments = {
            "departments_active_30d": out.departments_active_30d.cast("float64"),
            "departments_change_30d": (out.departments_active_30d - out.departments_31_60d).cast(
                "float64"
            ),
            "provisioned_users": out.provisioned_users.cast("float64"),
            "users_deactivated_90d": out.users_deactivated_90d.cast("float64"),
        }
    else:
        departments = {
            name: ibis.null("float64")
            for name in (
                "departments_active_30d",
                "departments_change_30d",
                "provisioned_users",
                "users_deactivated_90d",
            )
        }

    utilization = ibis.ifelse(
        out.seats.isnull() | (out.seats == 0),
        ibis.null("float64"),
        out.active_users_30d.cast("float64") / out.seats.cast("float64"),
    )
    mean_daily_90 = out.events_90d.cast("float64") / _N
    # Least-squares slope of daily events on x = -age over the 90 days before t.
    sxy = -out.age_weighted_90d.cast("float64")
    slope = (_N * sxy - _SX * out.events_90d.cast("float64")) / (_N * _SXX - _SX * _SX)
    n_core = out.n_core.cast("float64")
    result = out.select(
        *KEYS,
        active_users_30d=out.active_users_30d.cast("float64"),
        seat_utilization_30d=utilization,
        core_breadth_30d=safe_div(out.core_features_30d, n_core),
        events_30d=out.events_30d.cast("float64"),
        events_trend_30_90=safe_div(out.events_30d, out.events_31_90d.cast("float64") / 2),
        active_users_7d=out.active_users_7d.cast("float64"),
        active_users_60d=out.active_users_60d.cast("float64"),
        active_users_change_30d=safe_div(
            out.active_users_30d - out.active_users_31_60d, out.active_users_31_60d
        ),
        new_active_users_30d=out.new_active_users_30d.cast("float64"),
        lost_active_users_30d=out.lost_active_users_30d.cast("float64"),
        stickiness_30d=safe_div(out.user_days_30d.cast("float64") / 30, out.active_users_30d),
        top_user_share_30d=safe_div(out.top_user_events_30d, out.events_30d),
        events_7d=out.events_7d.cast("float64"),
        events_90d=out.events_90d.cast("float64"),
        events_180d=out.events_180d.cast("float64"),
        events_vs_history_180d=safe_div(out.events_30d, out.events_180d.cast("float64") / 6),
        events_slope_90d=safe_div(slope * 30, mean_daily_90),
        events_per_active_user_30d=safe_div(out.events_30d, out.active_users_30d),
        quantity_30d=out.quantity_30d.cast("float64"),
        core_breadth_90d=safe_div(out.core_features_90d, n_core),
        core_breadth_change_30d=safe_div(out.core_features_30d - out.core_features_31_60d, n_core),
        core_users_30d=out.core_users_30d.cast("float64"),
        core_event_share_30d=safe_div(out.core_events_30d, out.user_events_30d),
        core_event_share_90d=safe_div(out.core_events_90d, out.user_events_90d),
        **departments,
    )
    segment_of = inputs.table("accounts").select(seg_account="account_id", seg="segment")
    with_segment = result.left_join(segment_of, result.account_id == segment_of.seg_account)
    segment_mean = exact_window_mean(
        with_segment.seat_utilization_30d,
        ibis.window(group_by=[with_segment.seg.fill_null("unknown"), with_segment.snapshot_date]),
    )
    with_segment = with_segment.mutate(
        seat_utilization_vs_segment=safe_div(with_segment.seat_utilization_30d, segment_mean)
    )
    return with_segment.select(*[f.name for f in FEATURES], *KEYS).select(
        *KEYS, *[f.name for f in FEATURES]
    )
