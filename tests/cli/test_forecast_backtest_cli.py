"""`churnlight forecast --backtest N` on a small simulated source: one JSON line of the
documented shape, a calibration the forecast then applies, and the no-look-ahead rule — a
source whose future differs after an as-of date gives that date's window the same forecast
(and a different realised future)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from churnlight.cli import app
from forecast.timing import RENEWALS, SURVIVAL
from simulator.config import make_config
from simulator.run import simulate
from training.forecast_backtest import run_backtest

pytestmark = pytest.mark.slow
AS_OF = date(2024, 9, 1)  # the simulated source's as-of date (20 months from 2023-01-01)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("backtest") / "source"
    config = make_config(accounts=200, months=20, seed=3, oracle_rows=0, event_rate_scale=0.2)
    simulate(config, out, with_truth=False)
    return out


def test_json_line_and_the_calibration_it_writes(source: Path, tmp_path: Path) -> None:
    calibration = tmp_path / "forecast" / "calibration.json"
    args = ["forecast", "--source", str(source), "--backtest", "2", "--horizon", "3"]
    result = CliRunner().invoke(app, [*args, "--calibration", str(calibration), "--json"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\n") == 1
    body = json.loads(result.output)
    assert body["windows"] == 2
    (h,) = body["horizons"]
    assert h["months"] == 3
    for key in ("coverage", "coverage_raw"):
        assert set(h[key]) == {"0.8", "0.9"}
        assert all(0.0 <= v <= 1.0 for v in h[key].values())
    assert set(h["coverage_by_segment"]) == {"enterprise", "mid_market", "smb"}
    assert all(set(v) == {"0.8", "0.9"} for v in h["coverage_by_segment"].values())
    for key in ("mae_churned_mrr", "baseline_mae_churned_mrr", "mae_nrr", "baseline_mae_nrr"):
        assert isinstance(h[key], float) and h[key] >= 0
    stored = json.loads(calibration.read_text())
    assert stored["windows"] == 2 and set(stored["factors"]) == {"3"}
    assert stored["facts"]["as_of"] == ["2024-04-01", "2024-05-01"]
    # the per-group and per-total factors the forecast applies are stored, not only the pooled
    assert set(stored["group_factors"]) == set(stored["total_factors"]) == {"3"}
    per_total = stored["total_factors"]["3"]
    assert {"churned", "expansion", "nrr"} <= set(next(iter(per_total.values())))

    # the forecast applies it: a backtested horizon says so, with the number of windows
    accounts = pq.read_table(source / "accounts.parquet").column("account_id").to_pylist()
    scores = pd.DataFrame(
        {
            "account_id": accounts,
            "snapshot_date": AS_OF,
            "churn_probability": 0.2,
            "expansion_probability": 0.1,
            "mrr": 1000.0,
        }
    )
    scores.to_parquet(tmp_path / "scores.parquet")
    forecast = ["forecast", "--source", str(source), "--scores", str(tmp_path / "scores.parquet")]
    calibrated = CliRunner().invoke(
        app, [*forecast, "--horizon", "3", "--calibration", str(calibration), "--json"]
    )
    assert calibrated.exit_code == 0, calibrated.output
    answer = json.loads(calibrated.output)
    assert (answer["intervals_backtested"], answer["backtest_windows"]) == (True, 2)
    raw = CliRunner().invoke(
        app, [*forecast, "--horizon", "6", "--calibration", str(calibration), "--json"]
    )
    assert json.loads(raw.output)["intervals_backtested"] is False


def test_a_different_future_leaves_the_forecast_unchanged(source: Path, tmp_path: Path) -> None:
    """Source B is source A without any subscription that starts, or event that happens, on
    or after the first window's as-of date T1 (April 2024): after T1, every renewal is gone.
    T1's forecast must be identical (it may only read what came before T1); what B realised
    after T1 differs, and so does the forecast of the second window (May), which saw April."""
    changed = tmp_path / "changed"
    shutil.copytree(source, changed)
    cut = pd.Timestamp("2024-04-01")
    subscriptions = pd.read_parquet(changed / "subscriptions.parquet")
    kept = subscriptions[pd.to_datetime(subscriptions["start_date"]) < cut]
    kept.to_parquet(changed / "subscriptions.parquet", index=False)
    events = pq.read_table(changed / "events.parquet").to_pandas()
    events[events["ts"] < cut].to_parquet(changed / "events.parquet", index=False)
    runs = [
        run_backtest(s, 2, tmp_path / "cache", horizons=(3,), as_of=AS_OF, simulations=300)
        for s in (source, changed)
    ]
    first, second = (r.windows for r in runs)
    assert [w.as_of for w in first] == [date(2024, 4, 1), date(2024, 5, 1)]
    assert first[0].forecast == second[0].forecast
    assert first[0].realised != second[0].realised
    assert second[0].realised[3]["*"]["churned"] > first[0].realised[3]["*"]["churned"]
    assert first[1].forecast != second[1].forecast


def test_a_survival_fit_per_window_gives_the_curve(source: Path, tmp_path: Path) -> None:
    """``--survival``: each window fits a survival model on what was known before it and
    forecasts with its churn curve (anchored to the window's 180-day score), and says so."""
    result = run_backtest(
        source, 1, tmp_path / "cache", horizons=(3,), as_of=AS_OF, simulations=200,
        timing=SURVIVAL,
    )  # fmt: skip
    (window,) = result.windows
    assert window.forecast["churn_timing"] == SURVIVAL
    assert result.report["churn_timing"] == SURVIVAL
    default = run_backtest(
        source, 1, tmp_path / "cache", horizons=(3,), as_of=AS_OF, simulations=200
    )
    assert default.report["churn_timing"] == RENEWALS
    assert default.windows[0].forecast != window.forecast
    # the CLI's --survival asks for it, and the one JSON line says so
    args = ["forecast", "--source", str(source), "--backtest", "1", "--horizon", "3"]
    calibration = tmp_path / "forecast" / "calibration.json"
    result = CliRunner().invoke(
        app, [*args, "--survival", "--calibration", str(calibration), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["churn_timing"] == SURVIVAL
    assert json.loads(calibration.read_text())["facts"]["churn_timing"] == SURVIVAL
