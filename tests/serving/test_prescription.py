"""Prescription: fitting plays get the relative effect of their evidence cell applied to the
account's own probabilities, and are ranked by revenue at risk x relative uplift."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from features.effects_bundle import EffectsBundle, load_effects_bundle, save_effects_bundle
from features.model_bundle import FeatureColumn
from serving.prescription import pooled_prior, prescribe, relative_effect

NO = "not enough evidence"
HALF = 0.75
"""The served share of a cell's effect whose standard error is half of it: 1 - 0.5^2."""


def _ci(effect: float, se_share: float = 0.5) -> tuple[float, float]:
    """A 95% interval whose standard error is ``se_share`` x |effect|."""
    half = 1.96 * se_share * abs(effect)
    return (effect - half, effect + half)


def _cell(
    play: str,
    segment: str,
    effect: float | None,
    rate: float | None,
    ci: tuple[float, float] | None,
    label: str = "churn_180d",
) -> dict[str, Any]:
    ok = effect is not None
    return {
        "play": play,
        "label": label,
        "segment": segment,
        "effect": effect,
        "ci_low": ci[0] if ci else None,
        "ci_high": ci[1] if ci else None,
        "treated_rate": rate,
        "evidence": "ok" if ok else NO,
    }


def _bundle() -> EffectsBundle:
    rows = [
        # rescue: a quarter less churn overall (-0.10 on a 0.40 base), half in smb, and no
        # evidence in ent (the overall cell stands in)
        _cell("rescue", "all", -0.10, 0.30, _ci(-0.10)),
        _cell("rescue", "smb", -0.20, 0.20, _ci(-0.20)),
        _cell("rescue", "ent", None, None, None),
        # review: a tenth less churn (-0.05 on 0.50), three tenths more expansion
        _cell("review", "all", -0.05, 0.45, _ci(-0.05)),
        _cell("review", "all", 0.06, 0.26, _ci(0.06), label="expand_180d"),
        # guides: too few runs
        _cell("guides", "all", None, None, None),
        # nudge: a fifth less churn (-0.04 on 0.20), but its interval holds 0 (se 0.6 x 0.04)
        _cell("nudge", "all", -0.04, 0.16, _ci(-0.04, 0.6)),
    ]
    return EffectsBundle(columns=[FeatureColumn("x")], effects=rows)


def _hit(play: str, score: str = "churn") -> dict:
    return {"id": play, "title": play, "score": score, "actions": ["a"], "owner": "csm"}


def _prescribe(
    bundle: EffectsBundle,
    mrr: list[float],
    p_churn: list[float],
    segment: list[str | None],
    plays: tuple[str, ...] = ("guides", "nudge", "review", "rescue"),
    p_expand: list[float] | None = None,
    pooled: bool = False,
) -> list[list[dict[str, Any]]]:
    """Each cell shrunk by itself unless ``pooled`` (the arithmetic of the tests below); the
    expansion part counted for every play (the served default counts it for expansion plays
    only: tested on its own below)."""
    n = len(mrr)
    return prescribe(
        [[_hit(p) for p in plays] for _ in range(n)],
        np.asarray(mrr, dtype=float),
        np.asarray(p_churn, dtype=float),
        np.asarray(p_expand if p_expand is not None else [0.5] * n, dtype=float),
        segment,
        bundle,
        {"review": 100.0},
        pooled=pooled,
        expansion_plays=set(plays),
    )


