"""The prescription bar of issue 18: ARR saved by each CSM's capacity spent by
``expected_arr_saved`` against the same capacity spent down the churn-risk list.

At month ``months - back`` (``back`` = 10 by default; the **cutoff**) of a simulated source
with plays (``plays_bench.plays_source``):

- models from the rows whose labels had matured by then (snapshot + 210 days <= the cutoff,
  ``check_no_look_ahead``; a DR-learner for every play with evidence and 30 treated rows,
  ``MIN_UPLIFT_TREATED``): the churn and expansion models (``training.train.train_models``,
  the registered bundles), the play effects (``training.effects.fit_effects``, the
  registered effects bundle) and what an expansion is worth (``training.effects.sizes``,
  from the subscriptions before the cutoff). **Held out in time**: the effects are
  estimated on the earlier period (snapshots up to cutoff - 210 days) and the rankings are
  judged on the months from the cutoff on, which no fit saw;
- the month's book scored as serving scores it (``serving.scoring.score_table``): the YAML
  rules pick the plays that fit, ``serving.prescription.prescribe`` adds
  ``expected_arr_saved`` (churn and expansion parts; one scoring pass, then one
  ``prescribe`` per ranking on the same hits);
- each CSM's capacity is the number of plays the simulated CS team ran on its book that month;
  **risk**: the CSM's accounts by churn probability, each with its first fitting play in
  library order (the records without effects, as before issue 18); **prescribed**: the CSM's
  accounts by the best fitting play's served ``expected_arr_saved`` when it is positive, with
  that play (an account whose plays are all expected to lose ARR follows in risk order); for
  comparison, the same counting churn only (``prescribed_churn_only``: the served ranking
  before expansion ARR counted), counting the expansion part for every play, not only the
  library's ``score: expansion`` plays (``prescribed_expansion_every_play``), without the
  interval rule
  (``cell_ungated``), the DR-learner's per-account uplift (``dr_learner``), revenue at risk
  with the first fitting play, and the served ranking alone (``prescribed_strict``:
  accounts without a saving are not worked; ``prescribed`` fills the capacity with them in
  churn-risk order); and the
  ceilings, ranked by the **true** ARR each play saves on each account (the same rollouts,
  drawn apart from those that judge: ``true_savings``): the best fitting play
  (``oracle_fitting``), the first fitting play (``oracle_first_play``: the risk order's play,
  ranked by what it truly saves) and the best of every play (``oracle_any_play``);
- ``simulator.play_value.arr_kept`` rolls the month forward with each assignment and
  without any play (same random numbers, same success draws). **ARR saved** is the book's
  ARR (12 x MRR) at the end of the 180-day horizon with the assignment minus without it:
  it counts every way a play changes the ARR — churn avoided, expansions added,
  contractions, a discount's lower price — and judges every ranking, the risk order
  included, by that same true outcome. The ratio is a ranking's ARR saved over the risk
  order's;
- ``per_account_errors``: PEHE of the served per-account churn effect, the DR-learner's, a
  T-learner's and of predicting 0, on the treated rows after the training cut-off."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BAR = 1.3
LOOK_AHEAD_DAYS = 210
"""A training row's label (180 days) and its treatment window (30 days) end this long after
its snapshot: the rows of the fit end that long before the cutoff."""
MIN_UPLIFT_TREATED = 30
"""DR-learners for every play with evidence (the rows before the month are too few for the
default 100 treated rows of most plays): the comparison rows, not the served prescription."""


def _assign(
    csm: np.ndarray,
    score: np.ndarray,
    play: list[str | None],
    capacity: dict[str, int],
    then: np.ndarray | None = None,
) -> tuple[list[int], list[str]]:
    """Per CSM, its ``capacity[csm]`` accounts with a play, highest ``score`` first; rows
    whose score is -inf (no saving) come after, by ``then`` (the churn risk: the list's
    default order), so every ranking works the same number of accounts. Without ``then``
    they are left out."""
    rows: list[int] = []
    plays: list[str] = []
    tie = np.zeros(len(score)) if then is None else -np.asarray(then, dtype=float)
    order = np.lexsort((tie, -score))
    used: dict[str, int] = defaultdict(int)
    for i in order:
        c, p = str(csm[i]), play[i]
        if p is None or used[c] >= capacity.get(c, 0):
            continue
        if then is None and not np.isfinite(score[i]):
            continue
        used[c] += 1
        rows.append(int(i))
        plays.append(p)
    return rows, plays


def _best(
    hits: list[list[dict[str, Any]]], codes: Any, fallback: list[str | None] | None = None
) -> tuple[np.ndarray, list[str | None]]:
    """Per account, the fitting simulator play with the highest ``expected_arr_saved`` and
    that saving; -inf and ``fallback[i]`` (None without) when no fitting play is expected to
    save ARR (> 0): an account whose plays are all expected to lose ARR is worked in the
    risk order, as one without an estimate (serving ranks such plays last)."""
    score, play = [], []
    for i, row in enumerate(hits):
        ranked = [
            h
            for h in row
            if h["id"] in codes
            and h["expected_arr_saved"] is not None
            and h["expected_arr_saved"] > 0
        ]
        top = max(ranked, key=lambda h: h["expected_arr_saved"], default=None)
        if top is None:
            play.append(None if fallback is None else fallback[i])
        else:
            play.append(str(top["id"]))
        score.append(-np.inf if top is None else float(top["expected_arr_saved"]))
    return np.asarray(score), play


def _dr_prescribed(
    hits: list[list[dict[str, Any]]],
    book: pa.Table,
    mrr: np.ndarray,
    p_churn: np.ndarray,
    effects: Any,
    library: Any,
) -> list[list[dict[str, Any]]]:
    """The previous prescription, for comparison: ``expected_arr_saved`` as served (cost and
    discount included) with the per-account DR-learner's uplift."""
    from features.model_bundle import encode
    from serving.prescription import arr_saved, label_pair

    label, _ = label_pair(effects)
    matrix = encode(book, effects.columns)
    uplift = {p: effects.uplift_of(p, label, matrix) for p, lb in effects.uplift if lb == label}
    costs = {p.id: p.cost or 0.0 for p in library.playbooks}
    discounts = {p.id: p.discount or 0.0 for p in library.playbooks}
    out = []
    for i, row in enumerate(hits):
        enriched = []
        for h in row:
            u = uplift.get(h["id"])
            saved = None
            if u is not None and np.isfinite(mrr[i]):
                saved = arr_saved(
                    float(mrr[i]),
                    float(p_churn[i]),
                    float(u[i]),
                    costs.get(h["id"], 0.0),
                    discounts.get(h["id"], 0.0),
                )
            enriched.append({**h, "expected_arr_saved": saved})
        out.append(enriched)
    return out


