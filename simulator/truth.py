"""Ground truth of a simulated source, written to ``<out>/_truth/``.

- ``labels.parquet``: the contract's labels, computed by ``features.pipeline.build_labels`` on
  the written source (one implementation serves the feature stage and the simulator).
- ``oracle.parquet``: for a sample of (account, snapshot) rows, ``p_churn_{H}d`` and
  ``p_expand_{H}d`` given the chain's full state at the snapshot, by Monte-Carlo rollouts
  of the same chain (``simulator.chain.advance``), with the latent state beside them.
- ``latent.parquet``: the latent state of every account at every month start.
- ``causes.parquet``: per labelled row, the log-odds each latent cause adds to the churn
  decision at a term end (``simulator.causes``).
- ``summary.json``: rates, oracle AUCs, label agreement and the config.

``labels_from_records`` applies the contract's label semantics to the chain's own records
(churn days, and MRR levels: the account's total MRR from a day on). It labels the rollouts;
on the realised path it must reproduce ``build_labels`` exactly, which the run checks and
reports as ``label_mismatches``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import label_names
from features.labels import EXPANSION_FACTOR, RELATIVE_TOLERANCE
from features.snapshots import monthly_snapshot_dates
from features.stats import roc_auc
from simulator.causes import causes_table
from simulator.chain import roll_forward
from simulator.config import SEGMENTS
from simulator.dates import day_number, to_date
from simulator.latent import SegmentArrays
from simulator.survival_truth import CURVE_DAYS, churn_by_days, curve_columns, extended_month_starts
from simulator.writer import TRUTH_DIR

if TYPE_CHECKING:
    from simulator.run import History, Progress

ORACLE_STREAM, SAMPLE_STREAM = 3, 4
PATHS_PER_BATCH = 200_000
KEY_SPAN = np.int64(1) << 32


@dataclass
class Truth:
    """What the truth stage measured (also written as ``summary.json``)."""

    as_of: date
    snapshots: int
    label_rows: int
    churn_label_rate: float | None
    expand_label_rate: float | None
    label_mismatches: int
    annual_churn: float | None
    annual_churn_by_segment: dict[str, float | None]
    annual_expansion_share: float | None
    years_measured: int
    oracle_rows: int
    oracle_rollouts: int
    oracle_churn_auc: float | None
    oracle_expand_auc: float | None
    oracle_mean_p_churn: float | None
    oracle_mean_p_expand: float | None


# ---- label semantics on chain records -----------------------------------------------------


def labels_from_records(
    churn_acc: np.ndarray,
    churn_day: np.ndarray,
    level_acc: np.ndarray,
    level_day: np.ndarray,
    level: np.ndarray,
    row_acc: np.ndarray,
    row_t: np.ndarray | int,
    row_base: np.ndarray,
    horizon_days: int | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(churned, expanded) per row, from the chain's records of the rows' accounts.

    churned: a churn day in [t, t + H). expanded: an MRR level set on a day in [t, t + H)
    that is > 0 and >= 1.10 x ``row_base`` (MRR on t - 1; relative tolerance 1e-9). Levels
    are total MRR from their day on, so these are the days where MRR can change."""
    row_acc = np.asarray(row_acc, dtype=np.int64)
    lo = row_acc * KEY_SPAN + np.asarray(row_t, dtype=np.int64)
    hi = lo + np.asarray(horizon_days, dtype=np.int64)

    churn_key = np.sort(churn_acc.astype(np.int64) * KEY_SPAN + churn_day)
    churned = np.searchsorted(churn_key, hi, "left") > np.searchsorted(churn_key, lo, "left")

    key = level_acc.astype(np.int64) * KEY_SPAN + level_day
    order = np.argsort(key, kind="stable")
    key, values = key[order], level[order]
    start = np.searchsorted(key, lo, "left")
    count = np.searchsorted(key, hi, "left") - start
    pair_row = np.repeat(np.arange(len(row_acc)), count)
    pair = np.repeat(start, count) + (
        np.arange(len(pair_row)) - np.repeat(np.cumsum(count) - count, count)
    )
    threshold = np.asarray(row_base)[pair_row] * EXPANSION_FACTOR * (1.0 - RELATIVE_TOLERANCE)
    hit = (values[pair] > 0) & (values[pair] >= threshold)
    expanded = np.bincount(pair_row, weights=hit, minlength=len(row_acc)) > 0
    return churned, expanded


