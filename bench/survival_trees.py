"""How many hazard trees the served churn curve needs (``python -m bench.survival_trees
[SEEDS [CAPS]]``, e.g. ``20240601,1,2,3,4 2000,200,150,100``).

The survival model as ``churnlight train`` registers it, out of time: the survival bench's
source (3,000 accounts x 36 months, seed 12) with its feature table rebuilt as of the cut
(16 months before the as-of), ``train_and_publish`` registering ``churn_180d`` into a
scratch registry once (no tuning, no survival model), then for each fit seed (the held-out
accounts that stop the boosting, and LightGBM's seed) and each tree cap the final hazard fit
``training.survival_train`` makes (every row of the table as of the cut, 20% of the accounts
for early stopping and the Platt map). Each fit is tested on the snapshots of the three
months from the cut with the labels known at the as-of: the model's own curve and the curve
anchored to the registered churn_180d (what the API serves) -- integrated Brier score,
Uno's C, td-AUC at 90/180/365 days, the worst and mean per-decile calibration gap at 90 and
180 days, the td-AUC ratios to the simulator's oracle -- and the served scoring cost of the
curve against the registered churn model's (``bench.survival_anchor.served_scoring``: wall
time and one-thread CPU time, 2,000 rows). A cap of 2,000 is the former setting (early
stopping alone). Differences are taken per seed against the first cap given."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

SEEDS = (20240601, 1, 2, 3, 4)
CAPS = (2000, 200, 150, 100)
ACCOUNTS, MONTHS, SOURCE_SEED, ORACLE_ROWS = 3000, 36, 12, 12_000
METRICS = ("ibs", "uno_c", "auc_90", "auc_180", "auc_365", "cal_max_90", "cal_max_180")


def _flat(m: dict[str, Any]) -> dict[str, float | None]:
    return {
        "ibs": m["ibs"],
        "uno_c": m["uno_c"],
        **{f"auc_{d}": m["td_auc"][d] for d in ("90", "180", "365")},
        **{f"cal_max_{d}": m["calibration_max"][d] for d in ("90", "180")},
        **{f"cal_mean_{d}": m["calibration_mean"][d] for d in ("90", "180")},
    }


def measure(seeds: tuple[int, ...] = SEEDS, caps: tuple[int, ...] = CAPS) -> dict[str, Any]:
    from bench.survival_anchor import served_scoring, table_at_cut
    from bench.survival_oracle import oracle_ratios
    from bench.training_bench import quality_source
    from features.survival_bundle import anchor_curve, churn_by
    from training import dataset
    from training.options import TrainOptions
    from training.retrain import train_and_publish
    from training.settings import TrainingSettings
    from training.store import open_store
    from training.survival import fit_survival, followup_days
    from training.survival_eval import GRID_DAYS, curve_metrics
    from training.survival_train import _split_accounts, known_at
    from training.versions import champion_version, load_version_bundle

    root = quality_source(ACCOUNTS, MONTHS, SOURCE_SEED, ORACLE_ROWS)
    full, cut, test_end, at_cut = table_at_cut(root)
    with tempfile.TemporaryDirectory(prefix="churnlight-trees-") as home:
        settings = TrainingSettings(home=Path(home), train_threads=1)
        options = TrainOptions.from_settings(
            settings, tune_trials=0, labels=("churn_180d",), survival=False
        )
        train_and_publish(at_cut, options, settings)
        store = open_store(settings)
        version = champion_version(store, settings.churn_model_name, "champion")
        assert version is not None
        churn = load_version_bundle(store, settings.churn_model_name, version.version)

    data = dataset.load(at_cut)
    grace = int(data.facts.get("grace_days", 30))
    fit_as_of = date.fromisoformat(str(data.facts["as_of"]))
    days, observed = known_at(
        data.times["churn_days"], data.times["churn_observed"], data.snapshot_date, fit_as_of,
        grace,
    )  # fmt: skip
    labelled = np.flatnonzero(~np.isnan(days))
    followup = followup_days(data.snapshot_date, fit_as_of, grace)
    categorical = [j for j, c in enumerate(data.columns) if c.kind == "categorical"]
    snapshot = full.snapshot_date
    test_days, test_observed = full.times["churn_days"], full.times["churn_observed"]
    test = np.flatnonzero(
        (snapshot >= np.datetime64(cut))
        & (snapshot < np.datetime64(test_end))
        & ~np.isnan(test_days)
    )
    raw = full.raw.take(test)
    p180 = churn.predict_proba(raw)
    grid = list(GRID_DAYS)
    runs: list[dict[str, Any]] = []
    for seed in seeds:
        fit_rows, valid_rows = _split_accounts(data.ids, labelled, seed)
        for cap in caps:
            fit = fit_survival(
                data.matrix, data.feature_names, categorical, days, observed, followup,
                fit_rows, valid_rows, seed=seed, threads=1, max_trees=cap,
            )  # fmt: skip
            bundle = fit.bundle(data.columns, {})
            own = churn_by(bundle.hazards(bundle.encode(raw)), grid, bundle.period_days)
            curves = {"own": own, "served": anchor_curve(own, grid, p180, 180)}
            metrics = {
                name: _flat(curve_metrics(test_days[test], test_observed[test], c).to_dict())
                for name, c in curves.items()
            }
            oracle = oracle_ratios(
                root / "source" / "_truth", full.ids[test], snapshot[test], test_days[test],
                test_observed[test], curves, grid,
            )  # fmt: skip
            runs.append(
                {
                    "seed": seed,
                    "cap": cap,
                    "trees": fit.best_iteration,
                    "metrics": metrics,
                    "oracle_ratio": None if not oracle else oracle["ratio"]["own"],
                    "scoring": served_scoring(churn, bundle, raw.slice(0, 2000)),
                }
            )
    return {
        "source": f"{ACCOUNTS} accounts x {MONTHS} months, seed {SOURCE_SEED}",
        "cut": cut.isoformat(),
        "test_rows": len(test),
        "churn_trees": 0 if churn.booster is None else churn.booster.num_trees(),
        "runs": runs,
        "load_average_1m": os.getloadavg()[0],
    }


def summary(result: dict[str, Any]) -> dict[int, dict[str, Any]]:
    """Per cap: the mean over seeds of each metric and its mean difference (with the
    standard error over seeds) to the first cap measured, and the served cost's range."""
    runs = result["runs"]
    caps = list(dict.fromkeys(r["cap"] for r in runs))
    base = {r["seed"]: r for r in runs if r["cap"] == caps[0]}
    out: dict[int, dict[str, Any]] = {}
    for cap in caps:
        rows = [r for r in runs if r["cap"] == cap and r["seed"] in base]
        entry: dict[str, Any] = {"trees": [r["trees"] for r in rows]}
        for curve in ("own", "served"):
            for key in METRICS:
                values = np.array([r["metrics"][curve][key] for r in rows], dtype=float)
                diffs = values - [base[r["seed"]]["metrics"][curve][key] for r in rows]
                se = float(diffs.std(ddof=1) / np.sqrt(len(diffs))) if len(diffs) > 1 else 0.0
                entry[f"{curve}.{key}"] = (float(values.mean()), float(diffs.mean()), se)
        for d in ("90", "180", "365"):
            ratios = [r["oracle_ratio"][d] for r in rows if r["oracle_ratio"]]
            entry[f"oracle_ratio_{d}"] = float(np.mean(ratios)) if ratios else None
        for key in ("added", "added_cpu"):
            values = [r["scoring"][key] for r in rows]
            entry[key] = (min(values), max(values))
        entry["load"] = (
            min(r["scoring"]["load_average_1m"] for r in rows),
            max(r["scoring"]["load_average_1m"] for r in rows),
        )
        out[cap] = entry
    return out