def per_account_errors(
    root: Path,
    table: pa.Table,
    month: Any,
    data: Any,
    runs: Any,
    effects: Any,
    churn: Any,
) -> dict[str, dict[str, float]]:
    """PEHE (root-mean-square error against the truth's ``play_rows``) of the per-account
    churn effect on the treated rows after the training cut-off (held out: the models saw
    none of them), per play with a DR-learner: the served relative cell effect
    (``serving.prescription``: calibrated churn probability x the cell's relative effect),
    the DR-learner and a T-learner fitted on the training rows."""
    import pandas as pd

    from features.model_bundle import encode
    from serving.prescription import account_effect, cell_effect, label_pair
    from training.effects.fit import other_play
    from training.effects.treatment import treated_rows
    from training.effects.uplift import pehe, t_learner

    label, _ = label_pair(effects)
    assert label is not None
    snap = table.column("snapshot_date").cast(pa.date32())
    held = table.filter(pc.greater(snap, pa.scalar(month - timedelta(days=LOOK_AHEAD_DAYS))))
    ids = np.asarray(held.column("account_id").to_pylist()).astype(str)
    dates = np.asarray(held.column("snapshot_date").cast(pa.date32()).to_pylist(), dtype="M8[D]")
    plays = sorted({p for p, _ in effects.uplift} | set(runs.plays))
    treated = treated_rows(ids, dates, runs, plays)
    train_treated = treated_rows(data.ids, data.snapshot_date, runs, plays)
    truth = pd.read_parquet(root / "source" / "_truth" / "play_rows.parquet")
    truth = truth.assign(
        account_id=truth["account_id"].astype(str),
        snapshot_date=pd.to_datetime(truth["snapshot_date"]).dt.strftime("%Y-%m-%d"),
    )
    keys = pd.DataFrame({"account_id": ids, "snapshot_date": dates.astype(str)})
    matrix = encode(held, effects.columns)
    p_churn = churn.predict_proba(held)
    segment = held.column("segment").to_pylist()
    out: dict[str, dict[str, float]] = {}
    for play, lb in sorted(effects.uplift):
        if lb != label:
            continue
        rows = keys.merge(truth[truth["play"] == play], how="left")
        tau = rows["churn_effect"].to_numpy(dtype=float)
        mask = (treated[play] == 1) & ~np.isnan(tau)
        if mask.sum() < 30:
            continue
        served = np.asarray(
            [
                np.nan if (v := account_effect(float(p_churn[i]), cell_effect(
                    effects, play, label, segment[i]))) is None else v
                for i in np.flatnonzero(mask)
            ]
        )  # fmt: skip
        dr = effects.uplift_of(play, label, matrix[mask])
        t = train_treated[play]
        known = data.labeled(label) & ((t == 1) | ~other_play(train_treated, play))
        two = t_learner(data.matrix[known], data.labels[label][known], t[known], matrix[mask])
        truth_rows = tau[mask]
        t_err = pehe(two, truth_rows)
        out[play] = {
            "rows": int(mask.sum()),
            "served": pehe(np.nan_to_num(served), truth_rows),
            "dr_learner": pehe(dr, truth_rows),
            "t_learner": t_err,
            "served_over_t": pehe(np.nan_to_num(served), truth_rows) / t_err,
            "dr_over_t": pehe(dr, truth_rows) / t_err,
            "zero": pehe(np.zeros(len(truth_rows)), truth_rows),
            "served_without_effect": int(np.isnan(served).sum()),
            "true_mean": float(truth_rows.mean()),
        }
    return out


