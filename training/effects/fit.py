"""Every play and label of a feature table: the effects table and the per-account uplift models.

For each play: the rows it treats (``treatment``), one propensity model cross-fitted by account
(shared by both labels), then per label the outcome models on the rows whose label is known
(censored rows leave), and the doubly-robust estimate of the effect on the treated overall
(segment ``all``), per customer segment and per lifecycle stage (``stage:<name>``), each
judged by the evidence rules. The comparison is with doing nothing: rows another play treats
(and this one does not) leave the play's estimate, so the effect is that of running the play
against running none, not against the mix of other plays CS ran instead. The subgroup cells
reuse the nuisances fitted on all rows.
A play whose overall cell has evidence and at least ``min_uplift_treated`` treated rows gets a
DR-learner per label: the per-account change in probability the prescription ranks by.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from training.effects.estimate import Estimate, EvidenceRules, estimate_cell, too_few_runs
from training.effects.falsify import (
    CONFOUNDED,
    Check,
    control_model,
    negative_control,
    previous_rows,
    prior_risk,
)
from training.effects.nuisance import (
    CrossFitOptions,
    account_folds,
    cross_fit_outcomes,
    cross_fit_propensity,
)
from training.effects.treatment import TREATMENT_WINDOW_DAYS, PlayRuns, treated_rows
from training.effects.uplift import fit_dr_learner

if TYPE_CHECKING:
    import lightgbm as lgb

    from features.model_bundle import FeatureColumn
    from training.dataset import ModelData

ALL = "all"
STAGE_PREFIX = "stage:"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class EffectsOptions:
    rules: EvidenceRules = field(default_factory=EvidenceRules)
    crossfit: CrossFitOptions = field(default_factory=CrossFitOptions)
    window_days: int = TREATMENT_WINDOW_DAYS
    min_uplift_treated: int = 100
    """Treated rows (with evidence overall) a play needs for a per-account uplift model."""
    negative_control: bool = True
    """Check every cell with evidence against the negative control (``falsify``): a cell
    whose treated rows already differed from their comparison before the play is
    ``confounded``."""


@dataclass
class EffectsResult:
    rows: list[dict[str, Any]]
    """The effects table: one row per (play, label, segment) cell (``effect_row``)."""
    uplift: dict[tuple[str, str], lgb.Booster]
    """(play, label) -> the DR-learner: features -> change in P(label)."""
    columns: list[FeatureColumn]
    facts: dict[str, Any]


def effect_row(
    play: str, label: str, segment: str, est: Estimate, check: Check | None = None
) -> dict[str, Any]:
    """One cell of the effects table; ``effect`` is the ATT, ``ate`` the ATE beside it. A
    cell with evidence whose negative control (``check``) is not 0 is ``confounded``: its
    numbers stay for reference, the reason says what the control showed."""
    evidence, reason = est.evidence, est.reason
    if evidence == "ok" and check is not None and not check.passed:
        evidence = CONFOUNDED
        reason = (
            f"negative control failed: a month before the play, the accounts that got it "
            f"differed from their comparison in {check.label} risk by "
            f"{100 * check.effect:+.1f} points (95% {100 * check.ci_low:+.1f} .. "
            f"{100 * check.ci_high:+.1f}); the play cannot have caused that"
        )
    return {
        "play": play,
        "label": label,
        "segment": segment,
        "effect": est.effect,
        "ci_low": est.ci_low,
        "ci_high": est.ci_high,
        "n_treated": est.n_treated,
        "evidence": evidence,
        "reason": reason,
        "n_control": est.n_control,
        "n_trimmed": est.n_trimmed_treated,
        "ate": est.ate,
        "ate_low": est.ate_low,
        "ate_high": est.ate_high,
        "naive": est.naive,
        "treated_rate": est.treated_rate,
        "nc_effect": None if check is None else check.effect,
        "nc_ci_low": None if check is None else check.ci_low,
        "nc_ci_high": None if check is None else check.ci_high,
    }


def _cells(data: ModelData) -> list[tuple[str, np.ndarray | None]]:
    """(segment name, row mask) of every subgroup: all rows, each segment, each stage."""
    out: list[tuple[str, np.ndarray | None]] = [(ALL, None)]
    for column, prefix in (("segment", ""), ("lifecycle_stage", STAGE_PREFIX)):
        values = data.groups.get(column)
        if values is None:
            continue
        names = sorted({str(v) for v in values if v is not None})
        as_text = np.asarray([None if v is None else str(v) for v in values], dtype=object)
        out += [(prefix + name, as_text == name) for name in names]
    return out


def other_play(treated: dict[str, np.ndarray], play: str) -> np.ndarray:
    """Rows treated by a play other than ``play`` (within the treatment window)."""
    n = len(treated[play])
    out = np.zeros(n, dtype=bool)
    for name, t in treated.items():
        if name != play:
            out |= t == 1
    return out


def fit_effects(
    data: ModelData,
    runs: PlayRuns,
    plays: Sequence[str],
    options: EffectsOptions | None = None,
    progress: Progress | None = None,
) -> EffectsResult:
    """The effects table and uplift models of ``plays`` (and of any other play the runs
    name) on a temporal feature table's rows. Features are the snapshot's, before the play."""
    options = options or EffectsOptions()
    if data.snapshot_date is None:
        from training.errors import TrainingError

        raise TrainingError("play effects need a churnlight feature table (account, snapshot)")
    started = time.perf_counter()
    every = list(dict.fromkeys([*plays, *runs.plays]))
    treated = treated_rows(data.ids, data.snapshot_date, runs, every, options.window_days)
    labels = [spec.name for spec in data.label_specs]
    cells = _cells(data)
    folds = account_folds(data.ids, options.crossfit.folds, options.crossfit.seed)
    groups = np.asarray(data.ids).astype(str)
    rows: list[dict[str, Any]] = []
    uplift: dict[tuple[str, str], lgb.Booster] = {}
    previous = previous_rows(data.ids, data.snapshot_date)
    prior: dict[str, np.ndarray] = {}
    if options.negative_control:
        for label in labels:
            known = data.labeled(label)
            y_all = np.nan_to_num(data.labels[label])
            prior[label] = prior_risk(data.matrix, y_all, known, previous, folds, options.crossfit)
    for i, play in enumerate(every):
        if progress:
            progress(f"estimating {play}", i, len(every))
        t = treated[play]
        use = (t == 1) | ~other_play(treated, play)
        if int(t.sum()) < options.rules.min_treated:
            for label in labels:
                known = data.labeled(label) & use
                n_treated = int(t[known].sum())
                est = too_few_runs(n_treated, int(known.sum()) - n_treated, options.rules)
                rows.append(effect_row(play, label, ALL, est))
            continue
        e = np.full(len(t), np.nan)
        e[use] = cross_fit_propensity(data.matrix[use], t[use], folds[use], options.crossfit)
        for label in labels:
            known = data.labeled(label) & use
            y = data.labels[label][known]
            x, tk, ek, gk = data.matrix[known], t[known], e[known], groups[known]
            m0, m1 = cross_fit_outcomes(x, tk, y, folds[known], options.crossfit)
            nc = prior.get(label)
            nc_k = None if nc is None else nc[known]
            nc_m0 = (
                None
                if nc_k is None
                else control_model(
                    x, nc_k, tk, ek, folds[known], options.rules.trim, options.crossfit
                )
            )
            overall: Estimate | None = None
            overall_row: dict[str, Any] | None = None
            for name, mask in cells:
                sub = np.ones(len(y), dtype=bool) if mask is None else mask[known]
                est = estimate_cell(
                    y[sub], tk[sub], ek[sub], m0[sub], m1[sub], gk[sub], options.rules
                )
                check = None
                if nc_k is not None and nc_m0 is not None and est.evidence == "ok":
                    check = negative_control(
                        nc_k[sub], tk[sub], ek[sub], nc_m0[sub], gk[sub], label
                    )
                row = effect_row(play, label, name, est, check)
                if mask is None:
                    overall, overall_row = est, row
                rows.append(row)
            if (
                overall is not None
                and overall_row is not None
                and overall_row["evidence"] == "ok"
                and overall.n_treated >= options.min_uplift_treated
            ):
                uplift[(play, label)] = fit_dr_learner(
                    x, y, tk, ek, m0, m1, options.rules.trim, options.crossfit.seed,
                    options.crossfit.threads,
                )  # fmt: skip
    if progress:
        progress("effects estimated", len(every), len(every))
    facts = {
        "rows": len(data.ids),
        "accounts": len(set(groups.tolist())),
        "runs": len(runs),
        "plays": every,
        "labels": labels,
        "window_days": options.window_days,
        "rules": asdict(options.rules),
        "crossfit": asdict(options.crossfit),
        "min_uplift_treated": options.min_uplift_treated,
        "negative_control": options.negative_control,
        "uplift_models": sorted(f"{p}/{lb}" for p, lb in uplift),
        "seconds": round(time.perf_counter() - started, 2),
        "as_of": data.facts.get("as_of"),
    }
    return EffectsResult(rows, uplift, list(data.columns), facts)
