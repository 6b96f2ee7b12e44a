"""The cause benchmark's arithmetic (bench/reasons_bench.py) on hand-made rows."""

from __future__ import annotations

import pytest

from bench.reasons_bench import (
    BARS,
    KINDS,
    cause_agreement,
    disagreement_kind,
    disagreements,
    pool_agreement,
    pool_disagreements,
    report,
)

FAMILIES = {
    "champions": ("champions",),
    "support": ("support",),
    "value": ("voice_of_customer", "usage_depth"),
}


def test_agreement_counts_a_hit_per_accepted_family_and_skips_rows_without_a_cause() -> None:
    predicted = ["champions", "usage_depth", "support", None, "usage_depth", "champions"]
    causes = ["champions", "value", "champions", "support", None, "value"]

    out = cause_agreement(predicted, causes, FAMILIES)

    assert out["rows"] == 5  # the row without a true cause is left out
    assert out["agreement"] == pytest.approx(2 / 5)
    assert out["by_cause"] == {
        "champions": {"rows": 2, "agreement": 0.5},
        "support": {"rows": 1, "agreement": 0.0},
        "value": {"rows": 2, "agreement": 0.5},
    }
    assert out["confusion"] == {
        "champions": {"champions": 1, "support": 1},
        "value": {"usage_depth": 1, "champions": 1},
        "support": {"(none)": 1},
    }


def test_no_rows_means_no_agreement() -> None:
    assert cause_agreement([None], [None], FAMILIES)["agreement"] is None


def _run(seed: int, support: float) -> dict:
    return {
        "accounts": 2000,
        "months": 36,
        "seed": seed,
        "cutoff": "2025-08-01",
        "held_out_rows": 8000,
        "top_rows": 800,
        "min_top_probability": 0.2,
        "bars": BARS,
        "agreement": 0.6,
        "rows": 799,
        "by_cause": {"support": {"rows": 30, "agreement": support}},
        "baselines": {"ceiling": 0.7},
        "ceiling_by_cause": {"support": 0.1},
        "confusion": {"support": {"usage_depth": 20, "support": 10}},
        "main_reason_features": {"nps_last": 10},
        "seconds": {},
    }


def test_the_report_judges_each_seed_on_its_own() -> None:
    lines = report({"runs": [_run(11, 0.5), _run(23, 0.2)]})

    heads = [line for line in lines if line.startswith("2,000 accounts")]
    assert [h.split("(")[1].split(")")[0] for h in heads] == [
        "seed 11, session 8 chose its floor on it",
        "seed 23, check: nothing chosen on it",
    ]
    support = [line for line in lines if "true cause support" in line]
    assert support[0].endswith("agreement 50% (bar >= 50%: met)")
    assert support[1].endswith("agreement 20% (bar >= 50%: NOT met)")
    assert sum("bar >= 70%: NOT met" in line for line in lines) == 2


def test_pooling_adds_the_seeds_confusion_tables() -> None:
    one = cause_agreement(["support", "usage_depth"], ["support", "value"], FAMILIES)
    two = cause_agreement(
        ["usage_depth", "support", "champions"], ["support", "support", "value"], FAMILIES
    )

    pooled = pool_agreement([one, two], FAMILIES)

    assert pooled["rows"] == 5
    assert pooled["agreement"] == pytest.approx(3 / 5)
    assert pooled["by_cause"] == {
        "support": {"rows": 3, "agreement": pytest.approx(2 / 3)},
        "value": {"rows": 2, "agreement": 0.5},
    }
    assert pooled["confusion"]["support"] == {"support": 2, "usage_depth": 1}
    # the same as one run over all the rows
    every = cause_agreement(
        ["support", "usage_depth", "usage_depth", "support", "champions"],
        ["support", "value", "support", "support", "value"],
        FAMILIES,
    )
    assert pooled["agreement"] == pytest.approx(every["agreement"])


def test_the_report_judges_the_pooled_rows_too() -> None:
    runs = [_run(11, 0.5), _run(23, 0.2)]
    pooled = {**pool_agreement(runs, {"support": ("support",)}), "bars": BARS}

    lines = report({"runs": runs, "pooled": pooled})

    at = lines.index("pooled over seeds 11, 23:")
    assert "of 60 rows" in lines[at + 1]
    assert lines[at + 2].endswith("agreement 33% (bar >= 50%: NOT met)")


def _causes(**values: float) -> dict[str, float]:
    return {"champions": 0.0, "support": 0.0, "value": 0.0, **values}


def test_a_miss_is_the_truths_when_the_named_familys_cause_nearly_ties() -> None:
    pushes = {"champions": 0.1, "support": 0.05, "usage_depth": 0.9}
    # named usage depth (the value cause's) for a lost champion: value 0.8 of champions 1.0
    kind = disagreement_kind(
        "usage_depth", "champions", _causes(champions=1.0, value=0.8), pushes, FAMILIES
    )
    assert kind == "close causes"
    # value at 0.7 of the top is not a near tie: the model pushed usage depth more
    kind = disagreement_kind(
        "usage_depth", "champions", _causes(champions=1.0, value=0.7), pushes, FAMILIES
    )
    assert kind == "another family pushed more"


def test_a_miss_is_the_attributions_when_the_true_family_is_not_pushed_up() -> None:
    pushes = {"champions": 0.3, "support": 0.019, "usage_depth": 0.9}
    kind = disagreement_kind("champions", "support", _causes(support=0.5), pushes, FAMILIES)
    assert kind == "true family not pushed up"
    pushes["support"] = 0.02
    kind = disagreement_kind("champions", "support", _causes(support=0.5), pushes, FAMILIES)
    assert kind == "another family pushed more"


def test_a_miss_is_the_rules_when_the_true_family_pushed_most() -> None:
    pushes = {"champions": 0.1, "support": 0.05, "usage_depth": 0.9}
    # value accepts usage depth, which pushed most; the rule named support
    kind = disagreement_kind("support", "value", _causes(value=1.0), pushes, FAMILIES)
    assert kind == "true family pushed most"
    assert disagreement_kind("usage_depth", "value", _causes(value=1.0), pushes, FAMILIES) is None
    # no main reason at all, the true family pushing most: the rule's miss too
    assert disagreement_kind(None, "value", _causes(value=1.0), pushes, FAMILIES) == KINDS[3]


def test_disagreements_count_per_true_cause_and_pool_across_runs() -> None:
    pushes = {"champions": 0.1, "support": 0.0, "usage_depth": 0.9}
    rows = [
        ("usage_depth", "champions", _causes(champions=1.0)),  # another pushed more
        ("champions", "champions", _causes(champions=1.0)),  # agrees
        ("usage_depth", "support", _causes(support=0.4)),  # support not pushed up
        ("usage_depth", None, _causes()),  # no true cause: left out
        ("champions", "value", _causes(value=1.0)),  # usage depth pushed most
    ]
    predicted, causes, values = zip(*rows, strict=True)

    out = disagreements(predicted, causes, values, [pushes] * len(rows), FAMILIES)

    assert out == {
        "champions": {"another family pushed more": 1},
        "support": {"true family not pushed up": 1},
        "value": {"true family pushed most": 1},
    }
    pooled = pool_disagreements([{"disagreements": out}, {"disagreements": out}, {}])
    assert pooled["champions"] == {"another family pushed more": 2}
    lines = report({"runs": [{**_run(11, 0.5), "disagreements": out}]})
    expected = (
        "  all          true family not pushed up 1, another family pushed more 1, "
        "true family pushed most 1"
    )
    assert expected in lines
