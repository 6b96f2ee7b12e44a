"""`churnlight book` on a hand-made source: one JSON line, a readable table, one red line for
a filter that matches nothing or a source that is not there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from tests.forecast.helpers import write_book_source

WIDE = {"COLUMNS": "200"}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_book_source(tmp_path_factory.mktemp("book") / "source")


def test_json_is_one_line_with_every_month(source: Path) -> None:
    result = CliRunner().invoke(
        app, ["book", "--source", str(source), "--months", "0", "--json"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    body = json.loads(result.output)
    assert (body["as_of"], body["by"]) == ("2024-07-01", None)
    months = [m["month"] for m in body["months"]]
    assert months[0] == "2023-12-01" and months[-1] == "2024-06-01" and len(months) == 7
    march = body["months"][3]
    assert (march["churned"], march["reactivated"], march["logos_churned"]) == (100.0, 0.0, 1)


def test_table_per_csm(source: Path) -> None:
    result = CliRunner().invoke(
        app, ["book", "--source", str(source), "--by", "csm", "--months", "2"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    for title in ("csm ann", "csm bob", "csm (none)"):
        assert title in result.output
    assert "2024-06*" in result.output and "provisional" in result.output


def test_an_unknown_segment_is_one_red_line(source: Path) -> None:
    result = CliRunner().invoke(
        app, ["book", "--source", str(source), "--segment", "gold"], env=WIDE
    )
    assert result.exit_code == 1
    assert "no account has segment 'gold'; known: enterprise, mid_market, smb" in result.output
    assert "Traceback" not in result.output


def test_a_missing_source_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["book", "--source", str(tmp_path / "nope")], env=WIDE)
    assert result.exit_code == 1
    assert "does not exist" in result.output and "Traceback" not in result.output
