"""The locks of the MLflow store: the registry lock every writer holds, and the store lock its
creation runs under.

Both are ``filelock`` locks on files in ``settings.lock_dir()`` (``<home>/locks``): an OS
lock on an open file (``flock`` on POSIX, ``LockFileEx`` on Windows) that the system releases
when its holder dies, even by SIGKILL, so no stale lock is ever left. The registry lock's
holder (pid and start time) is written beside it, in ``registry.holder``, for the message a
refused writer gets.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock, Timeout

from training.errors import LockedError

if TYPE_CHECKING:
    from training.settings import TrainingSettings

LOCK_FILE = "registry.lock"
HOLDER_FILE = "registry.holder"
STORE_LOCK_FILE = "store.lock"
RETRY_SECONDS = 0.2
"""How often a waiting process tries a lock again."""


@contextlib.contextmanager
def registry_lock(settings: TrainingSettings, timeout: float | None = None) -> Iterator[Path]:
    """Hold the registry lock; raise ``LockedError`` when another process holds it for
    longer than ``timeout`` seconds (default: the setting, 0 = fail at once). The holder's
    pid is recorded for the error message."""
    directory = settings.lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    holder_file = directory / HOLDER_FILE
    wait = settings.lock_timeout_seconds if timeout is None else timeout
    lock = FileLock(path)
    deadline = time.monotonic() + wait
    while not _try_acquire(lock):
        if time.monotonic() >= deadline:
            holder = _read_holder(holder_file)
            raise LockedError(
                f"another churnlight train or retrain ({holder}) holds {path}; "
                "nothing was done: run again when it has finished",
                holder,
            )
        time.sleep(RETRY_SECONDS)
    try:
        holder_file.write_text(f"pid {os.getpid()} since {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
        yield path
    finally:
        lock.release()


@contextlib.contextmanager
def store_lock(directory: Path) -> Iterator[None]:
    """Hold ``store.lock`` in ``directory``, waiting as long as it takes: concurrent creators
    of one SQLite store race otherwise."""
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(directory / STORE_LOCK_FILE)
    while not _try_acquire(lock):
        time.sleep(RETRY_SECONDS)
    try:
        yield
    finally:
        lock.release()


def _try_acquire(lock: FileLock) -> bool:
    """One attempt, never blocking. (filelock's own blocking wait refuses a lock another
    thread of this process holds; this loop waits for it like for another process.)"""
    try:
        lock.acquire(blocking=False)
    except Timeout:
        return False
    return True


def _read_holder(path: Path) -> str:
    try:
        return path.read_text().strip() or "unknown process"
    except OSError:
        return "unknown process"
