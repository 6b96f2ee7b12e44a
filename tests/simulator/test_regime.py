"""The regime switch (``simulator.shifts.RegimeSwitch``): a bad quarter in which churn rises
for every account. The same seed is the same world before it; during it many more accounts
leave, in every segment; afterwards churn is back near its usual level."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features.errors import ConfigError
from forecast.movements import account_movements
from simulator.config import SimulationConfig, make_config
from simulator.dates import day_number
from simulator.run import generate
from simulator.shifts import RegimeSwitch, regime_offset

BASE = {"accounts": 600, "months": 16, "seed": 9, "oracle_rows": 0, "event_rate_scale": 0.1}
AS_OF = date(2024, 5, 1)  # 16 months from 2023-01-01
SPELL = RegimeSwitch(start=date(2024, 1, 1), months=3, lift=1.5)


def test_the_offset_holds_for_the_spell_only() -> None:
    assert regime_offset(day_number(date(2023, 12, 1)), SPELL) == 0.0
    assert regime_offset(day_number(date(2024, 1, 1)), SPELL) == 1.5
    assert regime_offset(day_number(date(2024, 3, 1)), SPELL) == 1.5
    assert regime_offset(day_number(date(2024, 4, 1)), SPELL) == 0.0
    assert regime_offset(day_number(date(2024, 2, 1)), None) == 0.0


def _churned_logos(path: Path) -> pd.DataFrame:
    """Logos churned per (segment, month), from the source's subscriptions."""
    con = ibis.duckdb.connect()
    subscriptions = con.read_parquet(path / "subscriptions.parquet")
    rows = account_movements(subscriptions, AS_OF, 30)
    accounts = pq.read_table(path / "accounts.parquet", columns=["account_id", "segment"])
    segment = dict(zip(*accounts.to_pydict().values(), strict=True))
    rows["segment"] = rows["account_id"].map(segment)
    return rows.groupby(["segment", "month"])["churned_logo"].sum().unstack(0)


@pytest.mark.slow
def test_churn_rises_for_every_segment_in_the_bad_quarter_only(tmp_path: Path) -> None:
    generate(SimulationConfig(**BASE), tmp_path / "calm")
    generate(SimulationConfig(**BASE, regime_switch=SPELL), tmp_path / "bad")
    calm, bad = _churned_logos(tmp_path / "calm"), _churned_logos(tmp_path / "bad")
    months = pd.Index(calm.index)
    before = months < date(2024, 1, 1)
    spell = (months >= date(2024, 1, 1)) & (months < date(2024, 4, 1))
    assert calm[before].equals(bad[before])
    assert bad[spell].to_numpy().sum() > 2 * calm[spell].to_numpy().sum()
    for segment in ("mid_market", "smb"):
        assert bad.loc[spell, segment].sum() > 1.5 * calm.loc[spell, segment].sum()
    # the few enterprise accounts (about 60) have few term ends in a quarter
    assert bad.loc[spell, "enterprise"].sum() >= calm.loc[spell, "enterprise"].sum()
    after = months >= date(2024, 4, 1)
    assert bad[after].to_numpy().sum() < 2 * calm[after].to_numpy().sum()


def test_a_switch_must_start_on_a_first_after_the_history_starts() -> None:
    with pytest.raises(ConfigError, match="a shift must start on the first of a month"):
        make_config(regime_switch=RegimeSwitch(start=date(2022, 6, 1)))
