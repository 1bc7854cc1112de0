"""Compute time of one deep-network refresh (explorer.core.chain_gradients), in milliseconds.

Prints JSON: the median and p90 over repeated runs at the panel's defaults and at the edge of
its compute budget (depth x width^2 = 1.1e6) for several widths.
Run: .venv/bin/python benchmarks/bench_chain.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import time_ms

from explorer.core import chain_gradients
from explorer.panels.chain import COMPUTE_BUDGET

DEFAULTS = {"depth": 20, "width": 32, "weight_scale": 1.5, "init": "gaussian", "activation": "tanh"}


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
        "cases": {
            name: time_ms(lambda kwargs=kwargs: chain_gradients(**kwargs), repeats=15)
            for name, kwargs in cases.items()
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
