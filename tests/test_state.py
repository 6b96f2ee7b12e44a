"""One place for state: ``CHURNLIGHT_HOME`` decides where the MLflow store, the artifacts, the
lock files and the history live; without it the state follows a SQLite
``CHURNLIGHT_TRACKING_URI``, else the user's data directory — never the working directory.

The rules are checked on the settings, then through the CLI run as a scheduler would run it:
in a process of its own, from directories that are not the state's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from features.errors import ConfigError
from features.settings import StoreSettings, get_store_settings
from serving.settings import ServingSettings
from tests.training.helpers import write_synthetic
from training.settings import TrainingSettings

REPO = Path(__file__).resolve().parents[1]
LINUX_ONLY = pytest.mark.skipif(
    sys.platform != "linux", reason="the user's data directory is $XDG_DATA_HOME on Linux only"
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No CHURNLIGHT_ variable set, the working directory an empty one of this test's own."""
    for name in list(os.environ):
        if name.startswith("CHURNLIGHT_"):
            monkeypatch.delenv(name)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


# ---- the rules, on the settings -----------------------------------------------------------


def test_the_home_holds_the_store_artifacts_locks_and_history(
    clean_env, tmp_path, monkeypatch
) -> None:
    home = tmp_path / "state"
    monkeypatch.setenv("CHURNLIGHT_HOME", str(home))

    state = get_store_settings().state()

    assert state.home == home.resolve()
    assert state.home_from == "CHURNLIGHT_HOME"
    assert state.tracking_uri == f"sqlite:///{(home / 'mlflow.db').resolve().as_posix()}"
    assert state.artifact_location == (home / "artifacts").resolve().as_uri()
    assert state.locks == home.resolve() / "locks"
    assert state.history == home.resolve() / "history"


@LINUX_ONLY
def test_without_settings_the_state_is_the_users_data_dir_not_the_cwd(clean_env) -> None:
    state = StoreSettings().state()

    data_home = Path(os.environ["XDG_DATA_HOME"]).resolve()  # tests/conftest.py sets it
    assert state.home == data_home / "churnlight"
    assert state.home_from == "default"
    assert state.tracking_uri == f"sqlite:///{data_home / 'churnlight' / 'mlflow.db'}"
    assert not state.home.is_relative_to(clean_env)


def test_a_sqlite_tracking_uri_alone_puts_the_state_beside_its_file(clean_env, tmp_path) -> None:
    db = tmp_path / "store" / "mlflow.db"

    state = StoreSettings(tracking_uri=f"sqlite:///{db}").state()

    assert state.home == db.parent.resolve()
    assert state.home_from == "CHURNLIGHT_TRACKING_URI"
    assert state.artifact_location == (db.parent / "artifacts").resolve().as_uri()
    assert state.locks == db.parent.resolve() / "locks"  # not beside the cwd's models/
    assert state.history == db.parent.resolve() / "history"


def test_a_tracking_server_keeps_its_artifacts_and_the_locks_stay_home(clean_env, tmp_path) -> None:
    state = StoreSettings(home=tmp_path / "state", tracking_uri="http://mlflow:5000").state()

    assert state.tracking_uri == "http://mlflow:5000"
    assert state.artifact_location is None  # the server's artifact root, not a local folder
    assert state.locks == (tmp_path / "state").resolve() / "locks"


def test_an_artifact_location_is_taken_as_given(clean_env, tmp_path) -> None:
    settings = StoreSettings(home=tmp_path / "state", artifact_location="s3://bucket/churnlight")

    assert settings.resolved_artifact_location() == "s3://bucket/churnlight"


def test_a_sqlite_store_inside_the_home_is_accepted(clean_env, tmp_path) -> None:
    db = tmp_path / "state" / "registry" / "mlflow.db"

    state = StoreSettings(home=tmp_path / "state", tracking_uri=f"sqlite:///{db}").state()

    assert state.sqlite_path == db.resolve()
    assert state.locks == (tmp_path / "state").resolve() / "locks"


def test_a_sqlite_store_outside_the_home_is_refused(clean_env, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("CHURNLIGHT_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("CHURNLIGHT_TRACKING_URI", f"sqlite:///{tmp_path / 'other' / 'mlflow.db'}")

    with pytest.raises(ConfigError) as caught:
        get_store_settings()

    assert str(caught.value) == (
        f"invalid settings: CHURNLIGHT_TRACKING_URI names the SQLite file "
        f"{(tmp_path / 'other' / 'mlflow.db').resolve()}, outside CHURNLIGHT_HOME "
        f"{(tmp_path / 'state').resolve()}: the store would be split from its locks and "
        f"artifacts; unset CHURNLIGHT_TRACKING_URI (the store is then "
        f"{(tmp_path / 'state' / 'mlflow.db').resolve()}) or set CHURNLIGHT_HOME to "
        f"{(tmp_path / 'other').resolve()}"
    )


def test_the_old_models_dir_setting_is_refused_naming_its_successor(clean_env, monkeypatch) -> None:
    monkeypatch.setenv("CHURNLIGHT_MODELS_DIR", "/srv/churnlight/models")

    with pytest.raises(ConfigError, match=r"CHURNLIGHT_MODELS_DIR \(/srv/churnlight/models\) is "):
        get_store_settings()
    with pytest.raises(ConfigError, match="set CHURNLIGHT_HOME=/srv/churnlight/models instead"):
        get_store_settings()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("CHURNLIGHT_HOME", "models", "CHURNLIGHT_HOME must be an absolute path, not 'models'"),
        (
            "CHURNLIGHT_TRACKING_URI",
            "sqlite:///mlflow.db",
            "CHURNLIGHT_TRACKING_URI names the relative SQLite path 'mlflow.db'",
        ),
    ],
)
def test_a_relative_state_path_is_refused(clean_env, monkeypatch, variable, value, message) -> None:
    # A relative path moves with the working directory: a scheduler elsewhere would miss it.
    monkeypatch.setenv(variable, value)

    with pytest.raises(ConfigError, match=message):
        get_store_settings()


