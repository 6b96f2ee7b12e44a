"""Which hidden variable carries the gap to the oracle: the simulator's latent state added to a
feature table one variable at a time, each variant scored on the backtest windows.

A screening tool, not the product's training: per label and window, LightGBM with
``training.model.DEFAULT_PARAMS`` fits on the window's fit rows with early stopping on its
holdout accounts' validation rows, is refit on every labelled row closed by the cutoff with
that many trees (what a backtest window scores), and is compared with the oracle on the
window's test rows (ROC-AUC over the oracle's ROC-AUC on the same rows). No tuning, no
candidates, no calibration: seconds per variant instead of minutes, within about 0.004 of
the full pipeline's ratios. Differences below about 0.004 are LightGBM's feature-sampling
noise: read several seeds.

``python -m bench.latent_gap [--accounts N] [--months M] [--seed S ...] [--lgb-seeds K]``
simulates each source (oracle on every labelled row), builds its feature table and prints
one line per variant; the results go to ``bench/results/latent_gap.json``. Not in ``make
bench``: about 3 minutes per 2,000 x 36 source after the source and its features exist."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ["account_id", "snapshot_date"]
LABELS = {
    "churn": ("churn_180d", 210, "p_churn_180d"),
    "expansion": ("expand_180d", 180, "p_expand_180d"),
}
"""Label kind -> (label column, days a row's label spans, the oracle's column)."""
LATENT = ("health", "health_level", "adoption", "growth", "support_pain")
"""Latent columns added as they are; ``need_ratio`` is added as its log, the flags as 0/1."""


def latent_columns(source: Path) -> pd.DataFrame:
    """The hidden state at every month start, keyed like a feature table."""
    latent = pd.read_parquet(source / "_truth" / "latent.parquet")
    latent = latent.rename(columns={"month_start": "snapshot_date"})
    out = latent[KEYS].copy()
    for name in LATENT:
        out[name] = latent[name].astype(float)
    out["log_need_per_seat"] = np.log(latent["need_ratio"].astype(float).clip(lower=1e-6))
    out["champion"] = latent["champion"].astype(float)
    out["payment_stress"] = latent["payment_stress"].astype(float)
    return out


@dataclass(frozen=True)
class _Window:
    """One backtest window's rows for a label and the oracle's ROC-AUC on its test rows."""

    fit: np.ndarray
    valid: np.ndarray
    closed: np.ndarray
    """Every labelled row closed by the cutoff: what the window's refit trains on."""
    test: np.ndarray
    """The test rows that have an oracle probability."""
    oracle_auc: float


class Screen:
    """A feature table, its oracle and its backtest windows, ready to score variants. The
    windows' rows and the oracle's ROC-AUC on each are computed once, not per variant."""

    def __init__(self, table: Path, source: Path) -> None:
        from training import dataset, splits
        from training.metrics import roc_auc

        self.data = dataset.load(table)
        d = self.data
        self.keys = pd.DataFrame(
            {"account_id": d.ids, "snapshot_date": pd.to_datetime(d.snapshot_date).date}
        )
        oracle = pd.read_parquet(source / "_truth" / "oracle.parquet")
        oracle["snapshot_date"] = pd.to_datetime(oracle["snapshot_date"]).dt.date
        aligned = self.keys.merge(oracle, on=KEYS, how="left")
        self.names = [c.name for c in d.columns]
        self.categorical = {c.name for c in d.columns if c.kind == "categorical"}
        holdout = splits.holdout_accounts(d.ids, 0.3, 20240601)
        self.labels: dict[str, np.ndarray] = {}
        self.windows: dict[str, list[_Window]] = {}
        for kind, (label, span, column) in LABELS.items():
            y = d.labels[label].astype(float)
            labeled = ~np.isnan(y)
            p_oracle = aligned[column].to_numpy(float)
            dates = sorted({pd.Timestamp(x).date() for x in np.unique(d.snapshot_date[labeled])})
            folds, _ = splits.backtest_folds(dates, span, 3, 3, 3)
            windows = []
            for fold in folds:
                fit, valid, test = (
                    np.flatnonzero(m & labeled) for m in fold.masks(d.snapshot_date, holdout)
                )
                fit_all, valid_all, _ = fold.masks(d.snapshot_date)
                test = test[~np.isnan(p_oracle[test])]
                windows.append(
                    _Window(
                        fit,
                        valid,
                        np.flatnonzero((fit_all | valid_all) & labeled),
                        test,
                        roc_auc(y[test].astype(int), p_oracle[test]),
                    )
                )
            self.labels[kind] = y
            self.windows[kind] = windows

    def align(self, extra: pd.DataFrame) -> pd.DataFrame:
        """``extra``'s columns in the table's row order (missing rows: NaN)."""
        extra = extra.assign(snapshot_date=pd.to_datetime(extra["snapshot_date"]).dt.date)
        return self.keys.merge(extra, on=KEYS, how="left")

    def score(self, extra: pd.DataFrame | None, seeds: Sequence[int] = (1,)) -> dict[str, Any]:
        """Mean oracle ratio per label kind over the windows and ``seeds``, and each window's."""
        import lightgbm as lgb

        from training.metrics import roc_auc
        from training.model import DEFAULT_PARAMS, per_fit_params, pos_weight

        matrix, names = self.data.matrix, list(self.names)
        if extra is not None and len(extra.columns):
            matrix = np.hstack([matrix, extra.to_numpy(float)])
            names += list(extra.columns)
        categorical = [i for i, n in enumerate(names) if n in self.categorical]
        out: dict[str, Any] = {}
        for kind, windows in self.windows.items():
            y = self.labels[kind]
            ratios = []
            for w in windows:
                for seed in seeds:
                    # the product's per-fit defaults and class weight, one thread
                    params = per_fit_params(DEFAULT_PARAMS, len(w.fit), None, seed)
                    params["num_threads"] = 1
                    params["scale_pos_weight"] = pos_weight(y[w.fit], "sqrt")
                    params.pop("monotone_constraints_method", None)
                    train = lgb.Dataset(matrix[w.fit], y[w.fit], categorical_feature=categorical)
                    check = lgb.Dataset(matrix[w.valid], y[w.valid], reference=train)
                    first = lgb.train(
                        params,
                        train,
                        1000,
                        valid_sets=[check],
                        callbacks=[lgb.early_stopping(50, verbose=False)],
                    )
                    refit = lgb.train(
                        params,
                        lgb.Dataset(matrix[w.closed], y[w.closed], categorical_feature=categorical),
                        max(first.best_iteration, 10),
                    )
                    scores = refit.predict(matrix[w.test])
                    ratios.append(roc_auc(y[w.test].astype(int), scores) / w.oracle_auc)
            out[kind] = float(np.mean(ratios))
            out[f"{kind}_windows"] = [round(r, 4) for r in ratios]
        return out


