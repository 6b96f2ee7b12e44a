"""The plays' true effects, written to ``<out>/_truth/`` beside the other truth files.

A row is a (account, snapshot t) row of the feature table; t is a month start, and the row
is treated by play P when a run of P is dated in [t, t + 30 days) (``simulator.plays`` dates
a month's runs inside it). Its individual effect on a label is P(label | P run at t) -
P(label | not run), both from ``truth_rollouts`` rollouts of the chain from its state at t
*before* the month's plays, once with the play applied (the run's own success draw) and
once without, with the same random numbers (two generators seeded alike): the two futures
differ only through the play, so an inert play's effect is exactly 0. Neither arm runs any
further play: the effect is that of this run, with CS doing nothing else afterwards.

Rows: those whose churn label is observable (t + horizon + grace <= as-of, so both labels
are known) of accounts active on the eve of t: the rows an estimator can learn from.

- ``play_rows.parquet``: ``account_id``, ``snapshot_date``, ``play``, ``treated``,
  ``churn_effect``, ``expand_effect``, ``segment``: every treated row (``treated`` true),
  and a random sample of eligible rows (``truth_sample_rows``) with every play they were not
  given (``treated`` false).
- ``play_effects.parquet``: per ``play``, ``label`` (``churn_180d`` | ``expand_180d``) and
  ``segment`` (the segments and ``all``): ``true_effect`` (mean individual effect over the
  treated rows: the effect on the treated; NaN without any), ``true_effect_all`` (mean over
  the random sample of all eligible rows, treated or not), ``n_rows`` (treated rows) and
  ``n_sample`` (sampled rows).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract import label_names
from features.snapshots import monthly_snapshot_dates
from simulator.chain import roll_forward
from simulator.config import SEGMENTS
from simulator.dates import day_number, to_date
from simulator.latent import SegmentArrays
from simulator.play_catalog import PLAY_IDS
from simulator.plays import apply_plays
from simulator.truth import labels_from_records
from simulator.writer import TRUTH_DIR

if TYPE_CHECKING:
    from simulator.run import History, Progress

EFFECT_STREAM, SAMPLE_STREAM = 6, 7
PATHS_PER_BATCH = 100_000
NO_PLAY = -1


@dataclass
class PlayTruth:
    """What the play truth stage wrote (part of ``summary.json``)."""

    runs: int
    """Play runs in the history (every month, labelled or not)."""
    treated_rows: int
    """Treated rows with observable labels (in ``play_rows.parquet``)."""
    sample_rows: int
    rollouts: int
    seconds: float


def eligible_rows(history: History) -> tuple[np.ndarray, np.ndarray]:
    """(account, month) of the rows whose labels are observable: snapshot months (as the
    truth stage has them) with t + horizon + grace <= as-of, accounts active on the eve."""
    cfg = history.config
    ms = history.month_starts
    dates = monthly_snapshot_dates(
        to_date(history.first_event_day), to_date(history.as_of), cfg.warmup_days
    )
    month_of = {int(d): m for m, d in enumerate(ms[: cfg.months + 1])}
    acc_parts, m_parts = [], []
    for d in dates:
        m = month_of[day_number(d)]
        if ms[m] + cfg.horizon_days + cfg.grace_days > history.as_of:
            continue
        active = np.flatnonzero(history.mrr_eve[m] > 0)
        acc_parts.append(active)
        m_parts.append(np.full(len(active), m, dtype=np.int64))
    if not acc_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(acc_parts), np.concatenate(m_parts)


def play_probabilities(
    history: History,
    acc: np.ndarray,
    month: np.ndarray,
    arms: np.ndarray,
    u: np.ndarray,
    stream: int,
) -> tuple[np.ndarray, np.ndarray]:
    """P(churn) and P(expansion) over the horizon, shape (arms, rows): row i from its state
    at its month start with play ``arms[k, i]`` applied (``NO_PLAY``: none) and success
    draw ``u[i]``; every arm of a batch rolls out with the same random numbers."""
    cfg = history.config
    ms = history.month_starts
    seg = SegmentArrays.from_config(cfg)
    rollouts = cfg.plays.truth_rollouts if cfg.plays else 1
    per_batch = max(1, PATHS_PER_BATCH // rollouts)
    n_arms = arms.shape[0]
    p_churn = np.zeros((n_arms, len(acc)))
    p_expand = np.zeros((n_arms, len(acc)))
    batch_no = 0
    for m in np.unique(month):
        rows = np.flatnonzero(month == m)
        t = int(ms[m])
        for lo in range(0, len(rows), per_batch):
            b = rows[lo : lo + per_batch]
            rep = np.repeat(np.arange(len(b)), rollouts)
            start = history.boundary[m].take(acc[b]).take(rep)
            base = np.repeat(history.mrr_eve[m, acc[b]], rollouts)
            for k in range(n_arms):
                paths = start.copy()
                play = arms[k, b][rep]
                played = np.flatnonzero(play != NO_PLAY)
                apply_plays(paths, played, play[played], u[b][rep][played])
                rng = np.random.default_rng([cfg.seed, stream, batch_no])
                ca, cd, la, ld, lv = roll_forward(
                    paths, ms, int(m), t + cfg.horizon_days, cfg, seg, rng
                )
                churned, expanded = labels_from_records(
                    ca, cd, la, ld, lv, np.arange(len(paths)), t, base, cfg.horizon_days
                )
                p_churn[k, b] = churned.reshape(len(b), rollouts).mean(axis=1)
                p_expand[k, b] = expanded.reshape(len(b), rollouts).mean(axis=1)
            batch_no += 1
    return p_churn, p_expand


def write_play_truth(
    history: History, out_dir: str | Path, progress: Progress | None = None
) -> PlayTruth:
    """Compute the plays' true effects and write ``play_rows.parquet`` and
    ``play_effects.parquet`` into ``out_dir/_truth/``."""
    started = time.perf_counter()
    cfg = history.config
    assert cfg.plays is not None and history.plays is not None
    runs = history.plays
    truth_dir = Path(out_dir) / TRUTH_DIR
    truth_dir.mkdir(parents=True, exist_ok=True)
    n_plays = len(PLAY_IDS)

    # Treated rows: runs in a labelled month (the policy only plays active accounts).
    e_acc, e_month = eligible_rows(history)
    key = e_acc * (cfg.months + 1) + e_month
    run_key = runs.acc * (cfg.months + 1) + runs.month
    labelled = np.isin(run_key, key)
    t_acc, t_month = runs.acc[labelled], runs.month[labelled]
    t_play, t_u = runs.play[labelled].astype(np.int64), runs.u[labelled]
    if progress:
        progress("play effects", 0, 2)
    arms = np.stack([np.full(len(t_acc), NO_PLAY), t_play])
    churn, expand = play_probabilities(history, t_acc, t_month, arms, t_u, EFFECT_STREAM)
    treated = pd.DataFrame(
        {
            "acc": t_acc,
            "month": t_month,
            "play": t_play,
            "treated": True,
            "churn_effect": churn[1] - churn[0],
            "expand_effect": expand[1] - expand[0],
        }
    )
    if progress:
        progress("play effects", 1, 2)

    # A random sample of all eligible rows, with every play applied in turn.
    rng = np.random.default_rng([cfg.seed, SAMPLE_STREAM])
    size = min(cfg.plays.truth_sample_rows, len(e_acc))
    pick = np.sort(rng.choice(len(e_acc), size=size, replace=False))
    s_acc, s_month = e_acc[pick], e_month[pick]
    s_u = rng.random(size)
    arms = np.repeat(np.arange(NO_PLAY, n_plays)[:, None], size, axis=1)
    churn, expand = play_probabilities(history, s_acc, s_month, arms, s_u, EFFECT_STREAM + 10)
    sample = pd.DataFrame(
        {
            "acc": np.tile(s_acc, n_plays),
            "month": np.tile(s_month, n_plays),
            "play": np.repeat(np.arange(n_plays), size),
            "treated": False,
            "churn_effect": (churn[1:] - churn[0]).ravel(),
            "expand_effect": (expand[1:] - expand[0]).ravel(),
        }
    )
    if progress:
        progress("play effects", 2, 2)

    segments = np.array(SEGMENTS, dtype=object)
    for frame in (treated, sample):
        frame["segment"] = segments[history.segment[frame["acc"].to_numpy()]]
    effects = _effects_table(treated, sample, label_names(cfg.horizon_days))
    pq.write_table(
        pa.Table.from_pandas(effects, preserve_index=False), truth_dir / "play_effects.parquet"
    )

    # play_rows: the treated rows, and the sampled rows for the plays they were not given.
    given = set(zip(t_acc.tolist(), t_month.tolist(), t_play.tolist(), strict=True))
    untreated = sample[
        [
            (a, m, p) not in given
            for a, m, p in zip(sample["acc"], sample["month"], sample["play"], strict=True)
        ]
    ]
    rows = pd.concat([treated, untreated], ignore_index=True)
    ids = np.array(history.account_ids, dtype=object)
    ms = history.month_starts
    table = pa.table(
        {
            "account_id": pa.array(ids[rows["acc"].to_numpy()], pa.string()),
            "snapshot_date": pa.array([to_date(int(ms[m])) for m in rows["month"]], pa.date32()),
            "play": pa.array(np.array(PLAY_IDS, dtype=object)[rows["play"].to_numpy()]),
            "treated": pa.array(rows["treated"].to_numpy(bool)),
            "churn_effect": pa.array(rows["churn_effect"].to_numpy(float)),
            "expand_effect": pa.array(rows["expand_effect"].to_numpy(float)),
            "segment": pa.array(rows["segment"].to_numpy(), pa.string()),
        }
    )
    table = table.sort_by(
        [("play", "ascending"), ("account_id", "ascending"), ("snapshot_date", "ascending")]
    )
    pq.write_table(table, truth_dir / "play_rows.parquet")
    return PlayTruth(
        runs=len(runs),
        treated_rows=len(treated),
        sample_rows=size,
        rollouts=cfg.plays.truth_rollouts,
        seconds=round(time.perf_counter() - started, 2),
    )


def _effects_table(
    treated: pd.DataFrame, sample: pd.DataFrame, labels: tuple[str, str]
) -> pd.DataFrame:
    out = []
    for code, play in enumerate(PLAY_IDS):
        t = treated[treated["play"] == code]
        s = sample[sample["play"] == code]
        for label, column in zip(labels, ("churn_effect", "expand_effect"), strict=True):
            for segment in (*SEGMENTS, "all"):
                ts = t if segment == "all" else t[t["segment"] == segment]
                ss = s if segment == "all" else s[s["segment"] == segment]
                out.append(
                    {
                        "play": play,
                        "label": label,
                        "segment": segment,
                        "true_effect": float(ts[column].mean()) if len(ts) else float("nan"),
                        "true_effect_all": float(ss[column].mean()) if len(ss) else float("nan"),
                        "n_rows": len(ts),
                        "n_sample": len(ss),
                    }
                )
    return pd.DataFrame(out)
