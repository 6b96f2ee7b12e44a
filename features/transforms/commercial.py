"""Commercial: MRR, seats and their changes, from the subscriptions covering t - 1."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, FeatureSpec
from features.transforms.base import KEYS, FeatureInputs, exact_sum, exact_window_mean, safe_div

FAMILY: Family = "commercial"
FEATURES = [
    FeatureSpec(
        "mrr",
        FAMILY,
        "Account MRR on the day before the snapshot",
        "currency",
        "MRR is {value}",
        canonical=True,
    ),
    FeatureSpec(
        "seats",
        FAMILY,
        "Licensed seats on the day before the snapshot",
        "count",
        "{value} licensed seats",
        canonical=True,
    ),
    FeatureSpec(
        "mrr_change_90d",
        FAMILY,
        "Relative change of MRR against 90 days ago",
        "change",
        "MRR {direction} {abs_pct} over the last 90 days",
    ),
    FeatureSpec(
        "seats_change_90d",
        FAMILY,
        "Relative change of licensed seats against 90 days ago",
        "change",
        "Licensed seats {direction} {abs_pct} over the last 90 days",
    ),
    FeatureSpec(
        "contract_lines",
        FAMILY,
        "Subscription lines covering the day before the snapshot",
        "count",
        "{value} active contract lines",
    ),
    FeatureSpec(
        "products_active",
        FAMILY,
        "Distinct products under contract",
        "count",
        "{value} products under contract",
    ),
    FeatureSpec(
        "mrr_vs_segment",
        FAMILY,
        "MRR relative to the segment's mean at the snapshot",
        "ratio",
        "MRR is {value} the segment average",
    ),
    FeatureSpec(
        "segment", FAMILY, "Customer segment", "category", "Segment: {value}", kind="categorical"
    ),
    FeatureSpec(
        "industry", FAMILY, "Customer industry", "category", "Industry: {value}", kind="categorical"
    ),
    FeatureSpec(
        "region", FAMILY, "Customer region", "category", "Region: {value}", kind="categorical"
    ),
]

COLUMN_NEEDS: dict[str, tuple[str, ...]] = {
    "seats": ("subscriptions.seats",),
    "seats_change_90d": ("subscriptions.seats",),
    "segment": ("accounts.segment",),
    "industry": ("accounts.industry",),
    "region": ("accounts.region",),
}
"""See ``features.transforms.column_needs``."""


def covering_lines(frame: ir.Table, subscriptions: ir.Table, day_column: str) -> ir.Table:
    """Every subscription line covering ``frame[day_column]``, with the frame's columns."""
    subs = subscriptions.rename(sub_account_id="account_id")
    return frame.join(
        subs,
        [
            frame.account_id == subs.sub_account_id,
            subs.start_date <= frame[day_column],
            subs.end_date > frame[day_column],
        ],
    )


def mrr_and_seats(frame: ir.Table, subscriptions: ir.Table, day_column: str) -> ir.Table:
    """(account_id, snapshot_date, mrr, seats, lines, products) on ``frame[day_column]``.

    Seats are null when every covering line has null seats (SQL sum semantics)."""
    lines = covering_lines(frame, subscriptions, day_column)
    return lines.group_by(list(KEYS)).agg(
        mrr=exact_sum(lines.mrr),
        seats=lines.seats.sum(),
        contract_lines=lines.subscription_id.count(),
        products_active=lines["product"].nunique(),
    )


def build(inputs: FeatureInputs) -> ir.Table:
    subs = inputs.table("subscriptions")
    now = mrr_and_seats(inputs.frame, subs, "day_before")
    before = mrr_and_seats(inputs.frame, subs, "start_90d").select(
        *KEYS, mrr_90d_ago="mrr", seats_90d_ago="seats"
    )
    out = inputs.rows.join(now, list(KEYS)).left_join(before, list(KEYS))
    out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    accounts = inputs.table("accounts").select("account_id", "segment", "industry", "region")
    out = out.left_join(accounts, "account_id")
    out = out.drop(*[c for c in out.columns if c.endswith("_right")])
    mrr_before = out.mrr_90d_ago.fill_null(0)
    seats_before = out.seats_90d_ago
    segment_mean = exact_window_mean(
        out.mrr, ibis.window(group_by=[out.segment.fill_null("unknown"), out.snapshot_date])
    )
    return out.select(
        *KEYS,
        mrr=out.mrr.cast("float64"),
        seats=out.seats.cast("float64"),
        mrr_change_90d=safe_div(out.mrr - mrr_before, mrr_before),
        seats_change_90d=safe_div(out.seats - seats_before, seats_before),
        contract_lines=out.contract_lines.cast("float64"),
        products_active=out.products_active.cast("float64"),
        mrr_vs_segment=safe_div(out.mrr, segment_mean),
        segment=out.segment,
        industry=out.industry,
        region=out.region,
    )
