"""Lifecycle: tenure, days to renewal, stage (onboarding < 90 days; renewal < 90 days left)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, FeatureSpec
from features.transforms.base import KEYS, FeatureInputs, days_between
from features.transforms.commercial import covering_lines

FAMILY: Family = "lifecycle"
ONBOARDING_DAYS = 90
RENEWAL_DAYS = 90
FEATURES = [
    FeatureSpec(
        "tenure_days",
        FAMILY,
        "Days since the account's first subscription started",
        "days",
        "Customer for {value}",
        canonical=True,
    ),
    FeatureSpec(
        "days_to_renewal",
        FAMILY,
        "Days from the snapshot to the earliest end of a covering term",
        "days",
        "Renewal in {value}",
        canonical=True,
    ),
    FeatureSpec(
        "lifecycle_stage",
        FAMILY,
        "onboarding (first 90 days), renewal (last 90 days of a term) or adoption",
        "category",
        "In the {value} stage",
        kind="categorical",
        canonical=True,
    ),
    FeatureSpec(
        "term_length_days",
        FAMILY,
        "Length of the longest covering term",
        "days",
        "Current term lasts {value}",
    ),
    FeatureSpec(
        "terms_started",
        FAMILY,
        "Subscription lines started before the snapshot",
        "count",
        "{value} contract lines so far",
    ),
    FeatureSpec(
        "coverage_gaps",
        FAMILY,
        "Gaps between terms before the snapshot (renewals that came late)",
        "count",
        "{value} late renewals so far",
    ),
]


def lifecycle_stage(tenure_days: ir.IntegerValue, days_to_renewal: ir.IntegerValue) -> ir.Value:
    return ibis.cases(
        (tenure_days < ONBOARDING_DAYS, "onboarding"),
        (days_to_renewal < RENEWAL_DAYS, "renewal"),
        else_="adoption",
    )


def build(inputs: FeatureInputs) -> ir.Table:
    subs = inputs.table("subscriptions")
    frame = inputs.frame
    current = covering_lines(frame, subs, "day_before")
    term = current.group_by(list(KEYS)).agg(
        next_end=current.end_date.min(),
        term_length_days=days_between(current.end_date, current.start_date).max(),
    )
    renamed = subs.rename(sub_account_id="account_id")
    past = frame.join(
        renamed,
        [frame.account_id == renamed.sub_account_id, renamed.start_date < frame.snapshot_date],
    )
    # A gap: a line starting after every earlier line had ended.
    history = past.group_by(list(KEYS)).agg(
        first_start=past.start_date.min(), terms_started=past.subscription_id.count()
    )
    gaps = _coverage_gaps(frame, subs)
    out = inputs.rows.join(term, list(KEYS)).join(history, list(KEYS)).left_join(gaps, list(KEYS))
    out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    tenure = days_between(out.snapshot_date, out.first_start)
    to_renewal = days_between(out.next_end, out.snapshot_date)
    return out.select(
        *KEYS,
        tenure_days=tenure.cast("float64"),
        days_to_renewal=to_renewal.cast("float64"),
        lifecycle_stage=lifecycle_stage(tenure, to_renewal),
        term_length_days=out.term_length_days.cast("float64"),
        terms_started=out.terms_started.cast("float64"),
        coverage_gaps=out.coverage_gaps.fill_null(0).cast("float64"),
    )


def _coverage_gaps(frame: ir.Table, subs: ir.Table) -> ir.Table:
    started = subs.select("subscription_id", "account_id", "start_date", "end_date")
    ordered = ibis.window(
        group_by=started.account_id,
        order_by=[started.start_date, started.end_date, started.subscription_id],
        rows=(None, -1),
    )
    marked = started.mutate(prev_end=started.end_date.max().over(ordered))
    gap_starts = marked.filter(marked.prev_end.notnull() & (marked.start_date > marked.prev_end))
    gap_starts = gap_starts.select(gap_account_id="account_id", gap_start="start_date")
    joined = frame.join(
        gap_starts,
        [frame.account_id == gap_starts.gap_account_id, gap_starts.gap_start < frame.snapshot_date],
    )
    return joined.group_by(list(KEYS)).agg(coverage_gaps=joined.gap_start.count())
