"""The lock files `make setup` installs (requirements/*.txt, refreshed by `make lock`): each
pins every dependency pyproject.toml declares for its use, the core one (what `make demo`
installs) holds no PySpark, Jupyter or test tools, and the two agree on every version they
share, so installing one after the other into the same .venv changes nothing of the first.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: str) -> dict[str, set[str]]:
    """Package -> the versions ``requirements/<lock>`` pins (several only under markers)."""
    pins: dict[str, set[str]] = {}
    for name, version in PIN.findall((REPO / "requirements" / lock).read_text()):
        pins.setdefault(_normal(name), set()).add(version)
    return pins


def _declared(*extras: str) -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    names = set()
    for requirement in requirements:
        found = NAME.match(requirement)
        assert found, requirement
        names.add(_normal(found.group()))
    return names


def test_the_lock_files_pin_hashes_and_say_how_they_are_made() -> None:
    for lock in ("core.txt", "full.txt", "uv.txt"):
        text = (REPO / "requirements" / lock).read_text()
        assert "#    make lock\n" in text, lock
        requirements = [line for line in text.splitlines() if NAME.match(line)]
        assert requirements, lock
        assert all(PIN.match(line) for line in requirements), lock  # every one pinned
        assert "--hash=sha256:" in text, lock


@pytest.mark.parametrize(
    ("lock", "extras"), [("core.txt", ()), ("full.txt", ("dev", "spark", "notebooks"))]
)
def test_every_declared_dependency_is_locked(lock: str, extras: tuple[str, ...]) -> None:
    missing = _declared(*extras) - set(_pins(lock))

    assert not missing, f"run `make lock`: {sorted(missing)} not in requirements/{lock}"


def test_the_core_lock_installs_no_spark_jupyter_or_test_tools() -> None:
    core = _pins("core.txt")

    for name in ("pyspark", "jupyterlab", "jupyter-server", "ipykernel", "pytest", "deptry"):
        assert name not in core, name
    for name in ("mlflow", "lightgbm", "fastapi", "optuna", "filelock", "setuptools"):
        assert name in core, name


def test_the_core_and_full_locks_agree_on_every_shared_version() -> None:
    core, full = _pins("core.txt"), _pins("full.txt")

    differing = {
        name: (v, full.get(name)) for name, v in core.items() if not v <= full.get(name, set())
    }
    assert differing == {}
