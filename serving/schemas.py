"""Request and response models of the API (OpenAPI shows them with these examples).

Every response that carries scores carries the two model versions (``<name>/<version>`` of
the registered champions). Fields follow the data contract, section 4 "Scores"."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FeatureValue = float | str | bool | None


WhatIfValue = FeatureValue
"""Validated in pydantic's core (no Python call per value); the app's 422 handler folds the
union's per-branch errors into one message: "takes a number, text, true/false or null"."""
SCALAR_BRANCHES = ("float", "str", "bool")
SCALAR_MESSAGE = "takes a number, text, true/false or null"


_DRIVER_UP = {
    "feature": "champion_departures_90d",
    "family": "champions",
    "signal": "champion_departures",
    "role": "actionable",
    "value": 1.0,
    "contribution": 0.83,
    "reason": "1 champion(s) left in the last 90 days (higher than 92% of mid-market accounts)",
}
_CONTEXT = {
    "feature": "days_to_renewal",
    "family": "lifecycle",
    "signal": "renewal_timing",
    "role": "context",
    "value": 62.0,
    "contribution": 0.35,
    "reason": "Renewal in 62 days",
}
_DRIVER_DOWN = {
    "feature": "seat_utilization_30d",
    "family": "usage_depth",
    "signal": "seat_utilization",
    "role": "actionable",
    "value": 0.91,
    "contribution": -0.42,
    "reason": "91% of licensed seats active in the last 30 days (higher than 85% of "
    "mid-market accounts)",
}
_VERSIONS = {
    "churn_model_version": "churnlight-churn/3",
    "expansion_model_version": "churnlight-expansion/2",
}
_PLAY = {
    "id": "champion_rescue",
    "title": "Champion left: rebuild the relationship",
    "score": "churn",
    "actions": [
        "Find and enable a new champion among the active users",
        "Reach the executive sponsor within two weeks",
    ],
    "owner": "csm",
    "because": ["champion_departures_90d"],
}
ACCOUNT_EXAMPLE: dict[str, Any] = {
    "account_id": "A00042",
    "snapshot_date": "2024-07-01",
    "churn_probability": 0.31,
    "expansion_probability": 0.08,
    "risk_tier": "high",
    "mrr": 1250.0,
    "revenue_at_risk": 4650.0,
    "expected_expansion_mrr": 10.0,
    "lifecycle_stage": "renewal",
    "days_to_renewal": 62,
    "segment": "mid_market",
    "csm_id": "csm07",
    "main_reason": _DRIVER_UP,
    "context": [_CONTEXT],
    "churn": {
        "probability": 0.31,
        "raw_score": -0.79,
        "base_value": -2.1,
        "drivers_up": [_DRIVER_UP, _CONTEXT],
        "drivers_down": [_DRIVER_DOWN],
        "main_reason": _DRIVER_UP,
        "context": [_CONTEXT],
    },
    "expansion": {
        "probability": 0.08,
        "raw_score": -2.4,
        "base_value": -2.0,
        "drivers_up": [],
        "drivers_down": [_DRIVER_UP | {"contribution": -0.4}],
        "main_reason": None,
        "context": [],
    },
    "playbooks": [_PLAY],
    "what_if": False,
    **_VERSIONS,
}


class Versions(BaseModel):
    churn_model_version: str = Field(description="registered churn champion, <name>/<version>")
    expansion_model_version: str = Field(description="registered expansion champion")


class Driver(BaseModel):
    """One signal's push on a score (features carrying one signal are one driver)."""

    feature: str = Field(description="the member of the signal that pushes hardest")
    family: str | None = Field(None, description="that feature's family (playbooks key on it)")
    signal: str | None = Field(None, description="the signal: the features grouped as one")
    role: Literal["context", "actionable"] | None = Field(
        None, description="context explains when and how much; actionable names a cause"
    )
    value: FeatureValue = Field(
        description="the feature's value as the model saw it (null: missing)"
    )
    contribution: float = Field(
        description="SHAP contribution of the whole signal to the raw score, log-odds"
    )
    reason: str = Field(
        description="plain words, with a yardstick for actionable signals: the account's own "
        "past and its segment's peers"
    )


