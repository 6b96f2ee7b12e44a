"""`python -m bench [NAME ...] [--quick]`: run the registered benchmarks (all by default),
print each one's report and a summary, and keep the results in bench/results/."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

from bench import BENCHMARKS, get_bench_settings

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    names = [b.name for b in BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"one of {', '.join(names)}")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke-sized runs (also CHURNLIGHT_BENCH_QUICK=1)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for bench in BENCHMARKS:
            print(f"{bench.name:12} {bench.description}")
        return 0
    unknown = [n for n in args.names if n not in names]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    quick = args.quick or get_bench_settings().quick
    chosen = [b for b in BENCHMARKS if not args.names or b.name in args.names]
    RESULTS.mkdir(exist_ok=True)
    summary: list[tuple[str, str, float]] = []
    for bench in chosen:
        print(f"== {bench.name}: {bench.description}{' (quick)' if quick else ''}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(bench.module)
            results = module.run(quick=quick)
        except Exception as err:  # a failing benchmark is reported, the others still run
            print(f"   failed: {type(err).__name__}: {err}", flush=True)
            summary.append((bench.name, "FAILED", time.perf_counter() - started))
            continue
        for line in module.report(results):
            print(f"   {line}", flush=True)
        payload = {"quick": quick, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), **results}
        name = f"{bench.name}{'-quick' if quick else ''}.json"
        (RESULTS / name).write_text(json.dumps(payload, indent=2, default=str) + "\n")
        summary.append((bench.name, "ok", time.perf_counter() - started))
    print("== summary")
    for name, status, seconds in summary:
        print(f"   {name:12} {status:7} {seconds:8.1f} s")
    return 0 if all(status == "ok" for _, status, _ in summary) else 1


if __name__ == "__main__":
    sys.exit(main())
