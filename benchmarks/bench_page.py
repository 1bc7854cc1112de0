"""Where a page's time goes, from the visit to the first figure on screen. Prints JSON.

Two parts, each a median over ``--runs`` repetitions:

* **in the kernel** (jupyter_client starts kernels as Voilà does): the kernel's start until it
  answers (a new Python process, and a fork of the warm template, explorer/serving/fork.py), the
  imports (torch; matplotlib and the widgets), building the App, the first full Agg draw of the
  deep network's figure and encoding it as the page's PNG frame;
* **in the browser** (Voilà with the repository's voila.py, headless Chromium): from the request
  to the page's first byte and last byte, DOMContentLoaded, the load event (Voilà's scripts), the
  kernel websocket open, and the first figure painted (drawImage on the ipympl canvas). Once with
  a kernel started for the visit ("cold": EXPLORER_PREHEAT=0) and once with a preheated one.

Run: .venv/bin/python benchmarks/bench_page.py [--runs 5] [--part kernel|browser|both]
Pass EXPLORER_FORK=0 in the environment to time kernels started as new processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_client.manager import AsyncKernelManager

from tests.serving import CHROMIUM_ARGS, DARK_PIXELS_JS, voila_server

TIMELINE_JS = """
window.__marks = {};
const drawImage = CanvasRenderingContext2D.prototype.drawImage;
CanvasRenderingContext2D.prototype.drawImage = function (...args) {
  const out = drawImage.apply(this, args);
  if (!window.__marks.first_paint && this.canvas.closest
      && this.canvas.closest('.jupyter-matplotlib-canvas-div')) {
    window.__marks.first_paint = performance.now();
  }
  return out;
};
const Socket = window.WebSocket;
window.WebSocket = function (...args) {
  const socket = new Socket(...args);
  socket.addEventListener('open', () => {
    if (!window.__marks.websocket_open) window.__marks.websocket_open = performance.now();
  });
  return socket;
};
window.WebSocket.prototype = Socket.prototype;
Object.assign(window.WebSocket, Socket);
"""
NAVIGATION_JS = """() => { const n = performance.getEntriesByType('navigation')[0];
  return {first_byte: n.responseStart, last_byte: n.responseEnd,
          dom_content_loaded: n.domContentLoadedEventEnd, load: n.loadEventEnd,
          ...window.__marks}; }"""

# what runs in the kernel, step by step; each prints nothing and is timed from the client
KERNEL_STEPS = {
    "import_torch": "import torch",
    "import_matplotlib_and_widgets": (
        "import matplotlib.figure, ipympl.backend_nbagg, ipywidgets, anywidget"
    ),
    "build_app": "from explorer import App\napp = App()",
    "first_full_draw_and_png": (
        "figure = app.panel('deep').figures()[0]\n"
        "figure.canvas.draw()\n"
        "figure.canvas._png_is_old = True\n"
        "figure.canvas._force_full = True\n"
        "frame = figure.canvas.get_diff_image()"
    ),
}


async def _kernel_once(fork: bool) -> dict[str, float]:
    manager = AsyncKernelManager(kernel_name="python3")
    if fork:
        manager.kernel_spec.metadata["kernel_provisioner"] = {"provisioner_name": "explorer-fork"}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    await manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
        times = {"kernel_start_to_ready": (time.perf_counter() - start) * 1e3}
        for name, code in KERNEL_STEPS.items():
            began = time.perf_counter()
            reply = await client.execute_interactive(code, timeout=120)
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"{name} failed in the kernel: {reply['content']}")
            times[name] = (time.perf_counter() - began) * 1e3
        return times
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


def kernel_part(runs: int) -> dict[str, Any]:
    """Median ms of each kernel step, for a new process and for a fork of the template."""
    report: dict[str, Any] = {}
    for fork in (False, True):
        asyncio.run(_kernel_once(fork))  # warm: the template's own start, the disk cache
        samples = [asyncio.run(_kernel_once(fork)) for _ in range(runs)]
        report["forked" if fork else "new_process"] = _medians(samples)
    return report


def browser_part(runs: int) -> dict[str, Any]:
    """Median ms of each page milestone, cold and preheated."""
    from playwright.sync_api import sync_playwright

    report: dict[str, Any] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for name, preheat in (("cold", "0"), ("preheated", "2")):
            with voila_server(env={"EXPLORER_PREHEAT": preheat}) as url:
                _visit(browser, url)  # the server's first page loads its templates
                samples = []
                for _ in range(runs):
                    time.sleep(3.0 if preheat != "0" else 1.0)  # the pool refills
                    samples.append(_visit(browser, url))
                report[name] = _medians(samples)
        browser.close()
    return report


def _visit(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.add_init_script(TIMELINE_JS)
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=120_000, polling=20)
    marks: dict[str, float] = page.evaluate(NAVIGATION_JS)
    context.close()
    return marks


def _medians(samples: list[dict[str, float]]) -> dict[str, float]:
    median: Callable[[list[float]], float] = statistics.median
    return {key: round(median([s[key] for s in samples]), 1) for key in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--part", choices=("kernel", "browser", "both"), default="both")
    args = parser.parse_args()
    report: dict[str, Any] = {
        "benchmark": "where a page's time goes (ms, medians)",
        "runs": args.runs,
        "load_average_at_start": os.getloadavg()[0],
    }
    if args.part in ("kernel", "both"):
        report["kernel_ms"] = kernel_part(args.runs)
    if args.part in ("browser", "both"):
        report["page_ms_from_request"] = browser_part(args.runs)
    report["load_average_at_end"] = os.getloadavg()[0]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
