"""Payments: overdue invoices, how late, and the habit of paying late.

An invoice is overdue at t when due_date < t and it was not paid before t."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, spec_maker
from features.transforms.base import KEYS, FeatureInputs, attach, days_between, nulls_for

FAMILY: Family = "payments"


_spec = spec_maker(FAMILY, requires=("invoices",))


FEATURES = [
    _spec(
        "invoices_overdue",
        "Invoices past due and unpaid at the snapshot",
        "count",
        "{value} invoice(s) overdue",
    ),
    _spec("overdue_amount", "Amount of the overdue invoices", "currency", "{value} overdue"),
    _spec(
        "max_days_overdue",
        "Days the oldest overdue invoice is past due (0 when none)",
        "days",
        "An invoice is {value} overdue",
    ),
    _spec(
        "mean_days_late_180d",
        "Mean days paid after the due date, invoices paid in the last 180 days",
        "days",
        "Invoices were paid {value} late on average",
    ),
    _spec(
        "late_payments_365d",
        "Invoices due in the last 365 days paid late or still unpaid",
        "count",
        "{value} late payment(s) in the last year",
    ),
]

COLUMN_NEEDS: dict[str, tuple[str, ...]] = {
    "mean_days_late_180d": ("invoices.paid_date",),
}
"""See ``features.transforms.column_needs``."""


def build(inputs: FeatureInputs) -> ir.Table:
    if not inputs.has("invoices"):
        return nulls_for(inputs.rows, FEATURES)
    invoices = inputs.table("invoices").rename(i_account="account_id")
    frame = inputs.frame
    known = frame.join(
        invoices,
        [frame.account_id == invoices.i_account, invoices.due_date < frame.snapshot_date],
    )
    t = known.snapshot_date
    paid_before_t = known.paid_date.notnull() & (known.paid_date < t)
    overdue = ~paid_before_t
    paid_recently = paid_before_t & (known.paid_date >= known.start_180d)
    days_late = ibis.greatest(days_between(known.paid_date, known.due_date), 0)
    late = (paid_before_t & (known.paid_date > known.due_date)) | overdue
    agg = known.group_by(list(KEYS)).agg(
        invoices_overdue=overdue.cast("int64").sum(),
        overdue_amount=known.amount.sum(where=overdue),
        max_days_overdue=days_between(t, known.due_date).max(where=overdue),
        mean_days_late_180d=days_late.cast("float64").mean(where=paid_recently),
        late_payments_365d=(late & (known.due_date >= known.start_365d)).cast("int64").sum(),
    )
    out = attach(inputs.rows, agg, ["invoices_overdue", "late_payments_365d"])
    return out.select(
        *KEYS,
        invoices_overdue=out.invoices_overdue.cast("float64"),
        overdue_amount=out.overdue_amount.fill_null(0).cast("float64"),
        max_days_overdue=out.max_days_overdue.fill_null(0).cast("float64"),
        mean_days_late_180d=out.mean_days_late_180d,
        late_payments_365d=out.late_payments_365d.cast("float64"),
    )
