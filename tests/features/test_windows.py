"""Hand-computed features at the window edges, one snapshot t = 2024-06-01.

Windows are [t - N days, t): an event at t belongs to the next snapshot; one at
t - 30 days 00:00 is inside the 30-day window; one a second earlier is not."""

from __future__ import annotations

from datetime import date

import pytest

from tests.features.helpers import build, row, write_tables

T = "2024-06-01"
AS_OF = date(2024, 8, 1)


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("edges")
    write_tables(
        directory,
        {
            "accounts": [{"account_id": "A1", "segment": "smb"}],
            "subscriptions": [
                {
                    "subscription_id": "S1",
                    "account_id": "A1",
                    "start_date": "2024-01-01",
                    "end_date": "2025-01-01",
                    "mrr": 100.0,
                    "seats": 4,
                    "quota": 3660.0,
                },
            ],
            "events": [
                {
                    "account_id": "A1",
                    "user_id": "u1",
                    "ts": "2024-01-15 09:00:00",
                    "feature": "reports",
                },
                {
                    "account_id": "A1",
                    "user_id": "u1",
                    "ts": "2024-05-02 00:00:00",
                    "feature": "reports",
                },  # t - 30 days 00:00: inside
                {
                    "account_id": "A1",
                    "user_id": "u2",
                    "ts": "2024-05-01 23:59:59",
                    "feature": "exports",
                },  # a second before the window: outside
                {
                    "account_id": "A1",
                    "user_id": None,
                    "ts": "2024-05-20 12:00:00",
                    "feature": "api",
                    "quantity": 5.0,
                },  # system event: an event, not a user
                {
                    "account_id": "A1",
                    "user_id": "u3",
                    "ts": "2024-05-31 23:59:59",
                    "feature": "dashboards",
                },
                {
                    "account_id": "A1",
                    "user_id": "u4",
                    "ts": "2024-06-01 00:00:00",
                    "feature": "admin",
                },  # at t: the next snapshot's
                {
                    "account_id": "A1",
                    "user_id": "u4",
                    "ts": "2024-07-30 00:00:00",
                    "feature": "admin",
                },
            ],
            "feature_catalog": [
                {"feature": "reports", "is_core": True},
                {"feature": "exports", "is_core": True},
                {"feature": "dashboards", "is_core": True},
                {"feature": "admin", "is_core": True},
                {"feature": "api", "is_core": False},
            ],
            "consumption": [
                # several rows a day: the term's first day counts in full, t's not at all
                {"account_id": "A1", "date": "2024-01-01", "units": 100.0},
                {"account_id": "A1", "date": "2024-01-01", "units": 50.0},
                {"account_id": "A1", "date": "2024-05-02", "units": 10.0},  # t - 30: inside
                {"account_id": "A1", "date": "2024-05-02", "units": 3.0},
                {"account_id": "A1", "date": "2024-05-01", "units": 7.0},  # outside 30d
                {"account_id": "A1", "date": "2024-06-01", "units": 1000.0},  # at t: outside
                {"account_id": "A1", "date": "2024-06-01", "units": 500.0},
                # the term starts inside the segment [2023-12-04, 2024-03-03): its days
                # before the start are not used, those after are; a whole segment counts
                {"account_id": "A1", "date": "2023-12-20", "units": 1000.0},
                {"account_id": "A1", "date": "2024-02-10", "units": 20.0},
                {"account_id": "A1", "date": "2024-03-15", "units": 5.0},
            ],
            "contacts": [
                {
                    "contact_id": "C1",
                    "account_id": "A1",
                    "role": "champion",
                    "start_date": "2024-01-01",
                    "end_date": "2024-03-03",
                },  # t - 90: a departure
                {
                    "contact_id": "C2",
                    "account_id": "A1",
                    "role": "champion",
                    "start_date": "2024-01-01",
                    "end_date": "2024-03-02",
                },  # t - 91: too old
                {
                    "contact_id": "C3",
                    "account_id": "A1",
                    "role": "champion",
                    "start_date": "2024-01-01",
                    "end_date": "2024-06-01",
                    "user_id": "u3",
                },
                {
                    "contact_id": "C4",
                    "account_id": "A1",
                    "role": "champion",
                    "start_date": "2024-06-01",
                },  # starts at t: not yet active
            ],
            "tickets": [
                {
                    "ticket_id": "K1",
                    "account_id": "A1",
                    "opened_at": "2024-05-01 10:00:00",
                    "closed_at": "2024-06-01 00:00:00",
                    "priority": "urgent",
                },  # open at t
                {
                    "ticket_id": "K2",
                    "account_id": "A1",
                    "opened_at": "2024-05-01 10:00:00",
                    "closed_at": "2024-05-31 23:59:59",
                    "priority": "high",
                },  # closed before t
                {
                    "ticket_id": "K3",
                    "account_id": "A1",
                    "opened_at": "2024-06-01 00:00:00",
                    "priority": "urgent",
                },  # opened at t
                {
                    "ticket_id": "K4",
                    "account_id": "A1",
                    "opened_at": "2024-05-10 10:00:00",
                    "priority": "normal",
                },
            ],
            "surveys": [
                {"account_id": "A1", "date": "2023-06-01", "kind": "nps", "score": 1.0},
                {"account_id": "A1", "date": "2023-06-02", "kind": "nps", "score": 6.0},
                {"account_id": "A1", "date": "2023-12-03", "kind": "nps", "score": 10.0},
                {"account_id": "A1", "date": "2023-12-04", "kind": "nps", "score": 2.0},
                {"account_id": "A1", "date": "2024-05-02", "kind": "csat", "score": 1.0},
                {"account_id": "A1", "date": "2024-04-01", "kind": "nps", "score": 9.0},
                {"account_id": "A1", "date": "2024-05-31", "kind": "nps", "score": 4.0},
                {"account_id": "A1", "date": "2024-05-31", "kind": "nps", "score": 7.0},
                {"account_id": "A1", "date": "2024-06-01", "kind": "nps", "score": 0.0},
            ],
            "invoices": [
                {"invoice_id": "I1", "account_id": "A1", "due_date": "2024-05-01", "amount": 300.0},
                {
                    "invoice_id": "I2",
                    "account_id": "A1",
                    "due_date": "2024-04-01",
                    "paid_date": "2024-04-11",
                    "amount": 300.0,
                },
            ],
            "activities": [
                {"account_id": "A1", "date": "2024-01-20", "kind": "onboarding_milestone"},
                {"account_id": "A1", "date": "2024-04-15", "kind": "onboarding_milestone"},
                {"account_id": "A1", "date": "2024-05-01", "kind": "qbr"},
            ],
        },
    )
    return build(directory, as_of=AS_OF, snapshots=[date.fromisoformat(T)])


