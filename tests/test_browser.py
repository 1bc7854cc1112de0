"""Voila serves the notebook on loopback; headless Chromium opens it and moves the depth slider.

In CI (CI=true) these tests must run. Elsewhere they skip, saying why, only when no chromium
can be found.
"""

from __future__ import annotations

import re
import time
import urllib.request

import numpy as np
import pytest
import torch

from explorer.core import train
from explorer.panels import CliffPanel, TrainingPanel
from explorer.panels.figures import FIT_PADDING
from tests.serving import (
    CANVAS_URL_JS,
    VISIBLE_CANVAS_JS,
    VISIBLE_READOUT_JS,
    VISIBLE_STATUS_JS,
    box_of,
    open_app,
    open_tab,
    slider_of,
    type_into_slider,
    wait_for_status,
)

# the reference panels built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("close_new_widgets")]


def test_served_page_carries_no_source(server: str) -> None:
    """Voila strips the notebook's code; the kernel id is in the page (used by benchmarks)."""
    html = urllib.request.urlopen(server, timeout=120).read().decode()
    assert "from explorer import App" not in html
    assert re.search(r'"kernelId": "[0-9a-f-]{36}"', html)


def test_depth_slider_changes_readout_and_repaints_canvas(server: str, browser) -> None:
    page = open_app(browser, server)
    readout = page.locator("text=gradient at layer 1").locator("xpath=ancestor::table")
    assert "Computed 20 layers" in page.evaluate(VISIBLE_STATUS_JS)
    before_readout = readout.inner_text()
    before_image = page.evaluate(CANVAS_URL_JS)

    handle = slider_of(page, "depth L")
    handle.focus()
    handle.press("ArrowRight")

    wait_for_status(page, "21 layers")
    assert readout.inner_text() != before_readout
    page.wait_for_function(f"({CANVAS_URL_JS})() !== {before_image!r}", timeout=20_000)
    page.close()


def test_typed_value_beyond_budget_gets_a_message(server: str, browser) -> None:
    """Typing depth 1000 at width 256 in the slider's readout asks for 1000 x 256^2: the panel
    answers in its status line and keeps its last figure."""
    page = open_app(browser, server)
    type_into_slider(page, "width", "256")
    assert "at width 256 use depth ≤ 16" in wait_for_status(page, "compute budget")
    page.close()


def test_recurrent_tab_sequence_slider_recomputes(server: str, browser) -> None:
    """In the Recurrent network tab, ArrowRight on the sequence slider computes T = 101 and
    repaints that tab's figure."""
    page = open_app(browser, server)
    open_tab(page, "Recurrent network")
    assert "Computed 100 steps" in wait_for_status(page, "Computed")
    before_image = page.evaluate(CANVAS_URL_JS)
    handle = slider_of(page, "sequence T")
    handle.focus()
    handle.press("ArrowRight")
    assert "Computed 101 steps" in wait_for_status(page, "101 steps")
    page.wait_for_function(f"({CANVAS_URL_JS})() !== {before_image!r}", timeout=20_000)
    page.close()


def test_click_on_phase_diagram_loads_the_deep_network(server: str, browser) -> None:
    """A click on the phase diagram's heatmap loads that (sigma_w, sigma_b) into the deep-network
    panel and shows its tab, whose status line then reports the phase panel's depth and width."""
    page = open_app(browser, server)
    open_tab(page, "Phase diagram")
    wait_for_status(page, "Measured 864 networks")
    box = page.evaluate(
        f"(() => {{ const r = ({VISIBLE_CANVAS_JS}).getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; })()"
    )
    x, y, width, height = box
    page.mouse.click(x + 0.45 * width, y + 0.5 * height)  # inside the heatmap
    assert "× width 128" in wait_for_status(page, "Computed 50 layers")
    selected = page.locator(".lm-TabBar-tab.lm-mod-current").inner_text()
    assert selected == "Deep network"
    page.close()


# the visible cliff readout (the table of the two runs): its text, or '' before it exists
CLIFF_READOUT_JS = """() => ([...document.querySelectorAll('table')]
  .find(t => t.offsetParent !== null && t.textContent.includes('ends at'))
  || {textContent: ''}).textContent"""


def test_cliff_learning_rate_slider_recomputes_both_runs(server: str, browser) -> None:
    """In The cliff tab, ArrowRight on the learning-rate slider (0.05 decades a step, over
    10^-3..10^1: the grid point after log10(0.5) = -0.301 is -0.25, and 10^-0.25 = 0.5623 arrives
    as 0.56, the two digits a 12 % grid resolves) reruns both descents: the box shows 0.56, the
    readout changes and the figure repaints. The clipped run's largest step is then at most
    lr x threshold = 0.56, and the wall's step reaches it."""
    page = open_app(browser, server)
    open_tab(page, "The cliff")
    wait_for_status(page, "Ran 1 unclipped")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('ends at')", timeout=20_000)
    before_readout = page.evaluate(CLIFF_READOUT_JS)
    before_image = page.evaluate(CANVAS_URL_JS)
    assert box_of(page, "learning rate").input_value() == "0.5"
    handle = slider_of(page, "learning rate")
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('largest step 0.56;')", timeout=20_000)
    assert page.evaluate(CLIFF_READOUT_JS) != before_readout
    assert box_of(page, "learning rate").input_value() == "0.56"
    page.wait_for_function(f"({CANVAS_URL_JS})() !== {before_image!r}", timeout=20_000)
    assert "Ran 1 unclipped" in page.evaluate(VISIBLE_STATUS_JS)
    page.close()


