"""Churn and expansion labels, exactly as the data contract defines them (section 2 and 3).

- churn date: a day e not covered, covered on e - 1, with no subscription covering any day
  of [e, e + grace). Subscriptions are merged into islands of coverage whose gaps are
  shorter than the grace period; each island's last end_date is a churn date.
- ``churn_{H}d`` = 1 if a churn date falls in [t, t + H); null when t + H + grace > as-of.
- ``expand_{H}d`` = 1 if MRR(d) > 0 and MRR(d) >= 1.10 * MRR(t - 1) on some d in [t, t + H)
  (relative tolerance 1e-9); null when t + H > as-of.
- time to churn (``churn_times``): ``churn_days`` = days from t to the first churn date
  e >= t with ``churn_observed`` = 1 when that churn is confirmed by the as-of date
  (e + grace <= as-of: no cover on any day of [e, e + grace) is then known); otherwise the
  row is censored: ``churn_days`` = (as-of - grace) - t, the last day a churn could be
  confirmed, and ``churn_observed`` = 0. Both are null when as-of - grace < t (nothing can be
  confirmed yet). Where ``churn_{H}d`` is known it equals churn_observed and churn_days < H.

Labels look at the future on purpose; nothing here may feed a feature.
"""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import ibis.expr.types as ir

EXPANSION_FACTOR = 1.10
RELATIVE_TOLERANCE = 1e-9


def churn_dates(subscriptions: ir.Table, grace_days: int) -> ir.Table:
    """(account_id, churn_date): the end of every island of coverage."""
    return coverage_islands(subscriptions, grace_days).select("account_id", "churn_date")


def coverage_islands(subscriptions: ir.Table, grace_days: int) -> ir.Table:
    """(account_id, island, island_start, churn_date): the account is a customer on the days
    [island_start, churn_date); islands are numbered 1, 2, ... per account in time order."""
    subs = subscriptions.select("subscription_id", "account_id", "start_date", "end_date")
    ordered = ibis.window(
        group_by=subs.account_id,
        order_by=[subs.start_date, subs.end_date, subs.subscription_id],
        rows=(None, -1),
    )
    # The last day covered so far is the latest end among the earlier-starting lines.
    with_prev = subs.mutate(prev_end=subs.end_date.max().over(ordered))
    gap_days = with_prev.start_date.delta(with_prev.prev_end, unit="day")
    starts_island = (with_prev.prev_end.isnull() | (gap_days >= grace_days)).cast("int64")
    numbered = with_prev.mutate(
        island=starts_island.sum().over(
            ibis.window(
                group_by=with_prev.account_id,
                order_by=[with_prev.start_date, with_prev.end_date, with_prev.subscription_id],
                rows=(None, 0),
            )
        )
    )
    return numbered.group_by("account_id", "island").agg(
        island_start=numbered.start_date.min(), churn_date=numbered.end_date.max()
    )


def mrr_on(subscriptions: ir.Table, days: ir.Table, day_column: str) -> ir.Table:
    """Account MRR on ``days[day_column]`` for each row of ``days`` (keyed by account_id).

    Returns the columns of ``days`` plus ``mrr_on_day`` (0 when no line covers the day)."""
    subs = subscriptions.select(
        sub_account=subscriptions.account_id,
        sub_start=subscriptions.start_date,
        sub_end=subscriptions.end_date,
        sub_mrr=subscriptions.mrr,
    )
    joined = days.left_join(
        subs,
        [
            days.account_id == subs.sub_account,
            subs.sub_start <= days[day_column],
            subs.sub_end > days[day_column],
        ],
    )
    keys = list(days.columns)
    return joined.group_by(keys).agg(mrr_on_day=joined.sub_mrr.sum().fill_null(0.0))


def churn_labels(
    rows: ir.Table, cal: ir.Table, subscriptions: ir.Table, grace_days: int, name: str
) -> ir.Table:
    """(account_id, snapshot_date, ``name``) for each snapshot row."""
    churns = churn_dates(subscriptions, grace_days)
    framed = rows.join(cal.select("snapshot_date", "horizon_end", "churn_known"), "snapshot_date")
    hits = framed.join(
        churns,
        [
            framed.account_id == churns.account_id,
            churns.churn_date >= framed.snapshot_date,
            churns.churn_date < framed.horizon_end,
        ],
    )
    hit_keys = hits.select("account_id", "snapshot_date").distinct().mutate(hit=ibis.literal(1))
    out = framed.left_join(hit_keys, ["account_id", "snapshot_date"])
    value = ibis.ifelse(out.churn_known, out.hit.fill_null(0), ibis.null("int64"))
    return out.select("account_id", "snapshot_date", **{name: value.cast("int64")})


