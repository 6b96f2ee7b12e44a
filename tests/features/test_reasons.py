"""Reasons on hand-made values: signals, context vs. actionable, yardsticks, noise, missing."""

from __future__ import annotations

import numpy as np
import pytest

from features.metadata import FeatureSpec
from features.reasons import (
    PeerReference,
    ReasonBook,
    ReasonConfig,
    peer_reference,
    top_columns,
)
from features.transforms import all_feature_specs

SPECS = {s.name: s for s in all_feature_specs()}
NAMES = [
    "days_to_renewal",  # context, signal renewal_timing
    "term_elapsed_fraction",  # context (override), renewal_timing
    "active_users_30d",  # actionable, active_users
    "active_users_change_30d",  # actionable, active_users (its trend)
    "champion_departures_90d",  # actionable, champion_departures
    "quota_burn_ratio",  # actionable, quota_pace
    "region",  # context (commercial), categorical
]
REGIONS = ("NY", "CA")


def book(reference: PeerReference | None = None, **config: float) -> ReasonBook:
    return ReasonBook(
        NAMES,
        [SPECS[n] for n in NAMES],
        [REGIONS if n == "region" else None for n in NAMES],
        reference,
        ReasonConfig(**config),
    )


def row(**values: float) -> np.ndarray:
    return np.array([[values.get(n, np.nan) for n in NAMES]])


def contributions(**values: float) -> np.ndarray:
    return np.array([[values.get(n, 0.0) for n in NAMES]])


def test_roles_and_signals_come_from_the_metadata() -> None:
    assert SPECS["days_to_renewal"].role == "context"
    assert SPECS["term_elapsed_fraction"].role == "context"  # consumption family, but timing
    assert SPECS["region"].role == "context" and SPECS["segment"].role == "context"
    assert SPECS["champion_departures_90d"].role == "actionable"
    assert SPECS["days_to_renewal"].signal == SPECS["term_elapsed_fraction"].signal
    assert SPECS["active_users_7d"].signal == SPECS["active_users_change_30d"].signal
    assert SPECS["nps_last"].signal != SPECS["csat_last"].signal
    # recorded as a CS activity, an escalation shows support pain
    assert SPECS["escalations_90d"].family == "support"
    assert SPECS["escalations_90d"].requires == ("activities",)
    spec = SPECS["quota_burn_ratio"]
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    old = {k: v for k, v in spec.to_dict().items() if k not in ("role", "signal", "missing")}
    assert FeatureSpec.from_dict({**old, "added_later": 1}) == spec  # older metadata reads


def test_a_signal_is_one_driver_whose_contribution_is_its_members_sum() -> None:
    c = contributions(days_to_renewal=0.5, term_elapsed_fraction=0.3, active_users_30d=0.2)
    c[0, NAMES.index("active_users_change_30d")] = 0.15

    reasons = book().explain(c, row(days_to_renewal=35, term_elapsed_fraction=0.9), 5)

    up = reasons.up[0]
    assert [(d["signal"], round(d["contribution"], 9)) for d in up] == [
        ("renewal_timing", 0.8),
        ("active_users", 0.35),
    ]
    assert up[0]["feature"] == "days_to_renewal"  # the member pushing hardest names it
    assert up[0]["reason"] == "Renewal in 35 days"  # said once, no "90% of the term elapsed"
    assert sum(reasons.signal_contributions[0]) == pytest.approx(c.sum())


def test_the_named_member_pushes_in_the_signals_direction() -> None:
    c = contributions(active_users_30d=-0.4, active_users_change_30d=0.1)

    reasons = book().explain(c, row(active_users_30d=12, active_users_change_30d=0.05), 5)

    (down,) = reasons.down[0]
    assert down["feature"] == "active_users_30d"
    assert down["contribution"] == pytest.approx(-0.3)