def test_click_on_the_cliff_surface_moves_the_start(server: str, browser) -> None:
    """A click at 30 % of the canvas width, half its height, lands in the surface axes; the
    canvas shows the whole figure, so the (w, b) expected there is matplotlib's own inverse
    transform of figure fraction (0.3, 0.5) on a cliff panel built here. Both runs start there:
    the start boxes and the readout change."""
    page = open_app(browser, server)
    open_tab(page, "The cliff")
    wait_for_status(page, "Ran 1 unclipped")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('ends at')", timeout=20_000)
    before_readout = page.evaluate(CLIFF_READOUT_JS)
    start_w, start_b = box_of(page, "start w"), box_of(page, "start b")
    assert (start_w.input_value(), start_b.input_value()) == ("6", "-3")
    rect = (
        f"(() => {{ const r = ({VISIBLE_CANVAS_JS}).getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; })()"
    )
    box = page.evaluate(rect)
    for _ in range(40):  # the figure is fitted to the page once the tab shows: wait till it is
        time.sleep(0.5)
        box, last = page.evaluate(rect), box
        if box == last:
            break
    x, y, width, height = box
    # the reference figure fitted to the same width (a canvas as wide as its figure)
    reference = CliffPanel()
    reference.fit_width(width + FIT_PADDING)
    figure, axes = reference.figure, reference.surface_view.ax
    figure.canvas.draw()  # the colorbar settles the surface axes' position
    expected_w, expected_b = axes.transData.inverted().transform(
        figure.transFigure.transform((0.3, 0.5))
    )
    w_per_pixel = np.ptp(axes.get_xlim()) / axes.get_window_extent().width
    page.mouse.click(x + 0.3 * width, y + 0.5 * height)
    page.wait_for_function(
        f"(before) => ({CLIFF_READOUT_JS})() !== before", arg=before_readout, timeout=20_000
    )
    page.wait_for_function(
        "(box) => box.value !== '6'", arg=start_w.element_handle(), timeout=20_000
    )
    # within a pixel, and the panel's rounding to 0.01
    assert float(start_w.input_value()) == pytest.approx(expected_w, abs=w_per_pixel + 0.005)
    b_per_pixel = np.ptp(axes.get_ylim()) / axes.get_window_extent().height
    assert float(start_b.input_value()) == pytest.approx(expected_b, abs=b_per_pixel + 0.005)
    assert "Ran 1 unclipped" in page.evaluate(VISIBLE_STATUS_JS)
    page.close()


def test_served_panels_compute_with_their_exact_defaults(server: str, browser) -> None:
    """Served, the panels compute with their own defaults, not values snapped to a slider grid.
    Clipping: article 001's g = [16, 12, -8] at threshold 5 gives [5, 5, -5] and 5 g / sqrt(464)
    = [3.714, 2.785, -1.857]. The cliff: a clipped step is at most lr x threshold = 0.5 x 1, and
    the wall's step reaches it (0.5 to 4 digits; test_panel_clip_cliff checks the same in
    Python)."""
    page = open_app(browser, server)
    open_tab(page, "Clipping")
    wait_for_status(page, "Clipped with torch semantics")
    tables = page.evaluate(VISIBLE_READOUT_JS)
    assert "[5, 5, -5]" in tables
    assert "[3.714, 2.785, -1.857]" in tables
    assert box_of(page, "threshold").input_value() == "5"
    open_tab(page, "The cliff")
    wait_for_status(page, "Ran 1 unclipped")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('ends at')", timeout=20_000)
    assert "largest step 0.5;" in page.evaluate(CLIFF_READOUT_JS)
    page.close()


def test_training_lab_starts_grows_and_stops(server: str, browser) -> None:
    """In the Training lab, steps typed as 5000 and Start pressed: the status counts steps, the
    curves' canvas repaints while training (the plots grow), and Stop ends the run within a few
    seconds. The tutorial's unclipped run overflows within a few steps (test_core_train), so by
    the time Stop is pressed the readout names the step the core finds for it in this process
    (seed 0, one torch thread as in the served kernel)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        step = train("regression", steps=5000, seed=0).first_nonfinite_step
    finally:
        torch.set_num_threads(threads)
    assert step is not None
    page = open_app(browser, server)
    open_tab(page, "Training lab")
    wait_for_status(page, "press Start")
    type_into_slider(page, "steps", "5000")
    reference = TrainingPanel()  # the plan beside Start is the core's, for the typed steps
    reference.set_state({"steps": 5000})
    assert reference.result is not None
    page.wait_for_function(
        "(text) => document.body.innerText.includes(text)",
        arg=reference.result.summary,
        timeout=20_000,
    )
    page.locator("button:has-text('Start') >> visible=true").click()
    wait_for_status(page, "Training… step")
    first = page.evaluate(CANVAS_URL_JS)
    page.wait_for_function(f"({CANVAS_URL_JS})() !== {first!r}", timeout=20_000)
    grown = page.evaluate(CANVAS_URL_JS)
    page.wait_for_function(f"({CANVAS_URL_JS})() !== {grown!r}", timeout=20_000)
    page.locator("button:has-text('Stop') >> visible=true").click()
    status = wait_for_status(page, "Stopped after", timeout_ms=10_000)
    done = int(re.search(r"Stopped after (\d+) steps", status).group(1))
    assert 0 < done < 5000
    readout = page.locator(".widget-html:has-text('non-finite at step') >> visible=true")
    assert f"non-finite at step {step}" in readout.inner_text()
    page.close()
