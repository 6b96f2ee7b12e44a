"""Voice of the customer: NPS (0-10; detractors 0-6, promoters 9-10) and CSAT (1-5)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from features.metadata import Family, spec_maker
from features.transforms.base import (
    KEYS,
    FeatureInputs,
    attach,
    days_between,
    exact_sum,
    nulls_for,
    safe_div,
)

FAMILY: Family = "voice_of_customer"


_spec = spec_maker(FAMILY, requires=("surveys",))


FEATURES = [
    _spec(
        "nps_last",
        "Latest NPS answer before the snapshot (mean of that day's answers)",
        "score",
        "Latest NPS is {value}",
        canonical=True,
    ),
    _spec(
        "nps_change",
        "Latest NPS minus the one before",
        "score",
        "NPS moved by {value} points since the previous survey",
    ),
    _spec(
        "nps_detractor",
        "Latest NPS is 0-6 (a detractor)",
        "flag",
        "Latest NPS answer is a detractor: {value}",
    ),
    _spec(
        "nps_promoter",
        "Latest NPS is 9-10 (a promoter)",
        "flag",
        "Latest NPS answer is a promoter: {value}",
    ),
    _spec(
        "days_since_nps", "Days since the latest NPS answer", "days", "Last NPS answer {value} ago"
    ),
    _spec(
        "nps_mean_180d",
        "Mean NPS answer over the last 180 days",
        "score",
        "NPS averaged {value} over six months",
    ),
    _spec(
        "nps_mean_365d",
        "Mean NPS answer over the last 365 days",
        "score",
        "NPS averaged {value} over the last year",
    ),
    _spec(
        "csat_last",
        "Latest CSAT answer (1-5; mean of that day's answers)",
        "score",
        "Latest CSAT is {value}",
    ),
    _spec(
        "csat_mean_180d",
        "Mean CSAT over the last 180 days",
        "score",
        "CSAT averaged {value} over six months",
    ),
    _spec(
        "survey_responses_180d",
        "Survey answers in the last 180 days",
        "count",
        "{value} survey answers in six months",
    ),
]


def _latest_two(known: ir.Table, kind: str) -> ir.Table:
    """Per snapshot: the mean score of the latest and the previous answer day of ``kind``."""
    of_kind = known.filter(known.kind == kind)
    days = of_kind.group_by([*KEYS, "date"]).agg(score=of_kind.score.mean())
    ranked = days.mutate(
        rank=ibis.row_number().over(
            ibis.window(group_by=[days.account_id, days.snapshot_date], order_by=days.date.desc())
        )
    )
    return ranked.group_by(list(KEYS)).agg(
        **{
            f"{kind}_last": ranked.score.max(where=ranked.rank == 0),
            f"{kind}_previous": ranked.score.max(where=ranked.rank == 1),
            f"{kind}_last_date": ranked.date.max(where=ranked.rank == 0),
        }
    )


def build(inputs: FeatureInputs) -> ir.Table:
    if not inputs.has("surveys"):
        return nulls_for(inputs.rows, FEATURES)
    surveys = inputs.table("surveys").rename(s_account="account_id")
    frame = inputs.frame
    known = frame.join(
        surveys,
        [frame.account_id == surveys.s_account, surveys.date < frame.snapshot_date],
    )
    recent = known.date >= known.start_180d
    nps = known.kind == "nps"
    year = nps & (known.date >= known.start_365d)
    window = known.group_by(list(KEYS)).agg(
        csat_mean_180d=known.score.mean(where=recent & (known.kind == "csat")),
        survey_responses_180d=recent.cast("int64").sum(),
        # One answer is noisy (a 0-10 score); the mean of a year's answers reads the
        # customer's standing far better. Exact sums: the same in every build.
        nps_sum_180d=exact_sum(known.score, where=recent & nps),
        nps_answers_180d=(recent & nps).cast("int64").sum(),
        nps_sum_365d=exact_sum(known.score, where=year),
        nps_answers_365d=year.cast("int64").sum(),
    )
    out = attach(inputs.rows, _latest_two(known, "nps"))
    out = attach(out, _latest_two(known, "csat"))
    out = attach(out, window, ["survey_responses_180d"])
    return out.select(
        *KEYS,
        nps_last=out.nps_last,
        nps_change=out.nps_last - out.nps_previous,
        nps_detractor=ibis.ifelse(
            out.nps_last.isnull(), ibis.null("float64"), (out.nps_last <= 6).cast("float64")
        ),
        nps_promoter=ibis.ifelse(
            out.nps_last.isnull(), ibis.null("float64"), (out.nps_last >= 9).cast("float64")
        ),
        days_since_nps=days_between(out.snapshot_date, out.nps_last_date).cast("float64"),
        nps_mean_180d=safe_div(out.nps_sum_180d, out.nps_answers_180d),
        nps_mean_365d=safe_div(out.nps_sum_365d, out.nps_answers_365d),
        csat_last=out.csat_last,
        csat_mean_180d=out.csat_mean_180d,
        survey_responses_180d=out.survey_responses_180d.cast("float64"),
    )
