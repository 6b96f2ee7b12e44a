"""The survival bench's oracle ratios: on the test rows the simulator's truth has an oracle
curve for (``p_churn_by_<d>d`` in ``_truth/oracle.parquet``, a random sample of rows), the
time-dependent AUC of each model's P(churn by d) over the oracle's at 90/180/365 days."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

AUC_DAYS = (90, 180, 365)


def oracle_ratios(
    truth_dir: Path,
    ids: np.ndarray,
    snapshot_date: np.ndarray,
    churn_days: np.ndarray,
    observed: np.ndarray,
    curves: dict[str, np.ndarray],
    grid: list[int],
) -> dict[str, Any] | None:
    """None when the truth has no oracle curve. ``curves``: model -> (rows, len(grid))."""
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
        aucs = {d: td_auc(time, event, curve[rows, grid.index(d)], d) for d in AUC_DAYS}
        out["auc"][name] = {str(d): v for d, v in aucs.items()}
        out["ratio"][name] = {
            str(d): None if aucs[d] is None or not oracle_auc[d] else aucs[d] / oracle_auc[d]
            for d in AUC_DAYS
        }
    return out
