"""The survival bench's oracle ratios: on the test rows the simulator's truth has an oracle
curve for (``p_churn_by_<d>d`` in ``_truth/oracle.parquet``, a random sample of rows), the
time-dependent AUC of each model's P(churn by d) over the oracle's at 90/180/365 days.

On the same rows, what is achievable at all: the oracle's own integrated Brier score and
Uno's C next to every model's (``oracle_metrics``). The oracle knows the chain's full state,
so no model on the features can beat it: its IBS over Kaplan-Meier's is the floor of the
"IBS <= 0.6 x Kaplan-Meier" bar on this simulator. The oracle's curve has points at 30, 60,
90, 180, 270 and 365 days only; between them it is interpolated linearly in log S
(``oracle_on_grid``), and ``ibs_coarse`` (every model scored on those six days only, where the
oracle is exact) checks that the interpolation does not handicap it. Calibration per decile
at 90 and 180 days (the worst decile against Kaplan-Meier) is measured for the oracle too,
with the worst gap a perfectly calibrated curve shows on these few rows
(``bench.survival_reach``), and the spread of the survival model's AUC ratios over accounts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from bench.survival_reach import CALIBRATION_DAYS, auc_ratio_spread, calibration_floors

AUC_DAYS = (90, 180, 365)


def oracle_ratios(
    truth_dir: Path,
    ids: np.ndarray,
    snapshot_date: np.ndarray,
    churn_days: np.ndarray,
    observed: np.ndarray,
    curves: dict[str, np.ndarray],
    grid: list[int],
    risks: dict[str, np.ndarray | None] | None = None,
) -> dict[str, Any] | None:
    """None when the truth has no oracle curve. ``curves``: model -> (rows, len(grid));
    ``risks``: a model's own ranking score for Uno's C (else its P(churn by 365))."""
    import pandas as pd

    from features.survival_stats import td_auc
    from training.survival_eval import survival_time

    path = truth_dir / "oracle.parquet"
    if not path.exists():
        return None
    oracle = pd.read_parquet(path)
    if "p_churn_by_365d" not in oracle.columns:
        return None
    oracle["key"] = oracle.account_id.astype(str) + "|" + oracle.snapshot_date.astype(str)
    keys = pd.Series([f"{a}|{d}" for a, d in zip(ids, snapshot_date.astype(str), strict=True)])
    position = pd.Series(np.arange(len(oracle)), index=oracle.key)
    matched = keys.map(position)
    rows = np.flatnonzero(matched.notna().to_numpy())
    if len(rows) == 0:
        return None
    at = matched.to_numpy()[rows].astype(int)
    time, event = survival_time(churn_days[rows]), observed[rows]
    out: dict[str, Any] = {"rows": len(rows), "churns": int(np.nansum(event)), "auc": {}}
    oracle_auc = {
        d: td_auc(time, event, oracle[f"p_churn_by_{d}d"].to_numpy()[at], d) for d in AUC_DAYS
    }
    out["auc"]["oracle"] = {str(d): v for d, v in oracle_auc.items()}
    out["ratio"] = {}
    for name, curve in curves.items():
        if name.startswith("kaplan_meier"):
            continue
        aucs = {d: td_auc(time, event, curve[rows, grid.index(d)], d) for d in AUC_DAYS}
        out["auc"][name] = {str(d): v for d, v in aucs.items()}
        out["ratio"][name] = {
            str(d): None if aucs[d] is None or not oracle_auc[d] else aucs[d] / oracle_auc[d]
            for d in AUC_DAYS
        }
    on_rows = {n: c[rows] for n, c in curves.items()}
    own_risks = {n: r[rows] for n, r in (risks or {}).items() if r is not None}
    oracle_curve = oracle_on_grid(oracle, at, grid)
    out["metrics"] = oracle_metrics(time, event, oracle_curve, grid, on_rows, own_risks)
    out["calibration_floor"] = calibration_floors({"oracle": oracle_curve}, grid)["oracle"]
    if "survival" in curves:
        out["ratio_spread"] = {
            str(d): auc_ratio_spread(
                ids[rows],
                time,
                event,
                on_rows["survival"][:, grid.index(d)],
                oracle[f"p_churn_by_{d}d"].to_numpy()[at],
                d,
            )
            for d in AUC_DAYS
        }
    return out


def oracle_on_grid(oracle: Any, at: np.ndarray, grid: list[int]) -> np.ndarray:
    """(len(at), len(grid)) the oracle's P(churn by d) on ``grid``: its own points where it
    has them, log S interpolated linearly between them (S(0) = 1)."""
    from simulator.survival_truth import CURVE_DAYS

    points = np.column_stack(
        [np.zeros(len(at))]
        + [
            np.log(np.clip(1.0 - oracle[f"p_churn_by_{d}d"].to_numpy()[at], 1e-9, 1.0))
            for d in CURVE_DAYS
        ]
    )
    days = np.array([0, *CURVE_DAYS], dtype=float)
    log_s = np.stack([np.interp(grid, days, row) for row in points])
    return np.asarray(1.0 - np.exp(log_s))


def oracle_metrics(
    time: np.ndarray,
    event: np.ndarray,
    oracle_curve: np.ndarray,
    grid: list[int],
    curves: dict[str, np.ndarray],
    risks: dict[str, np.ndarray],
) -> dict[str, dict[str, Any]]:
    """IBS over ``grid``, IBS on the oracle's six days only (``ibs_coarse``), Uno's C up
    to 365 days (risk: ``risks[name]``, else P(churn by 365)) and the worst decile's
    calibration gap at 90 and 180 days (``calibration_max``) of the oracle and each model, all
    on the same rows."""
    from features.survival_stats import integrated_brier, uno_c
    from simulator.survival_truth import CURVE_DAYS

    coarse = [grid.index(d) for d in CURVE_DAYS]
    grid_array, coarse_days = np.asarray(grid, dtype=float), np.asarray(CURVE_DAYS, dtype=float)
    out: dict[str, dict[str, Any]] = {}
    for name, curve in {"oracle": oracle_curve, **curves}.items():
        risk = risks.get(name, curve[:, grid.index(365)])
        out[name] = {
            "ibs": integrated_brier(time, event, curve, grid_array),
            "ibs_coarse": integrated_brier(time, event, curve[:, coarse], coarse_days),
            "uno_c": uno_c(time, event, risk, 365),
            "calibration_max": {
                str(d): _worst_decile(time, event, curve[:, grid.index(d)], d)
                for d in CALIBRATION_DAYS
            },
        }
    return out


def _worst_decile(time: np.ndarray, event: np.ndarray, p: np.ndarray, day: int) -> float | None:
    from features.survival_stats import calibration_errors, km_calibration

    errors = calibration_errors(km_calibration(time, event, p, day))
    return None if errors is None else errors[0]
