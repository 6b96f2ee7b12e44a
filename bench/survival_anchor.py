"""Anchoring the churn curve to the served 180-day score, measured out of time against the
calibrated churn_180d model as `churnlight train` registers it.

A simulated source (the survival bench's) -> its feature table as of the cut c (16 months
before the as-of: labels and times as they were known then) -> ``train_and_publish`` into a
scratch registry (churn_180d and the survival model; no tuning, to keep it short) -> both
champions are read back from the registry (serving reads the same bundles). They score the
snapshots of the three months from c in the feature table as of the as-of, with the labels
known at the as-of (12+ months of follow-up). Compared on those rows: the survival model's
own curve, the same curve anchored to the registered classifier two ways (the power of the
survival curve, what the API serves: ``features.survival_bundle.anchor_curve``; and every
period's hazard moved by one log-odds per account, ``anchor_hazards``), and the classifier
alone at 180 days; calibration per risk decile against
Kaplan-Meier, time-dependent AUC, IBS, and the oracle's ratios. Also the scoring cost of a
curve with the registered models (``served_scoring``): the churn model's SHAP against the
curve serving adds."""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.survival_oracle import oracle_ratios
from bench.training_bench import quality_source

CUT_MONTHS = 16
TEST_MONTHS = 3


def anchor_hazards(
    hazards: np.ndarray,
    p_anchor: np.ndarray,
    anchor: float = 180,
    period_days: int = 30,
    iterations: int = 100,
) -> np.ndarray:
    """Hazards (rows, periods) whose curve (``churn_by``) reaches ``p_anchor`` at ``anchor``
    days: every period's hazard of a row moves by the same log-odds c, h'_k = sigmoid(logit
    h_k + c), c found by bisection. It is the row's intercept in the hazard model: the risk
    moves where the model puts it, in log-odds, so a period of low hazard stays low whatever
    the 180-day point asks (the power ``anchor_curve`` multiplies every period's cumulative
    hazard alike). Monotone by construction. Measured here against ``anchor_curve`` (what the
    API serves): no better, so serving keeps the closed form."""
    from features.survival_bundle import churn_by

    eps = 1e-12
    h = np.clip(np.asarray(hazards, dtype=np.float64), eps, 1.0 - eps)
    logit = np.log(h) - np.log1p(-h)
    target = np.clip(np.asarray(p_anchor, dtype=np.float64), 1e-9, 1.0 - 1e-9)
    day = np.full(len(h), float(anchor))
    low, high = np.full(len(h), -40.0), np.full(len(h), 40.0)
    for _ in range(iterations):
        middle = (low + high) / 2.0
        reached = churn_by(1.0 / (1.0 + np.exp(-(logit + middle[:, None]))), day, period_days)
        above = reached > target
        high = np.where(above, middle, high)
        low = np.where(above, low, middle)
    shift = (low + high) / 2.0
    return np.asarray(1.0 / (1.0 + np.exp(-(logit + shift[:, None]))))


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def table_at_cut(root: Path) -> tuple[Any, date, date, Path]:
    """The source's full feature table, the cut ``CUT_MONTHS`` before its as-of, the end of
    the ``TEST_MONTHS`` scored after it, and the feature table as of the cut (built once)."""
    from features.pipeline import FeatureOptions, build_features
    from training import dataset

    full = dataset.load(root / "features.parquet")
    as_of = date.fromisoformat(full.facts["as_of"])
    cut = _months_before(as_of, CUT_MONTHS)
    test_end = _months_before(as_of, CUT_MONTHS - TEST_MONTHS)
    at_cut = root / f"features-asof-{cut.isoformat()}.parquet"
    if not at_cut.exists():
        build_features(root / "source", at_cut, FeatureOptions(as_of=cut), quarantine=True)
    return full, cut, test_end, at_cut