EFFECT_RANKINGS = (
    "prescribed",
    "prescribed_churn_only",
    "prescribed_expansion_every_play",
    "cell_ungated",
    "dr_learner",
    "oracle_fitting",
)
"""The rankings by an estimated saving: accounts without one follow by churn risk."""
ORACLE_STREAM = 18
"""The rollouts the oracle ranks by are drawn apart from those that judge every ranking, so
that the oracle does not select on the judge's noise."""


def churn_only(effects: Any) -> Any:
    """The effects bundle without its expansion share: ``expected_arr_saved`` counts the
    churn part only (the served ranking before expansion ARR counted)."""
    from features.effects_bundle import EXPANSION_SHARE, EffectsBundle

    metadata = {k: v for k, v in effects.metadata.items() if k != EXPANSION_SHARE}
    return EffectsBundle(effects.columns, effects.effects, effects.uplift, metadata)


def check_no_look_ahead(snapshots: Sequence[date], cutoff: date) -> None:
    """The held-out-in-time rule of the bench: every training row's label has matured, and
    every play run that treats it has happened, by the cutoff: snapshot + 210 days <= cutoff
    (a 180-day label; runs count within 30 days of the snapshot, so none on or after
    snapshot + 30 is read). Raises ``AssertionError`` otherwise."""
    late = [d for d in snapshots if d + timedelta(days=LOOK_AHEAD_DAYS) > cutoff]
    if late:
        raise AssertionError(
            f"{len(late)} training row(s) as late as {max(late)}: their labels or play runs "
            f"end after the cutoff {cutoff}"
        )