def test_the_segment_cell_s_relative_effect_scales_the_account_s_own_risk(
    tmp_path: Path,
) -> None:
    bundle = load_effects_bundle(save_effects_bundle(_bundle(), tmp_path / "effects"))
    smb, ent = _prescribe(bundle, [1000.0, 1000.0], [0.4, 0.4], ["smb", "ent"])

    # smb: rescue halves the 0.4 churn probability, shrunk by its standard error (half the
    # effect: 3/4 kept): -0.15, saving 12,000 x 0.15 = 1,800; review cuts it by a tenth,
    # shrunk: -0.03, 12,000 x 0.03 - 100 = 260
    assert [p["id"] for p in smb] == ["rescue", "review", "guides", "nudge"]
    assert smb[0]["churn_effect"] == pytest.approx(-0.2 * HALF)
    assert smb[0]["expected_arr_saved"] == pytest.approx(1800.0)
    assert smb[1]["churn_effect"] == pytest.approx(-0.04 * HALF)
    assert smb[1]["expected_arr_saved"] == pytest.approx(260.0)
    # expansion: 0.5 x 0.06 / 0.20 = +0.15, shrunk; rescue has no expansion cell
    assert smb[1]["expand_effect"] == pytest.approx(0.15 * HALF, abs=1e-4)
    assert smb[0]["expand_effect"] is None
    # ent has no evidence for rescue: the overall cell's quarter, -0.1 shrunk, 900
    assert ent[0]["id"] == "rescue"
    assert ent[0]["churn_effect"] == pytest.approx(-0.1 * HALF)
    assert ent[0]["expected_arr_saved"] == pytest.approx(900.0)


def test_plays_without_evidence_or_with_an_interval_holding_zero_save_nothing() -> None:
    (plays,) = _prescribe(_bundle(), [1000.0], [0.4], [None])
    by_id = {p["id"]: p for p in plays}
    # guides has too few runs: no effect at all, ranked after the plays with a saving
    assert by_id["guides"] == {**_hit("guides"), "churn_effect": None, "expand_effect": None,
                               "expected_arr_saved": None, "expected_arr_churn": None,
                               "expected_arr_expansion": None}  # fmt: skip
    # nudge's estimate is shown (0.4 x -0.2, shrunk to 1 - 0.6^2 = 0.64 of itself), but it
    # is not promised to save anything
    assert by_id["nudge"]["churn_effect"] == pytest.approx(-0.08 * 0.64, abs=1e-4)
    assert by_id["nudge"]["expected_arr_saved"] is None
    assert [p["id"] for p in plays] == ["rescue", "review", "guides", "nudge"]


def test_a_play_expected_to_lose_arr_ranks_after_the_plays_without_an_estimate() -> None:
    cells = [
        # harm: more churn, and its interval excludes 0 (the saving is counted: a loss)
        _cell("harm", "all", 0.10, 0.40, _ci(0.10, 0.25)),
        _cell("rescue", "all", -0.10, 0.30, _ci(-0.10)),
        _cell("guides", "all", None, None, None),
    ]
    bundle = EffectsBundle([FeatureColumn("x")], cells)
    (plays,) = _prescribe(bundle, [1000.0], [0.4], [None], plays=("harm", "guides", "rescue"))
    by_id = {p["id"]: p for p in plays}
    assert by_id["harm"]["expected_arr_saved"] < 0 < by_id["rescue"]["expected_arr_saved"]
    assert by_id["guides"]["expected_arr_saved"] is None
    # the saving first, then the play with no estimate, then the one estimated to lose ARR
    assert [p["id"] for p in plays] == ["rescue", "guides", "harm"]
    (alone,) = _prescribe(bundle, [1000.0], [0.4], [None], plays=("harm", "guides"))
    assert [p["id"] for p in alone] == ["guides", "harm"]


def test_accounts_rank_by_revenue_at_risk_times_relative_effect() -> None:
    # same play, same cell: the saving is 12 x mrr x p x a quarter, whatever mrr or p alone say
    mrr = [2000.0, 500.0, 3000.0]
    p = [0.1, 0.6, 0.02]
    out = _prescribe(_bundle(), mrr, p, ["ent", "ent", "ent"], plays=("rescue",))
    saved = [row[0]["expected_arr_saved"] for row in out]
    expected = [12 * m * q * 0.25 * HALF for m, q in zip(mrr, p, strict=True)]
    assert saved == pytest.approx(expected, rel=0.02)  # churn_effect is rounded to 4 places
    assert np.argsort(saved).tolist() == [2, 0, 1]  # revenue at risk 720 < 2,400 < 3,600


