"""Feature metadata: family, description, unit and a plain-words template per feature.

The templates turn a value into a sentence a CS manager recognises; serving renders them
with ``render_reason``. Placeholders: ``{value}`` (formatted by unit), ``{abs_pct}`` (the
value as an absolute percentage, for changes and ratios around 1), ``{direction}``
("rose"/"fell" by the sign of a change), and ``{raw}`` (the unformatted number)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

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

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["requires"] = list(self.requires)
        return out


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


def render_reason(spec: FeatureSpec, value: Any) -> str:
    """The plain-words sentence of ``spec`` for ``value``."""
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if missing:
        return f"{spec.description}: no data"
    raw = value
    direction = "rose"
    abs_pct = ""
    if spec.unit != "category":
        number = float(value)
        direction = "rose" if number >= 0 else "fell"
        abs_pct = f"{abs(number):.0%}"
    return spec.template.format(
        value=format_value(value, spec.unit), abs_pct=abs_pct, direction=direction, raw=raw
    )


def catalog_json(specs: list[FeatureSpec]) -> str:
    return json.dumps([s.to_dict() for s in specs], indent=2)