def realised_labels(history: History, snapshot_months: np.ndarray, as_of: int) -> pd.DataFrame:
    """Labels of every (account, snapshot) row from the realised chain records, with the
    contract's observability rules (null when the horizon is not over by the as-of date)."""
    cfg = history.config
    ms = history.month_starts
    acc_parts, m_parts = [], []
    for m in snapshot_months:
        active = np.flatnonzero(history.mrr_eve[m] > 0)
        acc_parts.append(active)
        m_parts.append(np.full(len(active), m))
    acc = np.concatenate(acc_parts) if acc_parts else np.zeros(0, dtype=np.int64)
    months = np.concatenate(m_parts) if m_parts else np.zeros(0, dtype=np.int64)
    t = ms[months]
    churned, expanded = labels_from_records(
        history.churn_acc,
        history.churn_day,
        history.level_acc,
        history.level_day,
        history.level,
        acc,
        t,
        history.mrr_eve[months, acc],
        cfg.horizon_days,
    )
    churn_known = t + cfg.horizon_days + cfg.grace_days <= as_of
    expand_known = t + cfg.horizon_days <= as_of
    churn_name, expand_name = label_names(cfg.horizon_days)
    return pd.DataFrame(
        {
            "acc": acc,
            "month": months,
            churn_name: _nullable(churned, churn_known),
            expand_name: _nullable(expanded, expand_known),
        }
    )


def _nullable(values: np.ndarray, known: np.ndarray) -> pd.arrays.IntegerArray:
    out = pd.array(values.astype(np.int64), dtype="Int64")
    out[~known] = pd.NA
    return out


# ---- oracle -------------------------------------------------------------------------------


