"""Pure feature transforms, one module per family. ``FAMILY_MODULES`` is their registry."""

from __future__ import annotations

from types import ModuleType

from features.metadata import FeatureSpec
from features.transforms import (
    champions,
    commercial,
    consumption,
    engagement,
    lifecycle,
    payments,
    support,
    usage,
    voice,
)

FAMILY_MODULES: dict[str, ModuleType] = {
    module.FAMILY: module
    for module in (
        commercial,
        lifecycle,
        usage,
        champions,
        consumption,
        support,
        voice,
        engagement,
        payments,
    )
}


def all_feature_specs() -> list[FeatureSpec]:
    """Every feature's metadata, canonical features first in contract order."""
    from features.contract import CANONICAL_FEATURES

    specs = [spec for module in FAMILY_MODULES.values() for spec in module.FEATURES]
    by_name = {spec.name: spec for spec in specs}
    if len(by_name) != len(specs):
        raise RuntimeError("two feature families declare the same feature name")
    canonical = [by_name[name] for name in CANONICAL_FEATURES]
    return canonical + [s for s in specs if s.name not in CANONICAL_FEATURES]


def column_needs() -> dict[str, tuple[str, ...]]:
    """Nullable source columns ("table.column") each feature needs, from every family's
    ``COLUMN_NEEDS``: when one of them holds no value, the feature is null on every row.

    Tables a feature needs are its spec's ``requires``; these are the columns within
    present tables (checked by ``tests/features/test_null_features.py``, which empties each
    column in turn)."""
    return {
        name: columns
        for module in FAMILY_MODULES.values()
        for name, columns in getattr(module, "COLUMN_NEEDS", {}).items()
    }
