"""The scenario switches (``simulator.shifts``): the same seed with and without a switch is
the same world before its start; after it, a covariate shift lowers the segment's usage, and
a concept shift makes heavy users (events per seat) the ones who churn."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from features.errors import ConfigError
from simulator.config import SimulationConfig, make_config
from simulator.run import generate
from simulator.shifts import ConceptShift, CovariateShift

START = date(2024, 1, 1)
AS_OF = date(2024, 7, 1)  # 18 months from 2023-01-01
BASE = {"accounts": 1500, "months": 18, "seed": 5, "oracle_rows": 0}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("shifts")
    configs = {
        "none": SimulationConfig(**BASE),
        "covariate": SimulationConfig(**BASE, covariate_shift=CovariateShift(start=START)),
        "concept": SimulationConfig(**BASE, concept_shift=ConceptShift(start=START)),
    }
    for name, config in configs.items():
        generate(config, root / name)
    return {name: root / name for name in configs}


def _events(path: Path, first: date, last: date) -> dict[str, int]:
    """Events per account with first <= ts < last."""
    table = pq.read_table(path / "events.parquet", columns=["account_id", "ts"])
    ts = table.column("ts")
    lo = pc.greater_equal(ts, pc.cast(datetime(first.year, first.month, first.day), ts.type))
    hi = pc.less(ts, pc.cast(datetime(last.year, last.month, last.day), ts.type))
    kept = table.filter(pc.and_(lo, hi))
    counts = kept.group_by("account_id").aggregate([("ts", "count")])
    return dict(zip(counts["account_id"].to_pylist(), counts["ts_count"].to_pylist(), strict=True))


def _segments(path: Path) -> dict[str, str]:
    table = pq.read_table(path / "accounts.parquet", columns=["account_id", "segment"])
    return dict(zip(table["account_id"].to_pylist(), table["segment"].to_pylist(), strict=True))


def _seats(path: Path, day: date) -> dict[str, int]:
    """Seats of each account's core term covering ``day``."""
    subs = pq.read_table(path / "subscriptions.parquet").to_pylist()
    return {
        s["account_id"]: s["seats"]
        for s in subs
        if s["product"] == "core_platform" and s["start_date"] <= day < s["end_date"]
    }


def _churned_after_start(path: Path) -> set[str]:
    """Accounts whose last term ended between the shift and a month before the end (a
    renewal may be signed up to 29 days late)."""
    subs = pq.read_table(path / "subscriptions.parquet", columns=["account_id", "end_date"])
    last = subs.group_by("account_id").aggregate([("end_date", "max")])
    return {
        a
        for a, end in zip(
            last["account_id"].to_pylist(), last["end_date_max"].to_pylist(), strict=True
        )
        if end is not None and START <= end < date(2024, 6, 1)
    }


def test_before_the_start_every_run_is_the_same_world(runs: dict[str, Path]) -> None:
    before = {name: _events(path, date(2023, 10, 1), START) for name, path in runs.items()}
    assert before["covariate"] == before["none"] == before["concept"]
    assert sum(before["none"].values()) > 10_000


def test_a_covariate_shift_lowers_the_segments_usage_only(runs: dict[str, Path]) -> None:
    segment = _segments(runs["none"])
    after = {n: _events(p, date(2024, 3, 1), AS_OF) for n, p in runs.items() if n != "concept"}

    def total(name: str, smb: bool) -> int:
        return sum(v for a, v in after[name].items() if (segment[a] == "smb") == smb)

    assert total("covariate", smb=True) < 0.7 * total("none", smb=True)
    assert total("covariate", smb=False) == pytest.approx(total("none", smb=False), rel=0.1)


def test_a_concept_shift_makes_heavy_users_churn(runs: dict[str, Path]) -> None:
    # December's usage is the same in every run (before the start); who churns after differs
    events = _events(runs["none"], date(2023, 12, 1), START)
    seats = _seats(runs["none"], date(2023, 12, 15))
    per_seat = {a: events.get(a, 0) / n for a, n in seats.items() if n > 0}

    def usage_gap(name: str) -> float:
        churned = _churned_after_start(runs[name])
        lost = np.log1p([v for a, v in per_seat.items() if a in churned])
        kept = np.log1p([v for a, v in per_seat.items() if a not in churned])
        assert len(lost) >= 25
        return float(lost.mean() - kept.mean())

    assert usage_gap("none") < 0  # churners used the product less
    assert usage_gap("concept") > 0  # now the heavier users churned


def test_a_shift_must_start_on_a_first_after_the_start_date() -> None:
    with pytest.raises(ConfigError, match="covariate_shift"):
        make_config(**BASE, covariate_shift={"start": "2024-01-15"})
    with pytest.raises(ConfigError, match="segment must be one of"):
        make_config(**BASE, covariate_shift={"start": "2024-01-01", "segment": "retail"})
    with pytest.raises(ConfigError, match="after start_date"):
        make_config(**BASE, concept_shift={"start": "2022-01-01"})
