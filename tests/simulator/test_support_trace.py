"""Support pain shows where a CS team would see it: more tickets, more of them urgent or
high, slower fixes, tickets left waiting on a fix, escalations, lower CSAT on the closed
ones; and only support pain raises escalations. Two sources of one seed whose chains
differ only in support pain (steady pain ~1, the size of a spike, against none); pain is
kept out of health (``pain_effect`` 0) so that what differs is pain's own trace."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from simulator.config import ChainParams, SimulationConfig
from simulator.run import simulate

pytestmark = pytest.mark.xdist_group("simulator")

BASE = SimulationConfig(accounts=300, months=18, seed=3, oracle_rows=0)


def source(tmp: Path, **chain: float) -> dict[str, pd.DataFrame]:
    config = BASE.model_copy(update={"chain": ChainParams(pain_effect=0.0, **chain)})
    simulate(config, tmp, with_truth=False)
    return {
        name: pq.read_table(tmp / f"{name}.parquet").to_pandas()
        for name in ("tickets", "surveys", "activities")
    }


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    # pain_t = 0.7 pain_{t-1} + 0.3: settles at 1.0 within months; none: 0 throughout
    pained = source(
        tmp_path_factory.mktemp("pain"), pain_sigma=0.0, pain_spike_p=1.0, pain_spike=0.3
    )
    calm = source(tmp_path_factory.mktemp("calm"), pain_sigma=0.0, pain_spike_p=0.0)
    return pained, calm


def test_support_pain_raises_tickets_priority_and_time_to_close(pair) -> None:
    pained, calm = (p["tickets"] for p in pair)
    assert len(pained) > 1.8 * len(calm)  # exp(0.8) = 2.2 times the tickets
    high = [t.priority.isin(["urgent", "high"]).mean() for t in (pained, calm)]
    assert high[0] > high[1] + 0.04
    hours = [
        ((t.closed_at - t.opened_at).dt.total_seconds() / 3600).median() for t in (pained, calm)
    ]
    assert hours[0] > 1.15 * hours[1]  # exp(0.4) = 1.5 per priority; urgent ones close fast


def test_support_pain_lowers_csat(pair) -> None:
    """Slower fixes alone cost ~0.1 point; the month's pain costs 0.3 more (CSAT_PAIN)."""
    pained, calm = (p["surveys"] for p in pair)
    csat = [s.loc[s.kind == "csat", "score"] for s in (pained, calm)]
    assert min(len(c) for c in csat) > 500
    assert csat[1].mean() - csat[0].mean() > 0.25


def test_support_pain_leaves_tickets_waiting_on_a_fix(pair) -> None:
    """A ticket waits weeks for a fix 7% of the time without pain and 18% at pain 1; a
    ticket open more than two weeks is nearly always one that waited
    (``WAIT_SHARE`` + ``WAIT_PAIN_SHARE`` x sigmoid(2 pain - 2))."""
    pained, calm = (p["tickets"] for p in pair)
    days = [((t.closed_at - t.opened_at).dt.total_seconds() / 86_400) for t in (pained, calm)]
    waited = [(d > 14).mean() for d in days]
    assert waited[1] > 0.02
    assert waited[0] > 1.8 * waited[1]


def test_every_ticket_closes_in_the_end(pair) -> None:
    """A waiting ticket closes (after ~3 weeks on average): none stays open for ever, so an
    account's backlog is its current pain, not a count of its lifetime tickets."""
    for tickets in (p["tickets"] for p in pair):
        long_ago = tickets.opened_at < tickets.opened_at.max() - pd.Timedelta(days=365)
        assert long_ago.sum() > 500
        assert tickets.loc[long_ago, "closed_at"].notna().all()


def test_escalations_follow_support_pain_alone(pair) -> None:
    """Steady pain of 1 escalates 0.3 times a month (``ESCALATION_RATE`` x (1 - 0.5)); an
    account without pain never escalates, however low its health (the calm source's accounts
    have the usual spread of health, a tenth of them below -1)."""
    pained, calm = (p["activities"] for p in pair)
    escalations = [(a.kind == "escalation").sum() for a in (pained, calm)]
    assert escalations[0] > 500
    assert escalations[1] == 0
