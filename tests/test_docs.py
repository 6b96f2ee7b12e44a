"""The docs, the contract as code and the shared spec say the same thing."""

from __future__ import annotations

import filecmp
import re
from pathlib import Path

import pytest

from features.contract import TABLES
from features.transforms import all_feature_specs

REPO = Path(__file__).resolve().parents[1]
SHARED_SPEC = REPO.parent / "shared" / "spec"


def _shared() -> Path:
    if not SHARED_SPEC.is_dir():
        pytest.skip(f"the upstream spec is not beside this checkout ({SHARED_SPEC})")
    return SHARED_SPEC


def test_the_repo_copy_of_the_contract_matches_the_spec() -> None:
    spec = _shared()
    assert (REPO / "docs" / "data-contract.md").read_text() == (
        spec / "data-contract.md"
    ).read_text()
    files = sorted(p.relative_to(spec / "examples") for p in (spec / "examples").rglob("*.csv"))
    assert files, "the spec has no examples"
    for relative in files:
        assert filecmp.cmp(
            spec / "examples" / relative, REPO / "docs" / "examples" / relative, shallow=False
        ), relative


def test_every_contract_column_is_in_the_contract_doc() -> None:
    text = (REPO / "docs" / "data-contract.md").read_text()
    for name, spec in TABLES.items():
        assert f"**{name}**" in text, name
        for column in spec.column_names:
            assert re.search(rf"\b{re.escape(column)}\b", text), f"{name}.{column}"


def test_every_feature_is_documented() -> None:
    text = (REPO / "docs" / "features.md").read_text()
    for spec in all_feature_specs():
        assert f"| {spec.name} |" in text or f"| **{spec.name}** |" in text, spec.name
