"""Scenario switches that change the simulated world from a chosen month, with their truth
in the config the source records (``_truth/summary.json``):

- ``CovariateShift``: from ``start``, the adoption target of every account of ``segment``
  falls by ``drop`` logits, so its usage falls. Churn still follows the same chain (through
  adoption), so a model trained before the shift stays right: its inputs move, its rule
  holds.
- ``ConceptShift``: from ``start``, usage-based pricing: the health and adoption terms of
  the churn log-odds are multiplied by 1 - 2 x ``strength`` (``strength`` 1 reverses them:
  the heaviest, happiest users, now paying most, churn most). The inputs do not move at
  first; who churns does, so a model trained before the shift is now wrong.

- ``RegimeSwitch``: a bad quarter. From ``start``, for ``months`` months, the churn
  log-odds at a term end rise by ``lift`` for every account, whatever its health: many
  accounts leave at once, which no account's own signals announce (the shared shock a book
  forecast must allow for). Afterwards the world is as before.

None draws a random number: with the same seed, a run with a switch is identical to one
without it before ``start`` (the tests rely on that), and the oracle's rollouts, which step
the same chain, follow the shifted world.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from simulator.dates import add_months, day_number

if TYPE_CHECKING:
    from simulator.config import ChainParams

SEGMENT_CODES = {"enterprise": 0, "mid_market": 1, "smb": 2}


class CovariateShift(BaseModel):
    """Usage of one segment falls from ``start`` (a first of the month)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    segment: str = "smb"
    drop: float = Field(1.5, gt=0, description="logits off the adoption target")

    @field_validator("segment")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in SEGMENT_CODES:
            raise ValueError(f"segment must be one of {tuple(SEGMENT_CODES)}; got {value!r}")
        return value


class ConceptShift(BaseModel):
    """Who churns changes from ``start`` (a first of the month)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    strength: float = Field(1.0, gt=0, le=1, description="1 reverses health and adoption")


class RegimeSwitch(BaseModel):
    """Churn rises for every account for ``months`` months from ``start`` (a first of the
    month)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: date
    months: int = Field(3, ge=1, le=24, description="how long the bad spell lasts")
    lift: float = Field(1.0, gt=0, le=5, description="logits added to every churn decision")


def regime_offset(month_start: int, switch: RegimeSwitch | None) -> float:
    """What the regime switch adds to every account's churn log-odds in the month starting
    on day ``month_start`` (0.0 outside the bad spell, or without one)."""
    if switch is None:
        return 0.0
    first = day_number(switch.start)
    end = int(add_months(np.array([first]), switch.months)[0])
    return switch.lift if first <= month_start < end else 0.0


def adoption_offset(
    segment: np.ndarray, month_start: int, shift: CovariateShift | None
) -> np.ndarray | float:
    """What the covariate shift adds to the adoption target in the month starting on day
    ``month_start`` (0.0 before it, or without one)."""
    if shift is None or month_start < day_number(shift.start):
        return 0.0
    return np.where(segment == SEGMENT_CODES[shift.segment], -shift.drop, 0.0)


def churn_offset(
    health: np.ndarray,
    adoption: np.ndarray,
    month_start: int,
    shift: ConceptShift | None,
    chain: ChainParams,
) -> np.ndarray | float:
    """What the concept shift adds to the churn log-odds at a term end in the month starting
    on day ``month_start`` (0.0 before it, or without one)."""
    if shift is None or month_start < day_number(shift.start):
        return 0.0
    usual = chain.churn_health * health + chain.churn_adoption * (adoption - 0.6)
    return -2.0 * shift.strength * usual


def parse_regime_switch(text: str) -> RegimeSwitch:
    """A ``RegimeSwitch`` from ``START[:MONTHS[:LIFT]]`` (``2025-03-01``, ``2025-03-01:3``,
    ``2025-03-01:3:1.5``; the CLI's ``--regime-switch``); ``ValueError`` with a one-line
    message for anything else (a bad date, a part that is not a number, a value out of
    range)."""
    from pydantic import ValidationError

    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3 or not parts[0]:
        raise ValueError(f"{text!r} is not START[:MONTHS[:LIFT]], e.g. 2025-03-01:3:1.0")
    try:
        start = date.fromisoformat(parts[0])
    except ValueError:
        raise ValueError(f"{parts[0]!r} is not a date (YYYY-MM-DD)") from None
    values: dict[str, object] = {"start": start}
    for name, part, kind in zip(("months", "lift"), parts[1:], (int, float), strict=False):
        try:
            values[name] = kind(part)
        except ValueError:
            raise ValueError(f"{name} {part!r} is not a number") from None
    try:
        return RegimeSwitch.model_validate(values)
    except ValidationError as err:
        first = err.errors()[0]
        raise ValueError(f"{first['loc'][0]} {first['input']}: {first['msg']}") from None