def variants(columns: Sequence[str]) -> dict[str, list[str]]:
    """Nothing, everything, each hidden variable alone, everything but the two that matter."""
    return {
        "nothing": [],
        "every hidden variable": list(columns),
        **{name: [name] for name in columns},
        "all but need": [c for c in columns if c != "log_need_per_seat"],
        "all but health": [c for c in columns if c not in ("health", "health_level")],
    }


def _source(accounts: int, months: int, seed: int) -> tuple[Path, Path]:
    from features.pipeline import build_features
    from simulator.config import SimulationConfig
    from simulator.run import simulate

    path = RESULTS / "latent_gap" / f"a{accounts}-m{months}-s{seed}"
    if not (path / "_truth" / "oracle.parquet").exists():
        config = SimulationConfig(
            accounts=accounts, months=months, seed=seed, oracle_rows=1_000_000
        )
        simulate(config, path)
    table = path.parent / f"{path.name}.features.parquet"
    if not table.exists():
        build_features(path, table)
    return path, table


def run(accounts: int, months: int, seeds: Sequence[int], lgb_seeds: int) -> dict[str, Any]:
    rows = []
    for seed in seeds:
        source, table = _source(accounts, months, seed)
        screen = Screen(table, source)
        hidden = latent_columns(source)
        aligned = screen.align(hidden)
        columns = [c for c in hidden.columns if c not in KEYS]
        for name, chosen in variants(columns).items():
            result = screen.score(aligned[chosen], seeds=range(1, lgb_seeds + 1))
            row = {"source": source.name, "variant": name, **result}
            print(json.dumps(row), file=sys.stderr, flush=True)
            rows.append(row)
    return {"accounts": accounts, "months": months, "seeds": list(seeds), "rows": rows}


def report(results: dict[str, Any]) -> list[str]:
    lines = ["oracle ratio (mean of the backtest windows): churn / expansion"]
    for row in results["rows"]:
        lines.append(
            f"  {row['source']:16} {row['variant']:24} {row['churn']:.4f} / {row['expansion']:.4f}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.latent_gap", description=__doc__)
    parser.add_argument("--accounts", type=int, default=2000, help="accounts per source")
    parser.add_argument("--months", type=int, default=36, help="months of history per source")
    parser.add_argument("--seed", type=int, nargs="+", default=[11, 12], help="source seeds")
    parser.add_argument("--lgb-seeds", type=int, default=1, help="LightGBM seeds per variant")
    args = parser.parse_args(argv)
    results = run(args.accounts, args.months, args.seed, args.lgb_seeds)
    for line in report(results):
        print(line, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latent_gap.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
