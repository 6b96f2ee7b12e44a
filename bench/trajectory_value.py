"""Trajectory features: do trends, volatility and long-run levels improve out-of-time scores?

Accounts drift before they leave, so the candidates compare an account with its own past:
per (account, snapshot t), over windows [t - N days, t) that end before t, the levels of the
signals that matter in five windows by age (1-30, 31-60, 61-90, 91-180 and 181-365 days),
and from them 3/6/12-month trends, slopes, volatility, exponentially weighted levels and the
change since the current term started (``CANDIDATES`` lists them with their definitions).
They are computed here in DuckDB SQL straight from a source's tables, not by the feature
pipeline: nothing is added to the product unless it pays.

Protocol (``run``): three simulated sources (2,000 accounts x 36 months, seeds 11-13, with
truth) -> ``churnlight features`` -> ``train_models`` with the default options on the
feature table alone (``base``), with candidate columns added, and with the same columns each
shuffled across rows (``permuted``: a control that adds columns carrying nothing; LightGBM's
feature and row sampling make any added column move the scores). Each configuration is
trained with two seeds (holdout accounts and LightGBM's sampling) on each source, and
compared with ``base`` on the same (source, seed): the mean difference of the mean backtest
ROC-AUC and of the oracle ratio, with its standard error over the six pairs. Two
configurations add the simulator's latent state itself (``_truth/latent.parquet`` at the
snapshot): the ceiling of what any estimate of that state can add.

Not in ``make bench`` (about 40 minutes): ``python -m bench.trajectory_value [--quick]``
writes ``bench/results/trajectory_value.json``. ``--quick``: one source of 400 accounts x
24 months, one seed, three configurations."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
KEYS = ["account_id", "snapshot_date"]

BUCKETS: dict[str, tuple[int, int]] = {
    "b1": (1, 30),
    "b2": (31, 60),
    "b3": (61, 90),
    "b4": (91, 180),
    "b5": (181, 365),
}
"""Windows by age t - day (days): b1 is [t - 30, t), b5 is [t - 365, t - 180)."""
DAYS = {b: hi - lo + 1 for b, (lo, hi) in BUCKETS.items()}
MID_AGE = {b: (lo + hi) / 2 for b, (lo, hi) in BUCKETS.items()}
HALF_LIFE_DAYS = 90
NPS_HALF_LIVES = (180, 365)

SIGNAL_COLUMNS = {
    "events": "events",
    "user_days": "user_days",
    "units": "consumption",
    "tickets": "tickets",
}
"""Bucket sums -> the candidate name prefix: product events, user-days (the sum over days of
the distinct users active that day: 30-day user-days / 30 is the mean daily active users),
metered units, tickets opened."""

CANDIDATES: dict[str, str] = {
    "{s}_vs_12m": "level in the last 30 days against the mean level of the last 365 days",
    "{s}_vs_6m": "level in the last 30 days against the mean level of the last 180 days",
    "{s}_slope_6m": "least-squares slope of the window levels over 180 days (by mid-age, "
    "weighted by days), per 30 days, over their mean",
    "{s}_slope_12m": "the same over 365 days",
    "{s}_vol_3m": "standard deviation of the three monthly levels over their mean",
    "{s}_ewm_90": "window levels weighted by 2^(-mid-age / 90 days) x days, per 30 days",
    "{s}_level_12m": "mean level of the last 365 days, per 30 days",
    "users_vs_m23": "distinct users in the last 30 days against the mean of the two months before",
    "users_b4_vs_b1": "distinct users in the last 30 days against those of [t-180, t-90)",
    "users_b5_vs_b1": "distinct users in the last 30 days against those of [t-365, t-180)",
    "users_vol_3m": "volatility of the monthly distinct users (as {s}_vol_3m)",
    "breadth_vol_3m": "volatility of the monthly count of core features used",
    "breadth_trend_3m": "core features used in the last 30 days minus the mean of the two "
    "months before",
    "breadth_b1_minus_b5": "core features used in the last 30 days minus those of [t-365, t-180)",
    "nps_mean_12m": "mean NPS answer of the last 365 days",
    "nps_n_12m": "NPS answers in the last 365 days",
    "nps_ewm_180": "NPS answers before t weighted by 2^(-age / 180 days)",
    "nps_ewm_365": "NPS answers before t weighted by 2^(-age / 365 days)",
    "nps_mean_all": "mean of every NPS answer before t",
    "high_tickets_12m": "urgent and high-priority tickets opened in the last 365 days",
    "{s}_since_renewal": "level in the last 30 days against the 30 days before the current "
    "term started (events, user_days, consumption, distinct users)",
    "breadth_since_renewal": "core features used in the last 30 days minus in the 30 days "
    "before the current term started",
}
"""Every candidate; ``{s}`` is each prefix of ``SIGNAL_COLUMNS``. A window that starts before
the source's first event is incomplete: the 6- and 12-month candidates are null then."""

