"""What is installed and where the state lives: the facts ``churnlight info`` and
``churnlight --version`` print.

Reading them imports no heavy library (the extras are looked up, not imported) and touches
nothing on disk."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import Any

from features.settings import StoreSettings

EXTRAS = {"spark": "pyspark", "notebooks": "jupyterlab", "dev": "pytest"}
"""Each optional extra and the module whose presence shows it is installed."""


def package_version() -> str:
    """The installed churnlight version ('unknown' when run from a source tree that was never
    installed)."""
    try:
        return version("churnlight")
    except PackageNotFoundError:
        return "unknown"


def installed_extras() -> dict[str, bool]:
    """For each extra (``pip install 'churnlight[spark]'``...), whether it is installed."""
    return {extra: find_spec(module) is not None for extra, module in EXTRAS.items()}


def installation(settings: StoreSettings) -> dict[str, Any]:
    """The version, Python, platform, installed extras, and where the store, artifacts,
    locks and history are (``StoreSettings.state``)."""
    return {
        "version": package_version(),
        "python": platform.python_version(),
        "platform": sys.platform,
        "extras": installed_extras(),
        "state": settings.state().to_dict(),
    }