def test_an_account_without_mrr_has_effects_but_no_arr() -> None:
    (plays,) = _prescribe(_bundle(), [float("nan")], [0.4], ["smb"], plays=("rescue",))
    assert plays[0]["churn_effect"] == pytest.approx(-0.2 * HALF)
    assert plays[0]["expected_arr_saved"] is None


def test_the_relative_effect_needs_a_base_rate_and_keeps_probabilities_in_range() -> None:
    # an effects model without treated_rate (fitted before it existed) gives no effect
    assert relative_effect({**_cell("a", "all", -0.1, None, (-0.2, -0.05))}) is None
    # a rate without the play of ~0 would turn noise into a huge ratio: no effect
    assert relative_effect(_cell("a", "all", -0.1, -0.095, (-0.2, -0.05))) is None
    rel = relative_effect(_cell("a", "all", -0.1, 0.3, _ci(-0.1)))
    assert rel is not None and rel.relative == pytest.approx(-0.25 * HALF) and rel.significant
    # a churn increase cannot push the probability above 1
    bundle = EffectsBundle([FeatureColumn("x")], [_cell("harm", "all", 0.3, 0.4, (0.2, 0.4))])
    (plays,) = _prescribe(bundle, [100.0], [0.9], [None], plays=("harm",))
    assert plays[0]["churn_effect"] == pytest.approx(0.1)  # 0.9 x 3 clipped to 1 - 0.9
    assert plays[0]["expected_arr_saved"] == pytest.approx(-120.0)


def test_a_cell_is_served_shrunk_by_its_precision() -> None:
    # within one standard error of 0: nothing is served, whatever the point estimate
    noisy = relative_effect(_cell("a", "all", -0.1, 0.3, _ci(-0.1, 1.2)))
    assert noisy is not None and noisy.relative == 0.0 and not noisy.significant
    # four standard errors from 0: 1 - 1/16 of it
    sharp = relative_effect(_cell("a", "all", -0.1, 0.3, _ci(-0.1, 0.25)))
    assert sharp is not None and sharp.relative == pytest.approx(-0.25 * (1 - 1 / 16))
    # a cell without an interval (none recorded) is served as estimated
    bare = relative_effect(_cell("a", "all", -0.1, 0.3, None))
    assert bare is not None and bare.relative == pytest.approx(-0.25)


def test_a_discount_gives_away_its_share_of_the_arr_expected_to_stay() -> None:
    bundle = EffectsBundle([FeatureColumn("x")], [_cell("deal", "all", -0.1, 0.3, _ci(-0.1))])
    (plays,) = prescribe(
        [[_hit("deal")]],
        np.array([1000.0]),
        np.array([0.4]),
        np.array([0.5]),
        [None],
        bundle,
        {},
        discounts={"deal": 0.15},
        pooled=False,
    )
    # churn 0.4 -> 0.325 (a quarter less, shrunk to 3/4); the 0.675 that stays pays 15% less:
    # 12,000 x 0.075 - 0.15 x 12,000 x 0.675 = 900 - 1,215
    assert plays[0]["churn_effect"] == pytest.approx(-0.075)
    assert plays[0]["expected_arr_saved"] == pytest.approx(900.0 - 1215.0)


