"""The data contract, version 1.1, as code (docs: docs/data-contract.md).

1.1 (backwards compatible) added ``activities.play``, the playbook id an activity carried
out; it is an *optional column*: a source without it is read as if it were all null.

Every table, column, type and rule of a source is declared here once; sources, validation,
the simulator and the docs read these declarations instead of repeating them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

CONTRACT_VERSION = "1.1"
"""1.1: ``activities.play`` (optional column). Sources of version 1 stay valid."""

DType = Literal["string", "date", "timestamp", "float64", "int64", "boolean"]

CHAMPION_ROLES = ("champion", "executive_sponsor", "admin", "billing", "other")
TICKET_PRIORITIES = ("urgent", "high", "normal", "low")
SURVEY_KINDS = ("nps", "csat")
ACTIVITY_KINDS = ("qbr", "meeting", "training", "onboarding_milestone", "escalation", "other")
SURVEY_RANGES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0)}
LIFECYCLE_STAGES = ("onboarding", "adoption", "renewal")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    nullable: bool = True
    description: str = ""
    optional: bool = False
    """A source may lack the column (added after 1.0); it is then read as all null."""


@dataclass(frozen=True)
class NonNegative:
    """Values of ``column`` are >= 0 when not null."""

    column: str

    @property
    def name(self) -> str:
        return f"{self.column} >= 0"


@dataclass(frozen=True)
class OneOf:
    """Values of ``column`` are one of ``values`` when not null."""

    column: str
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.column} in ({', '.join(self.values)})"


@dataclass(frozen=True)
class After:
    """``column`` is strictly after (or, with ``allow_equal``, not before) ``other``."""

    column: str
    other: str
    allow_equal: bool = False

    @property
    def name(self) -> str:
        return f"{self.column} {'>=' if self.allow_equal else '>'} {self.other}"


@dataclass(frozen=True)
class SurveyScoreRange:
    """``score`` lies in the range of its ``kind`` (nps 0-10, csat 1-5)."""

    column: str = "score"

    @property
    def name(self) -> str:
        ranges = ", ".join(f"{k} {lo:g}-{hi:g}" for k, (lo, hi) in SURVEY_RANGES.items())
        return f"score in range of kind ({ranges})"


RowRule = NonNegative | OneOf | After | SurveyScoreRange


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    required: bool
    key: str | None = None
    """Column that must be unique and not null; a violation stops the run."""
    date_column: str | None = None
    """Rows dated on or after the as-of date are outside the run."""
    references_accounts: bool = True
    rules: tuple[RowRule, ...] = field(default_factory=tuple)
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


def _c(
    name: str, dtype: DType, nullable: bool = True, description: str = "", optional: bool = False
) -> Column:
    return Column(name, dtype, nullable, description, optional)


ACCOUNTS = TableSpec(
    "accounts",
    (
        _c("account_id", "string", False),
        _c("segment", "string", description="e.g. enterprise, mid_market, smb"),
        _c("industry", "string"),
        _c("region", "string"),
        _c("csm_id", "string", description="owner in the CS team"),
    ),
    required=True,
    key="account_id",
    references_accounts=False,
    description="one row per customer company",
)

SUBSCRIPTIONS = TableSpec(
    "subscriptions",
    (
        _c("subscription_id", "string", False),
        _c("account_id", "string", False),
        _c("product", "string"),
        _c("start_date", "date", False),
        _c("end_date", "date", False, "the day the term no longer covers"),
        _c("mrr", "float64", False, "monthly recurring revenue of this line"),
        _c("seats", "int64", description="licensed seats"),
        _c("quota", "float64", description="metered units entitled over the whole term"),
    ),
    required=True,
    key="subscription_id",
    rules=(
        After("end_date", "start_date"),
        NonNegative("mrr"),
        NonNegative("seats"),
        NonNegative("quota"),
    ),
    description="one row per contract line and term; a renewal is a new row",
)

EVENTS = TableSpec(
    "events",
    (
        _c("account_id", "string", False),
        _c("user_id", "string", description="null for system or API events"),
        _c("ts", "timestamp", False),
        _c("feature", "string", False, "product area, module or action"),
        _c("quantity", "float64", description="null is read as 1"),
    ),
    required=True,
    date_column="ts",
    description="product usage",
)

USERS = TableSpec(
    "users",
    (
        _c("user_id", "string", False),
        _c("account_id", "string", False),
        _c("created_at", "timestamp", False),
        _c("deactivated_at", "timestamp"),
        _c("role", "string"),
        _c("department", "string"),
    ),
    required=False,
    key="user_id",
    date_column="created_at",
    rules=(After("deactivated_at", "created_at", allow_equal=True),),
)

FEATURE_CATALOG = TableSpec(
    "feature_catalog",
    (
        _c("feature", "string", False),
        _c("is_core", "boolean", False),
        _c("category", "string"),
    ),
    required=False,
    key="feature",
    references_accounts=False,
    description="marks the core features that breadth is measured on",
)

CONSUMPTION = TableSpec(
    "consumption",
    (
        _c("account_id", "string", False),
        _c("date", "date", False),
        _c("units", "float64", False),
    ),
    required=False,
    date_column="date",
    rules=(NonNegative("units"),),
    description="metered usage, one row per account and day or coarser",
)

CONTACTS = TableSpec(
    "contacts",
    (
        _c("contact_id", "string", False),
        _c("account_id", "string", False),
        _c("role", "string", False),
        _c("start_date", "date", False),
        _c("end_date", "date", description="the day they left the role or the company"),
        _c("user_id", "string", description="their product login"),
    ),
    required=False,
    key="contact_id",
    date_column="start_date",
    rules=(OneOf("role", CHAMPION_ROLES), After("end_date", "start_date", allow_equal=True)),
    description="stakeholders at the customer",
)

TICKETS = TableSpec(
    "tickets",
    (
        _c("ticket_id", "string", False),
        _c("account_id", "string", False),
        _c("opened_at", "timestamp", False),
        _c("closed_at", "timestamp"),
        _c("priority", "string", False),
        _c("category", "string"),
    ),
    required=False,
    key="ticket_id",
    date_column="opened_at",
    rules=(OneOf("priority", TICKET_PRIORITIES), After("closed_at", "opened_at", allow_equal=True)),
)

SURVEYS = TableSpec(
    "surveys",
    (
        _c("account_id", "string", False),
        _c("date", "date", False),
        _c("kind", "string", False),
        _c("score", "float64", False),
        _c("contact_id", "string"),
    ),
    required=False,
    date_column="date",
    rules=(OneOf("kind", SURVEY_KINDS), SurveyScoreRange()),
    description="NPS (0-10) and CSAT (1-5) answers",
)

ACTIVITIES = TableSpec(
    "activities",
    (
        _c("account_id", "string", False),
        _c("date", "date", False),
        _c("kind", "string", False),
        _c(
            "play",
            "string",
            description="the playbook id the activity carried out; null for routine work",
            optional=True,
        ),
    ),
    required=False,
    date_column="date",
    rules=(OneOf("kind", ACTIVITY_KINDS),),
    description="CS engagement",
)

INVOICES = TableSpec(
    "invoices",
    (
        _c("invoice_id", "string", False),
        _c("account_id", "string", False),
        _c("due_date", "date", False),
        _c("paid_date", "date"),
        _c("amount", "float64", False),
    ),
    required=False,
    key="invoice_id",
    date_column="due_date",
    rules=(NonNegative("amount"),),
)

TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        ACCOUNTS,
        SUBSCRIPTIONS,
        EVENTS,
        USERS,
        FEATURE_CATALOG,
        CONSUMPTION,
        CONTACTS,
        TICKETS,
        SURVEYS,
        ACTIVITIES,
        INVOICES,
    )
}
REQUIRED_TABLES = tuple(name for name, spec in TABLES.items() if spec.required)
OPTIONAL_TABLES = tuple(name for name, spec in TABLES.items() if not spec.required)

CANONICAL_FEATURES = (
    "mrr",
    "seats",
    "tenure_days",
    "days_to_renewal",
    "lifecycle_stage",
    "active_users_30d",
    "seat_utilization_30d",
    "core_breadth_30d",
    "events_30d",
    "events_trend_30_90",
    "champion_departures_90d",
    "active_champions",
    "consumption_30d",
    "quota_burn_ratio",
    "open_high_tickets",
    "nps_last",
)


def label_names(horizon_days: int) -> tuple[str, str]:
    """The label columns for horizon H: ``churn_{H}d`` and ``expand_{H}d``."""
    return f"churn_{horizon_days}d", f"expand_{horizon_days}d"
