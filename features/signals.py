"""Which features carry the same signal, what a missing value means, and which features are
an account's trend against its own past.

A driver list says each thing once: the features of one *signal* (days to renewal and the
share of the term elapsed; the 7-, 30- and 60-day windows of active users and their change)
make one reason, whose contribution is the sum of its members' SHAP values (see
``features.reasons``). A feature not listed here is a signal of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from features.metadata import FeatureSpec

SIGNALS: dict[str, tuple[str, ...]] = {
    # -- context: when and how much -------------------------------------------------------
    "renewal_timing": (
        "days_to_renewal",
        "term_elapsed_fraction",
        "lifecycle_stage",
        "term_length_days",
    ),
    "tenure": ("tenure_days", "terms_started"),
    "account_size": (
        "mrr",
        "seats",
        "mrr_vs_segment",
        "contract_lines",
        "products_active",
        "seat_headroom",
    ),
    "contract_change": ("mrr_change_90d", "seats_change_90d"),
    # -- usage depth ---------------------------------------------------------------------
    "active_users": (
        "active_users_30d",
        "active_users_7d",
        "active_users_60d",
        "active_users_change_30d",
        "new_active_users_30d",
        "lost_active_users_30d",
        "core_users_30d",
    ),
    "seat_utilization": (
        "seat_utilization_30d",
        "seat_utilization_vs_segment",
        "active_users_90d_per_seat",
        "active_share_of_provisioned_30d",
    ),
    "usage_volume": (
        "events_30d",
        "events_7d",
        "events_90d",
        "events_180d",
        "events_trend_30_90",
        "events_vs_history_180d",
        "events_slope_90d",
        "events_per_active_user_30d",
        "quantity_30d",
    ),
    "core_breadth": (
        "core_breadth_30d",
        "core_breadth_90d",
        "core_breadth_change_30d",
        "core_event_share_30d",
        "core_event_share_90d",
    ),
    # Metered units per seat or per active user: how intensely each seat uses the product
    # (adoption), not how the account consumes against its quota.
    "usage_intensity": (
        "consumption_per_seat_30d",
        "consumption_per_seat_90d",
        "consumption_per_active_user_30d",
    ),
    "departments": ("departments_active_30d", "departments_change_30d"),
    "provisioning": ("provisioned_users", "users_deactivated_90d", "provisioned_users_per_seat"),
    # -- champions -----------------------------------------------------------------------
    "champion_departures": (
        "champion_departures_90d",
        "champion_departures_365d",
        "days_since_champion_change",
    ),
    "champion_presence": ("active_champions", "champion_days_since_active", "contacts_active"),
    "executive_sponsor": ("active_exec_sponsors", "days_since_exec_sponsor_contact"),
    # -- consumption ---------------------------------------------------------------------
    "consumption_volume": (
        "consumption_30d",
        "consumption_7d",
        "consumption_90d",
        "consumption_trend_30_90",
    ),
    "quota_pace": ("quota_burn_ratio", "quota_used_fraction", "quota_runout_days_before_renewal"),
    # -- support -------------------------------------------------------------------------
    "open_tickets": (
        "open_high_tickets",
        "open_tickets",
        "open_ticket_age_days_max",
        "open_ticket_age_days_mean",
    ),
    "ticket_volume": ("tickets_30d", "tickets_90d", "urgent_tickets_90d", "tickets_trend_30_90"),
    # -- voice of the customer -----------------------------------------------------------
    "nps": (
        "nps_last",
        "nps_change",
        "nps_detractor",
        "nps_promoter",
        "days_since_nps",
        "nps_mean_180d",
        "nps_mean_365d",
    ),
    "csat": ("csat_last", "csat_mean_180d"),
    # -- CS engagement and payments ------------------------------------------------------
    "cs_touch": ("days_since_last_cs_touch", "cs_activities_90d"),
    "overdue_invoices": ("invoices_overdue", "overdue_amount", "max_days_overdue"),
    "late_payments": ("mean_days_late_180d", "late_payments_365d"),
}

SIGNAL_OF: dict[str, str] = {f: signal for signal, members in SIGNALS.items() for f in members}

MISSING: dict[str, str] = {
    "days_to_renewal": "No term end on record",
    "term_length_days": "No current term on record",
    "term_elapsed_fraction": "No metered quota in the current term",
    "seat_utilization_30d": "No licensed seat count on record",
    "seat_utilization_vs_segment": "No licensed seat count on record",
    "active_users_90d_per_seat": "No licensed seat count on record",
    "events_trend_30_90": "No product usage in the two months before the last 30 days",
    "events_vs_history_180d": "No product usage in the last six months",
    "events_slope_90d": "No product usage in the last 90 days",
    "events_per_active_user_30d": "No active user in the last 30 days",
    "active_users_change_30d": "No active user in the 30 days before the last 30",
    "core_breadth_30d": "No core feature known to measure breadth on",
    "core_breadth_90d": "No core feature known to measure breadth on",
    "active_share_of_provisioned_30d": "No provisioned user on record",
    "days_since_champion_change": "No champion change on record",
    "champion_days_since_active": "No champion with a product login on record",
    "days_since_exec_sponsor_contact": "No executive sponsor engagement on record",
    "quota_burn_ratio": "No metered quota in the current term",
    "quota_used_fraction": "No metered quota in the current term",
    "quota_runout_days_before_renewal": "No metered quota in the current term",
    "consumption_trend_30_90": "No metered usage in the two months before the last 30 days",
    "consumption_per_active_user_30d": "No active user in the last 30 days",
    "open_ticket_age_days_max": "No ticket open",
    "open_ticket_age_days_mean": "No ticket open",
    "tickets_trend_30_90": "No ticket in the two months before the last 30 days",
    "resolution_hours_90d": "No ticket closed in the last 90 days",
    "nps_last": "No NPS answer on record",
    "nps_change": "Fewer than two NPS answers on record",
    "nps_detractor": "No NPS answer on record",
    "nps_promoter": "No NPS answer on record",
    "days_since_nps": "No NPS answer on record",
    "nps_mean_180d": "No NPS answer in the last six months",
    "nps_mean_365d": "No NPS answer in the last year",
    "csat_last": "No CSAT answer on record",
    "csat_mean_180d": "No CSAT answer in the last six months",
    "days_since_last_qbr": "No QBR on record",
    "days_since_last_cs_touch": "No CS activity on record",
    "mean_days_late_180d": "No invoice paid in the last six months",
    "max_days_overdue": "No invoice overdue",
    "mrr_change_90d": "No MRR 90 days ago",
    "seats_change_90d": "No licensed seats 90 days ago",
    "mrr_vs_segment": "No segment average MRR",
    "mrr_per_seat": "No licensed seat count on record",
}

TREND_WINDOWS: dict[str, tuple[Literal["change", "ratio"], str]] = {
    "active_users_change_30d": ("change", "on the previous 30 days"),
    "events_trend_30_90": ("ratio", "on the two months before"),
    "events_vs_history_180d": ("ratio", "on its six-month average"),
    "consumption_trend_30_90": ("ratio", "on the two months before"),
    "tickets_trend_30_90": ("ratio", "on the two months before"),
    "mrr_change_90d": ("change", "over 90 days"),
}
"""Features that compare an account with its own past: ``change`` values are relative
changes (-0.4: down 40%), ``ratio`` values a level against an earlier one (0.6: down 40%).
A reason named after another member of the same signal adds the trend as a clause."""


def default_signal(name: str) -> str:
    return SIGNAL_OF.get(name, name)


def default_missing(spec: FeatureSpec) -> str:
    """What a null value of ``spec`` means when the table says nothing more specific."""
    if spec.name in MISSING:
        return MISSING[spec.name]
    if spec.requires:
        return f"{spec.description}: no {' or '.join(spec.requires)} data"
    return f"{spec.description}: not recorded"


def trend_clause(name: str, value: float) -> str | None:
    """``value`` of the trend feature ``name`` as a clause ("down 40% on the previous 30
    days"); None for a feature that is not a trend or a change under 5%."""
    if name not in TREND_WINDOWS:
        return None
    kind, window = TREND_WINDOWS[name]
    change = value if kind == "change" else value - 1.0
    if abs(change) < 0.05:
        return f"flat {window}"
    return f"{'up' if change > 0 else 'down'} {abs(change):.0%} {window}"
