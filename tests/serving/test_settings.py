"""Serving settings: key hashes from the environment, thresholds, clear errors."""

from __future__ import annotations

import pytest

from features.errors import ConfigError
from serving.auth import KeyRing, hash_key, new_key
from serving.settings import ServingSettings, load_settings


def test_keys_are_comma_separated_hashes(monkeypatch) -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    monkeypatch.setenv("CHURNLIGHT_API_KEYS", f"{a}, {b},")
    monkeypatch.setenv("CHURNLIGHT_ADMIN_KEYS", b)

    settings = ServingSettings()

    assert settings.api_keys == [a, b]
    assert settings.admin_keys == [b]


def test_a_plain_key_in_the_environment_is_refused_without_echoing_it(monkeypatch) -> None:
    key, _ = new_key()
    monkeypatch.setenv("CHURNLIGHT_API_KEYS", key)

    with pytest.raises(ConfigError) as caught:
        load_settings()

    assert str(caught.value) == (
        "invalid serving settings: CHURNLIGHT_API_KEYS: entry 1 is not a key hash of the form "
        "[name:]sha256:<64 hex digits> (a name of letters, digits, '_', '.', '-'); configure "
        "hashes only (`churnlight keys new --name NAME` prints a key and its entry)"
    )
    assert key not in str(caught.value)


def test_tiers_must_rise() -> None:
    with pytest.raises(ConfigError, match=r"tier thresholds must rise: medium 0.3 < high 0.25"):
        load_settings(tier_medium=0.3, tier_high=0.25, tier_critical=0.5)


def test_fixed_tiers_come_as_three_or_none() -> None:
    assert load_settings().tier_thresholds is None  # relative to the base rate
    assert load_settings(tier_medium=0.1, tier_high=0.2, tier_critical=0.4).tier_thresholds == (
        0.1,
        0.2,
        0.4,
    )
    with pytest.raises(ConfigError, match=r"set all three tier thresholds"):
        load_settings(tier_medium=0.3)


def test_key_roles() -> None:
    read, read_hash = new_key()
    admin, admin_hash = new_key()
    ring = KeyRing.from_entries((read_hash,), (admin_hash,))

    assert hash_key(read) == read_hash and read.startswith("cl_") and len(read) > 40
    assert ring.role_of(read) == "read"
    assert ring.role_of(admin) == "admin"
    assert ring.role_of("cl_other") is None
    assert ring.role_of(read_hash) is None


def test_named_keys(monkeypatch) -> None:
    crm, crm_entry = new_key("crm")
    rotated, rotated_entry = new_key("crm")
    plain, plain_hash = new_key()
    assert crm_entry == "crm:" + hash_key(crm)
    monkeypatch.setenv("CHURNLIGHT_API_KEYS", f"{crm_entry},{rotated_entry},{plain_hash}")
    monkeypatch.setenv("CHURNLIGHT_ADMIN_KEYS", "ops.team-1:" + hash_key("cl_admin"))
    settings = ServingSettings()

    ring = KeyRing.from_entries(settings.api_keys, settings.admin_keys)

    assert ring.identify(crm) == ring.identify(rotated)  # two keys of one name: one caller
    assert (ring.identify(crm).name, ring.identify(crm).role) == ("crm", "read")
    assert ring.identify(plain).name == plain_hash[:15]  # sha256:<first 8 hex digits>
    assert ring.identify("cl_admin").name == "ops.team-1"
    assert ring.identify("cl_admin").role == "admin"


@pytest.mark.parametrize("name", ["", "-lead", "a b", "x" * 65, "é"])
def test_a_bad_key_name_is_refused(name) -> None:
    with pytest.raises(ConfigError, match=r"entry 1 is not a key hash of the form \[name:\]"):
        load_settings(api_keys=[f"{name}:" + hash_key("cl_x")])


@pytest.mark.parametrize(
    ("threads", "processes", "expected"),
    [
        (2, 0, (1, 1)),  # 2 cores: one worker on one thread, the event loop keeps a core
        (8, 0, (7, 1)),
        (8, 1, (1, 7)),
        (8, 3, (3, 2)),
        (1, 0, (1, 1)),  # one core: still one worker
    ],
)
def test_what_if_workers_leave_the_event_loop_a_core(threads, processes, expected) -> None:
    settings = ServingSettings(score_threads=threads, what_if_processes=processes)
    assert settings.what_if_workers() == expected
