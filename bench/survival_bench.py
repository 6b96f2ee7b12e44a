"""Time to churn: the survival model's curves against Kaplan-Meier, Cox and a LightGBM
classifier per horizon, out of time on a simulated source, all measured in the same run.

A simulated source (3,000 accounts x 36 months, seed 12, 12,000 oracle rows; ``--quick``:
600 x 24, cut 9 months before the as-of, no bars) ->
``churnlight features`` -> time to churn (``features.pipeline.build_churn_times``). The cut c
is 16 months before the as-of date: the model and baselines train on the snapshots before c
with labels as known at c (censored at c - grace), and are tested on the snapshots of the
three months from c with labels as known at the as-of (13+ months of follow-up, censoring
handled by IPCW). Early stopping uses 20% of the training accounts.

Bars (issue 19): integrated Brier score 30-365 days <= 0.6 x Kaplan-Meier's and <= 0.9 x
Cox's; Uno's C >= Cox's + 0.02; time-dependent AUC at 90/180/365 >= 0.97 x a LightGBM
classifier trained directly for that horizon; calibration per risk decile within 2 points of
Kaplan-Meier at 90 and 180 days; training <= 3 x the churn classifier's fit on the same rows
(CPU time, both on one thread: wall time on a shared machine moved the ratio from 2.9 to 5.4);
scoring a curve adds <= 50% to scoring an account (a prediction and its SHAP contributions);
td-AUC >= 0.95 x the simulator's oracle curve on the test rows it covers
(``bench/survival_oracle.py``). The full run also measures the anchoring against the
churn_180d model `churnlight train` registers (``bench/survival_anchor.py``). Training on
500,000 rows is measured by ``python -m bench.survival_speed`` (here the ratio is taken on
the source's training rows). Beside the bars, the noise under them on these rows
(``bench/survival_reach.py``): the worst decile a perfectly calibrated curve shows, the
oracle's own worst decile on its rows, and the spread over accounts of Uno's C minus Cox's
and of the AUC ratios to the oracle."""

from __future__ import annotations

import os
import time
from datetime import date
from typing import Any

import numpy as np

from bench.survival_oracle import oracle_ratios
from bench.survival_reach import calibration_floors, concordance_spread, floor_text, spread_text
from bench.survival_reach import report as reach_report
from bench.training_bench import quality_source

BARS = {
    "ibs_vs_km": 0.6,
    "ibs_vs_cox": 0.9,
    "uno_c_minus_cox": 0.02,
    "td_auc_vs_classifier": 0.97,
    "td_auc_vs_oracle": 0.95,
    "calibration_max": 0.02,
    "train_time_ratio": 3.0,
    "scoring_added": 0.5,
}
CUT_MONTHS = 16
ORACLE_ROWS = 12_000
"""The training bench's source (same cache): about 1,300 oracle rows fall in the test window."""
TEST_MONTHS = 3


