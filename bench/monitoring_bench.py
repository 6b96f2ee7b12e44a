"""Monitoring: the cost of ``monitoring.health.assess`` (drift of every feature and both
scores, the label-free estimate) on one snapshot of 10,000 accounts x 150 numeric features,
as a ratio to scoring the same snapshot with the same two models (``predict_proba``, the
floor: what a snapshot costs without monitoring). Also the cost of building the profile a
bundle carries, against fitting the model it describes.

Synthetic data: 150 features (log-normal, Poisson counts, 10% null in a third of them),
two LightGBM models of 200 trees fit on 24 monthly snapshots of the same accounts; the
profile pools those snapshots. ``--quick``: 1,000 accounts x 30 features, 6 snapshots."""

from __future__ import annotations

import time
from typing import Any

import numpy as np


def _table(accounts: int, features: int, snapshots: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    level = rng.normal(0, 1, (accounts, features))
    out = {}
    for j in range(features):
        base = np.tile(level[:, j], snapshots) + rng.normal(0, 0.5, accounts * snapshots)
        values = np.exp(base) if j % 3 == 0 else rng.poisson(np.exp(base / 2)).astype(float)
        if j % 3 == 1:
            values[rng.random(len(values)) < 0.1] = np.nan
        out[f"f{j:03d}"] = values
    return out


def run(quick: bool = False) -> dict[str, Any]:
    import lightgbm as lgb
    import pyarrow as pa

    from features.model_bundle import Calibration, FeatureColumn, ModelBundle
    from monitoring.health import ModelView, assess
    from monitoring.profile import build_profile

    accounts, features, snapshots = (1_000, 30, 6) if quick else (10_000, 150, 24)
    data = _table(accounts, features, snapshots, seed=0)
    names = list(data)
    matrix = np.column_stack([data[n] for n in names])
    rng = np.random.default_rng(1)
    z = np.nan_to_num(matrix[:, 0] > np.nanmedian(matrix[:, 0])) + 0.3 * rng.normal(
        size=len(matrix)
    )
    columns = [FeatureColumn(n) for n in names]
    dates = np.repeat(np.arange(snapshots), accounts).astype("datetime64[D]")
    ids = np.tile(np.arange(accounts), snapshots)
    bundles = []
    fit_seconds = 0.0
    for k, label in enumerate(("churn_180d", "expand_180d")):
        y = (z + k * rng.normal(size=len(z)) > 1.0).astype(float)
        tick = time.perf_counter()
        booster = lgb.train(
            {"objective": "binary", "verbose": -1, "num_leaves": 15, "num_threads": 1},
            lgb.Dataset(matrix, y),
            num_boost_round=200,
        )
        fit_seconds += time.perf_counter() - tick
        bundles.append(ModelBundle(label, columns, Calibration("platt", 1.0, 0.0), booster))
    tick = time.perf_counter()
    for bundle in bundles:
        scores = {bundle.label: bundle.predict_proba(matrix)}
        bundle.metadata["profile"] = build_profile(
            data, dict.fromkeys(names, "numeric"), scores, dates, account=ids
        ).to_dict()
    profile_seconds = time.perf_counter() - tick
    current = pa.table(_table(accounts, features, 1, seed=2))
    views = [ModelView(b.label, b, "1") for b in bundles]
    score_times, monitor_times = [], []
    for _ in range(1 if quick else 3):
        tick = time.perf_counter()
        scores = {b.label: b.predict_proba(current) for b in bundles}
        score_times.append(time.perf_counter() - tick)
        tick = time.perf_counter()
        health = assess(views, current, "2024-01-01", scores=scores)
        monitor_times.append(time.perf_counter() - tick)
    score, monitor = min(score_times), min(monitor_times)
    return {
        "accounts": accounts,
        "features": features,
        "snapshots": snapshots,
        "score_seconds": round(score, 3),
        "monitor_seconds": round(monitor, 3),
        "monitor_vs_score": round(monitor / score, 2),
        "profile_seconds": round(profile_seconds, 3),
        "fit_seconds": round(fit_seconds, 3),
        "profile_vs_fit": round(profile_seconds / fit_seconds, 3),
        "drifted_features": len(health.drifted),
    }


def report(results: dict[str, Any]) -> list[str]:
    r = results
    return [
        f"{r['accounts']:,} accounts x {r['features']} features: scoring both models "
        f"{r['score_seconds']:.3f} s, assess (drift + estimate, scores given) "
        f"{r['monitor_seconds']:.3f} s = {r['monitor_vs_score']}x scoring",
        f"profile of both bundles over {r['snapshots']} snapshots {r['profile_seconds']:.2f} s "
        f"= {r['profile_vs_fit']}x fitting the two models ({r['fit_seconds']:.1f} s)",
        f"features flagged on an unshifted snapshot: {r['drifted_features']} of {r['features']}",
    ]