class ScoreExplanation(BaseModel):
    probability: float = Field(ge=0, le=1, description="calibrated")
    raw_score: float = Field(description="log-odds: base_value + sum of all contributions")
    base_value: float = Field(description="expected raw score over the training data")
    drivers_up: list[Driver] = Field(description="signals raising this score most")
    drivers_down: list[Driver] = Field(description="signals lowering it most")
    main_reason: Driver | None = Field(
        None, description="the actionable signal raising this score most (null: none)"
    )
    context: list[Driver] = Field(
        default_factory=list, description="context signals raising this score (timing, size)"
    )


class PlaybookHit(BaseModel):
    id: str
    title: str
    score: Literal["churn", "expansion"]
    actions: list[str]
    owner: str
    because: list[str] = Field(description="the driver features (or conditions) that matched")
    churn_effect: float | None = Field(
        None,
        description="with a play-effects model (`churnlight plays`): the estimated change in "
        "this account's churn probability if the play is run (-0.04: four points less "
        "likely): its churn probability x the play's relative effect in the account's "
        "segment (else overall), shrunk by the estimate's precision towards the label's pooled "
        "prior (towards 0 with fewer than 3 cells); null when the "
        "play has too little evidence. Absent without the model",
    )
    expand_effect: float | None = Field(
        None, description="the same for the expansion probability (+: more likely to expand)"
    )
    expected_arr_saved: float | None = Field(
        None,
        description="expected_arr_churn + expected_arr_expansion - the play's cost - for a "
        "discount, the ARR it gives away on the accounts expected to stay: ARR the play is "
        "expected to keep and bring; plays are ranked by it. Null when neither part counts; "
        "absent without a play-effects model",
    )
    expected_arr_churn: float | None = Field(
        None,
        description="the part kept from churn: 12 x mrr x -churn_effect; null when the play's "
        "churn interval includes 0. Absent without a play-effects model",
    )
    expected_arr_expansion: float | None = Field(
        None,
        description="the part brought by expansion: 12 x mrr x expand_effect x the mean past "
        "expansion as a share of MRR in the account's segment; counted for the plays the "
        "library scores by expansion only; null for other plays, when the play's expansion "
        "interval includes 0 or when the effects model predates the expansion share. Absent "
        "without a play-effects model",
    )


class CurvePoint(BaseModel):
    days: int = Field(description="days after the snapshot")
    probability: float = Field(ge=0, le=1, description="P(churned by then)")


class CurveDriver(BaseModel):
    feature: str
    family: str | None = None
    value: float | str | None = Field(description="the account's value (null: missing)")
    contribution: float = Field(
        description="push on the hazard's log-odds, averaged over the 365 days by risk share"
    )


class AccountScore(Versions):
    """An account's scores, explanations and plays (contract section 4)."""

    model_config = ConfigDict(json_schema_extra={"examples": [ACCOUNT_EXAMPLE]})

    account_id: str | None
    snapshot_date: str | None = Field(description="YYYY-MM-DD; null for a what-if row")
    churn_probability: float = Field(ge=0, le=1)
    expansion_probability: float = Field(ge=0, le=1)
    risk_tier: Literal["low", "medium", "high", "critical"]
    mrr: float | None = Field(description="monthly recurring revenue on the day before")
    revenue_at_risk: float | None = Field(description="mrr x 12 x churn_probability")
    expected_expansion_mrr: float | None = Field(
        description="mrr x expansion_probability x expansion uplift (monthly)"
    )
    lifecycle_stage: str | None
    days_to_renewal: int | None
    segment: str | None
    csm_id: str | None
    main_reason: Driver | None = Field(
        None, description="the cause to act on: churn's actionable driver raising it most"
    )
    context: list[Driver] = Field(
        default_factory=list, description="churn's context facts (renewal timing, size)"
    )
    churn: ScoreExplanation
    expansion: ScoreExplanation
    playbooks: list[PlaybookHit]
    what_if: bool = Field(False, description="true when scored live from given values")
    churn_curve: list[CurvePoint] | None = Field(
        None,
        description="P(churn by d days) at 30/60/90/180/270/365, anchored so the 180-day "
        "point is churn_probability; null without a survival model and for what-if rows",
    )
    churn_by_renewal: float | None = Field(
        None, ge=0, le=1, description="P(gone by the next renewal date, that day included)"
    )
    churn_curve_drivers: list[CurveDriver] | None = Field(
        None, description="the features raising the 365-day risk most (survival model)"
    )
    survival_model_version: str | None = Field(
        None, description="registered survival champion, <name>/<version>; null: none"
    )


