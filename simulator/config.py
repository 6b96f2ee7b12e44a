"""What a simulation is asked to produce: size, seed, calendar, segments and the model knobs.

``SimulationConfig`` is the whole input of ``simulator.run.simulate``: the same config (seed
included) writes byte-for-byte the same source. The latent model's coefficients live in
``ChainParams``; they are tuned so that the rates in ``docs/simulator.md`` hold and are part
of the config so an experiment can change them without editing code.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from features.errors import ConfigError
from simulator.play_catalog import PlayPolicy
from simulator.shifts import ConceptShift, CovariateShift, RegimeSwitch

SEGMENTS = ("enterprise", "mid_market", "smb")


class SegmentSpec(BaseModel):
    """One customer segment: its share of accounts, size, price and contract habits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    share: float = Field(gt=0, description="share of accounts in this segment (normalised)")
    seats_median: float = Field(gt=0, description="median licensed seats at signature")
    seats_sigma: float = Field(ge=0, description="log-normal spread of seats")
    seats_min: int = Field(ge=1)
    seats_max: int = Field(ge=1)
    price_per_seat: float = Field(gt=0, description="list price per seat and month")
    term_mix: dict[int, float] = Field(
        description="term length in months -> probability (1 = monthly, 12 = annual, 24/36)"
    )
    health_mean: float = Field(description="mean latent health of the segment's accounts")
    churn_intercept: float = Field(description="log-odds of churn at a term end, all else zero")
    expand_intercept: float = Field(description="monthly log-odds of a mid-term add-on")
    growth_mean: float = Field(description="mean monthly log growth of the customer's seat need")
    champion_replace: float = Field(
        ge=0, le=1, description="monthly chance a lost champion is replaced"
    )
    stress_enter: float = Field(ge=0, le=1, description="monthly chance of payment stress")
    tickets_per_month: float = Field(ge=0, description="tickets a month at 20 seats, no pain")
    nps_per_month: float = Field(ge=0, description="expected NPS answers per month")
    qbr_every_months: int = Field(ge=0, description="QBR cadence; 0 = none")
    accounts_per_csm: int = Field(ge=0, description="book size of a CSM; 0 = pooled (null csm)")

    @field_validator("term_mix")
    @classmethod
    def _terms_known(cls, value: dict[int, float]) -> dict[int, float]:
        bad = [k for k in value if k not in (1, 12, 24, 36)]
        if bad or not value or any(p < 0 for p in value.values()):
            raise ValueError(f"term_mix keys must be 1, 12, 24 or 36 with p >= 0; got {value}")
        return value


def _default_segments() -> dict[str, SegmentSpec]:
    return {
        "enterprise": SegmentSpec(
            share=0.12,
            seats_median=110,
            seats_sigma=0.55,
            seats_min=40,
            seats_max=800,
            price_per_seat=95.0,
            term_mix={12: 0.55, 24: 0.25, 36: 0.20},
            health_mean=0.35,
            churn_intercept=-2.4,
            expand_intercept=-4.25,
            growth_mean=0.002,
            champion_replace=0.30,
            stress_enter=0.004,
            tickets_per_month=0.9,
            nps_per_month=0.55,
            qbr_every_months=3,
            accounts_per_csm=25,
        ),
        "mid_market": SegmentSpec(
            share=0.33,
            seats_median=30,
            seats_sigma=0.5,
            seats_min=10,
            seats_max=150,
            price_per_seat=60.0,
            term_mix={1: 0.10, 12: 0.80, 24: 0.10},
            health_mean=0.05,
            churn_intercept=-2.45,
            expand_intercept=-4.25,
            growth_mean=0.003,
            champion_replace=0.20,
            stress_enter=0.008,
            tickets_per_month=0.7,
            nps_per_month=0.3,
            qbr_every_months=6,
            accounts_per_csm=80,
        ),
        "smb": SegmentSpec(
            share=0.55,
            seats_median=7,
            seats_sigma=0.45,
            seats_min=2,
            seats_max=30,
            price_per_seat=40.0,
            term_mix={1: 0.55, 12: 0.45},
            health_mean=-0.15,
            churn_intercept=-2.3,
            expand_intercept=-4.25,
            growth_mean=0.002,
            champion_replace=0.12,
            stress_enter=0.015,
            tickets_per_month=0.5,
            nps_per_month=0.15,
            qbr_every_months=0,
            accounts_per_csm=0,
        ),
    }


