"""The follow-up report on a book where the recommended play was run half of the time and
halves churn where it was recommended (tests/training/effects_source.py)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from tests.training.effects_source import champion_rescue_book
from training.effects.followup import follow_up


def test_follow_rates_outcomes_and_the_adjusted_effect() -> None:
    data, runs = champion_rescue_book()
    departures = np.nan_to_num(data.raw.column("champion_departures_90d").to_numpy())
    recommended = departures >= 1
    csm = data.raw.column("csm_id").to_pylist()
    table = pa.table(
        {
            "account_id": pa.array([str(a) for a in data.ids]),
            "snapshot_date": pa.array(data.snapshot_date.astype("datetime64[D]")).cast(pa.date32()),
            "csm_id": pa.array(csm, pa.string()),
            "plays": pa.array([["champion_rescue"] if r else [] for r in recommended]),
        }
    )
    starts = runs.date - np.timedelta64(5, "D")  # every run is 5 days after its snapshot
    ran = {(str(a), str(d)) for a, d in zip(runs.account_id, starts, strict=True)}
    days = data.snapshot_date.astype(str)
    run_rows = np.array([(str(a), str(d)) in ran for a, d in zip(data.ids, days, strict=True)])

    report = follow_up(data, runs, table, "rules", ["champion_rescue", "adoption_campaign"])

    rows = {(r["play"], r["label"]): r for r in report.plays}
    rescue = rows[("champion_rescue", "churn_180d")]
    assert rescue["recommended"] == int(recommended.sum())
    assert rescue["followed"] == int((recommended & run_rows).sum())
    assert rescue["follow_rate"] == pytest.approx(
        rescue["followed"] / rescue["recommended"], abs=1e-4
    )
    churn = data.labels["churn_180d"]
    assert rescue["rate_followed"] == pytest.approx(churn[recommended & run_rows].mean(), abs=1e-4)
    assert rescue["rate_not_followed"] == pytest.approx(
        churn[recommended & ~run_rows].mean(), abs=1e-4
    )
    assert rescue["evidence"] == "ok" and rescue["ci_high"] < 0  # following it saves accounts
    unused = rows[("adoption_campaign", "churn_180d")]
    assert unused["recommended"] == 0 and unused["follow_rate"] is None
    assert unused["evidence"] == "not enough evidence"

    mine = [c for c in report.csms if c["play"] == "champion_rescue"]
    assert {c["csm_id"] for c in mine} == {"csm1", "csm2", "csm3"}
    assert sum(c["recommended"] for c in mine) == rescue["recommended"]
    assert sum(c["followed"] for c in mine) == rescue["followed"]
    assert report.to_dict()["recommendations"] == "rules"
