"""The survival model as ``churnlight train`` trains it: one out-of-time backtest, then the
final fit on every row, as a survival bundle with its evaluation.

Labels come from the feature table's ``churn_days`` / ``churn_observed`` (known at the
table's as-of). The backtest cuts the table at c (the first of the month ``CUT_MONTHS``
before the as-of; ``SHORT_CUT_MONTHS`` when too few rows lie before that): the model trains
on the snapshots before c with the labels as they were known at c (a churn counts when it
is confirmed by c - grace, otherwise the row is censored there; rows later than c - grace
are left out), and is tested on the snapshots of the ``TEST_MONTHS`` months from c with the
labels known at the as-of, censoring handled by IPCW (``training.survival_eval``).
Kaplan-Meier (overall and per segment) is measured on the same window. The final model then
trains on every row with its labels as known at the as-of; 20% of the accounts stop its
boosting and fit its hazard calibration (the same in the backtest).

Nothing here touches MLflow; ``training.survival_publish`` logs and registers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from features.stats import ece_noise_floor, max_gap_noise_floor
from features.survival_bundle import HORIZONS_DAYS, SurvivalBundle
from training.dataset import ModelData
from training.errors import TrainingError
from training.options import TrainOptions
from training.survival import MAX_TREES, SurvivalFit, fit_survival, followup_days
from training.survival_baselines import fit_kaplan_meier
from training.survival_eval import CALIBRATION_DAYS, GRID_DAYS, curve_metrics, survival_time

CUT_MONTHS = 16
"""16 months: test snapshots of the 3 months from the cut keep 12+ months of follow-up."""
SHORT_CUT_MONTHS = 9
TEST_MONTHS = 3
MIN_TRAIN_ROWS = 500
VALID_SHARE = 0.2
MIN_SEGMENT_ROWS = 50


@dataclass
class SurvivalResult:
    """The final survival bundle and its out-of-time evaluation."""

    bundle: SurvivalBundle
    window: dict[str, Any]
    """cut, test_end, train_rows, test_rows, test_churns."""
    metrics: dict[str, dict[str, Any]]
    """model name ('survival', 'kaplan_meier', 'kaplan_meier_segment') -> CurveMetrics dict."""
    test_rows: np.ndarray
    """Row indices of ``data`` the backtest tested on (the gate scores the champion there)."""
    curves: dict[str, Any] = field(default_factory=dict)
    """For the plots: ``grid`` days, the test rows' survival times, events and curves."""
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.bundle.label

    def gate_auc(self) -> float | None:
        """What the gate compares: the time-dependent AUC at 180 days."""
        return (self.metrics.get("survival") or {}).get("td_auc", {}).get("180")

    def gate_calibration(self) -> float | None:
        """What the gate bounds: the mean per-decile calibration error at 180 days."""
        return (self.metrics.get("survival") or {}).get("calibration_mean", {}).get("180")


def months_before(day: date, months: int) -> date:
    """The first of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def known_at(
    churn_days: np.ndarray,
    observed: np.ndarray,
    snapshot_date: np.ndarray,
    cut: date,
    grace_days: int,
) -> tuple[np.ndarray, np.ndarray]:
    """(churn_days, churn_observed) as known at ``cut``, from the times known later: a churn
    counts when it falls on or before cut - grace, else the row is censored there; NaN for
    rows whose snapshot is after cut - grace (or whose time is unknown)."""
    followup = followup_days(snapshot_date, cut, grace_days).astype(float)
    days = np.asarray(churn_days, dtype=float)
    seen = (np.nan_to_num(observed) == 1) & (days <= followup)
    out_days = np.where(seen, days, followup)
    out_days = np.where(np.isnan(days) | (followup < 0), np.nan, out_days)
    out_observed = np.where(np.isnan(out_days), np.nan, seen.astype(float))
    return out_days, out_observed


def _split_accounts(ids: np.ndarray, rows: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``rows`` split by account: ``VALID_SHARE`` of the accounts for early stopping."""
    accounts = np.unique(ids[rows].astype(str))
    rng = np.random.default_rng(seed)
    held = set(rng.choice(accounts, max(int(len(accounts) * VALID_SHARE), 1), replace=False))
    in_valid = np.array([str(a) in held for a in ids[rows]])
    return rows[~in_valid], rows[in_valid]