def anchoring(accounts: int, months: int, seed: int, oracle_rows: int) -> dict[str, Any]:
    from features.survival_bundle import anchor_curve, churn_by
    from features.survival_stats import calibration_errors, km_calibration, td_auc
    from training.options import TrainOptions
    from training.retrain import train_and_publish
    from training.settings import TrainingSettings
    from training.store import open_store
    from training.survival_eval import GRID_DAYS, curve_metrics, survival_time
    from training.survival_publish import load_registered_survival
    from training.versions import champion_version, load_version_bundle

    root = quality_source(accounts, months, seed, oracle_rows)
    full, cut, test_end, at_cut = table_at_cut(root)
    with tempfile.TemporaryDirectory(prefix="churnlight-anchor-") as home:
        settings = TrainingSettings(home=Path(home), train_threads=1)
        tick = time.perf_counter()
        options = TrainOptions.from_settings(settings, tune_trials=0, labels=("churn_180d",))
        train_and_publish(at_cut, options, settings)
        train_seconds = time.perf_counter() - tick
        store = open_store(settings)
        churn_version = champion_version(store, settings.churn_model_name, "champion")
        survival_version = champion_version(store, settings.survival_model_name, "champion")
        assert churn_version is not None and survival_version is not None
        churn = load_version_bundle(store, settings.churn_model_name, churn_version.version)
        survival = load_registered_survival(
            store, settings.survival_model_name, str(survival_version.version)
        )
        names = {
            "churn": f"{settings.churn_model_name}/{churn_version.version}",
            "survival": f"{settings.survival_model_name}/{survival_version.version}",
        }
    snapshot = full.snapshot_date
    days, observed = full.times["churn_days"], full.times["churn_observed"]
    test = np.flatnonzero(
        (snapshot >= np.datetime64(cut)) & (snapshot < np.datetime64(test_end)) & ~np.isnan(days)
    )
    raw_rows = full.raw.take(test)
    p180 = churn.predict_proba(raw_rows)
    scoring = served_scoring(churn, survival, raw_rows.slice(0, 2000))
    grid = list(GRID_DAYS)
    hazards = survival.hazards(survival.encode(raw_rows))
    own = churn_by(hazards, grid, survival.period_days)
    curves = {
        "survival": own,
        # what the API serves: the cumulative hazard scaled per account
        "anchored_power": anchor_curve(own, grid, p180, 180),
        # the alternative measured: every period's hazard moved by one log-odds per account
        "anchored_hazard_odds": churn_by(
            anchor_hazards(hazards, p180, 180, survival.period_days), grid, survival.period_days
        ),
    }
    test_days, test_observed = days[test], observed[test]
    metrics = {
        name: curve_metrics(test_days, test_observed, curve).to_dict()
        for name, curve in curves.items()
    }
    oracle = oracle_ratios(
        root / "source" / "_truth",
        full.ids[test],
        snapshot[test],
        test_days,
        test_observed,
        curves,
        grid,
    )
    time_test = survival_time(test_days)
    errors = calibration_errors(km_calibration(time_test, test_observed, p180, 180))
    return {
        "cut": cut.isoformat(),
        "test_end": test_end.isoformat(),
        "test_rows": len(test),
        "test_churns": int(np.nansum(test_observed)),
        "train_seconds": round(train_seconds, 1),
        "models": names,
        "scoring": scoring,
        "metrics": metrics,
        "oracle": oracle,
        "classifier_180": {
            "td_auc": td_auc(time_test, test_observed, p180, 180),
            "calibration_max": None if errors is None else errors[0],
            "calibration_mean": None if errors is None else errors[1],
        },
    }


