"""Model quality: every candidate against the baselines and the oracle, on data of three
shapes, trained with the defaults a user gets (tuning within its time budget included).

Datasets:
1. the churnlight simulator, 1,000 accounts x 30 months (seed 21);
2. the simulator, 2,000 accounts x 36 months, seeds 11 and 12 (the issue's own setting);
3. the simulator, 3,000 accounts x 36 months (seed 12; the training benchmark's size);
4. a one-row-per-customer churn table from a second generator (``bench.second_generator``:
   contracts, a U-shaped price effect, interactions, a random 50-value column), 6,000 rows,
   trained in tabular mode (5-fold cross-validation).

For each label: each candidate's (LightGBM, additive, blend) and baseline's ROC-AUC, PR-AUC,
lift in the top 10% and ECE on the latest backtest window (tabular: pooled out of fold), the
mean ROC-AUC over the windows that chose, and the chosen kind. Bars (issue 17): churn >= 0.97
x the oracle's ROC-AUC and expansion >= 0.96 x on the simulator; ECE <= 0.02; the chosen model
never more than 0.002 ROC-AUC below the better baseline. The second generator's true
probabilities give its oracle.

The oracle (``simulator.truth.oracle_probabilities``: Monte-Carlo rollouts of the chain from
its full hidden state at the snapshot) is drawn for every labelled row (``ORACLE_ROWS``), so
each window's ratio is the chosen model's ROC-AUC over the oracle's on exactly the same rows
and labels (the truth stage checks that its labels equal the feature stage's). One window's
ratio moves by about +-0.02 between windows and sources; the bar is read on the mean over the
backtest windows (``oracle_ratio``), and each window's ratio is shown beside it. Survival is
not trained here (``bench survival`` measures it).

``--quick``: 300 x 24 and 500 x 24 simulated, 1,500 tabular rows (no bars).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench.training_bench import quality_source

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = ("lightgbm", "additive", "blend", "scorecard", "logreg")
BASELINES = ("scorecard", "logreg")
SHOWN = ("roc_auc", "pr_auc", "top_decile_lift", "ece")
BARS = {"churn_180d": 0.97, "expand_180d": 0.96, "ece": 0.02, "vs_baseline": -0.002}
ORACLE_ROWS = 1_000_000
"""More than any benched source has labelled rows: the oracle covers every one."""


def _options(**overrides: Any) -> Any:
    from training.options import TrainOptions
    from training.settings import get_training_settings

    return TrainOptions.from_settings(
        get_training_settings(), top_accounts=0, survival=False, **overrides
    )


def _label_entry(outcome: Any) -> dict[str, Any]:
    last = outcome.last
    ratios = [
        w.oracle["model_oracle_ratio"]
        for w in _choosing(outcome)
        if w.oracle and w.oracle.get("model_oracle_ratio") is not None
    ]
    models = {m: {k: last.metrics[m].get(k) for k in SHOWN} for m in MODELS if m in last.metrics}
    oracle = last.oracle or {}
    choice = outcome.facts["candidates"]
    mean_baselines = {}
    for name in BASELINES:
        aucs = [w.metrics[name]["roc_auc"] for w in _choosing(outcome) if name in w.metrics]
        mean_baselines[name] = sum(aucs) / len(aucs) if aucs else None
    chosen_mean = choice["mean_roc_auc"][choice["chosen"]]
    best_baseline = max((v for v in mean_baselines.values() if v is not None), default=None)
    return {
        "chosen": choice["chosen"],
        "reason": choice["reason"],
        "window": last.name,
        "models": models,
        "mean_roc_auc": {**choice["mean_roc_auc"], **mean_baselines},
        "chosen_minus_best_baseline": None
        if best_baseline is None
        else chosen_mean - best_baseline,
        "chosen_ece": last.metrics["model"]["ece"],
        "oracle_auc": oracle.get("oracle_auc"),
        "last_window_ratio": oracle.get("model_oracle_ratio"),
        "window_ratios": ratios,
        "oracle_ratio": sum(ratios) / len(ratios) if ratios else None,
        "calibration": outcome.facts["calibration"]["method"],
        "tuning": {
            k: (outcome.facts.get("tuning") or {}).get(k)
            for k in ("trials", "default_valid_auc", "best_valid_auc", "chosen", "seconds")
        },
        "evaluation": outcome.facts.get("evaluation"),
    }


def _choosing(outcome: Any) -> list[Any]:
    """The windows whose ROC-AUC chose the candidate (tabular: the folds, not the pool)."""
    return [w for w in outcome.windows if w.name != "cv"]


def simulated(accounts: int, months: int, seed: int) -> dict[str, Any]:
    from training import dataset
    from training.train import train_models

    root = quality_source(accounts, months, seed, ORACLE_ROWS)
    data = dataset.load(root / "features.parquet")
    tick = time.perf_counter()
    result = train_models(data, _options(truth_dir=root / "source" / "_truth"))
    return {
        "dataset": f"simulator {accounts} x {months} months (seed {seed})",
        "rows": len(data.matrix),
        "train_seconds": round(time.perf_counter() - tick, 1),
        "labels": {label: _label_entry(o) for label, o in result.labels.items()},
    }


def tabular(rows: int, seed: int) -> dict[str, Any]:
    import numpy as np

    from bench.second_generator import write_churn_table
    from training import dataset
    from training.metrics import roc_auc
    from training.train import train_models

    path = RESULTS / "sources" / f"second-generator-r{rows}-s{seed}.parquet"
    truth = write_churn_table(path, rows, seed)
    data = dataset.load(path, "customer_id", "churned")
    tick = time.perf_counter()
    result = train_models(data, _options())
    outcome = result.labels["churned"]
    entry = _label_entry(outcome)
    y = data.labels["churned"]
    order = np.argsort(data.ids.astype(str))  # the table's rows are in id order
    entry["oracle_auc"] = roc_auc(y, truth[order])
    model_auc = outcome.last.metrics["model"]["roc_auc"]
    entry["oracle_ratio"] = model_auc / entry["oracle_auc"]
    importance = outcome.bundle.metadata.get("importance", {})
    ranked = sorted(importance, key=importance.__getitem__, reverse=True)
    entry["random_column_rank"] = ranked.index("region") + 1 if "region" in ranked else None
    return {
        "dataset": f"second generator, {rows:,} customers (seed {seed}), tabular mode",
        "rows": len(data.matrix),
        "train_seconds": round(time.perf_counter() - tick, 1),
        "labels": {"churned": entry},
    }


def _bars(datasets: list[dict[str, Any]]) -> dict[str, Any]:
    bars: dict[str, Any] = {}
    for d in datasets:
        for label, e in d["labels"].items():
            key = f"{d['dataset']} / {label}"
            if label in BARS and e["oracle_ratio"] is not None:
                bars[f"{key}: oracle ratio"] = _bar(e["oracle_ratio"], BARS[label])
            bars[f"{key}: ECE"] = _bar(e["chosen_ece"], BARS["ece"], upper=True)
            if e["chosen_minus_best_baseline"] is not None:
                bars[f"{key}: chosen - best baseline"] = _bar(
                    e["chosen_minus_best_baseline"], BARS["vs_baseline"]
                )
    return bars


def _bar(value: float | None, bound: float, upper: bool = False) -> dict[str, Any]:
    ok = value is not None and (value <= bound if upper else value >= bound)
    return {"value": value, "bound": bound, "holds": bool(ok)}


def run(quick: bool = False) -> dict[str, Any]:
    if quick:
        datasets = [simulated(300, 24, 21), simulated(500, 24, 12), tabular(1500, 5)]
        return {"datasets": datasets}
    datasets = [
        simulated(1000, 30, 21),
        simulated(2000, 36, 11),
        simulated(2000, 36, 12),
        simulated(3000, 36, 12),
        tabular(6000, 5),
    ]
    return {"datasets": datasets, "bars": _bars(datasets)}


def report(results: dict[str, Any]) -> list[str]:
    lines = []
    for d in results["datasets"]:
        lines.append(f"{d['dataset']}: {d['rows']:,} rows, trained in {d['train_seconds']} s")
        for label, e in d["labels"].items():
            t = e["tuning"]
            lines.append(
                f"  {label} ({e['window']}, {e['evaluation']}): chosen {e['chosen']} "
                f"({e['reason']}); calibration {e['calibration']}; oracle AUC "
                f"{_f(e['oracle_auc'])}, ratio {_f(e['oracle_ratio'])}{_windows(e)}; tuning "
                f"{t['trials']} trials, {_f(t['default_valid_auc'])} -> "
                f"{_f(t['best_valid_auc'])} ({t['chosen']})"
            )
            lines.append(
                f"    {'model':10} {'ROC-AUC':>8} {'PR-AUC':>8} {'lift@10%':>9} {'ECE':>7} "
                f"{'mean AUC':>9}"
            )
            for name, m in e["models"].items():
                mark = " <- chosen" if name == e["chosen"] else ""
                lines.append(
                    f"    {name:10} {_f(m['roc_auc']):>8} {_f(m['pr_auc']):>8} "
                    f"{_f(m['top_decile_lift']):>9} {_f(m['ece'], 4):>7} "
                    f"{_f(e['mean_roc_auc'].get(name)):>9}{mark}"
                )
            if e.get("random_column_rank") is not None:
                lines.append(f"    the random 50-value column ranks #{e['random_column_rank']}")
    for name, bar in (results.get("bars") or {}).items():
        verdict = "holds" if bar["holds"] else "FAILS"
        lines.append(f"bar {name}: {_f(bar['value'], 4)} vs {bar['bound']} -> {verdict}")
    return lines


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _windows(entry: dict[str, Any]) -> str:
    ratios = entry.get("window_ratios") or []
    if len(ratios) < 2:
        return ""
    return " (mean of windows " + " / ".join(_f(r) for r in ratios) + ")"