def train_survival(data: ModelData, options: TrainOptions) -> SurvivalResult | None:
    """The survival model of ``data`` with its backtest, or None with nothing to learn from
    (no time columns, no snapshot dates, or no churn): the caller says so."""
    if data.snapshot_date is None or "churn_days" not in data.times:
        return None
    started = time.perf_counter()
    days, observed = data.times["churn_days"], data.times["churn_observed"]
    as_of = date.fromisoformat(str(data.facts["as_of"]))
    grace = int(data.facts.get("grace_days", 30))
    snapshot = data.snapshot_date
    categorical = [j for j, c in enumerate(data.columns) if c.kind == "categorical"]
    notes: list[str] = []
    seconds: dict[str, float] = {}

    cut = months_before(as_of, CUT_MONTHS)
    days_cut, observed_cut = known_at(days, observed, snapshot, cut, grace)
    train = np.flatnonzero((snapshot < np.datetime64(cut)) & ~np.isnan(days_cut))
    if len(train) < MIN_TRAIN_ROWS:
        cut = months_before(as_of, SHORT_CUT_MONTHS)
        days_cut, observed_cut = known_at(days, observed, snapshot, cut, grace)
        train = np.flatnonzero((snapshot < np.datetime64(cut)) & ~np.isnan(days_cut))
        notes.append(
            f"backtest cut {SHORT_CUT_MONTHS} months before the as-of (too few rows before "
            f"{CUT_MONTHS} months): metrics past the test rows' follow-up are left out"
        )
    test_end = months_before(as_of, (CUT_MONTHS if not notes else SHORT_CUT_MONTHS) - TEST_MONTHS)
    test = np.flatnonzero(
        (snapshot >= np.datetime64(cut)) & (snapshot < np.datetime64(test_end)) & ~np.isnan(days)
    )
    window: dict[str, Any] = {
        "cut": cut.isoformat(),
        "test_end": test_end.isoformat(),
        "train_rows": len(train),
        "test_rows": len(test),
        "test_churns": int(np.nansum(observed[test])),
    }
    metrics: dict[str, dict[str, Any]] = {}
    curves: dict[str, Any] = {}
    threads = options.threads
    backtest: SurvivalFit | None = None
    if len(train) and len(test) and np.nansum(observed_cut[train]) > 0:
        tick = time.perf_counter()
        fit_rows, valid_rows = _split_accounts(data.ids, train, options.seed)
        followup_cut = followup_days(snapshot, cut, grace)
        try:
            backtest = fit_survival(
                data.matrix, data.feature_names, categorical, days_cut, observed_cut,
                followup_cut, fit_rows, valid_rows, seed=options.seed, threads=threads,
            )  # fmt: skip
        except TrainingError as err:  # e.g. the churns fell to the validation accounts
            backtest = None
            notes.append(f"no backtest: {err}")
        seconds["backtest_fit"] = round(time.perf_counter() - tick, 3)
        if backtest is not None:
            grid = list(GRID_DAYS)
            curve = backtest.churn_by(data.matrix[test], grid)
            test_days, test_observed = days[test], observed[test]
            metrics["survival"] = curve_metrics(test_days, test_observed, curve).to_dict()
            # what a perfectly calibrated curve would show on these rows (censoring aside)
            window["calibration_noise_floor_180"] = ece_noise_floor(
                curve[:, grid.index(180)], seed=options.seed
            )
            # the worst decile's gap a perfectly calibrated curve shows here (median draw):
            # what calibration_max can be told apart from
            window["calibration_max_noise_floor"] = {
                str(d): max_gap_noise_floor(curve[:, grid.index(d)], seed=options.seed)
                for d in CALIBRATION_DAYS
            }
            time_train = survival_time(days_cut[train])
            km = fit_kaplan_meier(time_train, observed_cut[train])
            metrics["kaplan_meier"] = curve_metrics(
                test_days, test_observed, km.churn_by(grid, len(test))
            ).to_dict()
            segment = data.groups.get("segment")
            if segment is not None:
                km_seg = fit_kaplan_meier(time_train, observed_cut[train], segment[train])
                metrics["kaplan_meier_segment"] = curve_metrics(
                    test_days, test_observed, km_seg.churn_by(grid, len(test), segment[test])
                ).to_dict()
            curves = {
                "grid": grid,
                "time": survival_time(test_days),
                "event": test_observed,
                "survival": curve,
                "kaplan_meier": km.churn_by(grid, 1)[0],
            }
    else:
        notes.append("no backtest: no churn or no test rows around the cut")

    tick = time.perf_counter()
    final_days, final_observed = known_at(days, observed, snapshot, as_of, grace)
    everything = np.flatnonzero(~np.isnan(final_days))
    if np.nansum(final_observed[everything]) == 0:
        return None
    fit_rows, valid_rows = _split_accounts(data.ids, everything, options.seed)
    final = fit_survival(
        data.matrix, data.feature_names, categorical, final_days, final_observed,
        followup_days(snapshot, as_of, grace), fit_rows, valid_rows, seed=options.seed,
        threads=threads,
    )  # fmt: skip
    seconds["final_fit"] = round(time.perf_counter() - tick, 3)
    names = set(data.feature_names)
    metadata = {
        "as_of": as_of.isoformat(),
        "grace_days": grace,
        "labels_through": (np.datetime64(as_of) - np.timedelta64(grace, "D")).astype(str),
        "horizons_days": list(HORIZONS_DAYS),
        "best_iteration": final.best_iteration,
        "max_trees": MAX_TREES,
        "person_period_rows": final.person_period_rows,
        "platt": list(final.platt),
        "params": {k: v for k, v in final.params.items() if k != "monotone_constraints"},
        "fingerprint": data.facts.get("fingerprint"),
        "window": window,
        "evaluation": metrics,
        "features": [s for s in data.specs if s.get("name") in names],
    }
    bundle = final.bundle(data.columns, metadata)
    seconds["total"] = round(time.perf_counter() - started, 3)
    return SurvivalResult(bundle, window, metrics, test, curves, seconds, notes)