def served_scoring(churn: Any, survival: Any, raw: Any) -> dict[str, Any]:
    """The registered models scored as serving scores a table (``serving.scoring``, on
    every core; and CPU time on one thread each): the churn model's SHAP contributions
    (its probability is their sum, no separate prediction), and the curve it adds
    (``serving.survival.score_curves`` with the renewal and the anchoring; without the
    drivers, which a batch file does not carry and the API finds when a record asks)."""
    from bench.survival_bench import best_of
    from serving.explain import explain_bundle
    from serving.survival import SurvivalView, score_curves

    threads = os.cpu_count() or 1
    x_churn, x_survival = churn.encode(raw), survival.encode(raw)
    days = raw.column("days_to_renewal").to_numpy(zero_copy_only=False).astype(float)
    p = churn.calibration.apply(explain_bundle(churn, x_churn, threads).raw_score)
    view = SurvivalView.of(survival, "bench", drivers=False)
    score_curves(view, x_survival, p, days, drivers=False)  # the split is built on first use
    account = best_of(lambda: explain_bundle(churn, x_churn, threads))
    curve = best_of(lambda: score_curves(view, x_survival, p, days, drivers=False))
    cpu = time.process_time  # one thread each: moves little with the machine's load
    account_cpu = best_of(lambda: explain_bundle(churn, x_churn, 1), clock=cpu)
    curve_cpu = best_of(
        lambda: score_curves(view, x_survival, p, days, drivers=False, threads=1), clock=cpu
    )
    return {
        "rows": raw.num_rows,
        "churn_kind": churn.kind,
        "churn_trees": 0 if churn.booster is None else churn.booster.num_trees(),
        "survival_trees": survival.booster.num_trees(),
        "account_seconds": account,
        "curve_seconds": curve,
        "added": curve / account,
        "account_cpu_seconds": account_cpu,
        "curve_cpu_seconds": curve_cpu,
        "added_cpu": curve_cpu / account_cpu,
        "load_average_1m": os.getloadavg()[0],
    }


def report(result: dict[str, Any]) -> list[str]:
    def f(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    lines = [
        f"anchoring, out of time: trained as of {result['cut']} through `churnlight train` "
        f"(no tuning; {result['train_seconds']:.0f} s) -> {result['models']['churn']} and "
        f"{result['models']['survival']}; tested on {result['test_rows']:,} rows to "
        f"{result['test_end']} with {result['test_churns']} churns",
        "  curve                 IBS    AUC90  AUC180 AUC365 cal90max cal90mean cal180max "
        "cal180mean",
    ]
    for name, m in result["metrics"].items():
        lines.append(
            f"  {name:20} {f(m['ibs'])}  {f(m['td_auc']['90'])}  {f(m['td_auc']['180'])}  "
            f"{f(m['td_auc']['365'])}  {f(m['calibration_max']['90'])}    "
            f"{f(m['calibration_mean']['90'])}     {f(m['calibration_max']['180'])}     "
            f"{f(m['calibration_mean']['180'])}"
        )
    c = result["scoring"]
    lines.append(
        f"  scoring {c['rows']} rows with the registered models (load "
        f"{c['load_average_1m']:.2f}): churn ({c['churn_kind']}, {c['churn_trees']} trees) SHAP "
        f"{c['account_seconds']:.3f} s, curve ({c['survival_trees']} trees, renewal, anchoring) "
        f"{c['curve_seconds']:.3f} s: adds {c['added']:.2f}; CPU time, one thread each: "
        f"{c['account_cpu_seconds']:.3f} s and {c['curve_cpu_seconds']:.3f} s, adds "
        f"{c['added_cpu']:.2f}"
    )
    c = result["classifier_180"]
    lines.append(
        f"  registered churn_180d alone at 180 days: AUC {f(c['td_auc'])}, calibration max "
        f"{f(c['calibration_max'])}, mean {f(c['calibration_mean'])}"
    )
    oracle = result.get("oracle")
    if oracle:
        for name, ratio in oracle["ratio"].items():
            lines.append(
                f"  {name:20} AUC ratio to the oracle {f(ratio['90'])}/{f(ratio['180'])}/"
                f"{f(ratio['365'])} on {oracle['rows']:,} rows; IBS "
                f"{f(oracle['metrics'][name]['ibs'])} vs the oracle's "
                f"{f(oracle['metrics']['oracle']['ibs'])}"
            )
    return lines
