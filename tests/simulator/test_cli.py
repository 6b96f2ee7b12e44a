"""`churnlight simulate`: the summary, JSON output, and red errors for bad options."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from churnlight.cli import app

pytestmark = pytest.mark.xdist_group("simulator")
WIDE = {"COLUMNS": "200"}


def test_simulate_prints_rates_and_aucs(tmp_path) -> None:
    out = tmp_path / "source"
    args = ["simulate", "--accounts", "40", "--months", "14", "--seed", "3", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--oracle-rows", "50", "--rollouts", "20"], env=WIDE)

    assert result.exit_code == 0, result.output
    assert "annual logo churn" in result.output
    assert "oracle churn ROC-AUC" in result.output
    assert (out / "events.parquet").exists()
    assert (out / "_truth" / "oracle.parquet").exists()


def test_simulate_json(tmp_path) -> None:
    out = tmp_path / "source"
    args = ["simulate", "--accounts", "20", "--months", "6", "--out", str(out), "--json"]
    result = CliRunner().invoke(app, [*args, "--no-truth"])

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["accounts"] == 20 and payload["months"] == 6
    assert payload["events"] > 0 and payload["truth"] is None
    assert not (out / "_truth").exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--accounts", "0", "--accounts 0: Input should be greater than or equal to 1"),
        ("--months", "3", "--months 3: Input should be greater than or equal to 4"),
        ("--start", "2023-01-05", "--start 2023-01-05: start_date must be the first day"),
        ("--rollouts", "0", "--rollouts 0: Input should be greater than or equal to 1"),
        ("--regime-switch", "2023-03-05", "the spell must start on the first of a month"),
        ("--regime-switch", "2022-03-01", "the spell must start on the first of a month"),
        ("--regime-switch", "2023-03-01:x", "months 'x' is not a number"),
        ("--regime-switch", "2023-03-01:3:9", "lift 9.0: Input should be less than or equal to 5"),
        ("--regime-switch", "March", "'March' is not a date (YYYY-MM-DD)"),
    ],
)
def test_bad_options_are_a_red_message_and_exit_1(tmp_path, option, value, message) -> None:
    result = CliRunner().invoke(
        app, ["simulate", "--out", str(tmp_path / "s"), option, value], env=WIDE
    )

    assert result.exit_code == 1
    assert "error:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_a_folder_holding_csv_tables_is_refused(tmp_path) -> None:
    (tmp_path / "events.csv").write_text("account_id\n")
    args = ["simulate", "--out", str(tmp_path), "--accounts", "5", "--months", "4"]
    result = CliRunner().invoke(app, args, env=WIDE)

    assert result.exit_code == 1
    assert "holds events.csv" in result.output


def test_a_regime_switch_raises_churn_from_its_start_only(tmp_path) -> None:
    """The same seed with and without ``--regime-switch``: the same subscriptions before the
    spell; during it, term ends churn far more (fewer renewals start), and the switch is
    recorded with the config."""
    base = ["simulate", "--accounts", "300", "--months", "14", "--seed", "5", "--no-plays"]
    base += ["--oracle-rows", "20", "--rollouts", "5"]
    calm, bad = tmp_path / "calm", tmp_path / "bad"
    assert CliRunner().invoke(app, [*base, "--out", str(calm)]).exit_code == 0
    result = CliRunner().invoke(
        app, [*base, "--out", str(bad), "--regime-switch", "2023-09-01:3:3.0"], env=WIDE
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((bad / "_truth" / "summary.json").read_text())
    assert summary["config"]["regime_switch"] == {"start": "2023-09-01", "months": 3, "lift": 3.0}
    calm_subs, bad_subs = (pd.read_parquet(p / "subscriptions.parquet") for p in (calm, bad))
    start = pd.Timestamp("2023-09-01")

    def before(frame: pd.DataFrame) -> pd.DataFrame:
        rows = frame[pd.to_datetime(frame["start_date"]) < start]
        return rows.sort_values("subscription_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(before(calm_subs), before(bad_subs))
    spell = (start, pd.Timestamp("2023-12-01"))

    def renewals(frame: pd.DataFrame) -> int:
        began = pd.to_datetime(frame["start_date"])
        return int(((began >= spell[0]) & (began < spell[1])).sum())

    assert renewals(bad_subs) < renewals(calm_subs)
