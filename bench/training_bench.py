"""Training: speed on a large matrix and quality on a simulated source, against baselines
measured in the same run.

1. Speed. A synthetic snapshot table of 500,000 rows x 150 features (25,000 accounts x 20
   monthly snapshots; 145 numeric, 5 categorical; both labels with censored tails) goes
   through ``train_models``. "Training both models" is the binning plus, per label, the
   registered model's work: the final fold's fit with and without monotone constraints,
   early-stopped out of time, the other candidates and calibrations on the same fold, and the
   refit of the chosen one on every labelled row. Bound: 90 s. Baseline: a plain
   ``lightgbm.train`` of each label on the same rows with the same parameters and number of
   trees (the floor for that work).
   The whole pipeline with one backtest window and both baselines is timed as well.
2. Quality. A simulated source of 3,000 accounts x 36 months (seed 12, oracle on 12,000
   rows: the simulator's default 3,000 leaves ~350 oracle rows per 3-month window, too few
   to measure a ratio to +/-0.02) -> ``churnlight features`` -> ``train_models`` with the
   defaults. On the last backtest window: churn ROC-AUC >= 0.95 x oracle AUC, expansion
   >= 0.93 x oracle AUC, churn AUC >= health scorecard AUC + 0.05, ECE <= 0.03 (both labels).

``--quick``: 50,000 rows for speed, and 400 accounts x 24 months for quality (no bounds)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

RESULTS = Path(__file__).resolve().parent / "results"
SPEED_BOUND_SECONDS = 90.0
REGISTERED_MODEL_STEPS = ("final_tree", "final_candidates", "final_model")
"""The steps of ``train_temporal`` that make the registered model: the final fold's booster
(with and without monotone constraints), its candidates (additive model, blend,
calibrations), and the refit on every labelled row with its bundle."""
BARS = {
    "churn_oracle_ratio": 0.95,
    "expand_oracle_ratio": 0.93,
    "churn_vs_scorecard": 0.05,
    "ece": 0.03,
}


# ---- 1. speed -----------------------------------------------------------------------------


def synthetic_data(accounts: int, months: int, features: int = 150, seed: int = 0) -> Any:
    """A ModelData of accounts x months rows with ``features`` columns and a known signal."""
    from features.model_bundle import FeatureColumn, encode
    from training.dataset import LabelSpec, ModelData

    rng = np.random.default_rng(seed)
    n = accounts * months
    acc = np.repeat(np.arange(accounts), months)
    month = np.tile(np.arange(months), accounts)
    start = np.datetime64("2022-01-01", "M")
    snapshot = (start + month.astype("timedelta64[M]")).astype("datetime64[D]")
    latent = rng.normal(size=(accounts, 8))[acc] + 0.3 * rng.normal(size=(n, 8))
    numeric = features - 5
    mix = rng.normal(size=(8, numeric)) * (rng.random((8, numeric)) < 0.3)
    values = latent @ mix + rng.normal(size=(n, numeric))
    values[rng.random((n, numeric)) < 0.05] = np.nan
    columns: dict[str, Any] = {f"f{j:03d}": values[:, j] for j in range(numeric)}
    levels = (3, 5, 12, 40, 200)
    for k, size in enumerate(levels):
        codes = rng.integers(0, size, accounts)[acc]
        columns[f"c{k}"] = pa.array([f"v{c}" for c in codes])
    columns["segment"] = columns["c0"]
    z_churn = -2.6 + 0.9 * latent[:, 0] - 0.6 * latent[:, 1] + 0.4 * np.tanh(latent[:, 2])
    z_expand = -2.2 + 0.8 * latent[:, 3] + 0.5 * latent[:, 0] * (latent[:, 4] > 0)
    churn = (rng.random(n) < 1 / (1 + np.exp(-z_churn))).astype(float)
    expand = (rng.random(n) < 1 / (1 + np.exp(-z_expand))).astype(float)
    churn[month >= months - 7] = np.nan
    expand[month >= months - 6] = np.nan
    raw = pa.table({k: v for k, v in columns.items() if k != "segment"})
    cols = [FeatureColumn(f"f{j:03d}") for j in range(numeric)]
    for k in range(len(levels)):
        cats = tuple(sorted({str(v) for v in raw.column(f"c{k}").unique().to_pylist()}))
        cols.append(FeatureColumn(f"c{k}", "categorical", cats))
    return ModelData(
        matrix=encode(raw, cols),
        columns=cols,
        labels={"churn_180d": churn, "expand_180d": expand},
        label_specs=[
            LabelSpec("churn_180d", "churn", 210),
            LabelSpec("expand_180d", "expansion", 180),
        ],
        raw=raw,
        ids=np.array([f"a{i:06d}" for i in range(accounts)], dtype=object)[acc],
        snapshot_date=snapshot,
        mrr=np.exp(rng.normal(6, 1, accounts))[acc],
        groups={"segment": np.asarray(raw.column("c0").to_pylist(), dtype=object)},
        facts={"as_of": "2023-09-01", "horizon_days": 180, "grace_days": 30},
    )


def plain_lightgbm_seconds(data: Any, result: Any) -> float:
    """The floor: lightgbm.train of each label on all its labeled rows, same parameters and
    trees as the final model (one Dataset per label, built from the float matrix)."""
    import lightgbm as lgb

    from training.model import DATASET_PARAMS

    started = time.perf_counter()
    categorical = [i for i, c in enumerate(data.columns) if c.kind == "categorical"]
    for label, outcome in result.labels.items():
        rows = np.flatnonzero(data.labeled(label))
        params = {
            k: v
            for k, v in outcome.bundle.metadata["params"].items()
            if k != "monotone_constraints"
        }
        dataset = lgb.Dataset(
            data.matrix[rows],
            data.labels[label][rows],
            categorical_feature=categorical,
            params={**DATASET_PARAMS, "verbose": -1},
        )
        lgb.train(params, dataset, num_boost_round=outcome.facts["best_iteration"])
    return time.perf_counter() - started


def speed(rows: int) -> dict[str, Any]:
    import os

    from training.options import TrainOptions
    from training.train import train_models

    months = 20
    accounts = rows // months
    load_before = os.getloadavg()[0]
    tick = time.perf_counter()
    data = synthetic_data(accounts, months)
    generate = time.perf_counter() - tick
    options = TrainOptions(backtests=1, with_baselines=False, top_accounts=0)
    cpu = time.process_time()
    result = train_models(data, options)
    cpu = time.process_time() - cpu
    models = result.seconds["binning"] + sum(
        sum(r.facts["seconds"].get(k, 0.0) for k in REGISTERED_MODEL_STEPS)
        for r in result.labels.values()
    )
    share = models / result.seconds["total"]
    floor = plain_lightgbm_seconds(data, result)
    tick = time.perf_counter()
    full = train_models(data, TrainOptions(backtests=1, top_accounts=10))
    full_seconds = time.perf_counter() - tick
    return {
        "rows": len(data.matrix),
        "features": len(data.columns),
        "cpus": os.cpu_count(),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "generate_seconds": round(generate, 1),
        "both_models_seconds": round(models, 1),
        "both_models_cpu_seconds": round(cpu * share, 1),
        "cpu_note": "process CPU time (all threads) of the same work, prorated from the whole "
        "train_models call; on an idle machine with 2 threads the wall time is about half",
        "bound_seconds": SPEED_BOUND_SECONDS,
        "plain_lightgbm_seconds": round(floor, 1),
        "ratio_to_plain_lightgbm": round(models / floor, 2),
        "per_label": {
            label: {
                "best_iteration": r.facts["best_iteration"],
                "final_model_seconds": sum(
                    r.facts["seconds"].get(k, 0.0) for k in REGISTERED_MODEL_STEPS
                ),
                "monotone_used": r.facts["monotone"]["used"],
                "explain_ms_per_row": r.facts["explain_ms_per_row"],
                "roc_auc_last_window": r.summary()["roc_auc"],
            }
            for label, r in result.labels.items()
        },
        "binning_seconds": result.seconds["binning"],
        "pipeline_seconds": round(full_seconds, 1),
        "pipeline_breakdown": {label: r.facts["seconds"] for label, r in full.labels.items()},
    }


# ---- 2. quality ---------------------------------------------------------------------------


def _digest(*packages: str) -> str:
    import importlib

    digest = hashlib.sha256()
    for name in packages:
        root = Path(importlib.import_module(name).__file__).parent  # type: ignore[arg-type]
        for file in sorted(root.rglob("*.py")):
            digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def quality_source(accounts: int, months: int, seed: int, oracle_rows: int) -> Path:
    """A simulated source with its truth and its feature table, cached by the code of the
    simulator and the feature stage."""
    from features.pipeline import build_features
    from simulator.config import SimulationConfig
    from simulator.run import simulate

    key = (
        f"training-a{accounts}-m{months}-s{seed}-o{oracle_rows}-{_digest('simulator', 'features')}"
    )
    root = RESULTS / "sources" / key
    table = root / "features.parquet"
    done = root / "_done.json"
    if done.exists():
        return root
    config = SimulationConfig(accounts=accounts, months=months, seed=seed, oracle_rows=oracle_rows)
    simulate(config, root / "source")
    summary = build_features(root / "source", table, quarantine=True)
    done.write_text(json.dumps({"rows": summary.rows, "quarantined": summary.rows_quarantined}))
    return root


def quality(accounts: int, months: int, seed: int, oracle_rows: int) -> dict[str, Any]:
    from training import dataset
    from training.options import TrainOptions
    from training.train import train_models

    root = quality_source(accounts, months, seed, oracle_rows)
    data = dataset.load(root / "features.parquet")
    tick = time.perf_counter()
    result = train_models(data, TrainOptions(truth_dir=root / "source" / "_truth"))
    out: dict[str, Any] = {
        "source": f"{accounts} accounts x {months} months, seed {seed}, oracle rows {oracle_rows}",
        "rows": len(data.matrix),
        "train_seconds": round(time.perf_counter() - tick, 1),
        "labels": {},
    }
    for label, outcome in result.labels.items():
        windows = []
        for window in outcome.windows:
            oracle = window.oracle or {}
            windows.append(
                {
                    "window": window.name,
                    "test": window.test,
                    "roc_auc": window.metrics["model"]["roc_auc"],
                    "ece": window.metrics["model"]["ece"],
                    "scorecard_auc": window.metrics["scorecard"]["roc_auc"],
                    "logreg_auc": window.metrics["logreg"]["roc_auc"],
                    "oracle_rows": oracle.get("rows"),
                    "oracle_auc": oracle.get("oracle_auc"),
                    "model_auc_on_oracle_rows": oracle.get("model_auc"),
                    "ratio": oracle.get("model_oracle_ratio"),
                    "scorecard_ratio": oracle.get("scorecard_oracle_ratio"),
                    "logreg_ratio": oracle.get("logreg_oracle_ratio"),
                }
            )
        out["labels"][label] = {
            "windows": windows,
            "monotone": outcome.facts["monotone"].get("used"),
            "calibration": outcome.facts["calibration"]["method"],
            "explain_ms_per_row": outcome.facts["explain_ms_per_row"],
        }
    churn = out["labels"]["churn_180d"]["windows"][0]
    expand = out["labels"]["expand_180d"]["windows"][0]
    out["bars"] = {
        "churn_oracle_ratio": _bar(churn["ratio"], BARS["churn_oracle_ratio"]),
        "expand_oracle_ratio": _bar(expand["ratio"], BARS["expand_oracle_ratio"]),
        "churn_minus_scorecard": _bar(
            churn["roc_auc"] - churn["scorecard_auc"], BARS["churn_vs_scorecard"]
        ),
        "churn_ece": _bar(churn["ece"], BARS["ece"], upper=True),
        "expand_ece": _bar(expand["ece"], BARS["ece"], upper=True),
    }
    return out


def _bar(value: float | None, bound: float, upper: bool = False) -> dict[str, Any]:
    ok = value is not None and (value <= bound if upper else value >= bound)
    return {"value": value, "bound": bound, "holds": bool(ok)}


# ---- the benchmark protocol -------------------------------------------------------------


def run(quick: bool = False) -> dict[str, Any]:
    if quick:
        return {"speed": speed(50_000), "quality": quality(400, 24, 12, 1500)}
    return {"speed": speed(500_000), "quality": quality(3000, 36, 12, 12_000)}


def report(results: dict[str, Any]) -> list[str]:
    s = results["speed"]
    lines = [
        f"both models on {s['rows']:,} rows x {s['features']} features: "
        f"{s['both_models_seconds']:.1f} s (bound {s['bound_seconds']:.0f} s; "
        f"{s['ratio_to_plain_lightgbm']:.2f}x a plain lightgbm.train of the same trees, "
        f"{s['plain_lightgbm_seconds']:.1f} s); CPU time {s['both_models_cpu_seconds']:.1f} s",
        f"  whole pipeline with 1 backtest and both baselines: {s['pipeline_seconds']:.1f} s",
        f"  load average (1 min) before/after on {s['cpus']} cores: {s['load_average_1m']}",
    ]
    for label, facts in s["per_label"].items():
        lines.append(
            f"  {label}: {facts['best_iteration']} trees, {facts['final_model_seconds']:.1f} s, "
            f"explanations {facts['explain_ms_per_row']:.3f} ms/row"
        )
    q = results["quality"]
    lines.append(
        f"quality on {q['source']} ({q['rows']:,} rows, trained in {q['train_seconds']} s)"
    )
    for label, entry in q["labels"].items():
        for w in entry["windows"]:
            lines.append(
                f"  {label} {w['window']}: AUC {w['roc_auc']:.3f} (oracle "
                f"{_f(w['oracle_auc'])} on {w['oracle_rows']} rows, ratio {_f(w['ratio'])}), "
                f"scorecard {w['scorecard_auc']:.3f}, logreg {w['logreg_auc']:.3f}, "
                f"ECE {w['ece']:.4f}"
            )
    for name, bar in q["bars"].items():
        verdict = "holds" if bar["holds"] else "FAILS"
        lines.append(f"  bar {name}: {_f(bar['value'])} vs {bar['bound']} -> {verdict}")
    lines.append(
        f"  speed bar: {s['both_models_seconds']:.1f} s vs {s['bound_seconds']:.0f} s -> "
        + ("holds" if s["both_models_seconds"] <= s["bound_seconds"] else "FAILS")
    )
    return lines


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
