"""The locks of the local MLflow store: the registry lock every writer holds, and the store
lock its creation runs under.

Both are ``fcntl.flock`` locks on files beside a SQLite store (``settings.lock_dir()``); the
kernel releases them when the holder dies, even by SIGKILL, so no stale lock is ever left.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import LockedError

if TYPE_CHECKING:
    from training.settings import TrainingSettings

LOCK_FILE = "registry.lock"
STORE_LOCK_FILE = "store.lock"
RETRY_SECONDS = 0.2
"""How often a waiting process tries the registry lock again (flock has no wake-up call)."""


@contextlib.contextmanager
def registry_lock(settings: TrainingSettings, timeout: float | None = None) -> Iterator[Path]:
    """Hold the registry lock (exclusive ``flock``); raise ``LockedError`` when another
    process holds it for longer than ``timeout`` seconds (default: the setting, 0 = fail at
    once). The lock file records the holder's pid for the error message."""
    directory = settings.lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    wait = settings.lock_timeout_seconds if timeout is None else timeout
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    holder = _read_holder(path)
                    raise LockedError(
                        f"another churnlight train or retrain ({holder}) holds {path}; "
                        "nothing was done: run again when it has finished",
                        holder,
                    ) from err
                time.sleep(RETRY_SECONDS)
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n".encode())
        yield path
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def store_lock(directory: Path) -> Iterator[None]:
    """Hold ``store.lock`` in ``directory`` (blocking): concurrent creators of one SQLite
    store race otherwise."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / STORE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _read_holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown process"
    except OSError:
        return "unknown process"
