"""Contract 1.1: the optional ``activities.play`` column.

A source without it (version 1) reads as if it were all null; a play id the playbook library
does not know is a warning, never a stop; a play run is CS activity like any other, dated as
usual, so a play run on or after the snapshot never changes that snapshot's features."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from features.contract import CONTRACT_VERSION, TABLES
from features.sources import open_source
from features.validation import validate_source
from features.validation_rules import RULE_KNOWN_PLAY
from serving.playbooks import load_playbooks
from serving.settings import DEFAULT_PLAYBOOKS
from tests.conftest import add_row
from tests.features.helpers import build, write_tables
from tests.features.test_leakage import AS_OF, T, _base

LIBRARY = ("champion_rescue", "adoption_campaign")


def _with_plays(tables: dict[str, pd.DataFrame], *plays: str) -> dict[str, pd.DataFrame]:
    frame = tables["activities"].copy()
    frame["play"] = pd.array([""] * len(frame), dtype="string")
    tables["activities"] = frame
    for i, play in enumerate(plays):
        add_row(tables, "activities", account_id="A1", date=f"2023-0{i + 5}-01", kind="meeting")
        tables["activities"].loc[len(tables["activities"]) - 1, "play"] = play
    return tables


def test_the_contract_declares_version_1_1_with_an_optional_play_column() -> None:
    assert CONTRACT_VERSION == "1.1"
    play = TABLES["activities"].column("play")
    assert (play.dtype, play.nullable, play.optional) == ("string", True, True)
    assert not any(c.optional for t in TABLES.values() for c in t.columns if c.name != "play")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_version_1_source_without_play_still_validates(make_source, source_tables, fmt) -> None:
    assert "play" not in source_tables["activities"].columns
    validated = validate_source(open_source(make_source(source_tables, fmt)), known_plays=LIBRARY)
    assert validated.report.ok and validated.report.problems == []
    activities = validated.table("activities").to_pandas()
    assert list(activities.columns) == list(TABLES["activities"].column_names)
    assert len(activities) == 2 and activities["play"].isna().all()


def test_a_version_1_source_with_quarantined_activities_still_reads(
    make_source, source_tables, tmp_path: Path
) -> None:
    # The quarantine path builds the clean table from the checked columns, not from conform.
    add_row(source_tables, "activities", account_id="A1", date="2023-05-01", kind="dance")
    validated = validate_source(
        open_source(make_source(source_tables)), quarantine_dir=tmp_path / "q"
    )
    activities = validated.table("activities").to_pandas()
    assert len(activities) == 2 and activities["play"].isna().all()


def test_known_plays_pass_and_are_read(make_source, source_tables) -> None:
    tables = _with_plays(source_tables, "champion_rescue", "adoption_campaign")
    validated = validate_source(open_source(make_source(tables)), known_plays=LIBRARY)
    assert validated.report.problems == []
    plays = validated.table("activities").to_pandas()["play"]
    assert sorted(plays.dropna()) == ["adoption_campaign", "champion_rescue"]
    assert plays.isna().sum() == 2  # routine work: '' in CSV is null


def test_unknown_plays_are_a_warning_not_a_stop(make_source, source_tables) -> None:
    tables = _with_plays(source_tables, "champion_rescue", "free_pizza", "free_pizza", "x_play")
    validated = validate_source(open_source(make_source(tables)), known_plays=LIBRARY)
    report = validated.report
    assert report.ok
    [warning] = report.problems
    assert (warning.table, warning.column, warning.rule) == ("activities", "play", RULE_KNOWN_PLAY)
    assert (warning.rows, warning.examples, warning.fatal) == (3, ["free_pizza", "x_play"], False)
    # The rows stay in the run: an unknown play is still CS activity.
    assert len(validated.table("activities").to_pandas()) == 6
    # Without the library's ids (the caller did not pass them) nothing is checked.
    assert validate_source(open_source(make_source(tables))).report.problems == []


def test_validate_cli_checks_against_the_default_library(make_source, source_tables) -> None:
    known = load_playbooks(DEFAULT_PLAYBOOKS).ids
    tables = _with_plays(source_tables, known[0], "free_pizza")
    result = CliRunner().invoke(app, ["validate", str(make_source(tables)), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    [warning] = report["problems"]
    assert warning["rule"] == RULE_KNOWN_PLAY and warning["examples"] == ["free_pizza"]
    assert report["ok"] is True


# ---- point in time -------------------------------------------------------------------------


def _features_at_t(directory: Path) -> pd.Series:
    frame = build(directory, as_of=AS_OF, snapshots=[T])
    return frame[frame.account_id == "A1"].iloc[0].drop(["churn_180d", "expand_180d"])


def _play(day: date, play: str = "champion_rescue") -> dict:
    return {"account_id": "A1", "date": day, "kind": "meeting", "play": play}


def test_a_play_run_on_or_after_the_snapshot_changes_nothing_at_it(tmp_path: Path) -> None:
    baseline = _features_at_t(write_tables(tmp_path / "base", _base()))
    later = _base()
    later["activities"] += [_play(T), _play(date(2024, 6, 20)), _play(date(2024, 9, 1))]
    pd.testing.assert_series_equal(
        _features_at_t(write_tables(tmp_path / "later", later)), baseline
    )


def test_a_play_run_before_the_snapshot_counts_as_cs_activity(tmp_path: Path) -> None:
    baseline = _features_at_t(write_tables(tmp_path / "base", _base()))
    before = _base()
    before["activities"].append(_play(date(2024, 5, 31), "adoption_campaign"))
    after = _features_at_t(write_tables(tmp_path / "before", before))
    assert after["cs_activities_90d"] == baseline["cs_activities_90d"] + 1
    assert after["days_since_last_cs_touch"] == 1


def test_features_cli_reports_unknown_plays_and_goes_on(
    make_source, source_tables, tmp_path: Path
) -> None:
    tables = _with_plays(source_tables, "champion_rescue", "free_pizza")
    source, out = make_source(tables), tmp_path / "features.parquet"
    wide = {"COLUMNS": "250"}
    result = CliRunner().invoke(
        app, ["features", "--source", str(source), "--out", str(out)], env=wide
    )
    assert result.exit_code == 0, result.output
    assert (
        "warning: activities.play: 1 row(s) break 'play in the playbook library (warning)' "
        "(e.g. free_pizza)" in result.output
    )
    as_json = CliRunner().invoke(
        app, ["features", "--source", str(source), "--out", str(out), "--json"]
    )
    [warning] = json.loads(as_json.output)["validation_warnings"]
    assert (warning["column"], warning["rows"], warning["fatal"]) == ("play", 1, False)
