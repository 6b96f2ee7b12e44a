"""The book forecast's backtests: coverage of the 80% and 90% intervals and the error of the
point forecasts against the trailing 3-month average, on simulated sources, measured by
`churnlight forecast --backtest` (``training.forecast_backtest.run_backtest``).

Sources of 2,000 accounts x 44 months (events at 0.3 of the usual rate to keep the feature
build short; ``--quick``: 400 x 30, seed 11, 3 windows, horizon 3 and 6, no bars):

- calm: the simulator as it is, seeds 11, 12, 14 and 15 (``SEEDS``; the same seeds as
  ``bench.forecast_oracle``, whose floor the error ratios are read against);
- regime: seed 11 with a bad quarter (``simulator.shifts.RegimeSwitch``: churn log-odds +1.0
  for every account from 2025-03-01 for three months), inside the futures of the backtest
  windows.

Each is replayed over 14 monthly as-of dates (the latest whose 12 months have happened), with
the backtest's defaults: churn timing from the renewal dates, the cheap model's churn
probabilities rescaled to revenue, each total's intervals corrected by its own factor.

Bars (issue 16): coverage within +-7 points of nominal over >= 12 windows, overall and per
segment (each calm source); MAE of churned MRR and NRR at 3 and 6 months >= 25% lower than
the trailing 3-month average's, per calm seed and pooled over them (the mean of the seeds'
ratios, and the ratio of their summed errors: the bar is read on the latter); with the
regime switch, coverage within +-10 points."""

from __future__ import annotations

import os
import time
from datetime import date
from pathlib import Path
from typing import Any

WINDOWS = 14
SEED = 11
SEEDS = (11, 12, 14, 15)
REGIME = {"start": date(2025, 3, 1), "months": 3, "lift": 1.0}
OUT = Path("out/bench/forecast")


def _source(name: str, accounts: int, months: int, regime: bool, seed: int = SEED) -> Path:
    from simulator.config import SimulationConfig
    from simulator.run import simulate
    from simulator.shifts import RegimeSwitch

    path = OUT / f"{name}-{accounts}x{months}-s{seed}"
    if not (path / "subscriptions.parquet").exists():
        config = SimulationConfig(
            accounts=accounts,
            months=months,
            seed=seed,
            oracle_rows=0,
            event_rate_scale=0.3,
            regime_switch=RegimeSwitch(**REGIME) if regime else None,  # type: ignore[arg-type]
        )
        simulate(config, path, with_truth=False)
    return path


def _backtest(
    path: Path, windows: int, horizons: tuple[int, ...], seed: int = SEED
) -> dict[str, Any]:
    from training.forecast_backtest import run_backtest

    started = time.perf_counter()
    load = os.getloadavg()[0]
    result = run_backtest(path, windows, OUT / "cache", horizons=horizons, seed=seed, jobs=2)
    return {
        "source": str(path),
        "seed": seed,
        "load_average_1m": [load, os.getloadavg()[0]],
        "seconds": round(time.perf_counter() - started, 1),
        "as_of": result.calibration.facts.get("as_of"),
        "report": result.report,
        "factors": {str(h): dict(f) for h, f in result.calibration.factors.items()},
        "shock_sd": [w.forecast["shock_sd"] for w in result.windows],
    }


def _within(report: dict[str, Any], points: float) -> tuple[bool, float]:
    worst = 0.0
    for h in report["horizons"]:
        groups = [h["coverage"], *h["coverage_by_segment"].values()]
        for coverage in groups:
            for level, value in coverage.items():
                worst = max(worst, abs(100 * (value - float(level))))
    return worst <= points, round(worst, 1)


def _bars(calms: list[dict[str, Any]], regime: dict[str, Any] | None) -> dict[str, Any]:
    """Coverage per calm seed; each error bar per seed, and pooled over the seeds (the mean of
    their ratios; the ratio of their summed errors, on which the pooled bar is read)."""
    bars: dict[str, Any] = {}
    for calm in calms:
        ok, worst = _within(calm["report"], 7.0)
        bars[f"coverage_within_7_s{calm['seed']}"] = {"met": ok, "worst_points": worst}
    for months in (3, 6):
        for key in ("churned_mrr", "nrr"):
            ratios, errors, baselines = [], 0.0, 0.0
            for calm in calms:
                h = next(h for h in calm["report"]["horizons"] if h["months"] == months)
                ratio = h[f"mae_{key}"] / h[f"baseline_mae_{key}"]
                bars[f"mae_{key}_{months}m_s{calm['seed']}"] = {
                    "met": ratio <= 0.75,
                    "ratio": round(ratio, 3),
                }
                ratios.append(ratio)
                errors += h[f"mae_{key}"]
                baselines += h[f"baseline_mae_{key}"]
            if len(calms) > 1:
                pooled = errors / baselines
                bars[f"mae_{key}_{months}m_pooled"] = {
                    "met": pooled <= 0.75,
                    "ratio_of_sums": round(pooled, 3),
                    "mean_ratio": round(sum(ratios) / len(ratios), 3),
                }
    if regime is not None:
        ok, worst = _within(regime["report"], 10.0)
        bars["regime_coverage_within_10"] = {"met": ok, "worst_points": worst}
    return bars


def run(quick: bool = False) -> dict[str, Any]:
    import faulthandler

    faulthandler.enable()  # a crash in a window's thread prints where it happened
    load = os.getloadavg()[0]
    if quick:
        calm = _backtest(_source("calm", 400, 30, False), 3, (3, 6))
        return {"load_average_1m": load, "calm": [calm], "regime": None, "bars": None}
    calms = [
        _backtest(_source("calm", 2000, 44, False, seed), WINDOWS, (3, 6, 12), seed)
        for seed in SEEDS
    ]
    regime = _backtest(_source("regime", 2000, 44, True), WINDOWS, (3, 6, 12))
    return {
        "load_average_1m": load,
        "load_average_1m_end": os.getloadavg()[0],
        "calm": calms,
        "regime": regime,
        "bars": _bars(calms, regime),
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}"


def _lines(name: str, result: dict[str, Any]) -> list[str]:
    report = result["report"]
    dates = result["as_of"] or ["?"]
    load = result.get("load_average_1m", [float("nan")] * 2)
    lines = [
        f"{name}: {result['source']}, {report['windows']} windows {dates[0]}..{dates[-1]}, "
        f"{result['seconds']} s (load {load[0]:.1f} -> {load[1]:.1f}); "
        f"shock sd {min(result['shock_sd']):.2f}-"
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
    for calm in results["calm"]:
        lines += _lines(f"calm s{calm.get('seed', SEED)}", calm)
    if results["regime"] is not None:
        lines += _lines("regime switch", results["regime"])
    for name, bar in (results["bars"] or {}).items():
        detail = ", ".join(f"{k} {v}" for k, v in bar.items() if k != "met")
        lines.append(f"bar {name}: {'met' if bar['met'] else 'NOT met'} ({detail})")
    return lines