class AccountSummary(BaseModel):
    account_id: str
    snapshot_date: str | None
    churn_probability: float
    expansion_probability: float
    risk_tier: Literal["low", "medium", "high", "critical"]
    mrr: float | None
    revenue_at_risk: float | None
    expected_expansion_mrr: float | None
    lifecycle_stage: str | None
    days_to_renewal: int | None
    segment: str | None
    csm_id: str | None
    top_churn_reason: str | None = Field(
        description="the main reason's sentence: the actionable driver raising churn most"
    )
    main_reason_family: str | None = Field(None, description="the main reason's family")
    playbooks: list[str] = Field(description="ids of the plays that apply")
    churn_by_renewal: float | None = Field(
        None, description="P(gone by the next renewal date); null without a survival model"
    )


SortKey = Literal[
    "churn_probability",
    "revenue_at_risk",
    "expansion_probability",
    "expected_expansion_mrr",
    "mrr",
    "churn_by_renewal",
]


class PortfolioPage(Versions):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            k: ACCOUNT_EXAMPLE[k]
                            for k in AccountSummary.model_fields
                            if k in ACCOUNT_EXAMPLE
                        }
                        | {
                            "top_churn_reason": _DRIVER_UP["reason"],
                            "main_reason_family": _DRIVER_UP["family"],
                            "playbooks": ["champion_rescue"],
                        }
                    ],
                    "total": 1,
                    "limit": 50,
                    "offset": 0,
                    "next_offset": None,
                    "sort": "revenue_at_risk",
                    "order": "desc",
                    "snapshot_date": "2024-07-01",
                    **_VERSIONS,
                }
            ]
        }
    )

    items: list[AccountSummary]
    total: int = Field(description="accounts matching the filters")
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")
    sort: SortKey
    order: Literal["asc", "desc"]
    snapshot_date: str | None


class WhatIfRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: str | None = Field(
        None,
        max_length=200,
        description="start from this account's snapshot values (optional)",
    )
    features: dict[str, WhatIfValue] = Field(
        default_factory=dict,
        max_length=1000,
        description="feature values to score (override the account's); missing ones are null",
    )


