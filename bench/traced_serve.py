"""`churnlight serve` with tracemalloc on, for the soak benchmark's memory diagnosis
(``CHURNLIGHT_BENCH_TRACEMALLOC=1 python -m bench soak``): ``python -m bench.traced_serve
DIR SERVE-ARGS...``. Each SIGUSR1 writes a tracemalloc snapshot to ``DIR/trace-<n>.pickle``
(n = 0, 1, ...; written under another name, then renamed, so a file that exists is complete).

Tracing slows the server and costs memory of its own: a traced run diagnoses, it does not
measure (its RSS and latencies are not the soak's figures)."""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc
from pathlib import Path
from types import FrameType

FRAMES = 12
"""Frames kept per allocation's traceback."""


def main(argv: list[str]) -> None:
    out = Path(argv[0])
    taken = 0

    def dump(signum: int, frame: FrameType | None) -> None:
        nonlocal taken
        path = out / f"trace-{taken}.pickle"
        partial = path.with_suffix(".partial")
        tracemalloc.take_snapshot().dump(str(partial))
        os.replace(partial, path)
        taken += 1

    tracemalloc.start(FRAMES)
    signal.signal(signal.SIGUSR1, dump)
    from churnlight.cli import app

    sys.argv = ["churnlight", *argv[1:]]
    app()


if __name__ == "__main__":
    main(sys.argv[1:])
