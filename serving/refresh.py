"""Hot refresh: every ``CHURNLIGHT_REFRESH_SECONDS`` (default 60; 0: never) the server checks
what its state was built from and reloads when it changed, with no manual step:

- the registry's ``champion`` versions (the alias read, as ``serving.loading`` pins it);
- the snapshot's input: the modification stamp of ``--features`` (a file, or the newest
  file of a folder of part files) or of ``--source`` (its newest table file);
- the history store's latest commit (``churnlight score`` recorded a run): then only the
  history view is read again, the scores are not rebuilt.

A change of models or input starts the same background reload as ``POST /v1/admin/reload``
(build the next state, swap one reference): no request fails and no answer mixes versions.
A check that cannot read the registry or the store logs a warning and tries again next time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from serving.settings import ServingSettings

if TYPE_CHECKING:
    from serving.cache import ServingState, StateHolder

log = logging.getLogger("churnlight.serving")
VersionProbe = Callable[[ServingSettings], tuple[str, str] | None]


def champion_versions(settings: ServingSettings) -> tuple[str, str] | None:
    """The versions the ``champion`` alias names now (churn, expansion); None when there is
    no store (a SQLite file that does not exist is never created here)."""
    db = settings.sqlite_path()
    if db is not None and not db.exists():
        return None
    from mlflow.tracking import MlflowClient

    uri = settings.resolved_tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = [
        str(client.get_model_version_by_alias(name, settings.champion_alias).version)
        for name in (settings.churn_model_name, settings.expansion_model_name)
    ]
    return versions[0], versions[1]


def path_stamp(path: Path) -> int | None:
    """Newest modification time (ns) of ``path`` or of any file under it; None if absent."""
    try:
        if path.is_file():
            return path.stat().st_mtime_ns
        newest = path.stat().st_mtime_ns
        for root, _, files in os.walk(path):
            for name in files:
                newest = max(newest, (Path(root) / name).stat().st_mtime_ns)
        return newest
    except OSError:
        return None


def inputs_stamp(settings: ServingSettings) -> int | None:
    """The stamp of what the snapshot is read from (``features`` wins over ``source``)."""
    path = settings.features if settings.features is not None else settings.source
    return path_stamp(Path(path)) if path is not None else None


class Refresher:
    """The background checker of one app; ``stop`` ends it."""

    def __init__(
        self,
        holder: StateHolder,
        settings: ServingSettings,
        probe: VersionProbe = champion_versions,
    ) -> None:
        self.holder = holder
        self.settings = settings
        self.probe = probe
        self.checks = 0
        self.triggered: dict[str, int] = {"models": 0, "snapshot": 0, "history": 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="churnlight-refresh", daemon=True)

    def start(self) -> Refresher:
        if self.settings.refresh_seconds > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.refresh_seconds):
            try:
                self.check()
            except Exception as err:  # a registry or store hiccup: try again next time
                log.warning("refresh check failed: %s: %s", type(err).__name__, err)

    def check(self) -> str | None:
        """Compare once; start what is needed. Returns what changed (or None)."""
        self.checks += 1
        state = self.holder.state
        if state is None or self.holder.reloading:
            return None
        reason = self._changed(state)
        if reason in ("models", "snapshot"):
            log.info("refresh: the %s changed; reloading", reason)
            self.holder.reload()
        elif reason == "history":
            from serving.cache import with_history

            self.holder.replace_state(state, with_history(state, self.settings))
        if reason:
            self.triggered[reason] += 1
        return reason

    def _changed(self, state: ServingState) -> str | None:
        versions = self.probe(self.settings)
        serving = (state.models.churn_info.version, state.models.expansion_info.version)
        if versions is not None and versions != serving:
            return "models"
        if inputs_stamp(self.settings) != state.inputs_stamp:
            return "snapshot"
        if self.settings.history and state.history is not None:
            from serving.history import HistoryStore

            if HistoryStore.from_settings(self.settings).stamp() != state.history_stamp:
                return "history"
        return None
