"""Helpers of tests that run `churnlight serve` as a child process: a free port on
127.0.0.1, and the server's log read in a thread (``tests/serving/test_refresh_serve.py``,
the browser tests' ``tests/ui/conftest.py``)."""

from __future__ import annotations

import socket
import threading


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerLog:
    """Reads the server's JSON log lines (stderr) in a thread; ``wait_ready`` waits for the
    'ready' line of given versions: an event, not a poll."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:
        for raw in stream:
            with self._cond:
                self.lines.append(raw.decode(errors="replace"))
                self._cond.notify_all()
        with self._cond:
            self.lines.append("<eof>")
            self._cond.notify_all()

    def wait_ready(self, churn: str, expansion: str, timeout: float = 180) -> bool:
        wanted = f"{churn} / {expansion}"

        def seen() -> bool:
            return any(
                ("ready:" in line and wanted in line) or line == "<eof>" for line in self.lines
            )

        with self._cond:
            self._cond.wait_for(seen, timeout)
            return any("ready:" in line and wanted in line for line in self.lines)
