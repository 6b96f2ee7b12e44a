"""`churnlight validate`: exit codes, the printed report, JSON, quarantine and as-of."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from tests.conftest import add_row, all_faults

# Wide enough that rich never wraps a rule name or an example inside a table cell.
WIDE = {"COLUMNS": "250"}

EVERY_FAULT = [
    ("accounts", "account_id", "key unique"),
    ("subscriptions", "subscription_id", "key unique"),
    ("subscriptions", "end_date", "end_date > start_date"),
    ("subscriptions", "mrr", "mrr >= 0"),
    ("events", "account_id", "in accounts"),
    ("contacts", "user_id", "column present"),
    ("tickets", "closed_at", "closed_at >= opened_at"),
    ("surveys", "score", "score in range of kind (nps 0-10, csat 1-5)"),
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_clean_source_exits_0_with_a_summary(runner, make_source, source_tables) -> None:
    source = make_source(source_tables)

    result = runner.invoke(app, ["validate", str(source)], env=WIDE)

    assert result.exit_code == 0, result.output
    assert "meets the data contract" in result.output
    assert "(as of 2024-01-01)" in result.output
    assert "Problems" not in result.output
    events_line = next(line for line in result.output.splitlines() if "events" in line)
    # table, rows read, invalid, after as-of, quarantined, kept
    cells = [cell.strip() for cell in events_line.split("│")[1:7]]
    assert cells == ["events", "4", "0", "0", "0", "4"]


def test_every_fault_exits_1_and_is_named(runner, make_source, source_tables) -> None:
    source = make_source(all_faults(source_tables))

    result = runner.invoke(app, ["validate", str(source)], env=WIDE)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "8 problem(s) stop the run" in result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│")]
    for table, column, rule in EVERY_FAULT:
        assert any(
            [cell.strip() for cell in row.split("│")[1:4]] == [table, column, rule] for row in rows
        ), (table, column, rule)
    assert "account_id=A7 ts=2023-08-02 12:00:00" in result.output
    assert "--quarantine-dir" in result.output


def test_json_report_lists_every_fault(runner, make_source, source_tables) -> None:
    source = make_source(all_faults(source_tables))

    result = runner.invoke(app, ["validate", str(source), "--json"])

    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert [(p["table"], p["column"], p["rule"]) for p in report["problems"]] == EVERY_FAULT
    assert [p["rows"] for p in report["problems"]] == [2, 2, 1, 1, 2, 2, 1, 1]
    assert all(p["fatal"] for p in report["problems"])


def test_quarantine_dir_sets_rows_aside_and_exits_0(
    runner, make_source, source_tables, tmp_path: Path
) -> None:
    add_row(source_tables, "events", account_id="A9", ts="2023-02-01 10:00:00", feature="api")
    add_row(source_tables, "surveys", account_id="A1", date="2023-07-02", kind="nps", score="14")
    source = make_source(source_tables)
    quarantine = tmp_path / "quarantine"

    result = runner.invoke(
        app, ["validate", str(source), "--quarantine-dir", str(quarantine)], env=WIDE
    )

    assert result.exit_code == 0, result.output
    assert "2 row(s) quarantined" in result.output
    assert "no, quarantined" in result.output
    assert sorted(p.name for p in quarantine.iterdir()) == ["events.parquet", "surveys.parquet"]
    events = pd.read_parquet(quarantine / "events.parquet")
    assert events["_reason"].tolist() == ["account_id not in accounts"]


def test_as_of_option_counts_left_out_rows(runner, make_source, source_tables) -> None:
    source = make_source(source_tables)

    result = runner.invoke(app, ["validate", str(source), "--as-of", "2023-10-01", "--json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["as_of"] == "2023-10-01"
    assert report["tables"]["events"]["rows_after_as_of"] == 2
    assert report["tables"]["events"]["rows_kept"] == 2
    assert report["tables"]["tickets"]["rows_after_as_of"] == 1


def test_missing_source_is_a_red_message_not_a_traceback(runner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])

    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "Traceback" not in result.output


def test_bad_as_of_is_a_usage_error(runner, make_source, source_tables) -> None:
    source = make_source(source_tables)

    result = runner.invoke(app, ["validate", str(source), "--as-of", "01/10/2023"])

    assert result.exit_code == 2
