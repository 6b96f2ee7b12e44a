"""Movers: accounts whose churn probability changed most between two snapshots (pure).

Takes the history rows of two snapshots (``serving.history.ROW_SCHEMA``) and returns, per
account present in both, the change and ``what_changed``: the signals whose SHAP
contribution to churn moved most, each with its value before and after, the contribution
change (log-odds) and the reason in words.

**Model changes.** A change of churn probability between two snapshots scored by different
models mixes what the account did with what the new model thinks. The caller therefore
passes, as ``before``, the earlier snapshot's rows scored by the *same* models as the later
one whenever the history holds them (``churnlight score`` of a multi-snapshot table after a
promotion writes exactly that); each item then has ``model_changed: false``. When only the
older models' scores exist, the item says ``model_changed: true`` and names both versions:
part or all of its change is the model's, and its ``what_changed`` compares contributions of
two different models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from features.metadata import FeatureSpec, render_reason

Direction = Literal["up", "down"]
WHAT_CHANGED = 5
"""Signals listed per mover."""
MIN_CHANGE = 0.001
"""Contribution changes under this (log-odds) are not listed."""


@dataclass
class Movers:
    """Accounts scored at both snapshots, aligned: ``before`` row i and ``after`` row i are
    the same account."""

    from_snapshot: str
    to_snapshot: str
    before: pa.Table
    after: pa.Table
    change: np.ndarray
    """after - before churn probability, per account."""

    @classmethod
    def compare(cls, before: pa.Table, after: pa.Table) -> Movers:
        """The accounts of both tables (each one snapshot's rows), in account_id order."""
        ids_after = after.column("account_id").to_pylist()
        at_before = {a: i for i, a in enumerate(before.column("account_id").to_pylist())}
        pairs = [(at_before[a], j) for j, a in enumerate(ids_after) if a in at_before]
        pairs.sort(key=lambda p: ids_after[p[1]])
        take_before = pa.array([p[0] for p in pairs], pa.int64())
        take_after = pa.array([p[1] for p in pairs], pa.int64())
        b, a = before.take(take_before), after.take(take_after)
        change = _floats(a, "churn_probability") - _floats(b, "churn_probability")
        return cls(_date(before), _date(after), b, a, change)

    @property
    def n(self) -> int:
        return len(self.change)

    def select(
        self,
        direction: Direction = "up",
        segment: Sequence[str] = (),
        csm_id: Sequence[str] = (),
    ) -> np.ndarray:
        """Row indices of accounts that moved in ``direction`` (up: churn probability rose),
        largest move first, ties by account_id; filtered on the later snapshot's segment and
        csm_id."""
        sign = 1.0 if direction == "up" else -1.0
        moved = sign * self.change
        mask = moved > 0
        for name, allowed in (("segment", segment), ("csm_id", csm_id)):
            if allowed:
                values = np.asarray(self.after.column(name).to_pylist(), dtype=object)
                mask &= np.isin(values.astype(str), list(allowed)) & (values != None)  # noqa: E711
        rows = np.flatnonzero(mask)
        return rows[np.argsort(-moved[rows], kind="stable")]

    def item(self, i: int, top: int = WHAT_CHANGED) -> dict[str, Any]:
        """The API's mover ``i``."""
        before, after = self._row("before", i), self._row("after", i)
        versions = (before["churn_model_version"], before["expansion_model_version"])
        later = (after["churn_model_version"], after["expansion_model_version"])
        return {
            "account_id": after["account_id"],
            "segment": after["segment"],
            "csm_id": after["csm_id"],
            "from_snapshot": self.from_snapshot,
            "to_snapshot": self.to_snapshot,
            "churn_probability_before": before["churn_probability"],
            "churn_probability_after": after["churn_probability"],
            "change": float(self.change[i]),
            "tier_before": before["risk_tier"],
            "tier_after": after["risk_tier"],
            "model_changed": versions != later,
            "churn_model_version_before": versions[0],
            "churn_model_version_after": later[0],
            "what_changed": what_changed(
                before["churn_signals"],
                after["churn_signals"],
                after["churn_drivers"],
                top,
            ),
        }

    def _row(self, side: str, i: int) -> dict[str, Any]:
        table = self.before if side == "before" else self.after
        return table.slice(i, 1).to_pylist()[0]


def what_changed(
    before_signals: str | None,
    after_signals: str | None,
    after_drivers: str | None,
    top: int = WHAT_CHANGED,
) -> list[dict[str, Any]]:
    """The ``top`` signals whose churn contribution moved most between two scores, from
    their stored JSON (``churn_signals``: ``{signal: [contribution, feature, value]}``; a
    signal absent from one side contributed under 0.001 log-odds there and counts as 0).
    The reason is the later score's driver sentence when that signal was listed, else the
    sentence of its feature at the later value."""
    b = json.loads(before_signals) if before_signals else {}
    a = json.loads(after_signals) if after_signals else {}
    sentences = {}
    if after_drivers:
        listed = json.loads(after_drivers)
        for d in [*listed.get("up", []), *listed.get("down", [])]:
            sentences[d["signal"]] = d["reason"]
    moves = []
    for signal in set(a) | set(b):
        c_after = a[signal][0] if signal in a else 0.0
        c_before = b[signal][0] if signal in b else 0.0
        delta = c_after - c_before
        if abs(delta) >= MIN_CHANGE:
            moves.append((-abs(delta), signal, c_before, c_after))
    moves.sort()
    out = []
    for _, signal, c_before, c_after in moves[:top]:
        after = a.get(signal)
        before = b.get(signal)
        feature = str((after or before or [None, signal])[1])
        value_after = after[2] if after else None
        item = {
            "signal": signal,
            "feature": feature,
            "value_before": before[2] if before else None,
            "value_after": value_after,
            "contribution_before": round(c_before, 4),
            "contribution_after": round(c_after, 4),
            "contribution_change": round(c_after - c_before, 4),
            "reason": sentences.get(signal) or _sentence(feature, value_after),
        }
        if before and after and before[1] != after[1]:
            item["feature_before"] = before[1]  # the signal was named by another member
        out.append(item)
    return out


def _sentence(feature: str, value: Any) -> str:
    spec = _catalog().get(feature)
    if spec is None:
        return f"{feature} is {'not recorded' if value is None else value}"
    return render_reason(spec, value)


@lru_cache(maxsize=1)
def _catalog() -> dict[str, FeatureSpec]:
    from features.transforms import all_feature_specs

    return {s.name: s for s in all_feature_specs()}


def _floats(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def _date(table: pa.Table) -> str:
    value = table.column("snapshot_date")[0].as_py() if table.num_rows else None
    return value.isoformat() if value is not None else ""
