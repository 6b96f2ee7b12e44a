"""The playbook library: the shipped YAML loads; mistakes name the file and the key; plays
match drivers and conditions."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from features.transforms import all_feature_specs
from serving.errors import PlaybookError
from serving.playbooks import load_playbooks
from serving.settings import DEFAULT_PLAYBOOKS

KNOWN = {s.name for s in all_feature_specs()}
GOOD = """
version: 1
playbooks:
  - id: champion_rescue
    title: Champion left
    families: [champions]
    when:
      - {feature: champion_departures_90d, op: ">=", value: 1}
    actions: [Find a new champion]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "plays.yaml"
    path.write_text(text)
    return path


def test_the_shipped_library_loads_and_covers_the_required_plays() -> None:
    library = load_playbooks(DEFAULT_PLAYBOOKS, KNOWN)

    assert {
        "champion_rescue",
        "adoption_campaign",
        "expansion_conversation",
        "escalation_review",
        "onboarding_rescue",
    } <= set(library.ids)
    by_id = {p.id: p for p in library.playbooks}
    assert by_id["expansion_conversation"].score == "expansion"
    assert "executive sponsor" in " ".join(by_id["champion_rescue"].actions)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace('op: ">="', 'op: "=>"'),
            "playbooks[0].when[0].op: Input should be '<', '<=', '>', '>=', '==', '!=', 'in' "
            "or 'not_in'",
        ),
        (
            GOOD.replace("    actions: [Find a new champion]\n", ""),
            "playbooks[0].actions: Field required",
        ),
        (GOOD.replace("[champions]", "[champs]"), "playbooks[0].families[0]: Input should be"),
        (
            GOOD.replace(
                "    title: Champion left\n", "    title: Champion left\n    colour: red\n"
            ),
            "playbooks[0].colour: Extra inputs are not permitted",
        ),
        (
            GOOD.replace("value: 1}", "value: [1, 2]}"),
            "playbooks[0].when[0]: Value error, op '>=' needs a single value",
        ),
        (
            GOOD.replace("champion_departures_90d", "champion_departure_90d"),
            "playbooks[0].when[0].feature: unknown feature 'champion_departure_90d' "
            "(did you mean 'champion_departures_90d'?)",
        ),
        (
            GOOD + GOOD.split("playbooks:\n")[1],
            "playbooks[1].id: duplicate id 'champion_rescue' (also playbooks[0])",
        ),
        ("version: 1\nplaybooks: []\n", "playbooks: List should have at least 1 item"),
        (
            GOOD.replace("[champions]", "[champions, lifecycle]"),
            "playbooks[0]: Value error, families ['lifecycle'] are context (timing, size), "
            "never a cause a play answers; put a `when` condition on their features instead",
        ),
        (
            GOOD.replace("families: [champions]", "features: [days_to_renewal]"),
            "playbooks[0].features[0]: 'days_to_renewal' is context (timing, size), never a "
            "cause a play answers; put a `when` condition on it instead",
        ),
        ("- just\n- a list\n", "(top level): expected a mapping"),
        ("version: 1\nplaybooks:\n  - id: [unclosed\n", "YAML syntax error at line 4"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path, text, message) -> None:
    path = write(tmp_path, text)

    with pytest.raises(PlaybookError) as caught:
        load_playbooks(path, KNOWN)

    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_missing_file_is_named(tmp_path) -> None:
    with pytest.raises(PlaybookError, match=r"nope\.yaml: cannot read the playbook library"):
        load_playbooks(tmp_path / "nope.yaml")


def drivers(*rows: list[str]) -> list[list[dict[str, str | None]]]:
    specs = {s.name: s for s in all_feature_specs()}
    return [
        [{"feature": f, "family": specs[f].family, "signal": specs[f].signal} for f in row]
        for row in rows
    ]


def test_a_play_needs_a_driver_of_its_family_and_its_conditions(tmp_path) -> None:
    library = load_playbooks(write(tmp_path, GOOD), KNOWN)
    # account 0: champion driver and a departure; 1: champion driver, no departure;
    # 2: departure but no champion feature among its drivers up; 3: nothing
    up = drivers(
        ["champion_departures_90d", "seat_utilization_30d"],
        ["champion_departures_90d"],
        ["seat_utilization_30d"],
        [],
    )
    departures = np.array([1.0, 0.0, 2.0, np.nan])

    hits = library.match(
        4,
        {"churn": up, "expansion": drivers([], [], [], [])},
        lambda name: departures if name == "champion_departures_90d" else None,
    )

    assert [[h["id"] for h in row] for row in hits] == [["champion_rescue"], [], [], []]
    assert hits[0][0]["because"] == ["champion_departures_90d"]
    assert hits[0][0]["actions"] == ["Find a new champion"]


