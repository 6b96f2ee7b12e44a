"""Feature metadata: family, description, unit and a plain-words template per feature.

The templates turn a value into a sentence a CS manager recognises; serving renders them
with ``render_reason``. Placeholders: ``{value}`` (formatted by unit), ``{abs_pct}`` (the
value as an absolute percentage, for changes and ratios around 1), ``{direction}``
("rose"/"fell" by the sign of a change), and ``{raw}`` (the unformatted number)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from features.signals import default_missing, default_signal

Family = Literal[
    "usage_depth",
    "champions",
    "consumption",
    "support",
    "voice_of_customer",
    "commercial",
    "lifecycle",
    "engagement",
    "payments",
]
FAMILIES: tuple[Family, ...] = (
    "usage_depth",
    "champions",
    "consumption",
    "support",
    "voice_of_customer",
    "commercial",
    "lifecycle",
    "engagement",
    "payments",
)
Unit = Literal[
    "count",
    "ratio",
    "fraction",
    "days",
    "currency",
    "units",
    "score",
    "flag",
    "category",
    "change",
    "per_day",
]
Kind = Literal["numeric", "categorical"]
Role = Literal["context", "actionable"]

CONTEXT_FAMILIES: frozenset[str] = frozenset({"lifecycle", "commercial"})
"""Families that explain *when* and *how much* (term timing, size, price level, segment,
tenure) but not what a CSM can change; their features are ``context``, the others
``actionable``."""
ROLE_OVERRIDES: dict[str, Role] = {
    # Timing of the metered term: the same fact as days to renewal, not a consumption cause.
    "term_elapsed_fraction": "context",
}


@dataclass(frozen=True)
class FeatureSpec:
    name: str
    family: Family
    description: str
    unit: Unit
    template: str
    kind: Kind = "numeric"
    canonical: bool = False
    requires: tuple[str, ...] = ()
    """Optional tables the feature needs; it is null when one is absent."""
    role: Role | None = None
    """``context`` or ``actionable``; None: by family (``CONTEXT_FAMILIES``) and
    ``ROLE_OVERRIDES``."""
    signal: str = ""
    """The signal the feature carries; features of one signal make one reason (see
    ``features.signals``). Empty: the default grouping, else the feature's own name."""
    missing: str = ""
    """What a null value means, in plain words; empty: the default phrase."""

    def __post_init__(self) -> None:
        if self.role is None:
            role = ROLE_OVERRIDES.get(self.name)
            role = role or ("context" if self.family in CONTEXT_FAMILIES else "actionable")
            object.__setattr__(self, "role", role)
        if not self.signal:
            object.__setattr__(self, "signal", default_signal(self.name))
        if not self.missing:
            object.__setattr__(self, "missing", default_missing(self))

    @property
    def actionable(self) -> bool:
        return self.role == "actionable"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["requires"] = list(self.requires)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        """A spec from ``to_dict`` output (unknown keys ignored; keys added since the dict
        was written take their defaults)."""
        known = {k: v for k, v in data.items() if k in _FIELD_NAMES}
        known["requires"] = tuple(known.get("requires", ()))
        return cls(**known)


_FIELD_NAMES = frozenset(f.name for f in fields(FeatureSpec))


def spec_maker(family: Family, requires: tuple[str, ...] = ()) -> Callable[..., FeatureSpec]:
    """``make(name, description, unit, template, **more)``: the specs of one family, whose
    features need the optional tables ``requires``."""

    def make(name: str, description: str, unit: Unit, template: str, **more: Any) -> FeatureSpec:
        return FeatureSpec(
            name, family, description, unit, template, **{"requires": requires, **more}
        )

    return make


def format_value(value: Any, unit: str) -> str:
    """A value formatted for a sentence: 42%, 1,200, 14 days, $3,400."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "unknown"
    if unit == "category":
        return str(value)
    number = float(value)
    if unit == "fraction":
        return f"{number:.0%}"
    if unit == "change":
        return f"{number:+.0%}"
    if unit == "ratio":
        return f"{number:.2f}x"
    if unit == "currency":
        return f"${number:,.0f}"
    if unit == "flag":
        return "yes" if number >= 0.5 else "no"
    if unit == "days":
        return f"{number:,.0f} days"
    if unit in {"count", "units"}:
        return f"{number:,.0f}" if number == round(number) else f"{number:,.1f}"
    return f"{number:,.2f}" if abs(number) < 100 else f"{number:,.0f}"


STEADY = 0.005
"""A relative change under half a percent reads "held steady", not "rose 0%"."""


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def render_reason(spec: FeatureSpec, value: Any) -> str:
    """The plain-words sentence of ``spec`` for ``value``."""
    if is_missing(value):
        return spec.missing
    raw = value
    direction = "rose"
    abs_pct = ""
    template = spec.template
    if spec.unit != "category":
        number = float(value)
        direction = "rose" if number >= 0 else "fell"
        abs_pct = f"{abs(number):.0%}"
        if spec.unit == "change" and abs(number) < STEADY:
            template = template.replace("{direction} {abs_pct}", "held steady")
    return template.format(
        value=format_value(value, spec.unit), abs_pct=abs_pct, direction=direction, raw=raw
    )


def catalog_json(specs: list[FeatureSpec]) -> str:
    return json.dumps([s.to_dict() for s in specs], indent=2)
