"""`churnlight plays`: the effects table, its one-line JSON, the plot and the registration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from serving.settings import get_serving_settings
from tests.training.effects_source import make_play_source
from training.settings import get_training_settings

JSON_KEYS = ["play", "label", "segment", "effect", "ci_low", "ci_high", "n_treated", "evidence"]


@pytest.fixture(scope="module")
def play_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_play_source(tmp_path_factory.mktemp("plays"))


@pytest.fixture
def store_env(tmp_path: Path):
    env = {"COLUMNS": "250", "CHURNLIGHT_HOME": str(tmp_path / "home")}
    get_training_settings.cache_clear()
    get_serving_settings.cache_clear()
    yield env
    get_training_settings.cache_clear()
    get_serving_settings.cache_clear()


@pytest.mark.slow
def test_plays_json_is_one_line_with_the_effects_and_registers_them(
    play_source, store_env, tmp_path
) -> None:
    source, features = play_source
    plot = tmp_path / "effects.png"
    args = ["plays", "--source", str(source), "--features", str(features), "--plot", str(plot)]
    result = CliRunner().invoke(app, [*args, "--json"], env=store_env)

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    payload = json.loads(lines[0])
    assert list(payload) == ["plays"]
    assert all(list(row) == JSON_KEYS for row in payload["plays"])
    cells = {(r["play"], r["label"], r["segment"]): r for r in payload["plays"]}
    # the adoption campaign runs on a random tenth of the account-months and changes nothing
    inert = cells[("adoption_campaign", "churn_180d", "all")]
    assert inert["evidence"] == "ok" and inert["n_treated"] >= 100
    assert inert["ci_low"] <= 0.0 <= inert["ci_high"]
    # five champion rescues: too few runs, never an effect
    rescue = cells[("champion_rescue", "churn_180d", "all")]
    assert rescue["evidence"] == "not enough evidence" and rescue["effect"] is None
    assert rescue["n_treated"] <= 5
    # a play nobody ran is listed too
    assert cells[("overdue_invoices", "expand_180d", "all")]["n_treated"] == 0
    assert any(segment.startswith("stage:") for _, _, segment in cells)
    assert plot.exists() and plot.stat().st_size > 1000

    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'home' / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    version = client.get_model_version_by_alias("churnlight-effects", "champion")
    assert str(version.version) == "1"
    # the registered bundle holds what an expansion is worth, learned from the source
    from serving.loading import load_effects
    from serving.settings import ServingSettings
    from training.effects.sizes import source_expansion_shares

    bundle, _ = load_effects(client, uri, ServingSettings(home=tmp_path / "home"))
    assert bundle is not None
    shares = source_expansion_shares(source)
    assert 0.0 < shares["all"] < 1.0
    assert bundle.expansion_share(None) == pytest.approx(shares["all"])
    for segment, share in shares.items():
        assert bundle.expansion_share(segment) == pytest.approx(share)

    again = CliRunner().invoke(app, args, env=store_env)  # the table, and a second version
    assert again.exit_code == 0, again.output
    assert "adoption_campaign" in again.stdout and "not enough evidence" in again.stdout
    assert "registered churnlight-effects/2 (champion)" in again.stdout


@pytest.mark.slow
def test_a_source_without_plays_has_no_evidence_anywhere(store_env, tmp_path) -> None:
    from simulator.config import SimulationConfig
    from simulator.run import simulate

    source = tmp_path / "source"
    simulate(SimulationConfig(accounts=60, months=12, seed=2, oracle_rows=0), source)
    result = CliRunner().invoke(
        app, ["plays", "--source", str(source), "--no-register", "--json",
              "--plot", str(tmp_path / "p.png")], env=store_env,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["plays"]
    assert rows and all(r["evidence"] == "not enough evidence" for r in rows)
    assert all(r["n_treated"] == 0 for r in rows)


def test_a_missing_source_is_a_red_message_not_a_traceback(store_env, tmp_path) -> None:
    result = CliRunner().invoke(app, ["plays", "--source", str(tmp_path / "nope")], env=store_env)

    assert result.exit_code == 1
    assert "error:" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_follow_up_reports_per_play_and_csm_against_the_rules(play_source, store_env) -> None:
    source, features = play_source
    runner = CliRunner()
    trained = runner.invoke(
        app, ["train", "--features", str(features), "--tune", "0", "--backtests", "1", "--json"],
        env=store_env,
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output

    result = runner.invoke(
        app, ["plays", "--source", str(source), "--features", str(features), "--follow-up",
              "--json"], env=store_env,
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    report = json.loads(result.stdout)
    assert report["recommendations"].startswith(
        "the playbook rules applied to each snapshot with the champion models "
        "(churnlight-churn/1, churnlight-expansion/1)"
    )
    rows = {(r["play"], r["label"]): r for r in report["plays"]}
    campaign = rows[("adoption_campaign", "churn_180d")]
    assert campaign["recommended"] > 0 and 0 < campaign["followed"] < campaign["recommended"]
    assert campaign["follow_rate"] == pytest.approx(
        campaign["followed"] / campaign["recommended"], abs=1e-4
    )
    # every play of the library is reported, followed or not
    assert {play for play, _ in rows} >= {"champion_rescue", "overdue_invoices"}
    per_csm = [c for c in report["csms"] if c["play"] == "adoption_campaign"]
    assert len(per_csm) >= 2
    assert sum(c["recommended"] for c in per_csm) == campaign["recommended"]
    assert sum(c["followed"] for c in per_csm) == campaign["followed"]


def test_follow_up_without_champions_is_a_red_message(play_source, store_env) -> None:
    source, features = play_source
    result = CliRunner().invoke(
        app, ["plays", "--source", str(source), "--features", str(features), "--follow-up"],
        env=store_env,
    )  # fmt: skip

    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output