def test_conditions_on_text_and_score_fields(tmp_path) -> None:
    text = """
version: 1
playbooks:
  - id: ebr
    title: EBR
    match: all
    when:
      - {feature: risk_tier, op: in, value: [high, critical]}
      - {feature: lifecycle_stage, op: "==", value: renewal}
    actions: [Hold an EBR]
"""
    library = load_playbooks(write(tmp_path, text), KNOWN)
    tiers = np.array(["high", "critical", "low", "high"], dtype=object)
    stages = ["renewal", "renewal", "renewal", None]
    empty = drivers([], [], [], [])

    hits = library.match(
        4, {"churn": empty, "expansion": empty}, {"risk_tier": tiers, "lifecycle_stage": stages}.get
    )

    assert [[h["id"] for h in row] for row in hits] == [["ebr"], ["ebr"], [], []]
    assert hits[0][0]["because"] == ["risk_tier", "lifecycle_stage"]


@pytest.mark.parametrize(
    ("op", "target", "value", "expected"),
    [
        (">=", 1, 1.0, True),
        (">=", 1, 0.5, False),
        (">=", 1, None, False),
        (">=", 1, float("nan"), False),
        (">=", 1, "2", False),  # text is never a number
        ("<", 0.6, 0.59, True),
        ("==", "renewal", "renewal", True),
        ("==", "renewal", 1.0, False),
        ("!=", "renewal", "adoption", True),
        ("!=", "renewal", None, False),
        ("==", 1, 1.0, True),
        ("==", True, 1.0, True),
        ("in", ["high", "critical"], "high", True),
        ("in", [1, 2], 2.0, True),
        ("not_in", ["high"], "low", True),
        ("not_in", ["high"], None, False),
    ],
)
def test_condition_semantics(tmp_path, op, target, value, expected) -> None:
    text = f"""
version: 1
playbooks:
  - id: p
    title: P
    when: [{{feature: nps_last, op: "{op}", value: {json.dumps(target)}}}]
    actions: [Act]
"""
    library = load_playbooks(write(tmp_path, text), KNOWN)
    none = drivers([])

    hits = library.match(1, {"churn": none, "expansion": none}, {"nps_last": [value]}.get)

    assert bool(hits[0]) is expected


def test_array_and_row_matching_agree(models) -> None:
    """Large batches match with array operations, small ones per row: same plays, same
    reasons, on the shipped library and a snapshot with nulls and text columns."""
    from serving.playbooks import DriverColumns
    from serving.scoring import ModelView, ScoringConfig, TableFrame, score_frame
    from tests.serving.helpers import make_table

    library = load_playbooks(DEFAULT_PLAYBOOKS, KNOWN)
    churn, expansion = ModelView(models.churn, "c"), ModelView(models.expansion, "e")
    table = make_table(300, seed=21)
    batch = score_frame(TableFrame(table), churn, expansion, library, ScoringConfig(top_k=3))
    frame = TableFrame(table)
    fields = {
        "churn_probability": batch.churn.probability,
        "expansion_probability": batch.expansion.probability,
        "risk_tier": batch.risk_tier,
    }

    def values(name):
        return fields[name] if name in fields else frame.column(name)

    drivers = {
        "churn": batch.churn.reasons.actionable_up,
        "expansion": batch.expansion.reasons.actionable_up,
    }
    columns = {
        name: DriverColumns(
            explained.reasons.actionable_columns,
            view.names,
            view.family_or_none,
            view.signals,
        )
        for name, explained, view in (
            ("churn", batch.churn, churn),
            ("expansion", batch.expansion, expansion),
        )
    }

    arrays = library.match(batch.n, drivers, values, columns)
    rows = library.match(batch.n, drivers, values)

    assert arrays == rows
    assert arrays == batch.playbooks
    assert sum(len(r) for r in rows) > 50
    assert len({p["id"] for r in rows for p in r}) >= 4