def true_savings(history: Any, m: int, ids: np.ndarray, rollouts: int) -> np.ndarray:
    """(plays, accounts) the true ARR each simulator play saves on each account of ``ids``
    (the month's scored book) run alone at month index ``m``: with - without, by rollouts
    independent of ``arr_kept``'s (``ORACLE_STREAM``); same success draws."""
    from simulator.play_catalog import PLAY_IDS
    from simulator.play_value import arr_by_account, success_draws

    index = {a: i for i, a in enumerate(history.account_ids)}
    book = np.asarray([index[a] for a in ids.tolist()], dtype=np.int64)
    draws = success_draws(history, m)[book]
    out = np.zeros((len(PLAY_IDS), len(book)))
    for code in range(len(PLAY_IDS)):
        plays = np.full(len(book), code, dtype=np.int64)
        without, with_play = arr_by_account(
            history, m, book, plays, draws, rollouts, stream=ORACLE_STREAM
        )
        out[code] = with_play - without
    return out


def oracle_rankings(
    saved: np.ndarray, hits: list[list[dict[str, Any]]], first: list[str | None]
) -> dict[str, tuple[np.ndarray, list[str | None]]]:
    """The ceilings, from the true savings (``true_savings``): ``oracle_fitting`` each
    account's fitting play (the YAML rules) with the largest true saving, ranked by it;
    ``oracle_first_play`` the first fitting play (the risk order's) ranked by its true
    saving; ``oracle_any_play`` the best of every play, fitting or not."""
    from simulator.play_catalog import PLAY_CODES, PLAY_IDS

    n = saved.shape[1]
    fit_score, fit_play = np.full(n, -np.inf), list(first)
    first_score = np.full(n, -np.inf)
    for i, row in enumerate(hits):
        codes = [PLAY_CODES[h["id"]] for h in row if h["id"] in PLAY_CODES]
        if codes:
            best = max(codes, key=lambda c: saved[c, i])
            fit_score[i], fit_play[i] = saved[best, i], PLAY_IDS[best]
        if first[i] is not None:
            first_score[i] = saved[PLAY_CODES[first[i]], i]
    best_any = np.argmax(saved, axis=0)
    return {
        "oracle_fitting": (fit_score, fit_play),
        "oracle_first_play": (first_score, first),
        "oracle_any_play": (saved[best_any, np.arange(n)], [PLAY_IDS[c] for c in best_any]),
    }


def month_value(
    history: Any,
    m: int,
    table: pa.Table,
    churn: Any,
    expansion: Any,
    effects: Any,
    library: Any,
    owners: dict[str, str],
    rollouts: int,
) -> dict[str, Any]:
    """ARR saved at month index ``m`` of ``history`` by each ranking of the month's book
    (the feature rows of that month of accounts active on its eve), each CSM working the
    number of plays the simulated CS team ran on its book that month."""
    from serving.prescription import prescribe
    from serving.scoring import ScoringConfig, score_table
    from simulator.dates import to_date
    from simulator.play_catalog import PLAY_CODES
    from simulator.play_value import arr_kept

    month = to_date(int(history.month_starts[m]))
    snap = table.column("snapshot_date").cast(pa.date32())
    book = table.filter(pc.equal(snap, pa.scalar(month)))
    active = {history.account_ids[i] for i in np.flatnonzero(history.mrr_eve[m] > 0)}
    book = book.filter(pa.array([str(a) in active for a in book.column("account_id").to_pylist()]))
    plain = list(score_table(book, churn, expansion, library, ScoringConfig(), 1))
    ids = np.concatenate([b.account_id for b in plain]).astype(str)
    csm = np.asarray([owners.get(a, "None") for a in ids.tolist()], dtype=object)
    p_churn = np.concatenate([b.churn.probability for b in plain])
    p_expand = np.concatenate([b.expansion.probability for b in plain])
    mrr = np.concatenate([b.mrr for b in plain])
    segment = np.concatenate([b.segment for b in plain])
    hits = [hits for b in plain for hits in b.playbooks]
    first = [next((h["id"] for h in row if h["id"] in PLAY_CODES), None) for row in hits]
    costs = {p.id: p.cost for p in library.playbooks}
    discounts = {p.id: p.discount for p in library.playbooks}

    def ranked(
        bundle: Any, gated: bool = True, expansion_plays: set[str] | None = None
    ) -> tuple[np.ndarray, list[str | None]]:
        """The records' playbooks as serving ranks them with ``bundle`` (``score_table``
        with effects calls the same ``prescribe``), each account's best simulator play."""
        out = prescribe(
            hits, mrr, p_churn, p_expand, segment, bundle, costs, gated, discounts,
            expansion_plays=expansion_plays,
        )  # fmt: skip
        return _best(out, PLAY_CODES, first)

    served = ranked(effects)
    variants: dict[str, tuple[np.ndarray, list[str | None]]] = {
        "risk": (p_churn, first),
        "prescribed": served,
        "prescribed_strict": served,
        "prescribed_churn_only": ranked(churn_only(effects)),
        "prescribed_expansion_every_play": ranked(
            effects, expansion_plays={p.id for p in library.playbooks}
        ),
        "cell_ungated": ranked(effects, gated=False),
        "dr_learner": _best(
            _dr_prescribed(hits, book, mrr, p_churn, effects, library), PLAY_CODES, first
        ),
        "revenue_at_risk": (12.0 * mrr * p_churn, first),
        **oracle_rankings(true_savings(history, m, ids, rollouts), hits, first),
    }
    ran = history.plays.in_month(m) if history.plays is not None else None
    csm_of = dict(zip(ids.tolist(), csm.tolist(), strict=True))
    capacity: dict[str, int] = defaultdict(int)
    if ran is not None:
        for acc in ran.acc.tolist():
            c = csm_of.get(str(history.account_ids[acc]))
            if c is not None:
                capacity[c] += 1
    out: dict[str, Any] = {
        "month": str(month),
        "book": len(ids),
        "capacity": int(sum(capacity.values())),
        "csms": len(capacity),
        "accounts_with_saving": {
            name: int(np.isfinite(variants[name][0]).sum()) for name in EFFECT_RANKINGS
        },
    }
    for name, (score, play) in variants.items():
        then = p_churn if name in EFFECT_RANKINGS else None
        rows, plays = _assign(csm, score, play, capacity, then)
        kept = arr_kept(history, month, [ids[i] for i in rows], plays, rollouts)
        out[f"{name}_played"] = len(rows)
        out[f"{name}_ranked"] = int(np.isfinite(score[rows]).sum()) if rows else 0
        out[f"{name}_arr_saved"] = kept.arr_saved
        out[f"{name}_plays"] = {p: plays.count(p) for p in sorted(set(plays))}
    return out


