"""Prescription: the plays that fit an account, with their estimated effect on it, ranked by
the revenue they are expected to save.

The YAML rules (``serving.playbooks``) decide which plays fit; the registered play-effects
model (``features.effects_bundle``, from ``churnlight plays``) adds to each fitting play:

- ``churn_effect`` / ``expand_effect``: the estimated change in this account's probability
  of churning / expanding within the horizon if the play is run (-0.04 = four points less
  likely to churn). It is the play's *relative* effect, measured where the play was run,
  applied to the account's own calibrated probability:
  ``p_account x posterior / (treated_rate - effect)``, where ``effect`` (the ATT) and
  ``treated_rate`` (the label's rate on the treated rows) come from the play's cell of the
  account's segment when that cell has evidence, else from the ``all`` cell. A play that cuts
  churn by a third where it was run cuts this account's churn probability by a third.
  ``posterior`` is the cell's effect shrunk by its precision (empirical Bayes) towards 0
  ("the play does nothing"): ``B x effect`` with ``B = spread / (spread + se^2)``, where
  the spread is how far the label's overall and segment cells with evidence lie from 0
  beyond their noise (``pooled_prior``, moments around 0): a cell no more precise than
  play effects usually differ from 0 serves about nothing, a precise one keeps itself.
  (The prior was centred on the cells' pooled mean before; that mean leaned positive on
  every simulated seed, and every play was served as harmful.) A label with fewer than
  ``MIN_PRIOR_CELLS`` cells shrinks each towards 0 by itself, ``max(0, 1 - (se / effect)^2)``.
  Without shrinking, noisy cells sent their noise, times the account's risk, into every
  record, and a ranking sent most plays to the cell whose estimate was luckiest
  (``python -m bench plays``). A segment cell that failed its negative control
  (``confounded``) serves nothing, and the overall cell does not stand in for it.
  Null when neither cell has evidence (too few runs, no comparable accounts, confounded), or
  when the effects model predates ``treated_rate`` (run ``churnlight plays`` again).
- ``expected_arr_saved``: the ARR the play is expected to keep and bring, minus what it
  costs: ``expected_arr_churn + expected_arr_expansion - cost - discount * 12 * mrr * (1 -
  p_churn - churn_effect)``, where ``expected_arr_churn = 12 * mrr * -churn_effect``
  (revenue at risk x relative reduction) and ``expected_arr_expansion = 12 * mrr *
  expand_effect * expansion_share`` (the new ARR of the expansions the play adds: the
  change in expansion probability times what an expansion is worth in the account's
  segment, the mean past expansion as a share of MRR, learned from the subscriptions by
  ``churnlight plays`` and stored in the effects bundle, ``training.effects.sizes``). Cost
  and discount from the library, 0 when it gives none. A part counts only when its cell's
  95% interval excludes 0 (a play not shown to change churn is not promised to keep
  anything; its effect is still shown); the part is null then, and
  ``expected_arr_saved`` is null when neither part counts or mrr is null. An effects
  model fitted before ``expansion_share`` existed counts churn only.

The plays are ranked by ``expected_arr_saved`` (highest first) among the plays expected to
save ARR (> 0), then the plays without one (library order), then the plays expected to lose
ARR (<= 0: a harmful churn estimate whose interval excludes 0, or a cost above the saving).
On the prescription bench, working a play expected to lose ARR before the churn-risk list sent
seed 101's capacity to a harmful-looking cell (``python -m bench plays``; docs/plays.md).
Without a registered effects model the records are exactly as before.

The per-account uplift models in the bundle (DR-learners) are not served: on simulated
sources their per-account error is larger than the two-model baseline's and than this
relative effect's, and ranking by them saved less ARR than working down the churn-risk list
(``python -m bench plays``; docs/plays.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.effects_bundle import EffectsBundle

ALL = "all"
CONFOUNDED = "confounded"
"""The evidence of a cell that failed its negative control (``training.effects.falsify``)."""
Z95 = 1.96
"""The normal quantile of the cells' 95% intervals (``training.effects.estimate``)."""
MIN_BASE_RATE = 0.01
"""The treated rows' rate without the play (treated_rate - effect) below which the relative
effect is not computed: dividing by a rate near zero turns noise into huge ratios."""
REQUIRE_SIGNIFICANT = True
"""``expected_arr_saved`` only for plays whose churn interval excludes 0."""