def test_main_reason_is_actionable_even_when_context_leads() -> None:
    c = contributions(days_to_renewal=1.2, champion_departures_90d=0.4, region=0.9)

    reasons = book().explain(c, row(days_to_renewal=35, champion_departures_90d=1, region=0), 5)

    assert [d["signal"] for d in reasons.up[0]] == [
        "renewal_timing",
        "region",
        "champion_departures",
    ]
    main = reasons.main[0]
    assert main["feature"] == "champion_departures_90d" and main["family"] == "champions"
    assert main["reason"] == "1 champion(s) left in the last 90 days"
    assert [d["reason"] for d in reasons.context[0]] == ["Renewal in 35 days", "Region: NY"]
    assert [d["feature"] for d in reasons.actionable_up[0]] == ["champion_departures_90d"]
    assert reasons.actionable_columns[0].tolist()[:1] == [NAMES.index("champion_departures_90d")]


def test_no_main_reason_without_an_actionable_driver_up() -> None:
    c = contributions(days_to_renewal=1.0, champion_departures_90d=-0.5)

    reasons = book().explain(c, row(days_to_renewal=10, champion_departures_90d=0), 5)

    assert reasons.main[0] is None
    assert reasons.context[0][0]["reason"] == "Renewal in 10 days"


def test_small_drivers_are_noise_and_left_out() -> None:
    c = contributions(champion_departures_90d=0.019, active_users_30d=-0.01, quota_burn_ratio=0.3)

    reasons = book(min_contribution=0.02).explain(
        c, row(champion_departures_90d=0, active_users_30d=5, quota_burn_ratio=1.5), 5
    )

    assert [d["feature"] for d in reasons.up[0]] == ["quota_burn_ratio"]
    assert reasons.down[0] == []
    assert reasons.main[0]["feature"] == "quota_burn_ratio"


def test_a_missing_value_says_what_it_means_and_leads_only_when_large() -> None:
    small = contributions(quota_burn_ratio=0.2, active_users_30d=0.1)
    large = contributions(quota_burn_ratio=0.4, active_users_30d=0.1)
    values = row(active_users_30d=3)  # quota_burn_ratio missing: no quota this term

    first = book(missing_main_min=0.25).explain(small, values, 5)
    second = book(missing_main_min=0.25).explain(large, values, 5)

    assert first.up[0][0]["reason"] == "No metered quota in the current term"
    assert first.up[0][0]["value"] is None
    assert first.main[0]["feature"] == "active_users_30d"
    assert second.main[0]["feature"] == "quota_burn_ratio"


def uniform_reference() -> PeerReference:
    """0..100 uniform for active_users_30d in smb; 60% zeros for champion departures."""
    matrix = np.full((1000, len(NAMES)), np.nan)
    matrix[:, NAMES.index("active_users_30d")] = np.linspace(0, 100, 1000)
    departures = np.zeros(1000)
    departures[600:900] = 1
    departures[900:] = 2
    matrix[:, NAMES.index("champion_departures_90d")] = departures
    groups = np.array(["smb"] * 1000, dtype=object)
    numeric = [n != "region" for n in NAMES]
    return peer_reference(matrix, NAMES, numeric, groups)


@pytest.mark.parametrize(
    ("value", "peer", "clause"),
    [
        (10.0, "smb", "lower than 90% of smb accounts"),
        (96.0, "smb", "higher than 96% of smb accounts"),
        (50.0, "smb", "typical of smb accounts"),
        (10.0, "mid_market", "lower than 90% of accounts"),  # no mid-market peers: everyone
    ],
)
def test_peers_say_whether_a_value_is_unusual(value, peer, clause) -> None:
    c = contributions(active_users_30d=0.5)

    reasons = book(uniform_reference()).explain(c, row(active_users_30d=value), 5, [peer])

    assert reasons.up[0][0]["reason"] == f"{value:,.0f} users active in the last 30 days ({clause})"


def test_ties_count_on_neither_side() -> None:
    """60% of peers have no departure: one departure is higher than those 60%, two is
    higher than 90%, zero is lower than nobody's share of 75%."""
    reference = uniform_reference()
    b = book(reference)

    def reason(departures: float) -> str:
        c = contributions(champion_departures_90d=0.5)
        return b.explain(c, row(champion_departures_90d=departures), 5, ["smb"]).up[0][0]["reason"]

    assert reason(0).endswith("(typical of smb accounts)")
    assert reason(1).endswith("(typical of smb accounts)")  # 60% below, 10% above
    assert reason(2).endswith("(higher than 90% of smb accounts)")


