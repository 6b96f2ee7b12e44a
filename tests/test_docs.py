"""The docs say what the code is: every file they name is in the repository, every contract
column and every feature is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from features.contract import TABLES
from features.transforms import all_feature_specs

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")
"""The target of a Markdown link."""
NAMED_PATH = re.compile(r"`([\w.-]*/[\w./-]+\.(?:py|md|yaml|ipynb|csv))`")
"""A file named in code style with its folder, e.g. `features/contract.py`."""


def _targets(doc: Path) -> list[str]:
    text = doc.read_text()
    links = [t.split("#")[0] for t in LINK.findall(text) if "://" not in t]
    return [t for t in links if t] + NAMED_PATH.findall(text)


def _resolve(doc: Path, target: str) -> Path:
    """A path named by ``doc``: beside the doc, else from the repository root."""
    beside = (doc.parent / target).resolve()
    return beside if beside.exists() else (REPO / target).resolve()


def test_the_docs_name_some_files() -> None:
    # Guards the next test against a pattern that matches nothing.
    assert "docs/validation.md" in _targets(REPO / "README.md")
    assert "features/contract.py" in _targets(REPO / "docs" / "validation.md")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_file_a_doc_names_is_in_the_repository(doc: Path) -> None:
    for target in _targets(doc):
        path = _resolve(doc, target)
        assert path.is_relative_to(REPO), f"{doc.name} points outside the repository: {target}"
        assert path.exists(), f"{doc.name} names {target}, which is not in the repository"


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
