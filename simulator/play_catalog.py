"""The CS plays the simulator knows, and the settings of the policy that runs them.

Ids are those of the playbook library (``serving/playbooks.yaml``): the simulator writes them
into ``activities.play`` (contract 1.1). What each play does to an account is in
``simulator.plays`` (``apply_plays``); who gets one, when, is the policy there
(``choose_plays``) with the knobs below. Kept apart from ``simulator.plays`` so that
``simulator.config`` can hold a ``PlayPolicy`` without importing the chain.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PLAY_IDS = (
    "champion_rescue",
    "adoption_campaign",
    "expansion_conversation",
    "escalation_review",
    "onboarding_rescue",
    "detractor_follow_up",
    "overdue_invoices",
    "executive_business_review",
    "renewal_discount",
    "success_check_in",
)
"""Every simulated play, in code order (``PLAY_CODES``)."""
PLAY_CODES = {play: code for code, play in enumerate(PLAY_IDS)}
INERT_PLAYS = ("success_check_in",)
"""Plays that change nothing in the simulated world: their true effect is exactly zero."""
PLAY_KINDS = {
    "champion_rescue": "meeting",
    "adoption_campaign": "training",
    "expansion_conversation": "meeting",
    "escalation_review": "escalation",
    "onboarding_rescue": "training",
    "detractor_follow_up": "meeting",
    "overdue_invoices": "other",
    "executive_business_review": "qbr",
    "renewal_discount": "meeting",
    "success_check_in": "other",
}
"""The activity kind a play run is recorded as (it counts as CS engagement)."""


class PlayPolicy(BaseModel):
    """How the CS team runs plays in the simulated world (``SimulationConfig.plays``).

    Each month every CSM spends a capacity of plays on the accounts of their book that look
    riskiest through observable signals (no champion in the CRM, low utilisation, urgent
    tickets, overdue invoices, a renewal within 180 days, a young account, a detractor),
    with Gumbel noise of scale ``noise`` (some randomness: overlap for the estimators). The
    smb pool (no named CSM) works a share of its accounts. An account played is left alone
    for ``cooldown_months``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity_enterprise: float = Field(
        4.0, ge=0, description="plays a month per enterprise CSM (book of 25)"
    )
    capacity_mid_market: float = Field(
        6.0, ge=0, description="plays a month per mid-market CSM (book of 80)"
    )
    pool_share: float = Field(
        0.03, ge=0, le=1, description="share of the pooled (smb) accounts played a month"
    )
    noise: float = Field(0.6, ge=0, description="Gumbel noise on the visible risk score")
    cooldown_months: int = Field(3, ge=1, description="months before an account is played again")
    truth_rollouts: int = Field(
        100, ge=1, description="rollouts per row and arm for the plays' true effects"
    )
    truth_sample_rows: int = Field(
        400, ge=0, description="eligible rows sampled for the effect of every play on all rows"
    )
