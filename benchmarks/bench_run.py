"""The Your run tab at 300 tensors x 2000 steps: reading a recording, and redrawing its figure.

A made-up recording of a 12-layer model (300 tensors, 2000 steps, log-normal norms with a spike)
is saved and loaded as an uploaded file is. Timed, median and p90 in ms:

- ``load_ms``: ``GradientHistory.load`` of the .npz bytes;
- ``diagnose_ms``: the panel's ``diagnose`` (order, per-tensor spike onsets, replay of the five
  policies);
- ``show_and_draw_ms``: ``show`` and the full figure draw the browser then asks for (heatmap,
  curves, replay), for a policy setting changed;
- ``step_ms``: moving the inspected step (the readout, and the cursors blitted);
- ``sort_ms``: re-sorting the rows (largest norm / model order alternately) and its draw.

Prints JSON. Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_run.py [--quick]
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("module://ipympl.backend_nbagg")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from timing import time_ms

from explorer.core import GradientHistory
from explorer.panels.run import RunPanel, diagnose

TENSORS, STEPS = 300, 2000


def recording(tensors: int = TENSORS, steps: int = STEPS) -> bytes:
    """A 12-layer model's recording: 25 tensors a layer, a spike at step 1500 in layer 7."""
    rng = np.random.default_rng(0)
    modules = tuple(f"encoder.layers.{i * 12 // tensors}.part{i % 12}" for i in range(tensors))
    names = tuple(f"{m}.{'weight' if i % 2 == 0 else 'bias'}.{i}" for i, m in enumerate(modules))
    norms = np.exp(rng.normal(size=(steps, tensors)))
    norms[1500:, 7 * 25 : 8 * 25] *= 1e3
    history = GradientHistory.from_norms(
        norms,
        names,
        losses=np.linspace(3.0, 1.0, steps),
        update_norms=norms * 1e-3,
        shapes=((64, 64),) * tensors,
        modules=modules,
        module_types=("Linear",) * tensors,
    )
    buffer = io.BytesIO()
    history.save(buffer)
    return buffer.getvalue()


def main() -> None:
    repeats = 3 if "--quick" in sys.argv else 9
    data = recording()
    panel = RunPanel()
    assert panel.load_file("bench.npz", data)
    canvas = panel.figure.canvas
    canvas.draw()
    thresholds = iter(np.geomspace(0.5, 50, 1000).tolist())
    steps = iter(range(1, 10_000))
    sorts = iter(["largest norm", "model order"] * 1000)

    def drawn(change: Callable[[], None]) -> Callable[[], None]:
        """``change``, then the full draw the browser asks for if the panel did not blit."""

        def one() -> None:
            full = panel.redrawer.full_draws
            change()
            if panel.redrawer.full_draws != full:
                canvas.draw()

        return one

    setting = drawn(lambda: setattr(panel.controls["threshold"], "value", next(thresholds)))
    step = drawn(lambda: setattr(panel.step_slider, "value", next(steps) % STEPS))
    sort = drawn(lambda: setattr(panel.controls["sort"], "value", next(sorts)))

    params = panel.values()
    history = GradientHistory.load(io.BytesIO(data))
    result = {
        "recording": {"tensors": TENSORS, "steps": STEPS, "bytes": len(data)},
        "load_ms": time_ms(lambda: GradientHistory.load(io.BytesIO(data)), repeats),
        "diagnose_ms": time_ms(lambda: diagnose("bench", history, params), repeats),
        "show_and_draw_ms": time_ms(setting, repeats),
        "step_ms": time_ms(step, repeats),
        "sort_ms": time_ms(sort, repeats),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
