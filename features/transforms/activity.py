"""Events reduced to the daily tables every usage transform reads (the only raw-event scans).

- ``user_days``: per (account_id, user_id, day): events, events in core features, quantity
  (null read as 1). System events (null user_id) form their own group per account and day.
- ``feature_days``: the distinct (account_id, feature, day) used.
- ``user_windows``: per (account_id, snapshot_date, user_id) with activity in the 60 days
  before t: flags and counts for the 7/30/31-60-day windows and the age of the last activity.

``day`` is the UTC date of ``ts``; since snapshots fall on midnights, ts < t exactly when
day < t, so windows over days equal windows over timestamps."""

from __future__ import annotations

import ibis.expr.types as ir

from features.transforms.base import KEYS, in_window, windowed

USER_WINDOW_DAYS = 60


def core_features(catalog: ir.Table | None) -> ir.Table | None:
    """The catalog's core features, or None when there is no catalog (every feature is core)."""
    if catalog is None:
        return None
    return catalog.filter(catalog.is_core).select("feature")


def user_days(events: ir.Table, core: ir.Table | None) -> ir.Table:
    # Without a catalog every feature is core (feature is never null in a validated table).
    is_core = events.feature.isin(core.feature) if core is not None else events.feature.notnull()
    return events.group_by("account_id", "user_id", day=events.ts.date()).agg(
        n_events=events.count(),
        core_events=is_core.cast("int64").sum(),
        quantity=events.quantity.fill_null(1.0).sum(),
    )


def feature_days(events: ir.Table) -> ir.Table:
    return events.select("account_id", "feature", day=events.ts.date()).distinct()


def user_windows(days: ir.Table, window_map: ir.Table) -> ir.Table:
    named = days.filter(days.user_id.notnull())
    w = windowed(named, "day", window_map, USER_WINDOW_DAYS)
    age = w.age_days
    in_30 = in_window(age, 30)
    return w.group_by([*KEYS, "user_id"]).agg(
        in_7=in_window(age, 7).cast("int64").max(),
        in_30=in_30.cast("int64").max(),
        in_31_60=in_window(age, 60, start=31).cast("int64").max(),
        core_30=(in_30 & (w.core_events > 0)).cast("int64").max(),
        events_30=w.n_events.sum(where=in_30),
        days_30=w.n_events.count(where=in_30),
        last_age=age.min(),
    )
