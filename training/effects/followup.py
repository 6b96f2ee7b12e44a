"""Follow-up: was the recommended play run, and what happened after, against similar
recommended accounts where it was not.

For each play, the rows (account, snapshot) where it was recommended; a recommendation is
*followed* when the play was run within 30 days after that snapshot (the same window that
makes a row treated, ``treatment``). Per play and label: the rate among followed and
not-followed recommendations, and the doubly-robust effect of following it among the
recommended rows (propensity of being followed, cross-fitted by account; the same estimator
and evidence rules as the effects), so "not followed" is weighted to look like "followed".
Per play and CSM: how often that CSM followed the recommendation and the raw rates after
(too few rows per CSM for an adjusted comparison: read them as a prompt, not a verdict)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from training.effects.estimate import estimate_cell, too_few_runs
from training.effects.fit import EffectsOptions
from training.effects.nuisance import account_folds, cross_fit_outcomes, cross_fit_propensity
from training.effects.treatment import PlayRuns, treated_rows

if TYPE_CHECKING:
    import pyarrow as pa

    from training.dataset import ModelData


NO_CSM = "(no CSM)"
"""The csm_id of recommendations on accounts without an owner."""


@dataclass
class FollowUp:
    basis: str
    plays: list[dict[str, Any]] = field(default_factory=list)
    csms: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"recommendations": self.basis, "plays": self.plays, "csms": self.csms}


def _rate(y: np.ndarray) -> float | None:
    return None if len(y) == 0 else round(float(np.mean(y)), 4)


def align_recommendations(
    data: ModelData, recommended: pa.Table, plays: Sequence[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per play, a boolean over ``data``'s rows: recommended at that row; and each row's
    csm_id (None when unknown). Rows ``recommended`` lacks are recommended nothing."""
    assert data.snapshot_date is not None
    keys = {
        (str(a), str(d)): (c, set(p or []))
        for a, d, c, p in zip(
            recommended.column("account_id").to_pylist(),
            recommended.column("snapshot_date").to_pylist(),
            recommended.column("csm_id").to_pylist(),
            recommended.column("plays").to_pylist(),
            strict=True,
        )
    }
    rows = [
        keys.get((str(a), str(d)))
        for a, d in zip(
            data.ids, data.snapshot_date.astype("datetime64[D]").astype(str), strict=True
        )
    ]
    csm = np.asarray([None if r is None else r[0] for r in rows], dtype=object)
    out = {p: np.asarray([r is not None and p in r[1] for r in rows], dtype=bool) for p in plays}
    return out, csm


def follow_up(
    data: ModelData,
    runs: PlayRuns,
    recommended: pa.Table,
    basis: str,
    plays: Sequence[str],
    options: EffectsOptions | None = None,
) -> FollowUp:
    """The follow-up report of ``plays`` on ``data``'s rows (see the module docs)."""
    options = options or EffectsOptions()
    assert data.snapshot_date is not None
    recs, csm = align_recommendations(data, recommended, plays)
    treated = treated_rows(data.ids, data.snapshot_date, runs, plays, options.window_days)
    groups = np.asarray(data.ids).astype(str)
    report = FollowUp(basis)
    for play in plays:
        rec = recs[play]
        t = treated[play]
        n_rec, n_run = int(rec.sum()), int((rec & (t == 1)).sum())
        base = {
            "play": play,
            "recommended": n_rec,
            "followed": n_run,
            "follow_rate": None if n_rec == 0 else round(n_run / n_rec, 4),
        }
        e = folds = None
        idx = np.flatnonzero(rec)
        accounts = len(set(groups[idx].tolist()))
        enough = n_run >= options.rules.min_treated and accounts >= 2 * options.crossfit.folds
        if enough:
            folds = account_folds(groups[idx], options.crossfit.folds, options.crossfit.seed)
            e = cross_fit_propensity(data.matrix[idx], t[idx], folds, options.crossfit)
        for spec in data.label_specs:
            label = spec.name
            known = data.labeled(label)[idx]
            y = data.labels[label][idx][known]
            tk = t[idx][known]
            row = {
                **base,
                "label": label,
                "rate_followed": _rate(y[tk == 1]),
                "rate_not_followed": _rate(y[tk == 0]),
            }
            if e is None:
                est = too_few_runs(int(tk.sum()), int((tk == 0).sum()), options.rules)
            else:
                folds = account_folds(
                    groups[idx][known], options.crossfit.folds, options.crossfit.seed
                )
                m0, m1 = cross_fit_outcomes(data.matrix[idx][known], tk, y, folds, options.crossfit)
                est = estimate_cell(y, tk, e[known], m0, m1, groups[idx][known], options.rules)
            row |= {
                "effect": est.effect,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
                "evidence": est.evidence,
                "reason": est.reason,
            }
            report.plays.append(row)
        owners = np.asarray([NO_CSM if c is None else str(c) for c in csm], dtype=object)
        for who in sorted(set(owners[idx].tolist())):
            mine = idx[owners[idx] == who]
            entry: dict[str, Any] = {
                "play": play,
                "csm_id": who,
                "recommended": len(mine),
                "followed": int(t[mine].sum()),
                "follow_rate": round(float(t[mine].mean()), 4),
            }
            for spec in data.label_specs:
                known = data.labeled(spec.name)[mine]
                y, tk = data.labels[spec.name][mine][known], t[mine][known]
                entry[f"{spec.name}_followed"] = _rate(y[tk == 1])
                entry[f"{spec.name}_not_followed"] = _rate(y[tk == 0])
            report.csms.append(entry)
    return report