def oracle_probabilities(
    history: History,
    row_acc: np.ndarray,
    row_month: np.ndarray,
    progress: Progress | None = None,
    curve: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """P(churn in [t, t + H)) and P(expansion in [t, t + H)) per row, by ``oracle_rollouts``
    rollouts of the chain from its exact state at t = the row's month start. With ``curve``
    (rows, len(CURVE_DAYS)), the same rollouts run to the longest of those days and fill it
    with P(churn in [t, t + d)) (``simulator.survival_truth``)."""
    cfg = history.config
    ms = history.month_starts
    until = max(cfg.horizon_days, max(CURVE_DAYS) if curve is not None else 0)
    ms = extended_month_starts(cfg.start_date, ms, int(row_month.max(initial=0)), until)
    seg = SegmentArrays.from_config(cfg)
    rollouts = cfg.oracle_rollouts
    per_batch = max(1, PATHS_PER_BATCH // rollouts)
    p_churn = np.zeros(len(row_acc))
    p_expand = np.zeros(len(row_acc))
    done = 0
    batch_no = 0
    for m in np.unique(row_month):
        rows = np.flatnonzero(row_month == m)
        t = int(ms[m])
        for lo in range(0, len(rows), per_batch):
            b = rows[lo : lo + per_batch]
            paths = (
                history.boundary[m].take(row_acc[b]).take(np.repeat(np.arange(len(b)), rollouts))
            )
            rng = np.random.default_rng([cfg.seed, ORACLE_STREAM, batch_no])
            batch_no += 1
            ca, cd, la, ld, lv = roll_forward(paths, ms, int(m), t + until, cfg, seg, rng)
            churned, expanded = labels_from_records(
                ca,
                cd,
                la,
                ld,
                lv,
                np.arange(len(paths)),
                t,
                np.repeat(history.mrr_eve[m, row_acc[b]], rollouts),
                cfg.horizon_days,
            )
            p_churn[b] = churned.reshape(len(b), rollouts).mean(axis=1)
            if curve is not None:
                curve[b] = churn_by_days(ca, cd, len(paths), t, CURVE_DAYS, rollouts)
            p_expand[b] = expanded.reshape(len(b), rollouts).mean(axis=1)
            done += len(b)
            if progress:
                progress("oracle", done, len(row_acc))
    return p_churn, p_expand


# ---- rates --------------------------------------------------------------------------------


def annual_rates(history: History) -> dict[str, Any]:
    """Per full year of history (from month 0): logo churn = accounts with a churn day in the
    year / accounts active on the eve of the year; expansion share = accounts whose MRR
    reached >= 1.10 x their MRR on the eve within the year. Averaged over the years."""
    ms = history.month_starts
    years = history.config.months // 12
    churn, expand = [], []
    by_seg: dict[str, list[float]] = {s: [] for s in SEGMENTS}
    for y in range(years):
        m0, m1 = 12 * y, 12 * y + 12
        acc = np.flatnonzero(history.mrr_eve[m0] > 0)
        if len(acc) == 0:
            continue
        churned, expanded = labels_from_records(
            history.churn_acc,
            history.churn_day,
            history.level_acc,
            history.level_day,
            history.level,
            acc,
            int(ms[m0]),
            history.mrr_eve[m0, acc],
            int(ms[m1] - ms[m0]),
        )
        churn.append(churned.mean())
        expand.append(expanded.mean())
        for code, name in enumerate(SEGMENTS):
            in_seg = history.segment[acc] == code
            if in_seg.any():
                by_seg[name].append(churned[in_seg].mean())

    def mean(values: list[float]) -> float | None:
        return float(np.mean(values)) if values else None

    return {
        "annual_churn": mean(churn),
        "annual_churn_by_segment": {k: mean(v) for k, v in by_seg.items()},
        "annual_expansion_share": mean(expand),
        "years_measured": len(churn),
    }


# ---- the truth stage ----------------------------------------------------------------------


def latent_columns(history: History, acc: np.ndarray, months: np.ndarray) -> dict[str, Any]:
    """The chain's state at the month starts of (acc, month) rows, as named columns."""
    cols: dict[str, np.ndarray] = {}
    for m in np.unique(months):
        sel = np.flatnonzero(months == m)
        st = history.boundary[m].take(acc[sel])
        lat, com = st.latent, st.commercial
        values = {
            "segment": np.array(SEGMENTS, dtype=object)[lat.segment],
            "health": lat.health,
            "health_level": lat.health_level,
            "adoption": lat.adoption,
            "growth": lat.growth,
            "need_ratio": lat.need / np.maximum(com.seats + com.addon_seats, 1),
            "champion": lat.champion.astype(bool),
            "payment_stress": lat.stress.astype(bool),
            "support_pain": lat.pain,
            "age_months": lat.age.astype(np.int64),
            "term_months": com.term_months.astype(np.int64),
            "days_to_term_end": com.term_end - int(history.month_starts[m]),
        }
        for name, value in values.items():
            if name not in cols:
                cols[name] = np.empty(len(acc), dtype=value.dtype)
            cols[name][sel] = value
    return cols


def write_truth(history: History, out_dir: str | Path, progress: Progress | None = None) -> Truth:
    """Labels (by the features package), oracle probabilities, latent states, causes and
    rates."""
    from features.pipeline import build_labels
    from features.sources import open_source

    cfg = history.config
    out = Path(out_dir)
    truth_dir = out / TRUTH_DIR
    truth_dir.mkdir(parents=True, exist_ok=True)
    churn_name, expand_name = label_names(cfg.horizon_days)
    as_of = history.as_of
    ms = history.month_starts
    snapshot_dates = monthly_snapshot_dates(
        to_date(history.first_event_day), to_date(as_of), cfg.warmup_days
    )
    month_of = {int(d): m for m, d in enumerate(ms[: cfg.months + 1])}
    snapshot_months = np.array([month_of[day_number(d)] for d in snapshot_dates], dtype=np.int64)

    # 1. The contract's labels, by the features package, on the written source.
    if progress:
        progress("labels", 0, 1)
    if snapshot_dates:
        labels = build_labels(
            open_source(out),
            horizon_days=cfg.horizon_days,
            grace_days=cfg.grace_days,
            warmup_days=cfg.warmup_days,
        ).to_pyarrow()
    else:  # history shorter than the warm-up: no snapshot, no label
        labels = pa.table(
            {
                "account_id": pa.array([], pa.string()),
                "snapshot_date": pa.array([], pa.date32()),
                churn_name: pa.array([], pa.int64()),
                expand_name: pa.array([], pa.int64()),
            }
        )
    labels = labels.sort_by([("account_id", "ascending"), ("snapshot_date", "ascending")])
    pq.write_table(labels, truth_dir / "labels.parquet")
    frame = labels.to_pandas()
    frame["snapshot_date"] = frame["snapshot_date"].astype(object)
    if progress:
        progress("labels", 1, 1)

    # 2. The same labels from the chain's records must agree exactly.
    mine = realised_labels(history, snapshot_months, as_of)
    mine["account_id"] = np.array(history.account_ids)[mine["acc"].to_numpy()]
    mine["snapshot_date"] = pd.Series([to_date(int(ms[m])) for m in mine["month"]], dtype=object)
    merged = frame.merge(
        mine, on=["account_id", "snapshot_date"], how="outer", suffixes=("", "_chain")
    )
    mismatches = 0
    for name in (churn_name, expand_name):
        a = merged[name].astype("Int64")
        b = merged[f"{name}_chain"].astype("Int64")
        same = (a.isna() & b.isna()) | (a == b).fillna(False)
        mismatches += int((~same).sum())

    # 3. Oracle on a sample of rows whose expansion label is observable.
    eligible = mine[mine[expand_name].notna()]
    rng = np.random.default_rng([cfg.seed, SAMPLE_STREAM])
    size = min(cfg.oracle_rows, len(eligible))
    pick = np.sort(rng.choice(len(eligible), size=size, replace=False))
    sample = eligible.iloc[pick].sort_values(["month", "acc"]).reset_index(drop=True)
    acc = sample["acc"].to_numpy(dtype=np.int64)
    months = sample["month"].to_numpy(dtype=np.int64)
    curve = np.zeros((len(acc), len(CURVE_DAYS)))
    p_churn, p_expand = oracle_probabilities(history, acc, months, progress, curve)
    oracle = pd.DataFrame(
        {
            "account_id": sample["account_id"].to_numpy(),
            "snapshot_date": sample["snapshot_date"].to_numpy(),
            f"p_{churn_name}": p_churn,
            f"p_{expand_name}": p_expand,
            churn_name: sample[churn_name].astype("Int64").to_numpy(),
            expand_name: sample[expand_name].astype("Int64").to_numpy(),
            "mrr": history.mrr_eve[months, acc],
            **curve_columns(curve),
            **latent_columns(history, acc, months),
        }
    )
    pq.write_table(pa.Table.from_pandas(oracle, preserve_index=False), truth_dir / "oracle.parquet")
    known_c = oracle[churn_name].notna().to_numpy()
    known_e = oracle[expand_name].notna().to_numpy()
    churn_auc = roc_auc(oracle[churn_name][known_c].to_numpy(int), p_churn[known_c])
    expand_auc = roc_auc(oracle[expand_name][known_e].to_numpy(int), p_expand[known_e])

    # 4. Latent state of every account at every month start.
    n, months_total = cfg.accounts, cfg.months
    all_acc = np.tile(np.arange(n), months_total + 1)
    all_m = np.repeat(np.arange(months_total + 1), n)
    latent = pd.DataFrame(
        {
            "account_id": np.array(history.account_ids)[all_acc],
            "month_start": [to_date(int(ms[m])) for m in range(months_total + 1) for _ in range(n)],
            "active_on_eve": history.mrr_eve[all_m, all_acc] > 0,
            **latent_columns(history, all_acc, all_m),
        }
    )
    pq.write_table(pa.Table.from_pandas(latent, preserve_index=False), truth_dir / "latent.parquet")

    # 5. Causes of every labelled row: what each latent cause adds to the churn log-odds.
    index = {account: i for i, account in enumerate(history.account_ids)}
    label_acc = np.array([index[a] for a in frame["account_id"]], dtype=np.int64)
    label_month = np.array([month_of[day_number(d)] for d in frame["snapshot_date"]], np.int64)
    pq.write_table(causes_table(history, label_acc, label_month), truth_dir / "causes.parquet")

    rates = annual_rates(history)

    def rate(col: str) -> float | None:
        values = frame[col].dropna()
        return float(values.mean()) if len(values) else None

    truth = Truth(
        as_of=to_date(as_of),
        snapshots=len(snapshot_dates),
        label_rows=len(frame),
        churn_label_rate=rate(churn_name),
        expand_label_rate=rate(expand_name),
        label_mismatches=mismatches,
        oracle_rows=len(oracle),
        oracle_rollouts=cfg.oracle_rollouts,
        oracle_churn_auc=churn_auc,
        oracle_expand_auc=expand_auc,
        oracle_mean_p_churn=float(p_churn[known_c].mean()) if known_c.any() else None,
        oracle_mean_p_expand=float(p_expand[known_e].mean()) if known_e.any() else None,
        **rates,
    )
    return truth