def test_training_and_serving_settings_find_the_same_state(clean_env, tmp_path, monkeypatch):
    monkeypatch.setenv("CHURNLIGHT_HOME", str(tmp_path / "state"))

    assert TrainingSettings().state() == ServingSettings().state() == StoreSettings().state()


# ---- through the CLI, from other working directories ---------------------------------------


def _env(**variables: str) -> dict[str, str]:
    """The test's environment without CHURNLIGHT_ variables, plus ``variables``; the
    repository importable from any working directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURNLIGHT_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["COLUMNS"] = "250"
    return {**env, **variables}


def _churnlight(
    *args: str, cwd: Path, env: dict[str, str], timeout: int = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "churnlight", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _dirs(tmp_path: Path, *names: str) -> list[Path]:
    made = [tmp_path / n for n in names]
    for d in made:
        d.mkdir()
    return made


def test_info_and_version_name_the_same_state_from_any_directory(tmp_path) -> None:
    one, two = _dirs(tmp_path, "one", "two")
    home = tmp_path / "state"
    env = _env(CHURNLIGHT_HOME=str(home))

    infos = [_churnlight("info", "--json", cwd=d, env=env) for d in (one, two)]
    version = _churnlight("--version", cwd=two, env=env)

    for info in infos:
        assert info.returncode == 0, info.stderr
        assert info.stdout.count("\n") == 1  # one line
    first, second = (json.loads(i.stdout) for i in infos)
    assert first == second
    assert first["state"] == {
        "home": str(home),
        "home_from": "CHURNLIGHT_HOME",
        "tracking_uri": f"sqlite:///{home / 'mlflow.db'}",
        "store_exists": False,
        "artifact_location": (home / "artifacts").as_uri(),
        "locks": str(home / "locks"),
        "history": str(home / "history"),
    }
    assert set(first["extras"]) == {"spark", "notebooks", "dev"}
    assert version.returncode == 0, version.stderr
    assert version.stdout.splitlines() == [
        f"churnlight {first['version']}",
        f"state: {home} (from CHURNLIGHT_HOME)",
    ]
    assert not home.exists()  # reading where the state is creates nothing
    assert list(one.iterdir()) == list(two.iterdir()) == []


@LINUX_ONLY
def test_info_without_settings_names_the_users_data_dir(tmp_path) -> None:
    (work,) = _dirs(tmp_path, "work")
    env = _env(XDG_DATA_HOME=str(tmp_path / "data"))

    info = _churnlight("info", "--json", cwd=work, env=env)

    assert info.returncode == 0, info.stderr
    state = json.loads(info.stdout)["state"]
    assert state["home"] == str(tmp_path / "data" / "churnlight")
    assert state["home_from"] == "default"


def test_a_bad_state_setting_is_one_red_line(tmp_path) -> None:
    (work,) = _dirs(tmp_path, "work")
    env = _env(CHURNLIGHT_MODELS_DIR=str(tmp_path / "models"))

    for args in (["info"], ["--version"], ["evaluate"]):
        result = _churnlight(*args, cwd=work, env=env)

        assert result.returncode == 1, args
        assert result.stdout == ""
        assert result.stderr.startswith("error: invalid settings: CHURNLIGHT_MODELS_DIR (")
        assert result.stderr.count("\n") == 1, result.stderr  # no traceback


@pytest.mark.slow
def test_a_scheduler_in_another_directory_finds_what_training_left(tmp_path) -> None:
    trainer, scheduler = _dirs(tmp_path, "trainer", "scheduler")
    features = write_synthetic(tmp_path / "features.parquet")
    store = tmp_path / "store"

    # Trained with only the tracking URI set: everything lands beside the database.
    train = _churnlight(
        *("train", "--features", str(features), "--backtests", "1", "--top", "0"),
        cwd=trainer,
        env=_env(CHURNLIGHT_TRACKING_URI=f"sqlite:///{store / 'mlflow.db'}"),
        timeout=600,
    )
    assert train.returncode == 0, train.stderr
    assert sorted(p.name for p in store.iterdir()) == ["artifacts", "locks", "mlflow.db"]
    assert sorted(p.name for p in (store / "locks").iterdir()) == [
        "registry.holder",
        "registry.lock",
        "store.lock",
    ]
    # the registered bundles (whatever kind of model won: bundle.json is every bundle's manifest)
    assert any((store / "artifacts").rglob("bundle.json"))
    assert list(trainer.iterdir()) == []  # no models/, mlruns/ or mlflow.db in the cwd

    # A scheduler elsewhere with only CHURNLIGHT_HOME set finds the champion and its files.
    evaluate = _churnlight(
        "evaluate", "--json", cwd=scheduler, env=_env(CHURNLIGHT_HOME=str(store))
    )
    assert evaluate.returncode == 0, evaluate.stderr
    found = json.loads(evaluate.stdout)
    assert {k: (v["version"], v["aliases"]) for k, v in found.items()} == {
        "churn": ("1", ["champion"]),
        "expansion": ("1", ["champion"]),
    }
    assert list(scheduler.iterdir()) == []
