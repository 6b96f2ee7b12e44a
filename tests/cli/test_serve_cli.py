"""`churnlight keys new`, `churnlight score` and `churnlight serve` (uvicorn replaced)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from serving.auth import hash_key
from serving.loading import models_from_bundles
from tests.serving.helpers import SCORE_FILE_SCHEMA, fit_bundle, make_table, write_snapshot

WIDE = {"COLUMNS": "250"}


@pytest.fixture(scope="module")
def bundles():
    train = make_table(300, seed=1)
    return fit_bundle(train, "churn_180d"), fit_bundle(train, "expand_180d")


@pytest.fixture
def snapshot(tmp_path: Path) -> Path:
    return write_snapshot(make_table(25, seed=2), tmp_path / "features.parquet")


@pytest.fixture
def fake_registry(monkeypatch, bundles):
    def load(settings):
        return models_from_bundles(*bundles, "4", "2")

    monkeypatch.setattr("serving.batch.load_models", load)
    monkeypatch.setattr("serving.app.load_models", load)
    return load


def test_keys_new_prints_a_key_and_its_hash() -> None:
    result = CliRunner().invoke(app, ["keys", "new"], env=WIDE)

    assert result.exit_code == 0, result.output
    key = re.search(r"key:   (cl_\S+)", result.output).group(1)
    digest = re.search(r"entry: (sha256:[0-9a-f]{64})", result.output).group(1)
    assert hash_key(key) == digest
    assert "CHURNLIGHT_API_KEYS" in result.output


def test_keys_new_json_with_a_name() -> None:
    result = CliRunner().invoke(app, ["keys", "new", "--name", "crm", "--json"])

    payload = json.loads(result.output)
    assert hash_key(payload["key"]) == payload["hash"]
    assert payload["entry"] == "crm:" + payload["hash"]


def test_keys_new_refuses_a_bad_name() -> None:
    result = CliRunner().invoke(app, ["keys", "new", "--name", "a b"])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: key name 'a b' is not 1-64 letters")
    assert "Traceback" not in result.output


def test_score_writes_the_contract_columns(tmp_path, snapshot, fake_registry) -> None:
    out = tmp_path / "scores.parquet"

    result = CliRunner().invoke(
        app, ["score", "--features", str(snapshot), "--out", str(out)], env=WIDE
    )

    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 25 rows (2024-07-01)" in result.output
    assert "churnlight-churn/4 / churnlight-expansion/2" in result.output
    table = pq.read_table(out)
    assert table.num_rows == 25
    assert table.schema.equals(SCORE_FILE_SCHEMA), table.schema
    assert set(table.column("churn_model_version").to_pylist()) == {"churnlight-churn/4"}


def test_score_json_and_csv(tmp_path, snapshot, fake_registry) -> None:
    out = tmp_path / "scores.csv"

    result = CliRunner().invoke(
        app, ["score", "--features", str(snapshot), "--out", str(out), "--json"]
    )

    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["rows"] == 25 and summary["path"] == str(out)
    assert sum(summary["tiers"].values()) == 25
    header, first = out.read_text().splitlines()[:2]
    assert header.startswith('"account_id","snapshot_date","churn_probability"')
    assert '""feature"": ' in first  # drivers as JSON strings


def test_score_refuses_an_unknown_output_format(tmp_path, snapshot, fake_registry) -> None:
    result = CliRunner().invoke(
        app, ["score", "--features", str(snapshot), "--out", str(tmp_path / "s.xlsx")]
    )

    assert result.exit_code == 1
    assert "write a .parquet or a .csv file" in result.output
    assert "Traceback" not in result.output


def test_score_without_models_is_a_red_message(tmp_path, snapshot, monkeypatch) -> None:
    monkeypatch.setenv("CHURNLIGHT_HOME", str(tmp_path / "models"))

    result = CliRunner().invoke(app, ["score", "--features", str(snapshot)], env=WIDE)

    assert result.exit_code == 1
    assert "error: no MLflow store at" in result.output
    assert "Traceback" not in result.output


def test_serve_needs_exactly_one_snapshot(tmp_path, snapshot) -> None:
    runner = CliRunner()

    both = runner.invoke(app, ["serve", "--source", str(tmp_path), "--features", str(snapshot)])
    missing = runner.invoke(app, ["serve", "--features", str(tmp_path / "none.parquet")])

    assert both.exit_code == 1 and "give --source or --features, not both" in both.output
    assert missing.exit_code == 1 and "none.parquet' does not exist" in missing.output


def test_serve_passes_host_port_and_prints_a_curl_line(
    monkeypatch, snapshot, fake_registry
) -> None:
    from serving.cache import build_state
    from serving.snapshot import load_snapshot

    seen = {}

    def fake_serve(settings, on_ready=None, on_error=None):
        seen["settings"] = settings
        on_ready(build_state(settings, fake_registry, load_snapshot))

    monkeypatch.setattr("serving.server.serve", fake_serve)

    result = CliRunner().invoke(
        app,
        ["serve", "--features", str(snapshot), "--host", "0.0.0.0", "--port", "8123", "--demo-key"],
        env=WIDE,
    )

    assert result.exit_code == 0, result.output
    settings = seen["settings"]
    assert (settings.host, settings.port, settings.features) == (
        "0.0.0.0",
        8123,
        snapshot.resolve(),
    )
    assert "ready: 25 accounts of 2024-07-01" in result.output
    match = re.search(
        r"try: curl -s -H 'Authorization: Bearer (cl_\S+)' http://0.0.0.0:8123/v1/accounts/A\d{3}",
        result.output,
    )
    assert match, result.output
    assert settings.api_keys == ["demo:" + hash_key(match.group(1))]
    # the last line: where the web pages are and the key to sign in with
    last = result.output.strip().splitlines()[-1]
    assert (
        last
        == f"web pages: open http://0.0.0.0:8123/ui and sign in with the API key {match.group(1)}"
    )