def expansion_labels(rows: ir.Table, cal: ir.Table, subscriptions: ir.Table, name: str) -> ir.Table:
    """(account_id, snapshot_date, ``name``) for each snapshot row.

    MRR is a step function that changes only on start and end dates, so the days to check
    in [t, t + H) are t itself and every start/end date strictly inside the window."""
    framed = rows.join(
        cal.select("snapshot_date", "day_before", "horizon_end", "expand_known"), "snapshot_date"
    )
    base = mrr_on(
        subscriptions, framed.select("account_id", "snapshot_date", "day_before"), "day_before"
    )
    changes = (
        subscriptions.select("account_id", day=subscriptions.start_date)
        .union(subscriptions.select("account_id", day=subscriptions.end_date))
        .distinct()
    )
    inside = framed.join(
        changes,
        [
            framed.account_id == changes.account_id,
            changes.day > framed.snapshot_date,
            changes.day < framed.horizon_end,
        ],
    ).select("account_id", "snapshot_date", "day")
    candidates = inside.union(
        framed.select("account_id", "snapshot_date", day=framed.snapshot_date)
    )
    levels = mrr_on(subscriptions, candidates, "day")
    peak = levels.group_by("account_id", "snapshot_date").agg(peak_mrr=levels.mrr_on_day.max())
    out = framed.join(base, ["account_id", "snapshot_date"]).join(
        peak, ["account_id", "snapshot_date"]
    )
    threshold = out.mrr_on_day * EXPANSION_FACTOR * (1.0 - RELATIVE_TOLERANCE)
    expanded = ((out.peak_mrr > 0) & (out.peak_mrr >= threshold)).cast("int64")
    value = ibis.ifelse(out.expand_known, expanded, ibis.null("int64"))
    return out.select("account_id", "snapshot_date", **{name: value.cast("int64")})


def label_table(
    rows: ir.Table,
    cal: ir.Table,
    subscriptions: ir.Table,
    horizon_days: int,
    grace_days: int,
) -> ir.Table:
    """(account_id, snapshot_date, churn_{H}d, expand_{H}d) for each snapshot row."""
    churn_name, expand_name = f"churn_{horizon_days}d", f"expand_{horizon_days}d"
    churn = churn_labels(rows, cal, subscriptions, grace_days, churn_name)
    expand = expansion_labels(rows, cal, subscriptions, expand_name)
    return churn.join(expand, ["account_id", "snapshot_date"]).select(
        "account_id", "snapshot_date", churn_name, expand_name
    )


def churn_times(rows: ir.Table, subscriptions: ir.Table, as_of: date, grace_days: int) -> ir.Table:
    """(account_id, snapshot_date, churn_days, churn_observed) for each snapshot row.

    ``churn_days`` counts days from the snapshot t to the first churn date on or after t when
    that churn is confirmed by ``as_of`` (``churn_observed`` = 1), else to ``as_of - grace``,
    the censoring time (``churn_observed`` = 0); both null when ``as_of - grace < t``."""
    confirm_by = ibis.literal(as_of - timedelta(days=grace_days), type="date")
    churns = churn_dates(subscriptions, grace_days)
    hits = rows.join(
        churns,
        [
            rows.account_id == churns.account_id,
            churns.churn_date >= rows.snapshot_date,
            churns.churn_date <= confirm_by,
        ],
    )
    first = hits.group_by("account_id", "snapshot_date").agg(first_churn=hits.churn_date.min())
    out = rows.select("account_id", "snapshot_date").left_join(
        first, ["account_id", "snapshot_date"]
    )
    censor_days = confirm_by.delta(out.snapshot_date, unit="day")
    observable = censor_days >= 0
    observed = out.first_churn.notnull()
    days = ibis.ifelse(observed, out.first_churn.delta(out.snapshot_date, unit="day"), censor_days)
    return out.select(
        "account_id",
        "snapshot_date",
        churn_days=ibis.ifelse(observable, days, ibis.null("int64")).cast("int64"),
        churn_observed=ibis.ifelse(observable, observed.cast("int64"), ibis.null("int64")).cast(
            "int64"
        ),
    )