@dataclass(frozen=True)
class Prior:
    """What the label's cells with evidence say about a play effect before a cell's own
    data: effects spread around 0 ("a play does nothing") with variance ``variance``
    (moments over the overall and segment cells; ``pooled_prior``)."""

    variance: float
    cells: int


MIN_PRIOR_CELLS = 3
"""Cells with evidence a label needs for a pooled prior; fewer: each cell shrinks by itself."""


def pooled_prior(effects: EffectsBundle, label: str) -> Prior | None:
    """The label's random-effects prior over its overall and segment cells with evidence
    (lifecycle stages and refused cells leave), **centred on 0** ("a play does nothing"):
    the spread of play effects around 0 beyond the cells' noise, by the method of moments
    with a known mean (``E[sum w e^2] = k + tau^2 sum w``, ``w = 1 / se^2``; 0 when the
    cells are no farther from 0 than their noise). Not towards the cells' inverse-variance
    mean, as before: on the simulated sources it leaned positive on every seed (a harmful
    average for plays that help or do nothing: the confounding the estimates keep, shared by
    every cell), and shrinking towards it served every play as harmful on every account
    (docs/plays.md, "Per-account error"). None with fewer than ``MIN_PRIOR_CELLS`` cells."""
    est, var = [], []
    for row in effects.effects:
        if row["label"] != label or row.get("evidence") != "ok":
            continue
        if str(row["segment"]).startswith("stage:"):
            continue
        low, high, effect = row.get("ci_low"), row.get("ci_high"), row.get("effect")
        if low is None or high is None or effect is None or high <= low:
            continue
        est.append(float(effect))
        var.append(((float(high) - float(low)) / (2.0 * Z95)) ** 2)
    if len(est) < MIN_PRIOR_CELLS:
        return None
    e, v = np.asarray(est), np.asarray(var)
    w = 1.0 / v
    q = float(np.sum(w * e**2))
    tau2 = max(0.0, (q - len(e)) / float(np.sum(w)))
    return Prior(tau2, len(e))


@dataclass(frozen=True)
class RelativeEffect:
    """A play's effect on one label as a share of the rate without it (-0.3: a third less)."""

    relative: float
    """Shrunk towards 0 by the cell's precision (``shrink``): against the label's spread
    with a prior, by itself without one."""
    significant: bool
    segment: str
    shrink: float = 1.0


def label_pair(effects: EffectsBundle) -> tuple[str | None, str | None]:
    """The churn and the expansion label names of the effects (``churn_180d``, ...)."""
    labels = [str(r["label"]) for r in effects.effects]
    churn = next((lb for lb in labels if lb.startswith("churn")), None)
    expand = next((lb for lb in labels if lb.startswith("expand")), None)
    return churn, expand


def relative_effect(
    cell: Mapping[str, Any] | None, prior: Prior | None = None
) -> RelativeEffect | None:
    """The cell's ATT over the treated rows' rate without the play, shrunk by its precision
    (module docstring): with a ``prior``, to the posterior mean ``mean + B (effect - mean)``,
    ``B = variance / (variance + se^2)``; without, towards 0 by ``1 - (se / effect)^2``.
    None when the cell has no evidence, no ``treated_rate``, or a base rate below
    ``MIN_BASE_RATE``."""
    if cell is None or cell.get("evidence") != "ok":
        return None
    effect, rate = cell.get("effect"), cell.get("treated_rate")
    if effect is None or rate is None:
        return None
    base = float(rate) - float(effect)
    if base < MIN_BASE_RATE:
        return None
    low, high = cell.get("ci_low"), cell.get("ci_high")
    significant = low is not None and high is not None and (high < 0 or low > 0)
    shrink, posterior = 1.0, float(effect)
    if low is not None and high is not None:
        se = (float(high) - float(low)) / (2.0 * Z95)
        if prior is not None:
            total = prior.variance + se**2
            shrink = prior.variance / total if total > 0 else 0.0
        elif float(effect) != 0.0:
            shrink = max(0.0, 1.0 - (se / float(effect)) ** 2)
        posterior = shrink * float(effect)
    relative = max(posterior / base, -1.0)
    return RelativeEffect(relative, significant, str(cell["segment"]), shrink)


