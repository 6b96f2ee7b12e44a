"""Atomic file writes: a temporary file beside the target, then one rename.

A reader (a CRM loader, a warehouse job, ``churnlight serve``) sees the old file or the new one,
never half a file. The temporary file is created with mode 0666 minus the process's umask —
the mode a plain ``open(path, "w")`` would give — so the written file is as readable as the
operator's umask says (``tempfile.mkstemp`` would make it 0600 whatever the umask, and the
rename would carry that mode to the output)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

FILE_MODE = 0o666
"""Mode requested for new files; the umask then takes its bits away."""
_ATTEMPTS = 100


def write_atomically(path: Path, write: Callable[[str], object]) -> Path:
    """Call ``write(tmp)`` to fill a fresh temporary file ``tmp`` in ``path``'s folder (its
    result is ignored), flush it to disk, then rename it over ``path``. On any error the
    temporary file is removed and ``path`` is left as it was. The parent folder is created
    if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp(path)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def write_text_atomically(path: Path, text: str) -> Path:
    """``text`` (UTF-8) written to ``path`` atomically, as ``write_atomically``."""
    return write_atomically(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _create_temp(path: Path) -> str:
    """A new empty file ``.<name>.<random>.tmp`` beside ``path``, created exclusively."""
    for _ in range(_ATTEMPTS):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return str(tmp)
    raise FileExistsError(f"no free temporary name beside {str(path)!r}")


def _fsync(name: str) -> None:
    # Without it a crash right after the rename can leave an empty file under the final name.
    fd = os.open(name, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
