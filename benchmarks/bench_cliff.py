"""The cliff: its loss surface, batched descent, and the clipping and cliff panels' refreshes.

- the loss surface at 300 x 300 with T = 50 (target at most 50 ms);
- 64 starts x 500 steps of unclipped and clipped descent, run together (target at most 150 ms);
- ``clip_gradients`` on a small list of tensors;
- whole panel refreshes in plain Python with the ipympl canvas (a refresh that asks for a full
  draw is timed with that draw, as the browser would ask for it).
Prints JSON. Run with one thread, as voila.py gives each served page:
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_cliff.py

"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import time_ms

from explorer.core import cliff_descents, cliff_surface, clip_gradients
from explorer.panels import CliffPanel, ClipPanel
from explorer.panels.cliff import B_RANGE, W_RANGE


def _fan(side: int) -> np.ndarray:
    w = np.linspace(*W_RANGE, side + 2)[1:-1]
    b = np.linspace(*B_RANGE, side + 2)[1:-1]
    return np.stack(np.meshgrid(w, b), axis=-1).reshape(-1, 2)


def _panel_ms(panel, settings: dict, control: str, values: list, repeats: int) -> dict:
    panel.set_state(settings)
    panel.figure.canvas.draw()
    cycle = itertools.cycle(values)

    def one() -> None:
        full = panel.redrawer.full_draws if hasattr(panel, "redrawer") else None
        panel.controls[control].value = next(cycle)
        if full is None or panel.redrawer.full_draws != full:
            panel.figure.canvas.draw()

    return time_ms(one, repeats)


def main() -> None:
    torch.manual_seed(0)
    grads = [torch.randn(64, 32), torch.randn(64), torch.randn(1, 64)]
    cliff = CliffPanel()
    clip = ClipPanel()
    report = {
        "threads": torch.get_num_threads(),
        "cliff_surface_300x300_T50": time_ms(lambda: cliff_surface(W_RANGE, B_RANGE, 300, 50), 15),
        "cliff_descents_64_starts_500_steps_both": time_ms(
            lambda: cliff_descents(_fan(8), 0.5, 500, 1.0), 9
        ),
        "clip_gradients_global_norm_3_tensors": time_ms(
            lambda: clip_gradients(grads, "global_norm", 1.0), 200
        ),
        "cliff_panel_refresh_ms": {
            "one start, 200 steps, learning rate moves": _panel_ms(
                cliff, {"fan": False, "steps": 200}, "lr", [0.5, 0.56], 15
            ),
            "fan of 64, 200 steps, learning rate moves": _panel_ms(
                cliff, {"fan": True, "steps": 200}, "lr", [0.5, 0.56], 9
            ),
            "one start, T moves (new surface, full draw)": _panel_ms(
                cliff, {"fan": False, "steps": 200}, "seq_len", [50, 51, 52, 53, 54, 55], 12
            ),
        },
        "clip_panel_refresh_ms": {
            "3-D example, threshold moves": _panel_ms(
                clip, {"gradient": "16, 12, -8"}, "threshold", [5.0, 5.5], 15
            ),
            "2-D example, threshold moves": _panel_ms(
                clip, {"gradient": "3, 4"}, "threshold", [2.0, 2.2], 15
            ),
        },
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
