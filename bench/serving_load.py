"""Load generator of the serving benchmark, run as its own process: ``python -m
bench.serving_load CONFIG.json`` prints one JSON object of latencies per phase.

HTTP/1.1 over keep-alive connections to 127.0.0.1 only, written on asyncio + uvloop with
pre-built request bytes, so the client costs a few tens of microseconds per request and the
server is what is measured. Every phase is bounded twice: a request count and a time cap.

Config: {"port": int, "phases": [{"name", "requests": [bytes as latin-1 str, ...],
"connections", "count", "seconds"}]}. A phase cycles through its requests. Output per phase:
sent, errors (non-2xx), statuses (count per status), seconds, requests_per_second, p50_ms,
p90_ms, p99_ms."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import numpy as np


async def _connection(
    port: int,
    requests: list[bytes],
    offset: int,
    stride: int,
    budget: dict[str, Any],
    latencies: list[int],
    statuses: list[int],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while budget["left"] > 0 and time.perf_counter() < budget["deadline"]:
            budget["left"] -= 1
            request = requests[i % len(requests)]
            i += stride
            started = time.perf_counter_ns()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            at = lower.find(b"content-length:")
            length = int(lower[at + 15 : lower.find(b"\r\n", at)]) if at >= 0 else 0
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter_ns() - started)
            statuses.append(status)
    finally:
        writer.close()


async def _phase(port: int, phase: dict[str, Any]) -> dict[str, Any]:
    requests = [r.encode("latin-1") for r in phase["requests"]]
    budget = {"left": int(phase["count"]), "deadline": time.perf_counter() + phase["seconds"]}
    latencies: list[int] = []
    statuses: list[int] = []
    connections = int(phase["connections"])
    started = time.perf_counter()
    await asyncio.gather(
        *(
            _connection(port, requests, k, connections, budget, latencies, statuses)
            for k in range(connections)
        )
    )
    seconds = time.perf_counter() - started
    ms = np.asarray(latencies, dtype=np.float64) / 1e6
    return {
        "name": phase["name"],
        "connections": connections,
        "sent": len(ms),
        "errors": sum(1 for s in statuses if not 200 <= s < 300),
        "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "seconds": round(seconds, 3),
        "requests_per_second": round(len(ms) / seconds, 1) if seconds else 0.0,
        "p50_ms": round(float(np.percentile(ms, 50)), 4) if len(ms) else None,
        "p90_ms": round(float(np.percentile(ms, 90)), 4) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 4) if len(ms) else None,
    }


async def _main(config: dict[str, Any]) -> list[dict[str, Any]]:
    return [await _phase(config["port"], phase) for phase in config["phases"]]


def main(argv: list[str]) -> int:
    with open(argv[0]) as handle:
        config = json.load(handle)
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover - uvicorn[standard] brings uvloop
        runner = asyncio.run
    print(json.dumps(runner(_main(config))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
