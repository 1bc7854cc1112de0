"""Shared timing helper for the compute benchmarks: median and p90 of repeated calls, in ms."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable


def time_ms(call: Callable[[], object], repeats: int) -> dict[str, float]:
    """Run ``call`` once to warm up, then ``repeats`` times; median and p90 wall time in ms."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        # nearest rank: the smallest time at or above 90 % of the runs (the larger of two)
        "p90_ms": round(times[math.ceil(0.9 * len(times)) - 1], 2),
        "repeats": repeats,
    }
