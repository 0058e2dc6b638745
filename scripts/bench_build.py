#!/usr/bin/env python3
"""Print how long each stage of a build takes and how much memory it peaks at.

Not a test: figures depend on the machine. Usage: .venv/bin/python scripts/bench_build.py [--repeat N]
"""

from __future__ import annotations

import argparse
import importlib
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studybook.cli import RENDERERS
from studybook.reader import read_book
from studybook.render import Options


def measure(fn, repeat: int):
    times, peak = [], 0
    result = None
    for _ in range(repeat):
        tracemalloc.start()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    return result, statistics.median(times), peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--source", type=Path, default=Path("content/handbook.md"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("targets", nargs="*", default=list(RENDERERS))
    args = parser.parse_args()
    book, seconds, peak = measure(lambda: read_book(args.source), args.repeat)
    print(f"{'stage':<8} {'median s':>9} {'peak MiB (Python heap)':>24}  output")
    print(f"{'parse':<8} {seconds:9.3f} {peak / 2**20:24.1f}  {len(book.questions)} questions")
    options = Options(build_time=1767225600)
    for target in args.targets:
        module = importlib.import_module(RENDERERS[target])
        data, seconds, peak = measure(lambda m=module: m.render(book, options), args.repeat)
        print(f"{target:<8} {seconds:9.3f} {peak / 2**20:24.1f}  {len(data):,} bytes")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