LATENT = (
    "health",
    "health_level",
    "adoption",
    "growth",
    "need_ratio",
    "support_pain",
    "champion",
    "payment_stress",
)


# ---- candidates ---------------------------------------------------------------------------


def window_sums(con: Any, source: Path, keys: pd.DataFrame) -> pd.DataFrame:
    """Per (account_id, snapshot_date) of ``keys``: the bucket sums of every signal (columns
    ``<metric>_<bucket>``), the exact NPS averages, and the 30-day levels before the current
    term's start (``*_pre``). Only rows dated strictly before t are read."""
    con.register("keys_df", keys[KEYS])
    con.execute("CREATE OR REPLACE TEMP TABLE keys AS SELECT * FROM keys_df")
    buckets = ", ".join(f"('{b}', {lo}, {hi})" for b, (lo, hi) in BUCKETS.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE buckets AS SELECT * FROM (VALUES {buckets}) v(b, lo, hi)"
    )

    def table(name: str) -> str:
        return f"read_parquet('{source / f'{name}.parquet'}')"

    core = f"(SELECT feature FROM {table('feature_catalog')} WHERE is_core)"
    statements = {
        # Per account and day: events, distinct users (user-days), core features used.
        "ad": f"""SELECT account_id, ts::DATE AS d, count(*) AS n_events,
                  count(DISTINCT user_id) AS n_users FROM {table("events")} GROUP BY ALL""",
        "aud": f"""SELECT DISTINCT account_id, user_id, ts::DATE AS d FROM {table("events")}
                   WHERE user_id IS NOT NULL""",
        "acf": f"""SELECT DISTINCT account_id, feature, ts::DATE AS d FROM {table("events")}
                   WHERE feature IN {core}""",
        "cons": f"""SELECT account_id, date AS d, sum(units) AS units FROM {table("consumption")}
                    GROUP BY ALL""",
        "tk": f"""SELECT account_id, opened_at::DATE AS d, count(*) AS n,
                  count(*) FILTER (WHERE priority IN ('urgent', 'high')) AS nh
                  FROM {table("tickets")} GROUP BY ALL""",
        "np": f"""SELECT account_id, date AS d, sum(score) AS s, count(*) AS n
                  FROM {table("surveys")} WHERE kind = 'nps' GROUP BY ALL""",
    }
    for name, sql in statements.items():
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def bucketed(source_table: str, aggregates: str) -> pd.DataFrame:
        # An opened_at on t itself has day t: age 0, in no bucket.
        frame = con.execute(
            f"""SELECT k.account_id, k.snapshot_date, b.b, {aggregates}
                FROM keys k JOIN {source_table} x ON x.account_id = k.account_id
                  AND x.d < k.snapshot_date AND x.d >= k.snapshot_date - 365
                JOIN buckets b ON (k.snapshot_date - x.d) BETWEEN b.lo AND b.hi
                GROUP BY ALL"""
        ).df()
        frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"])
        values = [c for c in frame.columns if c not in (*KEYS, "b")]
        wide = frame.pivot_table(index=KEYS, columns="b", values=values)
        wide.columns = [f"{metric}_{b}" for metric, b in wide.columns]
        return wide

    parts = [
        bucketed("ad", "sum(n_events) AS events, sum(n_users) AS user_days"),
        bucketed("aud", "count(DISTINCT user_id) AS users"),
        bucketed("acf", "count(DISTINCT feature) AS breadth"),
        bucketed("cons", "sum(units) AS units"),
        bucketed("tk", "sum(n) AS tickets, sum(nh) AS high_tickets"),
        bucketed("np", "sum(s) AS nps_sum, sum(n) AS nps_n"),
    ]
    ewm = ", ".join(
        f"sum(x.s * pow(2, -(k.snapshot_date - x.d) / {h}.0)) / "
        f"sum(x.n * pow(2, -(k.snapshot_date - x.d) / {h}.0)) AS nps_ewm_{h}"
        for h in NPS_HALF_LIVES
    )
    nps = con.execute(
        f"""SELECT k.account_id, k.snapshot_date, {ewm}, sum(x.s) / sum(x.n) AS nps_mean_all
            FROM keys k JOIN np x ON x.account_id = k.account_id AND x.d < k.snapshot_date
            GROUP BY ALL"""
    ).df()
    # The current term: the covering line of t - 1 that started last.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE term AS SELECT k.account_id, k.snapshot_date,
            max(s.start_date) AS s FROM keys k JOIN {table("subscriptions")} s
            ON s.account_id = k.account_id AND s.start_date <= k.snapshot_date - 1
            AND s.end_date > k.snapshot_date - 1 GROUP BY ALL"""
    )

    def before_term(source_table: str, aggregate: str) -> str:
        return f"""(SELECT t.account_id, t.snapshot_date, {aggregate}
                    FROM term t JOIN {source_table} x ON x.account_id = t.account_id
                    AND x.d >= t.s - 30 AND x.d < t.s GROUP BY ALL)"""

    pre = con.execute(
        f"""SELECT t.account_id, t.snapshot_date, e.ev_pre, e.ud_pre, c.co_pre, b.br_pre,
                   u.du_pre
            FROM term t
            LEFT JOIN {before_term("ad", "sum(n_events) AS ev_pre, sum(n_users) AS ud_pre")} e
              USING (account_id, snapshot_date)
            LEFT JOIN {before_term("cons", "sum(units) AS co_pre")} c
              USING (account_id, snapshot_date)
            LEFT JOIN {before_term("acf", "count(DISTINCT feature) AS br_pre")} b
              USING (account_id, snapshot_date)
            LEFT JOIN {before_term("aud", "count(DISTINCT user_id) AS du_pre")} u
              USING (account_id, snapshot_date)"""
    ).df()
    for frame in (nps, pre):
        frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"])
    keys = keys[KEYS].assign(snapshot_date=pd.to_datetime(keys["snapshot_date"]))
    out = keys.set_index(KEYS).join(parts, how="left")
    out = out.join(nps.set_index(KEYS), how="left").join(pre.set_index(KEYS), how="left")
    return out.reset_index()


def _div(a: Any, b: Any) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(all="ignore"):
        return np.where((b == 0) | np.isnan(b), np.nan, a / b)


def _slope(levels: Sequence[np.ndarray], buckets: Sequence[str]) -> np.ndarray:
    """Least-squares slope of window levels on -mid-age, weighted by days; per 30 days,
    relative to the weighted mean level."""
    w = np.array([DAYS[b] for b in buckets], float)
    x = -np.array([MID_AGE[b] for b in buckets])
    y = np.column_stack(levels)
    mx = (w * x).sum() / w.sum()
    my = (y * w).sum(1) / w.sum()
    slope = ((w * (x - mx)) * (y - my[:, None])).sum(1) / (w * (x - mx) ** 2).sum()
    return _div(slope * 30, my)


def _volatility(values: Sequence[np.ndarray]) -> np.ndarray:
    stacked = np.column_stack(values)
    return _div(stacked.std(1), stacked.mean(1))


def candidate_features(sums: pd.DataFrame, first_day: Any) -> pd.DataFrame:
    """``CANDIDATES`` from ``window_sums``; 6- and 12-month candidates are null when their
    window starts before ``first_day`` (the source's first event)."""
    out = sums[KEYS].copy()
    names = list(BUCKETS)

    def col(name: str) -> np.ndarray:
        return sums[name].fillna(0).to_numpy(float) if name in sums else np.zeros(len(sums))

    for metric, prefix in SIGNAL_COLUMNS.items():
        total = {b: col(f"{metric}_{b}") for b in names}
        level = {b: total[b] / DAYS[b] for b in names}
        mean_365 = sum(total.values()) / 365
        mean_180 = sum(total[b] for b in names[:4]) / 180
        decay = {b: 2 ** (-MID_AGE[b] / HALF_LIFE_DAYS) * DAYS[b] for b in names}
        out[f"{prefix}_vs_12m"] = _div(level["b1"], mean_365)
        out[f"{prefix}_vs_6m"] = _div(level["b1"], mean_180)
        out[f"{prefix}_slope_6m"] = _slope([level[b] for b in names[:4]], names[:4])
        out[f"{prefix}_slope_12m"] = _slope([level[b] for b in names], names)
        out[f"{prefix}_vol_3m"] = _volatility([level[b] for b in names[:3]])
        out[f"{prefix}_ewm_90"] = sum(level[b] * decay[b] for b in names) / sum(decay.values()) * 30
        out[f"{prefix}_level_12m"] = mean_365 * 30
    users = {b: col(f"users_{b}") for b in names}
    out["users_vs_m23"] = _div(users["b1"], (users["b2"] + users["b3"]) / 2)
    out["users_b4_vs_b1"] = _div(users["b1"], users["b4"])
    out["users_b5_vs_b1"] = _div(users["b1"], users["b5"])
    out["users_vol_3m"] = _volatility([users[b] for b in names[:3]])
    breadth = {b: col(f"breadth_{b}") for b in names}
    out["breadth_vol_3m"] = _volatility([breadth[b] for b in names[:3]])
    out["breadth_trend_3m"] = breadth["b1"] - (breadth["b2"] + breadth["b3"]) / 2
    out["breadth_b1_minus_b5"] = breadth["b1"] - breadth["b5"]
    nps_n = sum(col(f"nps_n_{b}") for b in names)
    out["nps_mean_12m"] = _div(sum(col(f"nps_sum_{b}") for b in names), nps_n)
    out["nps_n_12m"] = nps_n
    for h in NPS_HALF_LIVES:
        out[f"nps_ewm_{h}"] = sums[f"nps_ewm_{h}"].to_numpy(float)
    out["nps_mean_all"] = sums["nps_mean_all"].to_numpy(float)
    had_usage = sums["ev_pre"].to_numpy(float) > 0
    out["events_since_renewal"] = _div(col("events_b1"), sums["ev_pre"])
    out["user_days_since_renewal"] = _div(col("user_days_b1"), sums["ud_pre"])
    out["consumption_since_renewal"] = _div(col("units_b1"), sums["co_pre"])
    out["breadth_since_renewal"] = np.where(
        had_usage, col("breadth_b1") - sums["br_pre"].to_numpy(float), np.nan
    )
    out["users_since_renewal"] = _div(
        col("users_b1"), np.where(had_usage, sums["du_pre"].to_numpy(float), np.nan)
    )
    out["high_tickets_12m"] = sum(col(f"high_tickets_{b}") for b in names)
    t = pd.to_datetime(sums["snapshot_date"])
    start = pd.Timestamp(first_day)
    short_12m = (t - pd.Timedelta(days=365) < start).to_numpy()
    short_6m = (t - pd.Timedelta(days=180) < start).to_numpy()
    for name in out.columns[len(KEYS) :]:
        if name.endswith(("_12m", "_ewm_90", "_365")) or "b5" in name:
            out.loc[short_12m, name] = np.nan
        elif name.endswith("_6m") or "b4" in name:
            out.loc[short_6m, name] = np.nan
    return out


def candidate_table(source: Path, feature_table: Path) -> pd.DataFrame:
    """The candidates of every row of ``feature_table`` (built from ``source``)."""
    import duckdb
    import pyarrow.parquet as pq

    keys = pq.read_table(feature_table, columns=KEYS).to_pandas()
    con = duckdb.connect()
    try:
        first = con.execute(
            f"SELECT min(ts)::DATE FROM read_parquet('{source / 'events.parquet'}')"
        ).fetchall()[0][0]
        sums = window_sums(con, source, keys)
    finally:
        con.close()
    return candidate_features(sums, first)


# ---- the comparison -----------------------------------------------------------------------


def paired_differences(
    runs: Sequence[Mapping[str, Any]], metrics: Sequence[str], base: str = "base"
) -> dict[str, dict[str, dict[str, float | int | None]]]:
    """Per configuration and metric: the mean over (source, seed) pairs of the configuration's
    value minus ``base``'s on the same pair, its standard error, and the number of pairs.

    ``runs``: dicts with ``config``, ``source``, ``seed`` and each metric (None: missing)."""
    baseline = {(r["source"], r["seed"]): r for r in runs if r["config"] == base}
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    for run in runs:
        out.setdefault(run["config"], {})
    for config in out:
        for metric in metrics:
            diffs = [
                r[metric] - baseline[(r["source"], r["seed"])][metric]
                for r in runs
                if r["config"] == config
                and (r["source"], r["seed"]) in baseline
                and r[metric] is not None
                and baseline[(r["source"], r["seed"])][metric] is not None
            ]
            n = len(diffs)
            out[config][metric] = {
                "mean": float(np.mean(diffs)) if n else None,
                "se": float(np.std(diffs, ddof=1) / np.sqrt(n)) if n > 1 else None,
                "pairs": n,
            }
    return out


def configurations(columns: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The compared column sets, by name: ``add`` (columns), ``permuted`` (shuffled)."""

    def starting(*prefixes: str) -> list[str]:
        return [c for c in columns if c.startswith(prefixes) and "since_renewal" not in c]

    latent = [f"latent_{name}" for name in LATENT]
    return {
        "base": {"add": []},
        "all candidates": {"add": list(columns)},
        "all candidates, permuted": {"add": list(columns), "permuted": True},
        "usage volume (events)": {"add": starting("events_")},
        "active users (user-days)": {"add": starting("user_days_")},
        "active users (distinct)": {"add": starting("users_")},
        "core breadth": {"add": starting("breadth_")},
        "consumption": {"add": starting("consumption_")},
        "tickets": {"add": [*starting("tickets_"), "high_tickets_12m"]},
        "nps": {"add": starting("nps_")},
        "since renewal": {"add": [c for c in columns if "since_renewal" in c]},
        "latent health_level (ceiling)": {"add": ["latent_health_level"]},
        "latent state (ceiling)": {"add": latent},
    }


def _latent(source: Path) -> pd.DataFrame:
    latent = pd.read_parquet(source / "_truth" / "latent.parquet")
    latent = latent.rename(columns={"month_start": "snapshot_date"})
    out = latent[KEYS].copy()
    for name in LATENT:
        out[f"latent_{name}"] = latent[name].astype(float).to_numpy()
    return out


def _scores(result: Any) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for label in result.labels.values():
        aucs = [w.metrics["model"]["roc_auc"] for w in label.windows]
        ratios = [w.oracle["model_oracle_ratio"] for w in label.windows if w.oracle]
        out[f"{label.kind}_auc"] = float(np.mean(aucs))
        out[f"{label.kind}_oracle_ratio"] = float(np.mean(ratios)) if ratios else None
    return out


METRICS = ("churn_auc", "expansion_auc", "churn_oracle_ratio", "expansion_oracle_ratio")


def compare(
    feature_table: Path,
    extra: pd.DataFrame,
    configs: Mapping[str, Mapping[str, Any]],
    seeds: Sequence[int],
    source_name: str,
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Train every configuration with every seed on ``feature_table`` plus ``extra``'s
    columns (aligned by key); one dict of scores per (configuration, seed)."""
    from features.model_bundle import FeatureColumn
    from training import dataset
    from training.settings import get_training_settings
    from training.train import TrainOptions, train_models

    reference = dataset.load(feature_table)
    keys = pd.DataFrame(
        {
            "account_id": reference.ids,
            "snapshot_date": pd.to_datetime(reference.snapshot_date).date,
        }
    )
    extra = extra.assign(snapshot_date=pd.to_datetime(extra["snapshot_date"]).dt.date)
    aligned = keys.merge(extra, on=KEYS, how="left")
    options = TrainOptions.from_settings(
        get_training_settings(), with_baselines=False, top_accounts=0
    )
    runs = []
    for name, config in configs.items():
        for seed in seeds:
            data = dataset.load(feature_table)
            rng = np.random.default_rng(seed)
            blocks, columns = [data.matrix], list(data.columns)
            for column in config["add"]:
                values = aligned[column].to_numpy(float)
                values = np.where(np.isfinite(values), values, np.nan)
                if config.get("permuted"):
                    values = rng.permutation(values)
                blocks.append(values[:, None])
                columns.append(FeatureColumn(column, "numeric"))
            data.matrix, data.columns = np.hstack(blocks), columns
            started = time.perf_counter()
            result = train_models(data, replace(options, seed=seed))
            run = {"config": name, "source": source_name, "seed": seed, **_scores(result)}
            run["seconds"] = round(time.perf_counter() - started, 1)
            runs.append(run)
            if progress:
                progress(run)
    return runs


def _source(accounts: int, months: int, seed: int) -> Path:
    from simulator.config import SimulationConfig
    from simulator.run import simulate

    path = RESULTS / "trajectory" / f"a{accounts}-m{months}-s{seed}"
    if not (path / "_truth" / "oracle.parquet").exists():
        simulate(SimulationConfig(accounts=accounts, months=months, seed=seed), path)
    return path


def run(quick: bool = False) -> dict[str, Any]:
    from features.pipeline import build_features

    sizes = [(400, 24, 5)] if quick else [(2000, 36, s) for s in (11, 12, 13)]
    seeds = [1] if quick else [1, 2]
    runs: list[dict[str, Any]] = []
    candidates: list[str] = []
    for accounts, months, seed in sizes:
        source = _source(accounts, months, seed)
        table = source.parent / f"{source.name}.features.parquet"
        if not table.exists():
            build_features(source, table)
        extra = candidate_table(source, table)
        candidates = [c for c in extra.columns if c not in KEYS]
        latent = _latent(source).assign(
            snapshot_date=lambda f: pd.to_datetime(f["snapshot_date"]).dt.date
        )
        extra = extra.assign(snapshot_date=pd.to_datetime(extra["snapshot_date"]).dt.date)
        extra = extra.merge(latent, on=KEYS, how="left")
        configs = configurations(candidates)
        if quick:
            configs = {
                k: configs[k] for k in ("base", "all candidates", "all candidates, permuted")
            }
        runs += compare(
            table,
            extra,
            configs,
            seeds,
            source.name,
            progress=lambda r: print(json.dumps(r), file=sys.stderr, flush=True),
        )
    return {
        "sources": [f"a{a}-m{m}-s{s}" for a, m, s in sizes],
        "seeds": seeds,
        "candidates": candidates,
        "runs": runs,
        "differences": paired_differences(runs, METRICS),
    }


def report(results: Mapping[str, Any]) -> list[str]:
    base = [r for r in results["runs"] if r["config"] == "base"]
    lines = [
        f"{len(results['candidates'])} candidates; sources {', '.join(results['sources'])}; "
        f"seeds {results['seeds']}; base churn ROC-AUC "
        f"{np.mean([r['churn_auc'] for r in base]):.4f}, expansion "
        f"{np.mean([r['expansion_auc'] for r in base]):.4f} (mean of backtest windows)",
        "difference from base, mean +/- standard error over (source, seed) pairs:",
    ]

    def cell(d: Mapping[str, Any]) -> str:
        if d["mean"] is None:
            return "n/a"
        se = f" +/- {d['se']:.4f}" if d["se"] is not None else ""
        return f"{d['mean']:+.4f}{se}"

    for config, diffs in results["differences"].items():
        if config == "base":
            continue
        lines.append(
            f"  {config:32} churn AUC {cell(diffs['churn_auc'])}, expansion AUC "
            f"{cell(diffs['expansion_auc'])}; oracle ratio churn "
            f"{cell(diffs['churn_oracle_ratio'])}, "
            f"expansion {cell(diffs['expansion_oracle_ratio'])}"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.trajectory_value", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one small source, one seed")
    args = parser.parse_args(argv)
    results = run(quick=args.quick)
    for line in report(results):
        print(line, flush=True)
    RESULTS.mkdir(exist_ok=True)
    name = f"trajectory_value{'-quick' if args.quick else ''}.json"
    (RESULTS / name).write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