def _months_before(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _times(source: Any, as_of: date, dates: list[date]) -> Any:
    from features.pipeline import build_churn_times

    table = build_churn_times(source, as_of=as_of, snapshot_dates=dates).to_pyarrow()
    return table.to_pandas()


def _labels(root: Any, data: Any, cut: date, as_of: date, grace: int) -> dict[str, np.ndarray]:
    """churn_days / observed as known at the cut (training) and at the as-of (test)."""
    import pandas as pd

    from features.sources import open_source

    source = open_source(root / "source")
    dates = sorted({d.astype(object) for d in np.unique(data.snapshot_date)})
    keys = pd.DataFrame({"account_id": data.ids, "snapshot_date": data.snapshot_date})
    keys["snapshot_date"] = pd.to_datetime(keys.snapshot_date).dt.date
    out: dict[str, np.ndarray] = {}
    for name, known_at in (("cut", cut), ("asof", as_of)):
        usable = [d for d in dates if d <= known_at]
        times = _times(source, known_at, usable)
        times["account_id"] = times.account_id.astype(str)
        times["snapshot_date"] = pd.to_datetime(times.snapshot_date).dt.date
        merged = keys.assign(account_id=keys.account_id.astype(str)).merge(
            times, on=["account_id", "snapshot_date"], how="left"
        )
        out[f"days_{name}"] = merged.churn_days.to_numpy(dtype=float, na_value=np.nan)
        out[f"observed_{name}"] = merged.churn_observed.to_numpy(dtype=float, na_value=np.nan)
    return out


def _classifier(
    matrix: np.ndarray, categorical: list[int], y: np.ndarray, fit: np.ndarray, valid: np.ndarray
) -> Any:
    """A LightGBM classifier with the survival model's parameters, early-stopped the same way
    but without the hazard model's tree cap (up to the classifiers' ``MAX_ROUNDS``): the
    comparator is not held back by a setting chosen for the curve's serving cost."""
    import lightgbm as lgb

    from training.model import MAX_ROUNDS
    from training.survival import EARLY_STOPPING_ROUNDS, SURVIVAL_PARAMS

    params = {
        **SURVIVAL_PARAMS,
        "min_data_in_leaf": int(np.clip(len(fit) // 200, 20, 200)),
        "seed": 0,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
        "num_threads": 1,
        "metric": "binary_logloss",
    }
    train = lgb.Dataset(matrix[fit], y[fit], categorical_feature=categorical)
    check = lgb.Dataset(matrix[valid], y[valid], reference=train)
    return lgb.train(
        params,
        train,
        MAX_ROUNDS,
        valid_sets=[check],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)],
    )


def quality(
    accounts: int, months: int, seed: int, cut_months: int = CUT_MONTHS, oracle_rows: int = 0
) -> dict[str, Any]:
    from features.survival_bundle import anchor_curve
    from features.writer import read_feature_table
    from training.dataset import from_feature_file
    from training.model import base_dataset, fit_booster
    from training.survival import HORIZONS_DAYS, fit_survival, followup_days
    from training.survival_baselines import fit_cox, fit_kaplan_meier
    from training.survival_eval import GRID_DAYS, curve_metrics, survival_time

    root = quality_source(accounts, months, seed, oracle_rows)
    data = from_feature_file(read_feature_table(root / "features.parquet"))
    as_of = date.fromisoformat(data.facts["as_of"])
    grace = int(data.facts.get("grace_days", 30))
    cut = _months_before(as_of, cut_months)
    test_end = _months_before(as_of, cut_months - TEST_MONTHS)
    labels = _labels(root, data, cut, as_of, grace)
    snapshot = data.snapshot_date
    train = np.flatnonzero(
        (snapshot < np.datetime64(cut)) & ~np.isnan(labels["days_cut"]) & (labels["days_cut"] >= 0)
    )
    test = np.flatnonzero(
        (snapshot >= np.datetime64(cut))
        & (snapshot < np.datetime64(test_end))
        & ~np.isnan(labels["days_asof"])
    )
    accounts_train = np.unique(data.ids[train])
    held = set(np.random.default_rng(seed).choice(accounts_train, len(accounts_train) // 5))
    in_valid = np.array([a in held for a in data.ids[train]])
    fit_rows, valid_rows = train[~in_valid], train[in_valid]
    followup_cut = followup_days(snapshot, cut, grace)
    categorical = [j for j, c in enumerate(data.columns) if c.kind == "categorical"]
    numeric = [j for j, c in enumerate(data.columns) if c.kind != "categorical"]
    x = data.matrix
    days, observed = labels["days_cut"], labels["observed_cut"]
    test_days, test_observed = labels["days_asof"][test], labels["observed_asof"][test]
    threads = 1
    import lightgbm  # noqa: F401  (imported before the clocks start: the first fit must not pay it)

    tick, cpu = time.perf_counter(), time.process_time()
    survival = fit_survival(
        x, data.feature_names, categorical, days, observed, followup_cut, fit_rows, valid_rows,
        threads=threads,
    )  # fmt: skip
    survival_seconds = time.perf_counter() - tick
    survival_cpu = time.process_time() - cpu

    # the churn classifier's own fit (training.model) on churn_180d as known at the cut
    churn_180 = np.where(
        (observed == 1) & (days < 180), 1.0, np.where(followup_cut >= 180, 0.0, np.nan)
    )
    known_fit = fit_rows[~np.isnan(churn_180[fit_rows])]
    known_valid = valid_rows[~np.isnan(churn_180[valid_rows])]
    tick, cpu = time.perf_counter(), time.process_time()
    base = base_dataset(x, data.columns, threads=threads)
    classifier = fit_booster(
        base, churn_180, known_fit, known_valid, data.columns, threads=threads, matrix=x
    )
    classifier_seconds = time.perf_counter() - tick
    classifier_cpu = time.process_time() - cpu

    grid = list(GRID_DAYS)
    x_test = x[test]
    curves: dict[str, np.ndarray] = {}
    risks: dict[str, np.ndarray | None] = {}
    curves["survival"] = survival.churn_by(x_test, grid)
    risks["survival"] = None

    time_train = survival_time(days[train])
    km = fit_kaplan_meier(time_train, observed[train])
    curves["kaplan_meier"] = km.churn_by(grid, len(test))
    risks["kaplan_meier"] = None
    segment = data.groups.get("segment")
    if segment is not None:
        km_seg = fit_kaplan_meier(time_train, observed[train], segment[train])
        curves["kaplan_meier_segment"] = km_seg.churn_by(grid, len(test), segment[test])
        risks["kaplan_meier_segment"] = None
    tick = time.perf_counter()
    cox = fit_cox(x[train], numeric, time_train, observed[train], seed=seed)
    cox_seconds = time.perf_counter() - tick
    curves["cox"] = cox.churn_by(x_test, grid)
    risks["cox"] = cox.risk(x_test)

    # dedicated classifiers per horizon, with the labels they can see at the cut
    dedicated: dict[int, np.ndarray] = {}
    for h in (90, 180, 365):
        y = np.where((observed == 1) & (days < h), 1.0, np.where(followup_cut >= h, 0.0, np.nan))
        fit_h, valid_h = fit_rows[~np.isnan(y[fit_rows])], valid_rows[~np.isnan(y[valid_rows])]
        booster = _classifier(x, categorical, y, fit_h, valid_h)
        dedicated[h] = np.asarray(booster.predict(x_test), dtype=float)

    # anchored the way the API anchors (to the registered, calibrated churn_180d there:
    # bench/survival_anchor.py; here to the dedicated 180-day classifier)
    curves["survival_anchored"] = anchor_curve(curves["survival"], grid, dedicated[180])
    risks["survival_anchored"] = None

    metrics = {
        name: curve_metrics(test_days, test_observed, curve, risks[name]).to_dict()
        for name, curve in curves.items()
    }
    time_test = survival_time(test_days)
    from features.survival_stats import calibration_errors, km_calibration, td_auc

    classifier_auc = {
        str(h): td_auc(time_test, test_observed, dedicated[h], h) for h in (90, 180, 365)
    }
    classifier_calibration = {
        str(h): calibration_errors(km_calibration(time_test, test_observed, dedicated[h], h))
        for h in (90, 180)
    }
    scoring = _scoring_cost(survival, classifier, x_test[:2000])
    monotone = bool((np.diff(curves["survival"], axis=1) >= -1e-12).all())
    horizon_points = survival.churn_by(x_test[:5], list(HORIZONS_DAYS))
    out: dict[str, Any] = {
        "source": f"{accounts} accounts x {months} months, seed {seed}",
        "as_of": as_of.isoformat(),
        "cut": cut.isoformat(),
        "train_rows": len(train),
        "test_rows": len(test),
        "test_churns": int(np.nansum(test_observed)),
        "person_period_rows": survival.person_period_rows,
        "trees": survival.best_iteration,
        "survival_seconds": round(survival_seconds, 2),
        "classifier_seconds": round(classifier_seconds, 2),
        "cox_seconds": round(cox_seconds, 2),
        "survival_cpu_seconds": round(survival_cpu, 2),
        "classifier_cpu_seconds": round(classifier_cpu, 2),
        # both fits run on one thread: CPU time does not move with the machine's load
        "train_time_ratio": survival_cpu / classifier_cpu,
        "train_wall_ratio": survival_seconds / classifier_seconds,
        "scoring": scoring,
        "monotone": monotone,
        "example_curves": {
            "days": list(HORIZONS_DAYS),
            "rows": np.round(horizon_points, 4).tolist(),
        },
        "metrics": metrics,
        "classifier_td_auc": classifier_auc,
        "classifier_calibration_max": {
            h: e[0] if e else None for h, e in classifier_calibration.items()
        },
        "load_average_1m": os.getloadavg()[0],
        "oracle": oracle_ratios(
            root / "source" / "_truth",
            data.ids[test],
            data.snapshot_date[test],
            test_days,
            test_observed,
            curves,
            grid,
            risks,
        ),
    }
    out["achievable"] = achievable(out["oracle"])
    out["reach"] = {
        "calibration_floor": calibration_floors(
            {n: curves[n] for n in ("survival", "survival_anchored")}, grid, seed
        ),
        "uno_c_minus_cox": concordance_spread(
            data.ids[test],
            time_test,
            test_observed,
            curves["survival"][:, grid.index(365)],
            risks["cox"],
            seed=seed,
        ),
    }
    out["bars"] = _bars(out)
    return out


def achievable(oracle: dict[str, Any] | None) -> dict[str, float | None] | None:
    """On the rows with an oracle curve: the oracle's IBS over Kaplan-Meier's and Cox's
    (the best any model can reach against the IBS bars), ours over the same, and the
    oracle's Uno's C minus Cox's (the most any model can gain against the C bar)."""
    if not oracle or "metrics" not in oracle:
        return None
    m = oracle["metrics"]
    out: dict[str, float | None] = {}
    for name in ("oracle", "survival", "survival_anchored"):
        if name not in m:
            continue
        for base in ("kaplan_meier", "cox"):
            for key in ("ibs", "ibs_coarse"):
                if base in m:
                    out[f"{name}_{key}_vs_{base}"] = _ratio(m[name][key], m[base][key])
        if "cox" in m and m[name]["uno_c"] is not None and m["cox"]["uno_c"] is not None:
            out[f"{name}_uno_c_minus_cox"] = m[name]["uno_c"] - m["cox"]["uno_c"]
    return out


def best_of(fn: Any, repeats: int = 3, clock: Any = time.perf_counter) -> float:
    """The fastest of ``repeats`` runs of ``fn``, in seconds of ``clock`` (wall time by
    default; ``time.process_time`` for CPU time)."""
    seconds = []
    for _ in range(repeats):
        tick = clock()
        fn()
        seconds.append(clock() - tick)
    return min(seconds)


def _scoring_cost(survival: Any, classifier: Any, x: np.ndarray) -> dict[str, float]:
    """Seconds to score these rows with the churn classifier (prediction + SHAP
    contributions, what an account's score costs in serving) and to add the curve; the
    curve also as it was drawn before the booster was split by period columns (one
    prediction of every tree on every period), in the same run. Wall time with LightGBM's
    default threads (the bar), and CPU time with one thread on each side (it moves little
    with the machine's load, as the train time ratio's)."""
    from features.survival_bundle import HORIZONS_DAYS, churn_by, hazard_probability

    booster = classifier.booster
    scorer = survival.scorer  # as serving holds a loaded bundle: split once, then reused
    parts = scorer.split.parts

    def one_prediction(threads: int = 0) -> np.ndarray:
        raw = survival.booster.predict(scorer.stacked(x), raw_score=True, num_threads=threads)
        hazards = hazard_probability(raw, survival.platt).reshape(len(x), survival.periods)
        return churn_by(hazards, HORIZONS_DAYS, survival.period_days)

    def account_score(threads: int = 0) -> None:
        booster.predict(x, num_threads=threads)
        booster.predict(x, pred_contrib=True, num_threads=threads)

    cpu = time.process_time
    account = best_of(account_score)
    predict_only = best_of(lambda: booster.predict(x))
    curve = best_of(lambda: survival.churn_by(x))
    former = best_of(one_prediction)
    account_cpu = best_of(lambda: account_score(1), clock=cpu)
    curve_cpu = best_of(lambda: survival.churn_by(x, num_threads=1), clock=cpu)
    former_cpu = best_of(lambda: one_prediction(1), clock=cpu)
    return {
        "rows": len(x),
        "classifier_trees": booster.num_trees(),
        "survival_trees": survival.booster.num_trees(),
        "period_free_trees": sum(p.booster.num_trees() for p in parts if not p.columns),
        "account_seconds": account,
        "predict_only_seconds": predict_only,
        "curve_seconds": curve,
        "curve_one_prediction_seconds": former,
        "added": curve / account,
        "added_one_prediction": former / account,
        "curve_vs_predict_only": curve / predict_only,
        "account_cpu_seconds": account_cpu,
        "curve_cpu_seconds": curve_cpu,
        "curve_one_prediction_cpu_seconds": former_cpu,
        "added_cpu": curve_cpu / account_cpu,
        "added_one_prediction_cpu": former_cpu / account_cpu,
        "load_average_1m": os.getloadavg()[0],
    }


def _bar(value: float | None, bound: float, upper: bool = False) -> dict[str, Any]:
    ok = value is not None and (value <= bound if upper else value >= bound)
    return {"value": value, "bound": bound, "holds": bool(ok)}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _bars(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    m = out["metrics"]
    s, km, cox = m["survival"], m["kaplan_meier"], m["cox"]
    bars = {
        "ibs_vs_km": _bar(_ratio(s["ibs"], km["ibs"]), BARS["ibs_vs_km"], upper=True),
        "ibs_vs_cox": _bar(_ratio(s["ibs"], cox["ibs"]), BARS["ibs_vs_cox"], upper=True),
        "uno_c_minus_cox": _bar(
            None if s["uno_c"] is None or cox["uno_c"] is None else s["uno_c"] - cox["uno_c"],
            BARS["uno_c_minus_cox"],
        ),
    }
    for h in ("90", "180", "365"):
        bars[f"td_auc_{h}_vs_classifier"] = _bar(
            _ratio(s["td_auc"][h], out["classifier_td_auc"][h]), BARS["td_auc_vs_classifier"]
        )
    for h in ("90", "180"):
        bars[f"calibration_max_{h}"] = _bar(
            s["calibration_max"][h], BARS["calibration_max"], upper=True
        )
    oracle = out.get("oracle")
    if oracle:
        for h in ("90", "180", "365"):
            bars[f"td_auc_{h}_vs_oracle"] = _bar(
                oracle["ratio"]["survival"][h], BARS["td_auc_vs_oracle"]
            )
    bars["train_time_ratio"] = _bar(out["train_time_ratio"], BARS["train_time_ratio"], upper=True)
    bars["scoring_added"] = _bar(out["scoring"]["added"], BARS["scoring_added"], upper=True)
    return bars


def run(quick: bool = False) -> dict[str, Any]:
    if quick:
        return {"quality": quality(600, 24, 12, cut_months=9)}
    from bench.survival_anchor import anchoring

    return {
        "quality": quality(3000, 36, 12, oracle_rows=ORACLE_ROWS),
        "anchoring": anchoring(3000, 36, 12, ORACLE_ROWS),
    }


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def report(results: dict[str, Any]) -> list[str]:
    q = results["quality"]
    lines = [
        f"{q['source']}: cut {q['cut']}, as-of {q['as_of']}; train {q['train_rows']:,} rows "
        f"({q['person_period_rows']:,} person-periods, {q['trees']} trees), test "
        f"{q['test_rows']:,} rows with {q['test_churns']} churns; load {q['load_average_1m']:.2f}",
        f"  train (one thread): survival {q['survival_cpu_seconds']:.1f} s CPU vs churn "
        f"classifier {q['classifier_cpu_seconds']:.1f} s CPU (ratio {q['train_time_ratio']:.2f}; "
        f"wall {q['survival_seconds']:.1f} s vs {q['classifier_seconds']:.1f} s); Cox "
        f"{q['cox_seconds']:.1f} s; curves monotone: {q['monotone']}",
        *_scoring_lines(q["scoring"]),
        "  model                 IBS    Uno C  AUC90  AUC180 AUC365 cal90max cal180max cal180mean",
    ]
    for name, m in q["metrics"].items():
        lines.append(
            f"  {name:20} {_f(m['ibs'])}  {_f(m['uno_c'])}  {_f(m['td_auc']['90'])}  "
            f"{_f(m['td_auc']['180'])}  {_f(m['td_auc']['365'])}  "
            f"{_f(m['calibration_max']['90'])}    {_f(m['calibration_max']['180'])}     "
            f"{_f(m['calibration_mean']['180'])}"
        )
    c = q["classifier_td_auc"]
    lines.append(
        f"  dedicated classifiers: AUC90 {_f(c['90'])}  AUC180 {_f(c['180'])}  "
        f"AUC365 {_f(c['365'])}; calibration max per decile at 90 "
        f"{_f(q['classifier_calibration_max']['90'])}, at 180 "
        f"{_f(q['classifier_calibration_max']['180'])} (the anchor of survival_anchored)"
    )
    for name, bar in q["bars"].items():
        verdict = "holds" if bar["holds"] else "FAILS"
        lines.append(f"  bar {name}: {_f(bar['value'])} vs {bar['bound']} -> {verdict}")
    oracle = q.get("oracle")
    if oracle:
        o = oracle["auc"]["oracle"]
        lines.append(
            f"  oracle ({oracle['rows']:,} test rows with an oracle curve, {oracle['churns']} "
            f"churns): AUC90/180/365 {_f(o['90'])}/{_f(o['180'])}/{_f(o['365'])}"
        )
        for name, ratio in oracle["ratio"].items():
            auc = oracle["auc"][name]
            lines.append(
                f"    {name:18} AUC {_f(auc['90'])}/{_f(auc['180'])}/{_f(auc['365'])}, ratio "
                f"to the oracle {_f(ratio['90'])}/{_f(ratio['180'])}/{_f(ratio['365'])} "
                "(bar 0.95)"
            )
        lines += _achievable_lines(oracle, q.get("achievable") or {})
        lines += _oracle_noise_lines(oracle)
    else:
        lines.append("  oracle ratios: the source's truth has no oracle curve")
    if "reach" in q:
        lines += reach_report(q["reach"])
    lines.append("  not measured here: training on 500,000 rows (the train time ratio is taken on")
    lines.append("  the source's training rows)")
    if "anchoring" in results:
        from bench.survival_anchor import report as anchoring_report

        lines += anchoring_report(results["anchoring"])
    return lines


def _scoring_lines(c: dict[str, Any]) -> list[str]:
    return [
        f"  scoring {c['rows']} rows (load {c['load_average_1m']:.2f}): account (predict + SHAP, "
        f"{c['classifier_trees']} trees) {c['account_seconds']:.3f} s, curve "
        f"{c['curve_seconds']:.3f} s (adds {c['added']:.2f}; {c['curve_vs_predict_only']:.1f}x "
        "a plain predict)",
        f"    the curve by one prediction over every period (the former path): "
        f"{c['curve_one_prediction_seconds']:.3f} s (adds {c['added_one_prediction']:.2f}); "
        f"{c['period_free_trees']} of the {c['survival_trees']} hazard trees read no period "
        "column",
        f"    CPU time, one thread each: account {c['account_cpu_seconds']:.3f} s, curve "
        f"{c['curve_cpu_seconds']:.3f} s (adds {c['added_cpu']:.2f}), the former path "
        f"{c['curve_one_prediction_cpu_seconds']:.3f} s (adds {c['added_one_prediction_cpu']:.2f})",
    ]


def _oracle_noise_lines(oracle: dict[str, Any]) -> list[str]:
    m = oracle["metrics"]
    lines = ["    worst decile's calibration gap at 90 / 180 days on these rows:"]
    for name, values in m.items():
        cal = values.get("calibration_max") or {}
        lines.append(f"      {name:18} {_f(cal.get('90'))} / {_f(cal.get('180'))}")
    floor = oracle.get("calibration_floor") or {}
    if floor:
        lines.append(
            "      a perfectly calibrated oracle on these rows misses its worst decile by "
            + floor_text(floor)
        )
    for d, spread in (oracle.get("ratio_spread") or {}).items():
        if spread:
            lines.append(
                f"    survival's AUC ratio to the oracle at {d} days over accounts: "
                + spread_text(spread)
            )
    return lines


def _achievable_lines(oracle: dict[str, Any], a: dict[str, float | None]) -> list[str]:
    lines = [
        f"  what is achievable, on the same {oracle['rows']:,} rows (IBS over 30-365 days, IBS on"
        " the oracle's six days only, Uno's C to 365 days):",
        "    model                 IBS    IBS6   Uno C",
    ]
    for name, m in oracle["metrics"].items():
        lines.append(f"    {name:20} {_f(m['ibs'])}  {_f(m['ibs_coarse'])}  {_f(m['uno_c'])}")
    for name in ("oracle", "survival"):
        lines.append(
            f"    {name}: IBS {_f(a.get(f'{name}_ibs_vs_kaplan_meier'))} x Kaplan-Meier's "
            "(bar 0.6; "
            f"six days {_f(a.get(f'{name}_ibs_coarse_vs_kaplan_meier'))}), "
            f"{_f(a.get(f'{name}_ibs_vs_cox'))} x Cox's (bar 0.9); "
            f"Uno's C - Cox's {_f(a.get(f'{name}_uno_c_minus_cox'))} (bar 0.02)"
        )
    return lines
