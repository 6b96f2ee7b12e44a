"""`churnlight score` records history; `churnlight history`; `churnlight alerts`; every
`--json` output of every command is one line; `retrain` prints its summary on any failure."""

from __future__ import annotations

import inspect
import json
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer.main
from typer.testing import CliRunner

from churnlight.cli import app
from serving.loading import models_from_bundles
from tests.serving.helpers import fit_bundle, make_table, write_snapshot
from tests.serving.receiver import Receiver, running


@pytest.fixture(scope="module")
def bundles():
    train = make_table(300, seed=1)
    return fit_bundle(train, "churn_180d"), fit_bundle(train, "expand_180d")


@pytest.fixture
def env(tmp_path, monkeypatch, bundles) -> dict[str, str]:
    monkeypatch.setattr(
        "serving.batch.load_models", lambda settings: models_from_bundles(*bundles, "4", "2")
    )
    return {"CHURNLIGHT_HOME": str(tmp_path / "models"), "COLUMNS": "250"}


@pytest.fixture
def two_snapshots(tmp_path: Path) -> Path:
    june = make_table(25, seed=5, snapshot_date=date(2024, 6, 1))
    july = make_table(25, seed=2)
    return write_snapshot(pa.concat_tables([june, july]), tmp_path / "features.parquet")


def one_line(output: str) -> dict:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    return json.loads(lines[0])


def test_score_records_every_snapshot_and_history_prints_them(tmp_path, env, two_snapshots) -> None:
    runner = CliRunner()
    scored = runner.invoke(
        app,
        ["score", "--features", str(two_snapshots), "--out", str(tmp_path / "s.parquet"), "--json"],
        env=env,
    )
    assert scored.exit_code == 0, scored.output
    summary = one_line(scored.stdout)
    assert summary["history"]["rows"] == 50
    assert summary["history"]["store"].endswith("models/history/history.duckdb")

    shown = runner.invoke(app, ["history", "--account", "A003", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    body = one_line(shown.stdout)
    assert body["account_id"] == "A003"
    assert [p["snapshot_date"] for p in body["points"]] == ["2024-06-01", "2024-07-01"]
    scores = pq.read_table(tmp_path / "s.parquet").to_pylist()
    july = next(r for r in scores if r["account_id"] == "A003" and r["snapshot_date"].month == 7)
    assert body["points"][1]["churn_probability"] == pytest.approx(july["churn_probability"])
    assert body["points"][1]["churn_model_version"] == "churnlight-churn/4"

    table = runner.invoke(app, ["history", "--account", "A003"], env=env)
    assert "2024-06-01" in table.stdout and "churnlight-churn/4" in table.stdout
    missing = runner.invoke(app, ["history", "--account", "NOPE"], env=env)
    assert missing.exit_code == 1
    assert "account 'NOPE' has no scores in the history" in missing.output
    assert "Traceback" not in missing.output


def test_no_history_records_nothing_and_last_snapshots_keeps_the_latest(
    tmp_path, env, two_snapshots
) -> None:
    runner = CliRunner()
    out = tmp_path / "s.parquet"

    skipped = runner.invoke(
        app,
        ["score", "--features", str(two_snapshots), "--out", str(out), "--no-history", "--json"],
        env=env,
    )
    assert skipped.exit_code == 0, skipped.output
    assert one_line(skipped.stdout)["history"] is None
    assert not (tmp_path / "models" / "history" / "history.duckdb").exists()

    latest = runner.invoke(
        app,
        [
            "score",
            "--features",
            str(two_snapshots),
            "--out",
            str(out),
            "--last-snapshots",
            "1",
            "--json",
        ],
        env=env,
    )
    assert latest.exit_code == 0, latest.output
    assert one_line(latest.stdout)["snapshot_dates"] == ["2024-07-01"]
    assert pq.read_table(out).num_rows == 25


def test_alerts_test_and_replay(tmp_path, env, monkeypatch) -> None:
    monkeypatch.setenv("CS_HOOK_SECRET", "secret")
    with running(Receiver()) as receiver:
        alerts = tmp_path / "alerts.yaml"
        alerts.write_text(
            f"subscriptions:\n  - url: {receiver.url}\n    secret_env: CS_HOOK_SECRET\n"
            "    events: [tier_entered]\n    format: slack\n"
        )
        env = {**env, "CHURNLIGHT_ALERTS_FILE": str(alerts)}
        result = CliRunner().invoke(app, ["alerts", "test", "--json"], env=env)
    assert result.exit_code == 0, result.output
    (sent,) = one_line(result.stdout)["results"]
    assert sent["ok"] is True and sent["attempts"] == 1
    assert "*tier entered*: account TEST-0001" in json.loads(receiver.requests[0].body)["text"]

    replayed = CliRunner().invoke(app, ["alerts", "replay", "--json"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert one_line(replayed.stdout) == {
        "path": str(tmp_path / "models" / "history" / "alerts-dead-letter.jsonl"),
        "sent": 0,
        "failed": 0,
        "left": 0,
    }
    none = CliRunner().invoke(app, ["alerts", "test"], env={"COLUMNS": "250"})
    assert none.exit_code == 1 and "no subscriptions: set CHURNLIGHT_ALERTS_FILE" in none.output


def test_retrain_prints_its_summary_line_on_an_os_error(tmp_path) -> None:
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("")

    result = CliRunner().invoke(
        app,
        ["retrain", "--source", str(tmp_path)],
        env={"CHURNLIGHT_HOME": str(not_a_folder), "COLUMNS": "250"},
    )

    assert result.exit_code == 1
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["status"] == "failed"
    assert summary["error"].startswith(("FileExistsError", "NotADirectoryError"))


JSON_COMMANDS_RUN_HERE = {
    "keys new",
    "info",
    "features",
    "validate",
    "score",
    "history",
    "alerts test",
    "alerts replay",
}


def test_every_json_output_is_one_line(tmp_path, env, make_source, source_tables) -> None:
    runner = CliRunner()
    snapshot = write_snapshot(make_table(10, seed=2), tmp_path / "f.parquet")
    runs = {
        "keys new": ["keys", "new", "--json"],
        "info": ["info", "--json"],
        "features": ["features", "--describe", "--json"],
        "validate": ["validate", str(make_source(source_tables)), "--json"],
        "score": ["score", "--features", str(snapshot), "--out", str(tmp_path / "s.csv"), "--json"],
        "history": ["history", "--account", "A001", "--json"],
        "alerts replay": ["alerts", "replay", "--json"],
    }
    for name, args in runs.items():
        result = runner.invoke(app, args, env=env)
        assert result.exit_code == 0, (name, result.output)
        assert len(result.stdout.strip().splitlines()) == 1, (name, result.stdout[:300])
        json.loads(result.stdout)

    # every command with --json prints through print_json, never a pretty printer
    group = typer.main.get_command(app)
    commands = {}
    for name, command in group.commands.items():
        subs = getattr(command, "commands", None)
        for sub_name, sub in (subs or {name: command}).items():
            full = f"{name} {sub_name}" if subs else name
            if any("--json" in p.opts for p in sub.params):
                commands[full] = sub.callback
    assert set(commands) >= JSON_COMMANDS_RUN_HERE
    for name, callback in commands.items():
        source = inspect.getsource(inspect.getmodule(callback))
        assert "print_json(" in source, name
        assert "console.print_json" not in source and "indent=" not in source, name