def prescription(
    accounts: int,
    months: int,
    seed: int,
    rollouts: int = 50,
    back: int = 10,
    eval_months: int = 4,
) -> dict[str, Any]:
    """The prescription bar on one seed: models as of month ``months - back`` (the rows whose
    labels had matured by then), ARR saved at that month and the ``eval_months - 1`` after it
    (the same models, as a deployment would keep them), pooled."""
    from bench.plays_bench import plays_source
    from features.effects_bundle import EXPANSION_SHARE
    from features.writer import read_feature_table
    from serving.playbooks import load_playbooks
    from serving.scoring import ModelView
    from serving.settings import DEFAULT_PLAYBOOKS
    from simulator.config import SimulationConfig
    from simulator.dates import to_date
    from simulator.play_catalog import PlayPolicy
    from simulator.run import generate
    from training import dataset
    from training.effects.fit import EffectsOptions, fit_effects
    from training.effects.publish import bundle_of
    from training.effects.runs import read_play_runs
    from training.effects.sizes import source_expansion_shares
    from training.options import TrainOptions
    from training.train import train_models

    root = plays_source(accounts, months, seed)
    config = SimulationConfig(
        accounts=accounts, months=months, seed=seed, oracle_rows=0, plays=PlayPolicy()
    )
    library = load_playbooks(DEFAULT_PLAYBOOKS)
    with tempfile.TemporaryDirectory(prefix="churnlight-plays-value-") as scratch:
        history = generate(config, Path(scratch) / "source")
        c = months - back
        cutoff = to_date(int(history.month_starts[c]))
        file = read_feature_table(root / "features.parquet")
        snap = file.table.column("snapshot_date").cast(pa.date32())
        train = file.table.filter(
            pc.less_equal(snap, pa.scalar(cutoff - timedelta(days=LOOK_AHEAD_DAYS)))
        )
        path = Path(scratch) / "train.parquet"
        meta = (pq.read_schema(root / "features.parquet").metadata) or {}
        pq.write_table(train.replace_schema_metadata(meta), path)
        data = dataset.load(path)
        models = train_models(data, TrainOptions(backtests=1, with_baselines=False))
        runs = read_play_runs(root / "source")
        assert data.snapshot_date is not None
        check_no_look_ahead(data.snapshot_date.astype("datetime64[D]").tolist(), cutoff)
        options = EffectsOptions(min_uplift_treated=MIN_UPLIFT_TREATED)
        result = fit_effects(data, runs, library.ids, options)
        # what an expansion is worth, from the subscriptions before the cutoff only
        result.facts[EXPANSION_SHARE] = source_expansion_shares(root / "source", as_of=cutoff)
        effects = bundle_of(result)
    churn = ModelView(models.labels["churn_180d"].bundle, "bench")
    expansion = ModelView(models.labels["expand_180d"].bundle, "bench")
    owner = pq.read_table(root / "source" / "accounts.parquet", columns=["account_id", "csm_id"])
    owners = dict(
        zip(
            owner.column("account_id").to_pylist(),
            [str(c) for c in owner.column("csm_id").to_pylist()],
            strict=True,
        )
    )
    per_month = [
        month_value(history, m, file.table, churn, expansion, effects, library, owners, rollouts)
        for m in range(c, min(c + eval_months, months))
    ]
    out: dict[str, Any] = {
        "seed": seed,
        "cutoff": str(cutoff),
        "months": per_month,
        "capacity": sum(v["capacity"] for v in per_month),
        "rollouts": rollouts,
        "train_rows": train.num_rows,
        "uplift_models": sorted(f"{p}/{lb}" for p, lb in effects.uplift),
        "expansion_share": effects.metadata.get(EXPANSION_SHARE),
        "fit_rows_until": str(max(data.snapshot_date).astype("datetime64[D]")),
        "judged_months": [v["month"] for v in per_month],
        "evidence_cells": sorted(
            f"{r['play']}/{r['segment']}"
            for r in effects.effects
            if r["evidence"] == "ok" and str(r["label"]).startswith("churn")
        ),
    }
    names = [k[: -len("_arr_saved")] for k in per_month[0] if k.endswith("_arr_saved")]
    for name in names:
        out[f"{name}_arr_saved"] = float(sum(v[f"{name}_arr_saved"] for v in per_month))
        out[f"{name}_played"] = int(sum(v[f"{name}_played"] for v in per_month))
    risk = out["risk_arr_saved"]
    out["ratio"] = out["prescribed_arr_saved"] / risk if risk > 0 else None
    out["ratios"] = {name: out[f"{name}_arr_saved"] / risk if risk > 0 else None for name in names}
    out["per_account_error"] = per_account_errors(
        root, file.table, cutoff, data, runs, effects, churn.bundle
    )
    return out