class ScoreRequest(BaseModel):
    """Exactly one of ``account_ids`` (cached scores) or ``rows`` (what-if, scored live)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"account_ids": ["A00042", "A00043"]},
                {
                    "rows": [
                        {
                            "account_id": "A00042",
                            "features": {"seat_utilization_30d": 0.9, "open_high_tickets": 0},
                        }
                    ]
                },
            ]
        },
    )

    account_ids: list[str] | None = Field(None, description="ids of the scored snapshot")
    rows: list[WhatIfRow] | None = Field(None, description="feature rows to score live")

    @model_validator(mode="after")
    def _exactly_one(self) -> ScoreRequest:
        if (self.account_ids is None) == (self.rows is None):
            raise ValueError("give exactly one of account_ids or rows")
        if not (self.account_ids or self.rows):
            raise ValueError("the batch is empty")
        return self

    @property
    def size(self) -> int:
        return len(self.account_ids or self.rows or [])


class ScoreResponse(Versions):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "results": [ACCOUNT_EXAMPLE],
                    "not_found": [],
                    "snapshot_date": "2024-07-01",
                    **_VERSIONS,
                }
            ]
        }
    )

    results: list[AccountScore]
    not_found: list[str] = Field(description="account ids not in the snapshot (account_ids only)")
    snapshot_date: str | None


class FeatureInfo(BaseModel):
    name: str
    kind: Literal["numeric", "categorical", "derived"]
    op: str | None = Field(None, description="derived only: ratio (a / b) or difference (a - b)")
    inputs: list[str] | None = Field(None, description="derived only: the two input features")
    family: str | None
    description: str | None
    unit: str | None
    template: str | None
    role: Literal["context", "actionable"] | None = Field(
        None, description="context (timing, size) or actionable (a cause a CSM can work on)"
    )
    signal: str | None = Field(None, description="features of one signal make one driver")
    categories: list[str] | None = None
    importance_gain: float = Field(
        description="share of the model's total split gain (an additive model or a blend: "
        "share of the mean absolute SHAP value)"
    )


class ModelCard(BaseModel):
    kind: Literal["churn", "expansion"]
    name: str
    version: str
    alias: str | None
    run_id: str | None
    registered_at: str | None
    label: str = Field(description="the label the model predicts, e.g. churn_180d")
    calibration: str
    model_kind: Literal["lightgbm", "additive", "blend"] = Field(
        "lightgbm", description="the chosen candidate (docs/training.md)"
    )
    trees: int
    training: dict[str, Any] = Field(
        description="facts the bundle records: as-of date, horizon, training window, params, ..."
    )
    metrics: dict[str, float] = Field(description="metrics of the training run")
    explain_ms_per_row: float = Field(
        description="measured on this snapshot: wall ms per row of TreeSHAP, all threads"
    )
    features: list[FeatureInfo]


class ModelResponse(Versions):
    churn: ModelCard
    expansion: ModelCard
    snapshot_date: str | None
    accounts: int
    snapshot_origin: str
    loaded_at: str
    playbooks: list[str]
    scoring: dict[str, Any] = Field(
        description="tier thresholds and their basis (base_rate: odds 1.5, 3 and 6 times the "
        "churn model's base rate; fixed: set by CHURNLIGHT_TIER_*), drivers per score, the "
        "smallest driver listed, expansion uplift"
    )


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Ready(BaseModel):
    status: str
    accounts: int
    snapshot_date: str | None
    churn_model_version: str | None
    expansion_model_version: str | None
    built_at: str | None
    ready_seconds: float | None = Field(description="process start to first ready state")
    build_seconds: dict[str, float]


class ReloadResponse(BaseModel):
    status: Literal["reloading", "ready"]
    churn_model_version: str | None = Field(description="serving now")
    expansion_model_version: str | None
    snapshot_date: str | None
    accounts: int | None
    build_seconds: dict[str, float] | None = None


class HistoryPoint(BaseModel):
    snapshot_date: str = Field(description="YYYY-MM-DD")
    churn_probability: float
    expansion_probability: float
    risk_tier: Literal["low", "medium", "high", "critical"]
    mrr: float | None
    revenue_at_risk: float | None
    churn_model_version: str
    expansion_model_version: str


class AccountHistory(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "account_id": "A00042",
                    "points": [
                        {
                            "snapshot_date": "2024-06-01",
                            "churn_probability": 0.12,
                            "expansion_probability": 0.10,
                            "risk_tier": "medium",
                            "mrr": 1250.0,
                            "revenue_at_risk": 1800.0,
                            **_VERSIONS,
                        },
                        {
                            "snapshot_date": "2024-07-01",
                            "churn_probability": 0.31,
                            "expansion_probability": 0.08,
                            "risk_tier": "high",
                            "mrr": 1250.0,
                            "revenue_at_risk": 4650.0,
                            **_VERSIONS,
                        },
                    ],
                }
            ]
        }
    )

    account_id: str
    points: list[HistoryPoint] = Field(description="one per snapshot date, oldest first")


class SignalChange(BaseModel):
    signal: str
    feature: str = Field(description="the member naming the signal at the later snapshot")
    feature_before: str | None = Field(
        None, description="the member naming it at the earlier snapshot, when another"
    )
    value_before: FeatureValue
    value_after: FeatureValue
    contribution_before: float = Field(description="log-odds, to churn")
    contribution_after: float
    contribution_change: float
    reason: str = Field(description="the signal's sentence at the later snapshot")


class Mover(BaseModel):
    account_id: str
    segment: str | None
    csm_id: str | None
    from_snapshot: str
    to_snapshot: str
    churn_probability_before: float
    churn_probability_after: float
    change: float = Field(description="after - before")
    tier_before: str
    tier_after: str
    model_changed: bool = Field(
        description="true: the two scores come from different churn or expansion models, so "
        "part of the change is the model's (the history held no score of the earlier "
        "snapshot by the later models)"
    )
    churn_model_version_before: str
    churn_model_version_after: str
    what_changed: list[SignalChange] = Field(
        description="signals whose contribution to churn moved most, largest first"
    )


_MOVER: dict[str, Any] = {
    "account_id": "A00042",
    "segment": "mid_market",
    "csm_id": "csm07",
    "from_snapshot": "2024-06-01",
    "to_snapshot": "2024-07-01",
    "churn_probability_before": 0.12,
    "churn_probability_after": 0.31,
    "change": 0.19,
    "tier_before": "medium",
    "tier_after": "high",
    "model_changed": False,
    "churn_model_version_before": "churnlight-churn/3",
    "churn_model_version_after": "churnlight-churn/3",
    "what_changed": [
        {
            "signal": "champion_departures",
            "feature": "champion_departures_90d",
            "value_before": 0.0,
            "value_after": 1.0,
            "contribution_before": -0.05,
            "contribution_after": 0.83,
            "contribution_change": 0.88,
            "reason": _DRIVER_UP["reason"],
        }
    ],
}


class MoversPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [_MOVER],
                    "total": 37,
                    "limit": 20,
                    "offset": 0,
                    "next_offset": 20,
                    "direction": "up",
                    "from_snapshot": "2024-06-01",
                    "to_snapshot": "2024-07-01",
                }
            ]
        }
    )

    items: list[Mover]
    total: int
    limit: int
    offset: int
    next_offset: int | None
    direction: Literal["up", "down"]
    from_snapshot: str | None
    to_snapshot: str | None


class MovementMonth(BaseModel):
    group: str | None = Field(
        default=None, description="the segment or csm_id (with `by`); absent for the whole book"
    )
    month: str = Field(description="first day of the month, YYYY-MM-DD")
    start_mrr: float = Field(description="MRR at the end of the previous month")
    new: float = Field(description="MRR of accounts on their first island of coverage")
    expansion: float
    contraction: float
    churned: float = Field(description="start MRR of accounts whose coverage ended (grace kept)")
    reactivated: float = Field(description="MRR of accounts back after a churn")
    end_mrr: float
    net_new: float = Field(description="new + expansion + reactivated - contraction - churned")
    grr: float | None = Field(description="(start - contraction - churned) / start")
    nrr: float | None = Field(description="(start + expansion - contraction - churned) / start")
    accounts_start: int
    logos_churned: int
    logo_churn_rate: float | None
    provisional: bool = Field(
        description="the month ended within the grace period of the as-of date: a lapse in it "
        "may still be closed by a renewal booked later"
    )


class MovementsResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "as_of": "2024-07-01",
                    "grace_days": 30,
                    "by": None,
                    "months": [
                        {
                            "month": "2024-05-01",
                            "start_mrr": 600.0,
                            "new": 0.0,
                            "expansion": 80.0,
                            "contraction": 0.0,
                            "churned": 100.0,
                            "reactivated": 0.0,
                            "end_mrr": 580.0,
                            "net_new": -20.0,
                            "grr": 0.8333,
                            "nrr": 0.9667,
                            "accounts_start": 6,
                            "logos_churned": 1,
                            "logo_churn_rate": 0.1667,
                            "provisional": False,
                        }
                    ],
                }
            ]
        }
    )

    as_of: str = Field(description="the first day the source does not cover, YYYY-MM-DD")
    grace_days: int
    by: Literal["segment", "csm"] | None
    months: list[MovementMonth] = Field(description="oldest first; per group with `by`")


class ForecastValue(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    expected: float | None = Field(description="mean of the simulated futures")
    interval_80: list[float | None] = Field(
        alias="0.8", min_length=2, max_length=2, description="central 80% interval [low, high]"
    )
    interval_90: list[float | None] = Field(
        alias="0.9", min_length=2, max_length=2, description="central 90% interval [low, high]"
    )


class ForecastBaselines(BaseModel):
    sum_of_expectations: dict[str, float | None] = Field(
        description="the plain sum of per-account expectations (no interval)"
    )
    trailing_3m: dict[str, float | None] = Field(
        description="the average of the newest 3 months' movements times the horizon"
    )


class ForecastGroup(BaseModel):
    group: str | None = Field(description="the segment or csm_id (with `by`); null: the book")
    horizon_months: int
    accounts: int
    start_mrr: float
    churned: ForecastValue
    contraction: ForecastValue
    expansion: ForecastValue
    end_mrr: ForecastValue
    grr: ForecastValue
    nrr: ForecastValue
    baselines: ForecastBaselines


class ForecastHorizon(BaseModel):
    months: int
    groups: list[ForecastGroup]


class ForecastResponse(BaseModel):
    as_of: str
    snapshot_date: str | None
    by: Literal["segment", "csm"] | None
    method: str
    churn_timing: str = Field(
        description="how each account's P(churn within a horizon) was found: 'survival "
        "curve' (the served survival model's churn curve), '180-day score at the renewal "
        "dates' (no survival model: the 180-day score placed on the account's term ends) or "
        "'180-day score at a constant hazard' (no renewal dates either)"
    )
    simulations: int
    intervals_backtested: bool = Field(
        description="true: every horizon's intervals are corrected by the conformal factors "
        "of out-of-time backtests (`churnlight forecast --backtest N`); false: they are the "
        "spread the model implies, not checked"
    )
    backtest_windows: int | None = Field(
        description="how many monthly as-of dates the correction was learned on (null: none)"
    )
    shock_sd: float
    horizons: list[ForecastHorizon]


class PlayEffect(BaseModel):
    """One cell of the play-effects table: a play's effect on one label in one group."""

    play: str = Field(description="playbook id")
    label: str = Field(description="churn_180d or expand_180d")
    segment: str = Field(
        description="all, a customer segment, or stage:<lifecycle stage> (the stage at the "
        "snapshot before the play)"
    )
    effect: float | None = Field(
        description="effect on the accounts that got the play (ATT): change in probability; "
        "null when there is not enough evidence (kept, for reference, when confounded)"
    )
    ci_low: float | None = Field(description="95% interval, clustered by account")
    ci_high: float | None
    n_treated: int = Field(description="account-months (feature-table rows) that got the play")
    evidence: Literal["ok", "not enough evidence", "confounded"] = Field(
        description="ok: the effect is served; not enough evidence: too few runs, too few "
        "outcomes or no overlap (no effect); confounded: the negative control failed (the "
        "treated accounts already differed from their comparison before the play), so the "
        "effect is shown but not served"
    )
    reason: str | None = Field(
        description="why not enough evidence (too few runs or outcomes, no overlap), or what "
        "the negative control showed"
    )
    ate: float | None = Field(
        None, description="effect had every comparable account got it (ATE), beside the ATT"
    )
    ate_low: float | None = None
    ate_high: float | None = None
    naive: float | None = Field(
        None, description="treated minus untreated rate: the biased comparison, for reference"
    )
    treated_rate: float | None = Field(
        None,
        description="the label's rate on the accounts that got the play; minus effect, their "
        "rate without it: effect / (treated_rate - effect) is the relative effect served",
    )
    nc_effect: float | None = Field(
        None,
        description="negative control: the same comparison applied to the label's risk at "
        "the account's previous snapshot, which the play cannot change (0 when the "
        "adjustment holds); null when not checked (no evidence, or no previous snapshots)",
    )
    nc_ci_low: float | None = Field(None, description="its 95% interval")
    nc_ci_high: float | None = None
    uplift_model: bool = Field(
        description="a per-account uplift model of this play and label was fitted (kept for "
        "measurement; account records use the relative effect of the cells instead)"
    )


class PlaybookEffects(BaseModel):
    id: str
    title: str
    cost: float | None = Field(description="the library's cost of one run, or null")
    effects: list[PlayEffect]


class PlaysResponse(BaseModel):
    """Every play of the library with its estimated effects and the evidence behind them."""

    effects_model_version: str = Field(description="registered play-effects model, name/version")
    as_of: str | None = Field(description="as-of date of the data the effects were fitted on")
    plays: list[PlaybookEffects]