def cell_effect(
    effects: EffectsBundle,
    play: str,
    label: str,
    segment: str | None,
    prior: Prior | None = None,
    pooled: bool = True,
) -> RelativeEffect | None:
    """The relative effect from the play's cell of ``segment`` if it has evidence, else from
    its ``all`` cell; shrunk with ``prior`` (default: the label's ``pooled_prior``; none
    when not ``pooled``: each cell shrinks towards 0 by itself). A
    segment cell that failed its negative control (``confounded``) gives None: the overall
    cell holds the same confounded rows."""
    if prior is None and pooled:
        prior = pooled_prior(effects, label)
    if segment is not None:
        cell = effects.cell(play, label, str(segment))
        if cell is not None and cell.get("evidence") == CONFOUNDED:
            return None
        found = relative_effect(cell, prior)
        if found is not None:
            return found
    return relative_effect(effects.cell(play, label, ALL), prior)


def account_effect(probability: float, rel: RelativeEffect | None) -> float | None:
    """The change in the account's probability: ``probability x relative``, kept so the
    probability with the play stays in [0, 1]."""
    if rel is None or not np.isfinite(probability):
        return None
    return float(np.clip(probability * rel.relative, -probability, 1.0 - probability))


def arr_saved(
    mrr: float, churn_probability: float, churn_effect: float, cost: float, discount: float
) -> float:
    """A play's expected ARR saved on one account: the ARR (12 x MRR) its churn effect keeps,
    minus the play's cost, minus what a discount gives away on the ARR expected to stay."""
    arr = 12.0 * mrr
    stay = 1.0 - churn_probability - churn_effect
    return arr * -churn_effect - cost - discount * arr * stay


@dataclass(frozen=True)
class ArrParts:
    """A play's expected ARR on one account, by where it comes from (``arr_parts``)."""

    churn: float | None
    """ARR kept from churn: 12 x MRR x -churn_effect; None when not counted."""
    expansion: float | None
    """New ARR: 12 x MRR x expand_effect x the segment's expansion share; None when not
    counted."""
    total: float | None
    """churn + expansion - cost - what a discount gives away; None when neither part is
    counted."""


def arr_parts(
    mrr: float,
    churn_probability: float,
    churn_effect: float | None,
    expand_effect: float | None,
    expansion_share: float | None,
    cost: float,
    discount: float,
) -> ArrParts:
    """``expected_arr_saved`` and its parts. ``churn_effect`` / ``expand_effect`` are the
    account's changes in probability *that count* (None: the part is not counted, e.g. its
    cell's interval holds 0); ``expansion_share`` what one expansion adds, as a share of MRR
    (None: no expansion ARR). The discount gives away its share of the ARR expected to stay
    (with the counted churn effect, none when the churn part is not counted)."""
    if not np.isfinite(mrr):
        return ArrParts(None, None, None)
    arr = 12.0 * mrr
    churn = None if churn_effect is None else arr * -churn_effect
    expansion = (
        None
        if expand_effect is None or expansion_share is None
        else arr * expand_effect * expansion_share
    )
    if churn is None and expansion is None:
        return ArrParts(None, None, None)
    stay = 1.0 - churn_probability - (churn_effect or 0.0)
    total = (churn or 0.0) + (expansion or 0.0) - cost - discount * arr * stay
    return ArrParts(churn, expansion, total)


