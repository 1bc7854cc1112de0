"""Compute time of one deep-network refresh (explorer.core.chain_gradients), in milliseconds.

Prints JSON: the median and p90 over repeated runs at the panel's defaults and at the edge of
its compute budget (depth x width^2 = 1.1e6) for several widths.
Run: .venv/bin/python benchmarks/bench_chain.py
"""

from __future__ import annotations

import json
import statistics
import time

import torch

from explorer.core import chain_gradients
from explorer.panels.chain import COMPUTE_BUDGET

DEFAULTS = {"depth": 20, "width": 32, "weight_scale": 1.5, "init": "gaussian", "activation": "tanh"}


def _time_ms(kwargs: dict, repeats: int) -> dict[str, float]:
    chain_gradients(**kwargs)  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        chain_gradients(**kwargs)
        times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    return {
        "median_ms": round(statistics.median(times), 2),
        "p90_ms": round(times[int(0.9 * (len(times) - 1))], 2),
        "repeats": repeats,
    }


def main() -> None:
    cases = {"defaults (depth 20, width 32)": DEFAULTS}
    for width in (1, 32, 64, 128, 256):
        depth = min(1000, COMPUTE_BUDGET // width**2)
        cases[f"budget edge: depth {depth}, width {width}"] = {
            **DEFAULTS,
            "depth": depth,
            "width": width,
        }
    report = {
        "benchmark": "chain_gradients compute per refresh",
        "torch_threads": torch.get_num_threads(),
        "compute_budget": COMPUTE_BUDGET,
        "cases": {name: _time_ms(kwargs, repeats=15) for name, kwargs in cases.items()},
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
