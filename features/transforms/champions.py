"""Champions: departures and arrivals of key contacts, and whether they still use the product.

Contacts starting on or after the as-of date are already out of the validated table; an
``end_date`` on or after t means the contact was still in role at t."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, spec_maker
from features.transforms.activity import USER_WINDOW_DAYS
from features.transforms.base import KEYS, FeatureInputs, attach, days_between, nulls_for

FAMILY: Family = "champions"
ACTIVITY_LOOKBACK_DAYS = USER_WINDOW_DAYS


_spec = spec_maker(FAMILY, requires=("contacts",))


FEATURES = [
    _spec(
        "champion_departures_90d",
        "Champions whose role ended in the last 90 days",
        "count",
        "{value} champion(s) left in the last 90 days",
        canonical=True,
    ),
    _spec(
        "active_champions",
        "Champions in role at the snapshot",
        "count",
        "{value} active champion(s)",
        canonical=True,
    ),
    _spec(
        "champion_arrivals_90d",
        "Champions who started in the last 90 days",
        "count",
        "{value} new champion(s) in the last 90 days",
    ),
    _spec(
        "champion_departures_365d",
        "Champions whose role ended in the last 365 days",
        "count",
        "{value} champion(s) left in the last year",
    ),
    _spec(
        "days_since_champion_change",
        "Days since a champion last started or left",
        "days",
        "Last champion change {value} ago",
    ),
    _spec(
        "champion_days_since_active",
        "Days since an active champion last used the product (61 when none did in 60 days)",
        "days",
        "Champions last used the product {value} ago",
    ),
    _spec(
        "active_exec_sponsors",
        "Executive sponsors in role at the snapshot",
        "count",
        "{value} executive sponsor(s) in role",
    ),
    _spec(
        "days_since_exec_sponsor_contact",
        "Days since an executive sponsor last used the product or answered a survey",
        "days",
        "Executive sponsor last engaged {value} ago",
    ),
    _spec(
        "contacts_active",
        "Stakeholder contacts in role at the snapshot",
        "count",
        "{value} stakeholder contacts",
    ),
]

COLUMN_NEEDS: dict[str, tuple[str, ...]] = {
    "champion_days_since_active": ("contacts.user_id",),
}
"""See ``features.transforms.column_needs``."""


def build(inputs: FeatureInputs) -> ir.Table:
    if not inputs.has("contacts"):
        return nulls_for(inputs.rows, FEATURES)
    contacts = inputs.table("contacts").rename(c_account="account_id", c_user="user_id")
    frame = inputs.frame
    known = frame.join(
        contacts,
        [frame.account_id == contacts.c_account, contacts.start_date < frame.snapshot_date],
    )
    t = known.snapshot_date
    in_role = known.end_date.isnull() | (known.end_date >= t)
    champion = known.role == "champion"
    ended_in = known.end_date.notnull() & (known.end_date < t)
    started_90 = known.start_date >= known.start_90d
    last_change = ibis.greatest(
        known.start_date, ibis.ifelse(ended_in, known.end_date, known.start_date)
    )
    counts = known.group_by(list(KEYS)).agg(
        champion_departures_90d=(champion & ended_in & (known.end_date >= known.start_90d))
        .cast("int64")
        .sum(),
        champion_departures_365d=(champion & ended_in & (known.end_date >= known.start_365d))
        .cast("int64")
        .sum(),
        active_champions=(champion & in_role).cast("int64").sum(),
        champion_arrivals_90d=(champion & started_90).cast("int64").sum(),
        last_champion_change=last_change.max(where=champion),
        active_exec_sponsors=((known.role == "executive_sponsor") & in_role).cast("int64").sum(),
        contacts_active=in_role.cast("int64").sum(),
    )
    out = attach(
        inputs.rows,
        counts,
        [
            "champion_departures_90d",
            "champion_departures_365d",
            "active_champions",
            "champion_arrivals_90d",
            "active_exec_sponsors",
            "contacts_active",
        ],
    )
    out = attach(out, _champion_activity(inputs, contacts))
    out = attach(out, _exec_sponsor_touch(inputs, contacts))
    return out.select(
        *KEYS,
        champion_departures_90d=out.champion_departures_90d.cast("float64"),
        active_champions=out.active_champions.cast("float64"),
        champion_arrivals_90d=out.champion_arrivals_90d.cast("float64"),
        champion_departures_365d=out.champion_departures_365d.cast("float64"),
        days_since_champion_change=days_between(out.snapshot_date, out.last_champion_change).cast(
            "float64"
        ),
        champion_days_since_active=out.champion_days_since_active.cast("float64"),
        active_exec_sponsors=out.active_exec_sponsors.cast("float64"),
        days_since_exec_sponsor_contact=out.days_since_exec_sponsor_contact.cast("float64"),
        contacts_active=out.contacts_active.cast("float64"),
    )


def _champion_activity(inputs: FeatureInputs, contacts: ir.Table) -> ir.Table:
    """Days since any in-role champion with a login was last active (61 when not in 60 days)."""
    frame = inputs.frame
    champions = contacts.filter((contacts.role == "champion") & contacts.c_user.notnull())
    in_role = frame.join(
        champions,
        [
            frame.account_id == champions.c_account,
            champions.start_date < frame.snapshot_date,
            champions.end_date.isnull() | (champions.end_date >= frame.snapshot_date),
        ],
    ).select(*KEYS, user_id="c_user")
    last = inputs.user_windows.select(*KEYS, "user_id", age="last_age")
    joined = in_role.left_join(last, [*KEYS, "user_id"])
    cap = ACTIVITY_LOOKBACK_DAYS + 1
    return joined.group_by(list(KEYS)).agg(
        champion_days_since_active=joined.age.fill_null(cap).min()
    )


def _exec_sponsor_touch(inputs: FeatureInputs, contacts: ir.Table) -> ir.Table:
    """Days since an executive sponsor's last product use or survey answer before t."""
    frame = inputs.frame
    sponsors = contacts.filter(contacts.role == "executive_sponsor")
    touches = []
    logins = sponsors.filter(sponsors.c_user.notnull()).select("c_account", "c_user")
    # Segments never straddle a snapshot date, so a segment's last day is before t exactly
    # when the whole segment is: the latest of them is the last use before t.
    act = inputs.user_segments
    used = act.join(
        logins, [act.account_id == logins.c_account, act.user_id == logins.c_user]
    ).select(t_account="account_id", touch_day="last_day")
    touches.append(used)
    if inputs.has("surveys"):
        surveys = inputs.table("surveys")
        answered = surveys.join(
            sponsors.select("contact_id"), surveys.contact_id == sponsors.contact_id
        ).select(t_account="account_id", touch_day="date")
        touches.append(answered)
    all_touches = touches[0] if len(touches) == 1 else touches[0].union(touches[1])
    daily = all_touches.distinct()
    joined = frame.join(
        daily,
        [frame.account_id == daily.t_account, daily.touch_day < frame.snapshot_date],
    )
    last = joined.group_by(list(KEYS)).agg(last_touch=joined.touch_day.max())
    return last.select(
        *KEYS, days_since_exec_sponsor_contact=days_between(last.snapshot_date, last.last_touch)
    )
