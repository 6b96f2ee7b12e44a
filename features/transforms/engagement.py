"""CS engagement: QBRs, meetings, trainings, onboarding milestones; and escalations (recorded
as CS activities, in the support family)."""

from __future__ import annotations

import ibis.expr.types as ir

from features.metadata import Family, FeatureSpec, spec_maker
from features.transforms.base import KEYS, FeatureInputs, attach, days_between, nulls_for

FAMILY: Family = "engagement"
ONBOARDING_DAYS = 90


_spec = spec_maker(FAMILY, requires=("activities",))


FEATURES = [
    _spec(
        "days_since_last_qbr",
        "Days since the last quarterly business review",
        "days",
        "Last QBR {value} ago",
    ),
    _spec(
        "days_since_last_cs_touch",
        "Days since any CS activity",
        "days",
        "Last CS touch {value} ago",
    ),
    _spec(
        "cs_activities_90d",
        "CS activities in the last 90 days",
        "count",
        "{value} CS activities in the last 90 days",
    ),
    _spec(
        "trainings_180d",
        "Trainings in the last 180 days",
        "count",
        "{value} training(s) in six months",
    ),
    # An escalation is recorded as a CS activity but shows support pain (urgent tickets, slow
    # fixes: the play is an escalation review with support), so its family is support.
    FeatureSpec(
        "escalations_90d",
        "support",
        "Escalations in the last 90 days",
        "count",
        "{value} escalation(s) in the last 90 days",
        requires=("activities",),
    ),
    _spec(
        "onboarding_milestones_first_90d",
        "Onboarding milestones done in the account's first 90 days (so far)",
        "count",
        "{value} onboarding milestone(s) reached in the first 90 days",
    ),
]


def build(inputs: FeatureInputs) -> ir.Table:
    if not inputs.has("activities"):
        return nulls_for(inputs.rows, FEATURES)
    activities = inputs.table("activities").rename(a_account="account_id")
    subs = inputs.table("subscriptions")
    first_start = subs.group_by("account_id").agg(first_start=subs.start_date.min())
    frame = inputs.frame.join(first_start, "account_id")
    known = frame.join(
        activities,
        [frame.account_id == activities.a_account, activities.date < frame.snapshot_date],
    )
    kind = known.kind
    since = {n: known.date >= known[f"start_{n}d"] for n in (90, 180)}
    in_onboarding = days_between(known.date, known.first_start) < ONBOARDING_DAYS
    agg = known.group_by(list(KEYS)).agg(
        last_qbr=known.date.max(where=kind == "qbr"),
        last_touch=known.date.max(),
        cs_activities_90d=since[90].cast("int64").sum(),
        trainings_180d=(since[180] & (kind == "training")).cast("int64").sum(),
        escalations_90d=(since[90] & (kind == "escalation")).cast("int64").sum(),
        onboarding_milestones_first_90d=((kind == "onboarding_milestone") & in_onboarding)
        .cast("int64")
        .sum(),
    )
    counts = [
        "cs_activities_90d",
        "trainings_180d",
        "escalations_90d",
        "onboarding_milestones_first_90d",
    ]
    out = attach(inputs.rows, agg, counts)
    return out.select(
        *KEYS,
        days_since_last_qbr=days_between(out.snapshot_date, out.last_qbr).cast("float64"),
        days_since_last_cs_touch=days_between(out.snapshot_date, out.last_touch).cast("float64"),
        **{name: out[name].cast("float64") for name in counts},
    )
