"""Slider-to-repaint latency in a real browser, and kernel memory, for one panel of the app.

Voila serves notebooks/explorer.ipynb (the repository's voila.py); headless Chromium opens it.
Each press of an arrow key on a panel's slider (by default the deep network's depth; --tab and
--slider choose another, e.g. --tab "Recurrent network" --slider "sequence T") is timed from
the key press as the page received it (the keydown event's time stamp) to the first time the
page paints the figure canvas again
(CanvasRenderingContext2D.drawImage on the visible ipympl canvas, hooked before the page
loads). The next press waits until that paint is done. Kernel memory (VmRSS of the page's
kernel, found by the kernel id in the page) is read after the notebook ran and after 100
changes. Prints JSON.
Run: .venv/bin/python benchmarks/bench_browser.py [--tab TITLE --slider LABEL] [--during-training]
     .venv/bin/python benchmarks/bench_browser.py --after-training --slider "inspect step"
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright

from tests.serving import (
    CHROMIUM_ARGS,
    VISIBLE_STATUS_JS,
    chromium_path,
    kernel_process,
    open_app,
    open_tab,
    slider_of,
    type_into_slider,
    voila_server,
)

HOOK_PAINTS_JS = """
window.__paints = [];
window.__keys = [];
// the moment the browser received each key press (the event's own time stamp): what the user
// did, without the time the test driver takes to deliver the press
window.addEventListener('keydown', (e) => window.__keys.push(e.timeStamp), true);
const originalDrawImage = CanvasRenderingContext2D.prototype.drawImage;
CanvasRenderingContext2D.prototype.drawImage = function (...args) {
  const out = originalDrawImage.apply(this, args);
  if (this.canvas.offsetParent !== null && this.canvas.closest('.jupyter-matplotlib-canvas-div')) {
    window.__paints.push(performance.now());
  }
  return out;
};
"""
PRESSES = 100


def kernel_rss_mib(kernel_id: str) -> float:
    """Resident memory of the kernel process of ``kernel_id``."""
    return kernel_process(kernel_id).memory_info().rss / 2**20


TRAINING_STATUS_JS = """() => ([...document.querySelectorAll('[role=status]')]
  .find(s => /Training|Done|Stopped/.test(s.textContent)) || {textContent: ''}).textContent"""


def _start_long_training(page) -> None:
    """Open the Training lab, choose the recurrent scenario with 3000 steps, press Start."""
    open_tab(page, "Training lab")
    page.locator(
        ".widget-dropdown:has(label:text-is('scenario')) select >> visible=true"
    ).select_option(label="tanh RNN on the adding problem")
    type_into_slider(page, "steps", "3000")
    page.locator("button:has-text('Start') >> visible=true").click()
    page.wait_for_function(f"({TRAINING_STATUS_JS})().includes('Training… step')", timeout=20_000)


def _train_to_the_end(page) -> None:
    """Open the Training lab, press Start with its defaults, wait until the run is done (the
    inspect-step slider then spans the recorded steps)."""
    open_tab(page, "Training lab")
    page.locator("button:has-text('Start') >> visible=true").click()
    page.wait_for_function(f"({TRAINING_STATUS_JS})().includes('Done')", timeout=120_000)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tab", default=None, help="the App tab to open first")
    parser.add_argument("--slider", default="depth L", help="the slider's label")
    parser.add_argument(
        "--during-training",
        action="store_true",
        help="start a long run in the Training lab first (the recurrent scenario, 3000 steps)"
        " and press the slider while it trains",
    )
    parser.add_argument(
        "--after-training",
        action="store_true",
        help="train the Training lab's default pair to the end first, then press the slider"
        " (for --slider 'inspect step')",
    )
    args = parser.parse_args()
    executable = chromium_path()
    if executable is None:
        raise SystemExit("chromium not found: run `make test` once (it installs Debian's chromium)")
    with voila_server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context()
        context.add_init_script(HOOK_PAINTS_JS)
        start = time.perf_counter()
        page = open_app(context, url)
        page_ready_s = time.perf_counter() - start
        kernel_id = page.evaluate(
            "JSON.parse(document.getElementById('jupyter-config-data').textContent).kernelId"
        )
        time.sleep(1.0)
        rss_after_run = kernel_rss_mib(kernel_id)

        if args.after_training:
            _train_to_the_end(page)
        elif args.during_training:
            _start_long_training(page)
            open_tab(page, args.tab or "Deep network")
        elif args.tab:
            open_tab(page, args.tab)
        handle = slider_of(page, args.slider)
        handle.focus()
        latencies = []
        key = "ArrowRight"
        for press in range(PRESSES):
            if press == PRESSES // 2:
                key = "ArrowLeft"  # e.g. depth 20 -> 70 -> 20
            # at an end of the slider a press changes nothing and paints nothing: turn back
            value, low, high = handle.evaluate("e => [+e.value, +e.min, +e.max]")
            if value >= high:
                key = "ArrowLeft"
            elif value <= low:
                key = "ArrowRight"
            pressed = page.evaluate("window.__keys.length")
            handle.press(key)
            page.wait_for_function(
                f"window.__keys.length > {pressed}"
                f" && window.__paints.some(t => t > window.__keys[{pressed}])",
                timeout=20_000,
                polling="raf",
            )
            latencies.append(
                page.evaluate(
                    f"Math.min(...window.__paints.filter(t => t > window.__keys[{pressed}]))"
                    f" - window.__keys[{pressed}]"
                )
            )
            time.sleep(0.15)  # let any late message land before the next press
        final_status = page.evaluate(VISIBLE_STATUS_JS)
        training_status = page.evaluate(TRAINING_STATUS_JS)
        time.sleep(1.0)
        rss_after_changes = kernel_rss_mib(kernel_id)
        browser.close()

    latencies.sort()
    report = {
        "benchmark": f"{args.tab or 'Deep network'} panel, slider {args.slider!r},"
        " in Voila + headless Chromium"
        + (", while the Training lab trains" if args.during_training else ""),
        "page_ready_s": round(page_ready_s, 2),
        "slider_to_repaint_ms": {
            "median": round(statistics.median(latencies), 1),
            "p90": round(latencies[int(0.9 * (len(latencies) - 1))], 1),
            "max": round(latencies[-1], 1),
            "presses": len(latencies),
        },
        "final_status": final_status,
        "training_status_after_presses": training_status if args.during_training else None,
        "kernel_rss_mib": {
            "after_notebook_ran": round(rss_after_run, 1),
            f"after_{PRESSES}_changes": round(rss_after_changes, 1),
        },
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