def report(result: dict[str, Any]) -> list[str]:
    table = summary(result)
    first = next(iter(table))
    lines = [
        f"{result['source']}, trained as of {result['cut']}, tested on {result['test_rows']:,} "
        f"rows; registered churn model {result['churn_trees']} trees; "
        f"{len({r['seed'] for r in result['runs']})} fit seeds; differences to the cap "
        f"{first} per seed (mean +- standard error)",
    ]
    for cap, e in table.items():
        lines.append(
            f"  cap {cap}: trees {e['trees']}; curve adds {e['added'][0]:.2f}-{e['added'][1]:.2f}"
            f" (wall), {e['added_cpu'][0]:.2f}-{e['added_cpu'][1]:.2f} (CPU, one thread) of an "
            f"account's scoring; load {e['load'][0]:.1f}-{e['load'][1]:.1f}"
        )
        for curve in ("own", "served"):
            parts = [
                f"{key} {e[f'{curve}.{key}'][0]:.4f} ({e[f'{curve}.{key}'][1]:+.4f}"
                f"+-{e[f'{curve}.{key}'][2]:.4f})"
                for key in METRICS
            ]
            lines.append(f"    {curve:6} " + ", ".join(parts))
        ratios = "/".join(
            "-" if e[f"oracle_ratio_{d}"] is None else f"{e[f'oracle_ratio_{d}']:.3f}"
            for d in ("90", "180", "365")
        )
        lines.append(f"    own curve's td-AUC ratio to the oracle 90/180/365: {ratios}")
    return lines


if __name__ == "__main__":
    import json
    import sys

    seeds = tuple(int(s) for s in sys.argv[1].split(",")) if len(sys.argv) > 1 else SEEDS
    caps = tuple(int(c) for c in sys.argv[2].split(",")) if len(sys.argv) > 2 else CAPS
    result = measure(seeds, caps)
    print(json.dumps(result, default=float))
    print("\n".join(report(result)))
