"""The book forecast's backtests: coverage of the 80% and 90% intervals and the error of the
point forecasts against the trailing 3-month average, on simulated sources, measured by
`churnlight forecast --backtest` (``training.forecast_backtest.run_backtest``).

Two sources of 2,000 accounts x 44 months (seed 11, events at 0.3 of the usual rate to keep
the feature build short; ``--quick``: 400 x 30, 3 windows, horizon 3 and 6, no bars):

- calm: the simulator as it is;
- regime: the same seed with a bad quarter (``simulator.shifts.RegimeSwitch``: churn
  log-odds +1.0 for every account from 2025-03-01 for three months), inside the futures of
  the backtest windows.

Each is replayed over 14 monthly as-of dates (the latest whose 12 months have happened), with
the backtest's defaults: churn timing from the renewal dates, the cheap model's churn
probabilities rescaled to revenue, each total's intervals corrected by its own factor.

Bars (issue 16): coverage within +-7 points of nominal over >= 12 windows, overall and per
segment (calm source); MAE of churned MRR and NRR at 3 and 6 months >= 25% lower than the
trailing 3-month average's; with the regime switch, coverage within +-10 points."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

WINDOWS = 14
SEED = 11
REGIME = {"start": date(2025, 3, 1), "months": 3, "lift": 1.0}
OUT = Path("out/bench/forecast")


def _source(name: str, accounts: int, months: int, regime: bool) -> Path:
    from simulator.config import SimulationConfig
    from simulator.run import simulate
    from simulator.shifts import RegimeSwitch

    path = OUT / f"{name}-{accounts}x{months}-s{SEED}"
    if not (path / "subscriptions.parquet").exists():
        config = SimulationConfig(
            accounts=accounts,
            months=months,
            seed=SEED,
            oracle_rows=0,
            event_rate_scale=0.3,
            regime_switch=RegimeSwitch(**REGIME) if regime else None,  # type: ignore[arg-type]
        )
        simulate(config, path, with_truth=False)
    return path


def _backtest(path: Path, windows: int, horizons: tuple[int, ...]) -> dict[str, Any]:
    from training.forecast_backtest import run_backtest

    started = time.perf_counter()
    result = run_backtest(path, windows, OUT / "cache", horizons=horizons, seed=SEED, jobs=2)
    return {
        "source": str(path),
        "seconds": round(time.perf_counter() - started, 1),
        "as_of": result.calibration.facts.get("as_of"),
        "report": result.report,
        "factors": {str(h): dict(f) for h, f in result.calibration.factors.items()},
        "shock_sd": [w.forecast["shock_sd"] for w in result.windows],
    }


def _bars(calm: dict[str, Any], regime: dict[str, Any] | None) -> dict[str, Any]:
    bars: dict[str, Any] = {}

    def within(report: dict[str, Any], points: float) -> tuple[bool, float]:
        worst = 0.0
        for h in report["horizons"]:
            groups = [h["coverage"], *h["coverage_by_segment"].values()]
            for coverage in groups:
                for level, value in coverage.items():
                    worst = max(worst, abs(100 * (value - float(level))))
        return worst <= points, round(worst, 1)

    ok, worst = within(calm["report"], 7.0)
    bars["coverage_within_7"] = {"met": ok, "worst_points": worst}
    for h in calm["report"]["horizons"]:
        if h["months"] not in (3, 6):
            continue
        for key in ("churned_mrr", "nrr"):
            ratio = h[f"mae_{key}"] / h[f"baseline_mae_{key}"]
            bars[f"mae_{key}_{h['months']}m"] = {"met": ratio <= 0.75, "ratio": round(ratio, 3)}
    if regime is not None:
        ok, worst = within(regime["report"], 10.0)
        bars["regime_coverage_within_10"] = {"met": ok, "worst_points": worst}
    return bars


def run(quick: bool = False) -> dict[str, Any]:
    import faulthandler

    faulthandler.enable()  # a crash in a window's thread prints where it happened
    load = os.getloadavg()[0]
    if quick:
        calm = _backtest(_source("calm", 400, 30, False), 3, (3, 6))
        return {"load_average_1m": load, "calm": calm, "regime": None, "bars": None}
    calm = _backtest(_source("calm", 2000, 44, False), WINDOWS, (3, 6, 12))
    regime = _backtest(_source("regime", 2000, 44, True), WINDOWS, (3, 6, 12))
    return {"load_average_1m": load, "calm": calm, "regime": regime, "bars": _bars(calm, regime)}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def _lines(name: str, result: dict[str, Any]) -> list[str]:
    report = result["report"]
    dates = result["as_of"] or ["?"]
    lines = [
        f"{name}: {result['source']}, {report['windows']} windows {dates[0]}..{dates[-1]}, "
        f"{result['seconds']} s; shock sd {min(result['shock_sd']):.2f}-"
        f"{max(result['shock_sd']):.2f}; churn timing: {report.get('churn_timing')}",
        "  h   cov80 cov90 (raw80 raw90)  per segment 80/90            MAE churned (trail, sum)"
        "          MAE NRR pt (trail, sum)   factors 80/90",
    ]
    for h in report["horizons"]:
        segments = " ".join(
            f"{s[:3]} {_pct(v['0.8'])}/{_pct(v['0.9'])}"
            for s, v in h["coverage_by_segment"].items()
        )
        f = result["factors"].get(str(h["months"]), {})
        lines.append(
            f"  {h['months']:<3} {_pct(h['coverage']['0.8']):>5} {_pct(h['coverage']['0.9']):>5} "
            f"({_pct(h['coverage_raw']['0.8'])} {_pct(h['coverage_raw']['0.9'])})  {segments}  "
            f"{h['mae_churned_mrr']:,.0f} ({h['baseline_mae_churned_mrr']:,.0f}, "
            f"{h['expectations_mae_churned_mrr']:,.0f})  "
            f"{100 * h['mae_nrr']:.2f} ({100 * h['baseline_mae_nrr']:.2f}, "
            f"{100 * h['expectations_mae_nrr']:.2f})  "
            f"{f.get('0.8', 0):.2f}/{f.get('0.9', 0):.2f}"
        )
        by_total = " ".join(
            f"{t} {_pct(v['0.8'])}/{_pct(v['0.9'])}" for t, v in h["coverage_by_total"].items()
        )
        lines.append(f"      book per total: {by_total}")
        one = h.get("coverage_by_total_one_factor", {})
        pooled = " ".join(f"{t} {_pct(v['0.8'])}/{_pct(v['0.9'])}" for t, v in one.items())
        lines.append(f"      the same with one factor for all totals: {pooled}")
    return lines


def report(results: dict[str, Any]) -> list[str]:
    lines = [f"load average (1 min) at start: {results['load_average_1m']:.2f}"]
    lines += _lines("calm", results["calm"])
    if results["regime"] is not None:
        lines += _lines("regime switch", results["regime"])
    for name, bar in (results["bars"] or {}).items():
        detail = ", ".join(f"{k} {v}" for k, v in bar.items() if k != "met")
        lines.append(f"bar {name}: {'met' if bar['met'] else 'NOT met'} ({detail})")
    return lines