def test_the_own_past_is_a_clause_of_the_level() -> None:
    c = contributions(active_users_30d=0.6, active_users_change_30d=0.2)

    reasons = book().explain(c, row(active_users_30d=12, active_users_change_30d=-0.4), 5)

    assert reasons.up[0][0]["reason"] == (
        "12 users active in the last 30 days (down 40% on the previous 30 days)"
    )


def test_context_facts_carry_no_yardstick() -> None:
    reference = peer_reference(
        np.tile(np.arange(100.0)[:, None], (1, len(NAMES))),
        NAMES,
        [n != "region" for n in NAMES],
        None,
    )
    c = contributions(days_to_renewal=0.5)

    reasons = book(reference).explain(c, row(days_to_renewal=3), 5)

    assert reasons.up[0][0]["reason"] == "Renewal in 3 days"


def test_the_reference_round_trips_and_rejects_other_levels() -> None:
    reference = uniform_reference()
    assert PeerReference.from_dict(reference.to_dict()) == reference
    assert PeerReference.from_dict({**reference.to_dict(), "levels": [0, 0.5, 1]}) is None
    assert PeerReference.from_dict(None) is None


def test_top_columns_orders_by_size_and_stops_at_the_sign() -> None:
    values = np.array([[0.1, -0.5, 0.3, 0.0], [-0.2, -0.1, -0.3, -0.4]])

    up, down = top_columns(values, 3)

    assert up.tolist() == [[2, 0, -1], [-1, -1, -1]]
    assert down.tolist() == [[1, -1, -1], [3, 2, 0]]
    assert [a.tolist() for a in top_columns(values, 9)] == [
        [[2, 0, -1, -1], [-1, -1, -1, -1]],
        [[1, -1, -1, -1], [3, 2, 0, 1]],
    ]


def test_with_a_scale_the_main_reason_is_the_most_unusual_push() -> None:
    """Active users push most risky accounts up by ~0.6 (a common proxy); a champion push
    of 0.3 is rare. The rare one is the diagnosis, unless it is too small to matter."""
    scale = {"active_users": (0.6, 0.3), "champion_departures": (0.0, 0.05)}
    values = row(active_users_30d=4, champion_departures_90d=1)
    b = ReasonBook(
        NAMES,
        [SPECS[n] for n in NAMES],
        [REGIONS if n == "region" else None for n in NAMES],
        scale=scale,
    )

    rare = b.explain(contributions(active_users_30d=0.8, champion_departures_90d=0.3), values, 5)
    tiny = b.explain(contributions(active_users_30d=0.8, champion_departures_90d=0.1), values, 5)

    assert rare.main[0]["signal"] == "champion_departures"
    assert rare.up[0][0]["signal"] == "active_users"  # the drivers keep their order by size
    assert tiny.main[0]["signal"] == "active_users"  # 0.1 < 25% of the largest push


def test_the_signal_scale_is_the_mean_and_spread_of_each_signal() -> None:
    c = np.zeros((4, len(NAMES)))
    c[:, NAMES.index("active_users_30d")] = [0.1, 0.2, 0.3, 0.4]
    c[:, NAMES.index("active_users_change_30d")] = 0.1

    scale = book().signal_scale(c)

    assert scale["active_users"] == pytest.approx([0.35, np.std([0.2, 0.3, 0.4, 0.5])], abs=1e-6)
    assert scale["champion_departures"] == [0.0, 0.0]


def test_a_feature_nobody_has_is_never_named() -> None:
    """The book's source lacks the quota (null for every account): the missing quota pushes
    this account's risk, yet it says nothing about this account."""
    b = book()
    book_rows = np.vstack([row(active_users_30d=v) for v in (3.0, 9.0, 20.0)])
    b.mark_unavailable(book_rows)

    c = contributions(quota_burn_ratio=0.5, active_users_30d=0.1)
    reasons = b.explain(c, row(active_users_30d=3), 5)

    assert [d["feature"] for d in reasons.up[0]] == ["active_users_30d"]
    assert reasons.main[0]["feature"] == "active_users_30d"
    assert book().explain(c, row(active_users_30d=3), 5).main[0]["feature"] == "quota_burn_ratio"