class ChainParams(BaseModel):
    """Coefficients of the latent monthly chain and of the commercial decisions.

    Units: health and adoption logits are unitless; growth is a monthly log rate; days are
    calendar days. The decisions read only latent state, never an observable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # health: AR(1) around the account's own mean
    health_rho: float = 0.85
    health_sigma: float = 0.32
    health_account_sd: float = 0.6
    champion_loss_shock: float = 0.55
    champion_gain_boost: float = 0.25
    champion_absent_drift: float = 0.06
    pain_effect: float = 0.12
    stress_effect: float = 0.15
    # adoption: logit pulled towards a health-dependent target
    adoption_speed: float = 0.3
    adoption_sigma: float = 0.25
    adoption_target: float = 0.45
    adoption_health: float = 0.9
    adoption_champion: float = 0.4
    adoption_start: float = -1.6
    # business growth of the customer: persistent monthly log rate of seat need
    growth_rho: float = 0.92
    growth_sigma: float = 0.004
    # champion presence
    champion_leave: float = 0.025
    champion_leave_health: float = 0.5
    # payment stress and support pain
    stress_exit: float = 0.15
    pain_rho: float = 0.7
    pain_sigma: float = 0.35
    pain_spike_p: float = 0.04
    pain_spike: float = 1.2
    # churn at a term end: logit = intercept + terms below
    churn_health: float = -1.0
    churn_adoption: float = -1.5
    churn_champion: float = -0.7
    churn_stress: float = 1.0
    churn_growth: float = -25.0
    churn_monthly_offset: float = -1.9
    """monthly terms decide every month: their per-decision odds are lower"""
    late_renewal_p: float = 0.1
    """a renewal signed 1-29 days after the end (paperwork), which is not a churn"""
    # expansion: monthly add-on odds mid-term, and seat changes at renewal
    expand_need: float = 3.0
    expand_health: float = 0.6
    expand_champion_new: float = 1.2
    expand_adoption: float = 1.5
    module_share: float = 0.3
    upsize_threshold: float = 1.1
    upsize_p: float = 0.45
    upsize_health: float = 0.8
    monthly_upsize_threshold: float = 1.2
    downsize_p: float = 0.5
    price_uplift_max: float = 0.06
    reactivation_p: float = 0.012
    reactivation_min_days: int = 45


class SimulationConfig(BaseModel):
    """Everything a simulation run depends on. Same config, same output."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accounts: int = Field(1000, ge=1, description="number of customer accounts")
    months: int = Field(24, ge=4, le=240, description="months of event history")
    seed: int = Field(0, ge=0, description="random seed; output is a function of it")
    start_date: date = Field(date(2023, 1, 1), description="first day of history (a 1st)")
    existing_share: float = Field(
        0.55, ge=0, le=1, description="share of accounts already customers on start_date"
    )
    max_prior_tenure_months: int = Field(48, ge=1)
    segments: dict[str, SegmentSpec] = Field(default_factory=_default_segments)
    events_per_user_month: float = Field(
        19.0, gt=0, description="mean events of an active user in a month, before scaling"
    )
    event_rate_scale: float = Field(1.0, gt=0, description="multiplies every event rate")
    api_events_share: float = Field(0.06, ge=0, le=0.5)
    weekend_weight: float = Field(0.18, ge=0, le=1)
    units_per_seat_month: float = Field(100.0, gt=0)
    chunk_accounts: int = Field(250, ge=1, le=5000, description="accounts generated together")
    events_row_group: int = Field(1_000_000, ge=1000)
    horizon_days: int = Field(180, ge=30)
    grace_days: int = Field(30, ge=1)
    warmup_days: int = Field(90, ge=0)
    oracle_rows: int = Field(3000, ge=0, description="(account, snapshot) rows given an oracle")
    oracle_rollouts: int = Field(300, ge=1, description="Monte-Carlo rollouts per oracle row")
    chain: ChainParams = Field(default_factory=ChainParams)
    covariate_shift: CovariateShift | None = Field(
        None, description="usage of a segment falls from a month (simulator.shifts)"
    )
    concept_shift: ConceptShift | None = Field(
        None, description="who churns changes from a month (simulator.shifts)"
    )
    regime_switch: RegimeSwitch | None = Field(
        None, description="a bad spell: churn rises for every account (simulator.shifts)"
    )
    plays: PlayPolicy | None = Field(
        None,
        description="CSMs run plays with true effects (simulator.plays); None: no plays, "
        "the world of earlier versions (`churnlight simulate` turns them on by default)",
    )

    @field_validator("start_date")
    @classmethod
    def _first_of_month(cls, value: date) -> date:
        if value.day != 1:
            raise ValueError(f"start_date must be the first day of a month; got {value}")
        return value

    @field_validator("segments")
    @classmethod
    def _segments_known(cls, value: dict[str, SegmentSpec]) -> dict[str, SegmentSpec]:
        if tuple(value) != SEGMENTS:
            raise ValueError(
                f"segments must be exactly {SEGMENTS} in this order; got {tuple(value)}"
            )
        return value

    @model_validator(mode="after")
    def _shift_starts(self) -> SimulationConfig:
        for shift in (self.covariate_shift, self.concept_shift, self.regime_switch):
            if shift is None:
                continue
            if shift.start.day != 1 or shift.start <= self.start_date:
                raise ValueError(
                    f"a shift must start on the first of a month after start_date "
                    f"{self.start_date}; got {shift.start}"
                )
        return self

    @model_validator(mode="after")
    def _seats_range(self) -> SimulationConfig:
        for name, spec in self.segments.items():
            if spec.seats_min > spec.seats_max:
                raise ValueError(f"segment {name}: seats_min > seats_max")
        return self


OPTION_NAMES = {
    "accounts": "--accounts",
    "months": "--months",
    "seed": "--seed",
    "start_date": "--start",
    "oracle_rows": "--oracle-rows",
    "oracle_rollouts": "--rollouts",
    "event_rate_scale": "--event-scale",
    "regime_switch": "--regime-switch",
}


def make_config(**values: Any) -> SimulationConfig:
    """A ``SimulationConfig`` from plain values; a bad value raises ``ConfigError`` naming the
    option and the value (for the CLI and other callers that take user input)."""
    try:
        return SimulationConfig(**values)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            field = str(e["loc"][0]) if e["loc"] else "config"
            name = OPTION_NAMES.get(field, field)
            given = values.get(field, e.get("input"))
            message = str(e["msg"]).removeprefix("Value error, ")
            problems.append(f"{name} {given}: {message}")
        raise ConfigError("invalid simulation settings: " + "; ".join(problems)) from err
