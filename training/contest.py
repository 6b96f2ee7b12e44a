"""The out-of-time contest of the promotion gate: champion against challenger on the newest
matured labels that neither model trained on.

- The champion is its registered model, as served: it trained on snapshots up to its
  ``labels_through`` minus the label's span (``monitoring.realised.last_training_snapshot``),
  so every later snapshot is unseen by it.
- The challenger is its chosen candidate as fit for its last backtest window: it trained
  only on rows whose labels had closed by the window's cutoff, so the window's test rows
  are unseen by it. (Its registered model is refit on every labeled row, these included:
  no registered challenger can be scored out of time on the newest labels.)
- The contest's rows are the last window's labeled test rows dated after the champion's
  last training snapshot: the newest matured labels neither saw. It is held when they hold
  at least ``MIN_POSITIVES`` positives and as many negatives; else the gate falls back to
  comparing on the whole window (``training.champion_refit``) and says why.

The difference (challenger - champion ROC-AUC) carries a paired bootstrap interval over the
contest's accounts, for the reader; the rule itself is the gate's tolerance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from features.model_bundle import ModelBundle
from monitoring.realised import last_training_snapshot
from training.evaluate import MODEL
from training.metrics import roc_auc
from training.results import TrainingResult

MIN_POSITIVES = 10
DRAWS = 200


@dataclass
class Contest:
    """The contest's rows and numbers (``held`` False: why not in ``reason``)."""

    held: bool
    reason: str
    snapshots: list[str]
    rows: int = 0
    positives: int = 0
    champion_auc: float | None = None
    challenger_auc: float | None = None
    difference_low: float | None = None
    difference_high: float | None = None
    champion_last_training_snapshot: str | None = None

    @property
    def difference(self) -> float | None:
        if self.champion_auc is None or self.challenger_auc is None:
            return None
        return self.challenger_auc - self.champion_auc

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["difference"] = None if self.difference is None else round(self.difference, 6)
        return out


def out_of_time_contest(
    result: TrainingResult, label: str, champion: ModelBundle, seed: int = 0
) -> Contest:
    """Champion (registered model) and challenger (last window's fit) on the newest matured
    labels neither trained on."""
    outcome = result.labels[label]
    data = result.data
    rows = outcome.curves.get("rows")
    predictions = (outcome.curves.get("predictions") or {}).get(MODEL)
    after = last_training_snapshot(champion.metadata)
    if after is None:
        return Contest(False, "the champion does not record the labels it trained on", [])
    if rows is None or predictions is None or data.snapshot_date is None:
        return Contest(False, "the challenger has no out-of-time window (tabular mode)", [])
    dates = data.snapshot_date[rows]
    newer = dates > np.datetime64(after, "D")
    snapshots = sorted({str(d) for d in dates[newer]})
    base = Contest(False, "", snapshots, champion_last_training_snapshot=after.isoformat())
    if not newer.any():
        base.reason = (
            f"no matured label after the champion's last training snapshot {after}: both "
            "models trained on every label the challenger's window holds"
        )
        return base
    chosen = np.asarray(rows)[newer]
    y = data.labels[label][chosen]
    positives = int((y != 0).sum())
    negatives = len(y) - positives
    base.rows, base.positives = len(y), positives
    if min(positives, negatives) < MIN_POSITIVES:
        base.reason = (
            f"{len(y)} rows of {', '.join(snapshots)} hold {positives} positive(s) and "
            f"{negatives} negative(s): fewer than {MIN_POSITIVES} of each to compare on"
        )
        return base
    p_challenger = np.asarray(predictions, dtype=np.float64)[newer]
    p_champion = np.asarray(champion.predict_proba(data.raw.take(chosen)), dtype=np.float64)
    base.held = True
    base.reason = (
        f"{len(y)} rows of {', '.join(snapshots)} ({positives} positives), after the "
        f"champion's last training snapshot {after} and in the challenger's test window"
    )
    base.champion_auc = roc_auc(y, p_champion)
    base.challenger_auc = roc_auc(y, p_challenger)
    base.difference_low, base.difference_high = _paired_interval(
        y, p_challenger, p_champion, data.ids[chosen], seed
    )
    return base


def _paired_interval(
    y: np.ndarray, a: np.ndarray, b: np.ndarray, accounts: np.ndarray, seed: int
) -> tuple[float | None, float | None]:
    """Central 95% interval of AUC(a) - AUC(b), accounts resampled (both on the same draw)."""
    _, account = np.unique(accounts.astype(str), return_inverse=True)
    groups = np.bincount(account).size
    order = np.argsort(account, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(account))])
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(DRAWS):
        pick = rng.integers(0, groups, groups)
        idx = np.concatenate([order[starts[g] : starts[g + 1]] for g in pick])
        auc_a, auc_b = roc_auc(y[idx], a[idx]), roc_auc(y[idx], b[idx])
        if auc_a is not None and auc_b is not None:
            diffs.append(auc_a - auc_b)
    if len(diffs) < DRAWS // 2:
        return None, None
    low, high = np.quantile(diffs, [0.025, 0.975])
    return round(float(low), 6), round(float(high), 6)