def test_cells_shrink_towards_no_effect_by_the_label_s_spread() -> None:
    cells = [
        _cell("a", "all", -0.04, 0.3, (-0.06, -0.02)),  # se 0.0102
        _cell("b", "all", -0.05, 0.3, (-0.07, -0.03)),
        _cell("c", "all", -0.03, 0.3, (-0.05, -0.01)),
        # a small cell whose estimate is far out, and whose interval still excludes 0
        _cell("lucky", "smb", -0.20, 0.3, (-0.30, -0.10)),
    ]
    bundle = EffectsBundle([FeatureColumn("x")], cells)
    prior = pooled_prior(bundle, "churn_180d")
    assert prior is not None and prior.cells == 4
    # the spread around 0 by moments: (sum w e^2 - k) / sum w, w = 1 / se^2
    w = np.array([1 / (0.02 / 1.96) ** 2] * 3 + [1 / (0.1 / 1.96) ** 2])
    e = np.array([-0.04, -0.05, -0.03, -0.20])
    tau2 = (np.sum(w * e**2) - 4) / np.sum(w)
    assert prior.variance == pytest.approx(tau2)
    lucky = relative_effect(cells[3], prior)
    alone = relative_effect(cells[3])
    assert lucky is not None and alone is not None
    se = 0.1 / 1.96
    assert lucky.relative == pytest.approx(-0.2 * tau2 / (tau2 + se**2) / 0.5)
    # alone it keeps (1 - 0.065) of -0.2; with the prior, under half of it (the other
    # cells say effects lie about 0.045 from 0, and its standard error is 0.051)
    assert alone.relative == pytest.approx(-0.2 * (1 - (se / 0.2) ** 2) / 0.5, rel=1e-3)
    assert alone.relative < 0.5 * alone.relative < lucky.relative < 0
    assert lucky.significant  # its own interval decides whether a saving is promised
    # a precise cell keeps nearly all of itself
    precise = relative_effect(cells[1], prior)
    assert precise is not None and -0.05 / 0.35 < precise.relative < 0.9 * -0.05 / 0.35
    # four cells that share a lean but lie within their noise of 0: no spread, and every
    # cell serves no effect, not the lean (shrinking to their mean served it everywhere)
    lean = [_cell(p, "all", 0.01, 0.3, (-0.01, 0.03)) for p in ("a", "b", "c", "d")]
    flat = pooled_prior(EffectsBundle([FeatureColumn("x")], lean), "churn_180d")
    assert flat is not None and flat.variance == 0.0
    rel = relative_effect(lean[1], flat)
    assert rel is not None and rel.relative == 0.0
    # fewer than three cells: no prior
    assert pooled_prior(EffectsBundle([FeatureColumn("x")], lean[:2]), "churn_180d") is None


def test_a_confounded_cell_serves_nothing_and_the_overall_cell_does_not_stand_in() -> None:
    cells = [
        _cell("rescue", "all", -0.10, 0.30, _ci(-0.10)),
        {**_cell("rescue", "smb", -0.20, 0.20, _ci(-0.20)), "evidence": "confounded"},
        {**_cell("check_in", "all", -0.08, 0.30, _ci(-0.08)), "evidence": "confounded"},
    ]
    bundle = EffectsBundle([FeatureColumn("x")], cells)
    smb, ent = _prescribe(
        bundle, [1000.0, 1000.0], [0.4, 0.4], ["smb", "ent"], plays=("check_in", "rescue")
    )
    for plays in (smb, ent):
        check_in = next(p for p in plays if p["id"] == "check_in")
        assert check_in["churn_effect"] is None and check_in["expected_arr_saved"] is None
    rescue_smb = next(p for p in smb if p["id"] == "rescue")
    assert rescue_smb["churn_effect"] is None and rescue_smb["expected_arr_saved"] is None
    # ent has no cell of its own: the overall cell (not confounded) serves it
    assert ent[0]["id"] == "rescue" and ent[0]["expected_arr_saved"] == pytest.approx(900.0)


def _with_shares(bundle: EffectsBundle, shares: dict[str, float]) -> EffectsBundle:
    return EffectsBundle(bundle.columns, bundle.effects, metadata={"expansion_share": shares})


