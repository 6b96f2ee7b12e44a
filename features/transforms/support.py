"""Support pain: open high-priority tickets, backlog and its age, urgent volume, fix speed.

A ticket is open at t when opened_at < t and (closed_at is null or closed_at >= t)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, spec_maker
from features.transforms.base import KEYS, FeatureInputs, attach, nulls_for, seconds_between

FAMILY: Family = "support"
HIGH = ("urgent", "high")
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_HOUR = 3_600.0


_spec = spec_maker(FAMILY, requires=("tickets",))


FEATURES = [
    _spec(
        "open_high_tickets",
        "Urgent or high-priority tickets open at the snapshot",
        "count",
        "{value} urgent or high-priority ticket(s) open",
        canonical=True,
    ),
    _spec(
        "open_tickets",
        "Tickets of any priority open at the snapshot (backlog)",
        "count",
        "{value} ticket(s) open",
    ),
    _spec(
        "open_ticket_age_days_max",
        "Age of the oldest open ticket",
        "days",
        "The oldest open ticket is {value} old",
    ),
    _spec(
        "open_ticket_age_days_mean",
        "Mean age of the open tickets",
        "days",
        "Open tickets are {value} old on average",
    ),
    _spec(
        "tickets_30d",
        "Tickets opened in the last 30 days",
        "count",
        "{value} ticket(s) opened in the last 30 days",
    ),
    _spec(
        "tickets_90d",
        "Tickets opened in the last 90 days",
        "count",
        "{value} ticket(s) opened in the last 90 days",
    ),
    _spec(
        "urgent_tickets_90d",
        "Urgent tickets opened in the last 90 days",
        "count",
        "{value} urgent ticket(s) in the last 90 days",
    ),
    _spec(
        "tickets_trend_30_90",
        "Tickets opened in the last 30 days against the 30-day average of the 60 days before",
        "ratio",
        "Ticket volume is at {value} of its earlier level",
    ),
    _spec(
        "resolution_hours_90d",
        "Mean hours to close the tickets closed in the last 90 days",
        "count",
        "Tickets took {value} hours to close on average",
    ),
]

COLUMN_NEEDS: dict[str, tuple[str, ...]] = {
    "resolution_hours_90d": ("tickets.closed_at",),
}
"""See ``features.transforms.column_needs``."""


def build(inputs: FeatureInputs) -> ir.Table:
    if not inputs.has("tickets"):
        return nulls_for(inputs.rows, FEATURES)
    tickets = inputs.table("tickets").rename(k_account="account_id")
    frame = inputs.frame
    known = frame.join(
        tickets,
        [frame.account_id == tickets.k_account, tickets.opened_at < frame.snapshot_ts],
    )
    t = known.snapshot_ts
    is_open = known.closed_at.isnull() | (known.closed_at >= t)
    high = known.priority.isin(HIGH)
    age_days = seconds_between(t, known.opened_at) / SECONDS_PER_DAY
    opened_since = {n: known.opened_at >= known[f"start_{n}d"].cast("timestamp") for n in (30, 90)}
    closed_90 = (
        known.closed_at.notnull()
        & (known.closed_at < t)
        & (known.closed_at >= known.start_90d.cast("timestamp"))
    )
    resolution_hours = seconds_between(known.closed_at, known.opened_at) / SECONDS_PER_HOUR
    counts = known.group_by(list(KEYS)).agg(
        open_high_tickets=(is_open & high).cast("int64").sum(),
        open_tickets=is_open.cast("int64").sum(),
        open_ticket_age_days_max=age_days.max(where=is_open),
        open_ticket_age_days_mean=age_days.mean(where=is_open),
        tickets_30d=opened_since[30].cast("int64").sum(),
        tickets_90d=opened_since[90].cast("int64").sum(),
        urgent_tickets_90d=(opened_since[90] & (known.priority == "urgent")).cast("int64").sum(),
        resolution_hours_90d=resolution_hours.mean(where=closed_90),
    )
    zero = ["open_high_tickets", "open_tickets", "tickets_30d", "tickets_90d", "urgent_tickets_90d"]
    out = attach(inputs.rows, counts, zero)
    earlier = (out.tickets_90d - out.tickets_30d).cast("float64") / 2
    return out.select(
        *KEYS,
        open_high_tickets=out.open_high_tickets.cast("float64"),
        open_tickets=out.open_tickets.cast("float64"),
        open_ticket_age_days_max=out.open_ticket_age_days_max,
        open_ticket_age_days_mean=out.open_ticket_age_days_mean,
        tickets_30d=out.tickets_30d.cast("float64"),
        tickets_90d=out.tickets_90d.cast("float64"),
        urgent_tickets_90d=out.urgent_tickets_90d.cast("float64"),
        tickets_trend_30_90=ibis.ifelse(
            earlier == 0, ibis.null("float64"), out.tickets_30d.cast("float64") / earlier
        ),
        resolution_hours_90d=out.resolution_hours_90d,
    )