def pooled(values: list[dict[str, Any]]) -> dict[str, Any]:
    """The prescription bar over seeds: ARR saved summed over every seed and month per
    ranking, over the risk order's; and the per-account errors pooled over seeds and plays
    (root-mean-square over all held-out treated rows) of the served effect, the DR-learner
    and predicting 0, each over the T-learner's."""
    names = [k[: -len("_arr_saved")] for k in values[0] if k.endswith("_arr_saved")]
    saved = {name: float(sum(v[f"{name}_arr_saved"] for v in values)) for name in names}
    risk = saved["risk"]
    squares: dict[str, float] = defaultdict(float)
    rows = 0
    for v in values:
        for e in v["per_account_error"].values():
            rows += e["rows"]
            for key in ("served", "dr_learner", "t_learner", "zero"):
                squares[key] += e["rows"] * e[key] ** 2
    t = squares["t_learner"]
    return {
        "seeds": [v["seed"] for v in values],
        "arr_saved": saved,
        "ratio": saved["prescribed"] / risk if risk > 0 else None,
        "ratios": {name: s / risk if risk > 0 else None for name, s in saved.items()},
        "pehe_rows": rows,
        "pehe_over_t": {
            key: float(np.sqrt(squares[key] / t)) if t > 0 else None
            for key in ("served", "dr_learner", "zero")
        },
    }