def test_expansion_counts_the_new_arr_of_the_expansions_a_play_adds(tmp_path: Path) -> None:
    shares = {"all": 0.5, "smb": 0.2}
    bundle = load_effects_bundle(
        save_effects_bundle(_with_shares(_bundle(), shares), tmp_path / "effects")
    )
    smb, other = _prescribe(
        bundle, [1000.0, 1000.0], [0.4, 0.4], ["smb", "ent"], plays=("review", "rescue")
    )
    # review: churn -0.03 (12,000 x 0.03 = 360 kept) and expansion 0.5 x 0.06 / 0.20 = +0.15,
    # shrunk to 3/4: +0.1125 more likely to expand; an smb expansion adds a fifth of the MRR:
    # 12,000 x 0.1125 x 0.2 = 270 new ARR; minus the cost of 100
    review = next(p for p in smb if p["id"] == "review")
    assert review["expected_arr_churn"] == pytest.approx(360.0)
    assert review["expected_arr_expansion"] == pytest.approx(270.0)
    assert review["expected_arr_saved"] == pytest.approx(360.0 + 270.0 - 100.0)
    # rescue has no expansion cell: churn only, as before (1,800 in smb)
    assert smb[0]["id"] == "rescue" and smb[0]["expected_arr_expansion"] is None
    assert smb[0]["expected_arr_saved"] == pytest.approx(smb[0]["expected_arr_churn"])
    # ent has no share of its own: the book's half (12,000 x 0.1125 x 0.5 = 675)
    review = next(p for p in other if p["id"] == "review")
    assert review["expected_arr_expansion"] == pytest.approx(675.0)
    assert review["expected_arr_saved"] == pytest.approx(360.0 + 675.0 - 100.0)
    # and so outranks rescue there (the overall cell: 900)
    assert [p["id"] for p in other] == ["review", "rescue"]


def test_an_expansion_play_without_a_churn_effect_ranks_by_its_new_arr() -> None:
    cells = [
        _cell("upsell", "all", 0.05, 0.25, _ci(0.05), label="expand_180d"),
        _cell("upsell", "all", -0.01, 0.10, _ci(-0.01, 1.0)),  # churn: interval holds 0
        _cell("noisy", "all", 0.05, 0.25, _ci(0.05, 0.6), label="expand_180d"),
    ]
    base = EffectsBundle([FeatureColumn("x")], cells)
    (plain,) = _prescribe(base, [1000.0], [0.1], [None], plays=("noisy", "upsell"))
    # without an expansion share (an effects model fitted before it): nothing is promised
    assert all(p["expected_arr_saved"] is None for p in plain)
    (plays,) = _prescribe(
        _with_shares(base, {"all": 0.4}), [1000.0], [0.1], [None], plays=("noisy", "upsell")
    )
    upsell = plays[0]
    # 0.5 x 0.05 / 0.20 = +0.125, shrunk to 3/4; 12,000 x 0.09375 x 0.4 = 450
    assert upsell["id"] == "upsell"
    assert upsell["expand_effect"] == pytest.approx(0.09375, abs=1e-4)
    assert upsell["expected_arr_churn"] is None
    assert upsell["expected_arr_expansion"] == pytest.approx(450.0, rel=1e-3)
    assert upsell["expected_arr_saved"] == pytest.approx(450.0, rel=1e-3)
    # noisy's expansion interval holds 0: shown, not counted
    assert plays[1]["expand_effect"] is not None and plays[1]["expected_arr_saved"] is None


def test_the_expansion_part_counts_for_the_plays_for_expansion_by_default() -> None:
    bundle = _with_shares(_bundle(), {"all": 0.5})
    ((every,),) = _prescribe(bundle, [1000.0], [0.4], [None], plays=("review",))

    def served(score: str) -> dict[str, Any]:
        (row,) = prescribe(
            [[_hit("review", score)]],
            np.array([1000.0]),
            np.array([0.4]),
            np.array([0.5]),
            [None],
            bundle,
            {"review": 100.0},
            pooled=False,
        )
        return row[0]

    # review as a churn play: its expansion estimate is shown, not counted
    as_churn_play = served("churn")
    assert every["expected_arr_expansion"] == pytest.approx(675.0)
    assert as_churn_play["expand_effect"] == every["expand_effect"]
    assert as_churn_play["expected_arr_expansion"] is None
    assert as_churn_play["expected_arr_saved"] == pytest.approx(360.0 - 100.0)
    # the same play scored by expansion in the library: counted
    as_expansion_play = served("expansion")
    assert as_expansion_play["expected_arr_expansion"] == pytest.approx(675.0)
    assert as_expansion_play["expected_arr_saved"] == pytest.approx(360.0 + 675.0 - 100.0)