def test_usage_windows_include_t_minus_30_and_exclude_t(features) -> None:
    r = row(features, "A1", T)
    assert r.events_30d == 3  # u1 at t-30 00:00, the system event, u3 at t - 1 s
    assert r.active_users_30d == 2  # u1, u3; u2 a second too early, u4 at t
    assert r.seat_utilization_30d == pytest.approx(2 / 4)
    assert r.core_breadth_30d == pytest.approx(2 / 4)  # reports, dashboards of 4 core
    # users' events only: the system event (api, not core) would make it 2 / 3
    assert r.core_event_share_30d == 1.0
    assert r.core_event_share_90d == 1.0  # and u2's exports (core) 31 days before t
    assert r.quantity_30d == pytest.approx(1 + 5 + 1)
    # events in [t-90, t-30): u2 at 2024-05-01 23:59:59 only -> 30-day average 0.5
    assert r.events_trend_30_90 == pytest.approx(3 / 0.5)
    assert r.active_users_60d == 3
    assert r.lost_active_users_30d == 1  # u2 active 31-60 days ago, not since


def test_champion_departure_at_t_minus_90_counts_and_one_at_t_does_not(features) -> None:
    r = row(features, "A1", T)
    assert r.champion_departures_90d == 1  # C1; C2 left 91 days before t
    assert r.active_champions == 1  # C3 ends at t (still in role); C4 starts at t
    assert r.champion_days_since_active == 1  # C3's login u3 was active on t - 1


def test_consumption_window_and_quota_burn(features) -> None:
    r = row(features, "A1", T)
    assert r.consumption_30d == 13
    # Term 2024-01-01..2025-01-01 (366 days), 152 days elapsed, 195 units used before t.
    assert r.quota_burn_ratio == pytest.approx(195 / (3660 * 152 / 366))
    assert r.quota_used_fraction == pytest.approx(195 / 3660)


def test_ticket_closed_at_t_is_still_open_and_one_opened_at_t_is_not_yet(features) -> None:
    r = row(features, "A1", T)
    assert r.open_high_tickets == 1
    assert r.open_tickets == 2  # K1 and K4


def test_latest_nps_is_the_mean_of_its_day_and_ignores_t(features) -> None:
    r = row(features, "A1", T)
    assert r.nps_last == pytest.approx(5.5)
    assert r.nps_change == pytest.approx(5.5 - 9)
    assert r.nps_detractor == 1


def test_nps_means_take_answers_in_their_window_and_before_t(features) -> None:
    r = row(features, "A1", T)
    # [t - 180, t): 2023-12-04 (2) .. 2024-05-31 (4, 7), not 2023-12-03, the CSAT or t itself
    assert r.nps_mean_180d == pytest.approx((2 + 9 + 4 + 7) / 4)
    # [t - 365, t): 2023-06-02 (6) and 2023-12-03 (10) too, not 2023-06-01
    assert r.nps_mean_365d == pytest.approx((6 + 10 + 2 + 9 + 4 + 7) / 6)


def test_payments_and_engagement(features) -> None:
    r = row(features, "A1", T)
    assert r.invoices_overdue == 1
    assert r.max_days_overdue == 31
    assert r.mean_days_late_180d == pytest.approx(10)
    assert r.days_since_last_qbr == 31
    assert r.onboarding_milestones_first_90d == 1  # 2024-04-15 is day 105 of tenure


def test_lifecycle(features) -> None:
    r = row(features, "A1", T)
    assert r.tenure_days == 152
    assert r.days_to_renewal == 214
    assert r.lifecycle_stage == "adoption"
