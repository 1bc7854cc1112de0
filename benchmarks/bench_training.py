"""Training lab: steps per second per scenario, and the longest time one callback holds the kernel
while the panel trains.

Steps per second: ``Trainer.advance`` for each scenario (clipped, so no run stops early), median
over repeats. Kernel hold: the TrainingPanel trains in an asyncio loop as it does in a kernel. The
browser's part is played in the loop too: ipympl's ``draw_idle`` asks the browser for a draw, and
the browser's answer makes the kernel render and encode the figure in a callback of its own; here
each ``draw_idle`` schedules that ``canvas.draw()`` as a separate loop callback (with the diff
image encoded, as when a browser is connected). A watchdog coroutine asks to wake every 5 ms; how
late it wakes is how long the loop was held by something else. torch runs on 1 thread, as in the
served kernels. Prints JSON.

Run: .venv/bin/python benchmarks/bench_training.py
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import matplotlib

matplotlib.use("Agg")

import torch

from explorer.core import Trainer
from explorer.panels import TrainingPanel

WATCH_SECONDS = 0.005


def steps_per_second(scenario: str, steps: int, repeats: int, **settings: object) -> dict:
    rates = []
    for _ in range(repeats):
        trainer = Trainer(scenario, clip_method="global_norm", steps=steps, **settings)
        began = time.perf_counter()
        trainer.advance(steps)
        rates.append(steps / (time.perf_counter() - began))
    return {"median": round(statistics.median(rates), 1), "repeats": repeats, "steps": steps}


def _serve_draws_like_a_browser(panel: TrainingPanel, loop: asyncio.AbstractEventLoop) -> None:
    for figure in (panel.figure, panel.layer_figure):
        canvas = figure.canvas
        canvas.syncing_data_url = False  # a browser is connected: ipympl sends diff images only
        canvas.draw_idle = lambda canvas=canvas: loop.call_soon(canvas.draw)


async def _hold_during_run(settings: dict, stop_after: float | None) -> dict:
    loop = asyncio.get_running_loop()
    panel = TrainingPanel()
    _serve_draws_like_a_browser(panel, loop)
    with panel.hold():
        for name, value in settings.items():
            panel.controls[name].value = value
    lateness: list[float] = []
    running = True

    async def watchdog() -> None:
        while running:
            began = time.perf_counter()
            await asyncio.sleep(WATCH_SECONDS)
            lateness.append(time.perf_counter() - began - WATCH_SECONDS)

    watcher = loop.create_task(watchdog())
    await asyncio.sleep(0.05)
    began = time.perf_counter()
    panel.start_button.click()
    if stop_after is not None:
        await asyncio.sleep(stop_after)
        panel.stop_button.click()
    await panel.task
    elapsed = time.perf_counter() - began
    await asyncio.sleep(0.3)  # the last draw requests
    running = False
    await watcher
    lateness_ms = sorted(1e3 * x for x in lateness)
    unclipped, clipped = panel.histories
    return {
        "settings": settings,
        "run_s": round(elapsed, 2),
        "steps": [unclipped.steps, clipped.steps],
        "stop_reasons": [unclipped.stop_reason, clipped.stop_reason],
        "longest_kernel_hold_ms": round(lateness_ms[-1], 1),
        "p99_hold_ms": round(lateness_ms[int(0.99 * (len(lateness_ms) - 1))], 1),
        "longest_training_slice_ms": round(panel.stats["longest_slice_ms"], 1),
        "repaints": panel.stats["draws"],
        "full_draws": panel.redrawer.full_draws + panel.layer_redrawer.full_draws,
    }


def main() -> None:
    torch.set_num_threads(1)
    report = {
        "benchmark": "training lab (1 torch thread)",
        "steps_per_second": {
            "regression (MLP 20-25-1, batch 128)": steps_per_second("regression", 400, 5),
            "adding T=100 (tanh RNN hidden 64, batch 64)": steps_per_second("adding", 100, 3),
            "adding T=30": steps_per_second("adding", 200, 3, seq_len=30),
        },
        "kernel_hold_during_a_run": [
            asyncio.run(_hold_during_run({"steps": 2000}, None)),
            asyncio.run(
                _hold_during_run({"scenario": "adding", "steps": 1000, "seq_len": 100}, 4.0)
            ),
        ],
        "target_ms": 100,
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