def _rank_key(play: Mapping[str, Any], position: int) -> tuple[int, float, int]:
    """A fitting play's place in the record: the plays expected to save ARR (highest first),
    then the plays without an ``expected_arr_saved`` (library order), then the plays whose
    estimate says they lose ARR (a harmful effect, or a cost above what they keep; the least
    loss first): a play the estimate says loses money is not the first thing to run."""
    saved = play.get("expected_arr_saved")
    if saved is None:
        return (1, 0.0, position)
    return (0 if saved > 0 else 2, -float(saved), position)


def _cents(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def prescribe(
    hits: Sequence[Sequence[dict[str, Any]]],
    mrr: np.ndarray,
    churn_probability: np.ndarray,
    expand_probability: np.ndarray,
    segment: Sequence[Any] | np.ndarray,
    effects: EffectsBundle,
    costs: Mapping[str, float | None],
    require_significant: bool = REQUIRE_SIGNIFICANT,
    discounts: Mapping[str, float | None] | None = None,
    pooled: bool = True,
    expansion_plays: Collection[str] | None = None,
) -> list[list[dict[str, Any]]]:
    """``hits`` (per account, the fitting plays' dicts) with the effects added and re-ranked.
    The probabilities are the accounts' calibrated ones; ``segment`` their segments;
    ``costs`` and ``discounts`` the library's per play. ``pooled``: shrink every cell to the
    label's pooled prior (``pooled_prior``); False: each cell by itself.
    ``expansion_plays``: the plays whose expansion part counts (None: the plays the library
    scores by expansion, ``hit["score"] == "expansion"``). A churn play's estimated effect on
    expansion is not counted by default: on the prescription bench, counting it for every
    play sent one seed's picks to churn plays whose spurious expansion cells passed the
    negative control (docs/plays.md)."""
    churn_label, expand_label = label_pair(effects)
    cache: dict[tuple[str, str | None, str | None], RelativeEffect | None] = {}
    priors = {
        lb: pooled_prior(effects, lb) if pooled else None
        for lb in (churn_label, expand_label)
        if lb
    }

    def rel(play: str, label: str | None, seg: Any) -> RelativeEffect | None:
        key = (play, label, None if seg is None else str(seg))
        if key not in cache:
            cache[key] = (
                None
                if label is None
                else cell_effect(effects, play, label, key[2], priors.get(label), pooled=False)
            )
        return cache[key]

    def counted(value: float | None, cell: RelativeEffect | None) -> float | None:
        """The account's change that counts towards the ARR: its cell's interval excludes 0
        (or the interval rule is off)."""
        if value is None or cell is None:
            return None
        return value if cell.significant or not require_significant else None

    out: list[list[dict[str, Any]]] = []
    for i, row in enumerate(hits):
        enriched = []
        share = effects.expansion_share(None if segment[i] is None else str(segment[i]))
        for hit in row:
            churn_rel = rel(hit["id"], churn_label, segment[i])
            expand_rel = rel(hit["id"], expand_label, segment[i])
            churn = account_effect(float(churn_probability[i]), churn_rel)
            expand = account_effect(float(expand_probability[i]), expand_rel)
            churn_effect = None if churn is None else round(churn, 4)
            expand_effect = None if expand is None else round(expand, 4)
            parts = arr_parts(
                float(mrr[i]),
                float(churn_probability[i]),
                counted(churn_effect, churn_rel),
                (
                    counted(expand_effect, expand_rel)
                    if (
                        hit.get("score") == "expansion"
                        if expansion_plays is None
                        else hit["id"] in expansion_plays
                    )
                    else None
                ),
                share,
                costs.get(hit["id"]) or 0.0,
                (discounts or {}).get(hit["id"]) or 0.0,
            )
            enriched.append(
                {
                    **hit,
                    "churn_effect": churn_effect,
                    "expand_effect": expand_effect,
                    "expected_arr_saved": _cents(parts.total),
                    "expected_arr_churn": _cents(parts.churn),
                    "expected_arr_expansion": _cents(parts.expansion),
                }
            )
        order = sorted(range(len(enriched)), key=lambda j: _rank_key(enriched[j], j))
        out.append([enriched[j] for j in order])
    return out
