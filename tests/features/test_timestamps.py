"""Features computed from timestamps keep their microseconds (hand-computed at t's edges).

Ages and durations are differences of timestamps to the microsecond, and windows compare
timestamps exactly: a row a microsecond before an edge is on the other side of it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.features.helpers import (
    SUBSECOND_T,
    build,
    row,
    subsecond_tables,
    write_csv_tables,
    write_tables,
)

T = SUBSECOND_T.date().isoformat()
DAY = 86_400.0


@pytest.fixture(scope="module")
def a1(tmp_path_factory: pytest.TempPathFactory) -> pd.Series:
    directory = write_tables(tmp_path_factory.mktemp("subsecond"), subsecond_tables())
    return row(build(directory, snapshots=[SUBSECOND_T.date()]), "A1", T)


def test_open_ticket_ages_keep_fractions_of_a_second(a1: pd.Series) -> None:
    # Open at t: K1 0.25 s old, K2 11 days 11:59:59.6, K6 one microsecond old.
    ages = [0.25, 11 * DAY + 43_199.6, 1e-6]
    assert a1.open_tickets == 3
    assert a1.open_high_tickets == 2
    assert a1.open_ticket_age_days_max == pytest.approx(ages[1] / DAY, rel=0, abs=1e-12)
    assert a1.open_ticket_age_days_mean == pytest.approx(sum(ages) / 3 / DAY, rel=0, abs=1e-12)


def test_resolution_hours_keep_fractions_of_a_second(a1: pd.Series) -> None:
    # Closed in [t - 90 d, t): K3 in 0.2 s across a second boundary, K4 a microsecond
    # before t after 30 days 16 hours less 2 us, K5 in 2 us.
    durations = [0.2, 30 * DAY + 16 * 3600 - 2e-6, 2e-6]
    expected = sum(durations) / 3 / 3600
    assert a1.resolution_hours_90d == pytest.approx(expected, rel=0, abs=1e-12)


def test_ticket_windows_compare_to_the_microsecond(a1: pd.Series) -> None:
    assert a1.tickets_30d == 4  # K5 opened a microsecond before t - 30 days
    assert a1.tickets_90d == 6  # K7, a microsecond after t, is not seen
    assert a1.urgent_tickets_90d == 2


def test_users_created_and_deactivated_to_the_microsecond(a1: pd.Series) -> None:
    assert a1.provisioned_users == 2  # u2 deactivated at t, u3 created a microsecond before
    assert a1.users_deactivated_90d == 1  # u1 at t - 1 us; u5 a microsecond before t - 90 d


def test_event_windows_to_the_microsecond(a1: pd.Series) -> None:
    assert a1.events_30d == 2  # t - 30 d + 1 us and t - 1 us; not t - 30 d - 1 us, not t
    assert a1.active_users_30d == 2


def test_csv_text_timestamps_keep_their_microseconds(tmp_path: Path) -> None:
    tables = subsecond_tables()
    parquet = build(write_tables(tmp_path / "parquet", tables), snapshots=[SUBSECOND_T.date()])
    text = build(write_csv_tables(tmp_path / "csv", tables), snapshots=[SUBSECOND_T.date()])
    pd.testing.assert_frame_equal(parquet, text, check_exact=False, rtol=0, atol=1e-9)