FAMILY_NAMES = [
    "days_to_renewal",  # context
    "active_users_30d",  # usage_depth, active_users
    "core_breadth_30d",  # usage_depth, core_breadth
    "champion_departures_90d",  # champions, champion_departures
    "active_champions",  # champions, champion_presence
    "escalations_90d",  # support (recorded as a CS activity)
]


def family_book(
    family_scale: dict[str, tuple[float, float]] | None = None,
    family_spread: dict[str, list[float]] | None = None,
) -> ReasonBook:
    return ReasonBook(
        FAMILY_NAMES,
        [SPECS[n] for n in FAMILY_NAMES],
        [None] * len(FAMILY_NAMES),
        family_scale=family_scale,
        family_spread=family_spread,
    )


def family_contributions(**values: float) -> np.ndarray:
    return np.array([[values.get(n, 0.0) for n in FAMILY_NAMES]])


def test_the_family_spread_is_the_median_and_standard_deviation_of_each_familys_push() -> None:
    c = np.zeros((5, len(FAMILY_NAMES)))
    c[:, FAMILY_NAMES.index("active_users_30d")] = [0.1, 0.2, 0.3, 0.4, 2.0]
    c[:, FAMILY_NAMES.index("core_breadth_30d")] = 0.1  # same family: summed
    c[:, FAMILY_NAMES.index("days_to_renewal")] = 5.0  # context: no family push

    spread = family_book().family_spread_of(c)

    assert set(spread) == {"usage_depth", "champions", "support"}
    # pushes 0.2, 0.3, 0.4, 0.5, 2.1: median 0.4, population standard deviation
    assert spread["usage_depth"] == pytest.approx([0.4, np.std([0.2, 0.3, 0.4, 0.5, 2.1])])
    assert spread["champions"] == [0.0, 0.0]


# A book of six accounts: usage pushes spread widely, champions push nobody but the one
# account whose champion left.
BOOK_USAGE = [-0.6, -0.3, 0.0, 0.0, 0.3, 0.6]
BOOK_CHAMPIONS = [0.0, 0.0, 0.0, 0.0, 0.0, 0.3]


def book_contributions(champion_factor: float) -> np.ndarray:
    c = np.zeros((len(BOOK_USAGE), len(FAMILY_NAMES)))
    c[:, FAMILY_NAMES.index("active_users_30d")] = BOOK_USAGE
    c[:, FAMILY_NAMES.index("champion_departures_90d")] = np.multiply(
        BOOK_CHAMPIONS, champion_factor
    )
    return c


def test_the_family_named_does_not_depend_on_how_widely_a_fit_spreads_a_family() -> None:
    """Two fits of one book: the second spreads champions' contributions 3 times less.
    Usage pushes this account 0.9 (2.3 of its spreads above its median), the champions 0.15
    (1.3 of theirs; 0.05 in the second fit, still 1.3). Measured against its own spread the
    champion push is equally unusual in both fits, so the main reason stays usage; the older
    rule, with
    its floor in log-odds (0.03) beside a median absolute deviation of 0, reads 0.15 / 0.03
    = 5 spreads in the first fit and 1.7 in the second, and changes its answer."""
    values = np.array([[30.0, 2.0, 4.0, 1.0, 1.0, 0.0]])
    named = []
    for factor in (1.0, 1 / 3):
        account = family_contributions(active_users_30d=0.9, champion_departures_90d=0.15 * factor)
        spread = family_book().family_spread_of(book_contributions(factor))
        new = family_book(family_spread=spread).explain(account, values, 5)
        usage_mad = 1.4826 * 0.3  # the usage pushes' absolute deviations: 0.6, 0.3, 0, ...
        old_scale = {"usage_depth": (0.0, usage_mad), "champions": (0.0, 0.0)}
        old = family_book(family_scale=old_scale).explain(account, values, 5)
        named.append((new.main[0]["family"], old.main[0]["family"]))

    assert named == [("usage_depth", "champions"), ("usage_depth", "usage_depth")]


