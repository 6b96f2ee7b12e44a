"""`churnlight features`: the printed summary, one-line JSON, --describe, and bad sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from features.transforms import all_feature_specs
from tests.features.test_examples import EXAMPLES

MINIMAL = EXAMPLES / "minimal"
NULL_LINES = [
    "51 of 92 features are null on every row (they carry nothing in this source):",
    "  absent table activities: days_since_last_qbr, days_since_last_cs_touch, "
    "cs_activities_90d, trainings_180d, escalations_90d, onboarding_milestones_first_90d",
    "  absent table consumption: consumption_30d, quota_burn_ratio, consumption_7d, "
    "consumption_90d, consumption_trend_30_90, quota_used_fraction, term_elapsed_fraction, "
    "quota_runout_days_before_renewal",
    "  absent table contacts: champion_departures_90d, active_champions, "
    "champion_arrivals_90d, champion_departures_365d, days_since_champion_change, "
    "champion_days_since_active, active_exec_sponsors, days_since_exec_sponsor_contact, "
    "contacts_active",
    "  absent table invoices: invoices_overdue, overdue_amount, max_days_overdue, "
    "mean_days_late_180d, late_payments_365d",
    "  absent table surveys: nps_last, nps_change, nps_detractor, nps_promoter, "
    "days_since_nps, nps_mean_180d, nps_mean_365d, csat_last, csat_mean_180d, "
    "survey_responses_180d",
    "  absent table tickets: open_high_tickets, open_tickets, open_ticket_age_days_max, "
    "open_ticket_age_days_mean, tickets_30d, tickets_90d, urgent_tickets_90d, "
    "tickets_trend_30_90, resolution_hours_90d",
    "  absent table users: departments_active_30d, departments_change_30d, "
    "provisioned_users, users_deactivated_90d",
]
JSON_KEYS = [
    "source",
    "source_fingerprint",
    "backend",
    "as_of",
    "horizon_days",
    "grace_days",
    "snapshots",
    "snapshot_dates",
    "rows",
    "rows_per_snapshot",
    "seconds_per_step",
    "absent_tables",
    "null_features",
    "validation",
    "validation_warnings",
    "quarantine_dir",
    "labels",
    "times",
    "keys",
    "path",
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_a_minimal_source_is_built_and_its_null_features_named(runner, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"

    result = runner.invoke(app, ["features", "--source", str(MINIMAL), "--out", str(out)])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (f"wrote {out}: 84 rows x 92 features, 25 snapshot(s), as of 2025-01-01")
    assert lines[1:-1] == NULL_LINES
    assert lines[-1].startswith("seconds per step: user_segments ")
    assert result.stderr == ""
    assert out.exists() and out.with_name("features.meta.json").exists()


def test_json_is_one_line_with_the_null_features(runner, tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"

    result = runner.invoke(app, ["features", "--source", str(MINIMAL), "--out", str(out), "--json"])

    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    payload = json.loads(result.stdout)
    assert list(payload) == JSON_KEYS
    assert payload["path"] == str(out)
    assert payload["rows"] == 84
    assert len(payload["null_features"]) == 51
    assert payload["null_features"][0] == {
        "feature": "champion_departures_90d",
        "family": "champions",
        "reason": "absent_table",
        "detail": ["contacts"],
    }


def test_describe_prints_every_feature(runner) -> None:
    result = runner.invoke(app, ["features", "--describe"])

    assert result.exit_code == 0, result.output
    assert "92 features" in result.stdout
    for spec in all_feature_specs():
        assert spec.name in result.stdout, spec.name
    assert "renewal_timing" in result.stdout and "actionable" in result.stdout


def test_describe_json_is_one_line_of_every_feature(runner) -> None:
    result = runner.invoke(app, ["features", "--describe", "--json"])

    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    catalog = json.loads(result.stdout)
    assert [entry["name"] for entry in catalog] == [s.name for s in all_feature_specs()]
    assert catalog[0] == {
        "name": "mrr",
        "family": "commercial",
        "description": "Account MRR on the day before the snapshot",
        "unit": "currency",
        "template": "MRR is {value}",
        "kind": "numeric",
        "canonical": True,
        "requires": [],
        "role": "context",
        "signal": "account_size",
        "missing": "Account MRR on the day before the snapshot: not recorded",
    }
    roles = {entry["name"]: entry["role"] for entry in catalog}
    assert roles["days_to_renewal"] == "context" and roles["active_users_30d"] == "actionable"


def test_a_missing_source_is_one_red_line(runner, tmp_path: Path) -> None:
    missing = tmp_path / "nope"

    result = runner.invoke(app, ["features", "--source", str(missing)])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: source '{missing}' does not exist; give a folder or a DuckDB file\n"
    )


def test_a_source_breaking_the_contract_is_one_red_line(runner, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("accounts", "subscriptions"):
        (source / f"{name}.csv").write_text((MINIMAL / f"{name}.csv").read_text())
    (source / "events.csv").write_text(
        "account_id,user_id,ts,feature,quantity\n"
        "A1,u1,2024-01-01 10:00:00,reports,1\n"
        "A9,u1,2024-01-02 10:00:00,reports,1\n"
    )

    result = runner.invoke(
        app, ["features", "--source", str(source), "--out", str(tmp_path / "f.parquet")]
    )

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: source '{source}' breaks the data contract; rule(s) broken: "
        f"events.account_id: in accounts, 1 row(s); `churnlight validate {source}` lists them "
        "with examples; --quarantine sets rows breaking row-level rules aside\n"
    )
    assert not (tmp_path / "f.parquet").exists()


def test_no_source_and_no_describe_is_one_red_line(runner) -> None:
    result = runner.invoke(app, ["features"])

    assert result.exit_code == 1
    assert result.stderr == (
        "error: give --source (a folder of tables or a DuckDB file), or --describe\n"
    )