def test_a_rare_push_several_of_its_spreads_high_outranks_a_larger_usual_one() -> None:
    """Usage 0.9 lies 2.3 of its spreads above its median; a champion push of 0.3 (the
    departure the book saw once) lies 2.7 of theirs: the champions family names the reason
    though its push is a third of usage's; the drivers still add up."""
    spread = family_book().family_spread_of(book_contributions(1.0))
    values = np.array([[30.0, 2.0, 4.0, 1.0, 1.0, 0.0]])
    c = family_contributions(days_to_renewal=1.0, active_users_30d=0.9, champion_departures_90d=0.3)

    out = family_book(family_spread=spread).explain(c, values, 5)

    assert out.main[0]["feature"] == "champion_departures_90d"
    assert out.up[0][0]["signal"] == "renewal_timing"
    assert sum(d["contribution"] for d in out.up[0]) == pytest.approx(c.sum())


def test_a_family_that_never_moved_on_the_book_is_not_credited_as_unusual() -> None:
    """Support pushed no account of the book (standard deviation 0): a support push is no
    evidence against that yardstick, so the family that moved names the reason; with no
    other family pushing up, the largest eligible push does."""
    spread = family_book().family_spread_of(book_contributions(1.0))
    assert spread["support"] == [0.0, 0.0]
    values = np.array([[30.0, 2.0, 4.0, 1.0, 1.0, 1.0]])
    b = family_book(family_spread=spread)

    both = b.explain(family_contributions(active_users_30d=0.1, escalations_90d=0.5), values, 5)
    alone = b.explain(family_contributions(escalations_90d=0.5), values, 5)

    assert both.main[0]["family"] == "usage_depth"
    assert alone.main[0]["family"] == "support"


def test_with_a_family_scale_the_main_reason_is_the_most_unusual_family() -> None:
    """Usage pushes every risky account up by ~0.6; a champion push of 0.15 is rare. The
    champions family leads although its push is smaller, and its own largest eligible signal
    names the reason; the drivers keep their order by size and add up as before."""
    scale = {"usage_depth": (0.5, 0.3), "champions": (0.0, 0.02), "support": (0.0, 0.02)}
    b = family_book(scale)
    values = np.array([[30.0, 4.0, 0.2, 1.0, 0.0, 0.0]])
    c = family_contributions(
        days_to_renewal=1.5,
        active_users_30d=0.5,
        core_breadth_30d=0.3,
        champion_departures_90d=0.05,
        active_champions=0.1,
    )

    out = b.explain(c, values, 5)

    assert out.main[0]["family"] == "champions"
    assert out.main[0]["feature"] == "active_champions"  # the family's largest push
    assert out.up[0][0]["signal"] == "renewal_timing"
    assert sum(d["contribution"] for d in out.up[0]) == pytest.approx(c.sum())

    # the usage push alone is typical: still the main reason when nothing else pushes up
    usual = b.explain(family_contributions(active_users_30d=0.5), values, 5)
    assert usual.main[0]["feature"] == "active_users_30d"
    # without a family scale the largest actionable push leads
    assert family_book(None).explain(c, values, 5).main[0]["family"] == "usage_depth"


def test_a_family_pushing_down_on_balance_does_not_lead() -> None:
    """A champion signal up by 0.1 while another is down by 0.3: the family lowers the risk
    (less than it usually does, so its score is high), and the main reason comes from the
    family that raises it."""
    scale = {"usage_depth": (0.5, 0.3), "champions": (-0.5, 0.02), "support": (0.0, 0.02)}
    values = np.array([[30.0, 4.0, 0.2, 1.0, 2.0, 0.0]])
    c = family_contributions(
        active_users_30d=0.3, champion_departures_90d=0.1, active_champions=-0.3
    )

    out = family_book(scale).explain(c, values, 5)

    assert out.main[0]["family"] == "usage_depth"
    # no family raises the risk on balance: the largest eligible push, as without a scale
    alone = family_book(scale).explain(
        family_contributions(champion_departures_90d=0.1, active_champions=-0.3), values, 5
    )
    assert alone.main[0]["feature"] == "champion_departures_90d"


def test_columns_without_metadata_read_as_they_are() -> None:
    """A plain table's columns (tabular mode) have no spec: a category is shown as its
    text, a number as a number."""
    plain = ReasonBook(["plan", "tenure"], [None, None], [("basic", "pro"), None])
    assert plain.reason(0, "pro") == "plan is pro"
    assert plain.reason(1, 12.5) == "tenure is 12.50"
    assert plain.reason(1, None) == "tenure is not recorded"
