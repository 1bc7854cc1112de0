"""Voila serves the notebook on loopback; headless Chromium opens it and moves the depth slider.

In CI (CI=true) these tests must run. Elsewhere they skip, saying why, only when no chromium
can be found.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterator

import pytest

from tests.serving import (
    CANVAS_URL_JS,
    CHROMIUM_ARGS,
    VISIBLE_CANVAS_JS,
    VISIBLE_STATUS_JS,
    chromium_path,
    open_app,
    open_tab,
    type_into_slider,
    voila_server,
    wait_for_status,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with voila_server() as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing in CI: `make test` installs it with apt-get")
        reason = "no chromium on this machine (make test installs Debian's chromium)"
        print(f"SKIP browser tests: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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

    handle = page.locator(".widget-slider:has(label:text-is('depth L')) .noUi-handle")
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
    handle = page.locator(".widget-slider:has(label:text-is('sequence T')) .noUi-handle")
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


def _number(readout: str) -> float:
    """A slider readout as a number (d3-format writes the minus sign as U+2212)."""
    return float(readout.replace("\u2212", "-"))


def test_cliff_learning_rate_slider_recomputes_both_runs(server: str, browser) -> None:
    """In The cliff tab, ArrowRight on the learning-rate log slider (step 0.05 in the exponent:
    0.5 -> 0.5 x 10^0.05 = 0.561) reruns both descents: the readout changes and the figure
    repaints (a blit: only the trajectories and curves move). The clipped run's largest step is
    lr x threshold (its step onto the wall is clipped), so the readout says 0.56..."""
    page = open_app(browser, server)
    open_tab(page, "The cliff")
    assert "Ran 1 unclipped and 1 clipped descents" in wait_for_status(page, "Ran 1 unclipped")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('ends at')", timeout=20_000)
    before_readout = page.evaluate(CLIFF_READOUT_JS)
    before_image = page.evaluate(CANVAS_URL_JS)
    rate = page.locator(".widget-slider:has(label:text-is('learning rate'))")
    handle = rate.locator(".noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('largest step 0.56')", timeout=20_000)
    assert page.evaluate(CLIFF_READOUT_JS) != before_readout
    # 0.561 from 0.5; 0.562 from 10^-0.3 = 0.501, where the served slider snaps 0.5 (see
    # test_served_log_sliders_keep_the_panels_values)
    assert float(rate.locator(".widget-readout").inner_text()) == pytest.approx(0.561, abs=0.002)
    page.wait_for_function(f"({CANVAS_URL_JS})() !== {before_image!r}", timeout=20_000)
    assert "Ran 1 unclipped" in page.evaluate(VISIBLE_STATUS_JS)
    page.close()


def test_click_on_the_cliff_surface_moves_the_start(server: str, browser) -> None:
    """A click at 30 % of the canvas width, half its height, lands in the surface axes. They span
    figure fraction x 0.06..0.4501 (0.47 less the colorbar's 15 % and its 2 % pad: 0.47 x 0.83 =
    0.3901) and y 0.1..0.92, over w -1..10 and b -7..3, and the canvas shows the figure 1:1: so
    w = -1 + 11 x (0.3 - 0.06) / 0.3901 = 5.77 and b = -7 + 10 x (0.5 - 0.1) / 0.82 = -2.12.
    Both runs start there: the start sliders and the readout change."""
    page = open_app(browser, server)
    open_tab(page, "The cliff")
    wait_for_status(page, "Ran 1 unclipped")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('ends at')", timeout=20_000)
    before_readout = page.evaluate(CLIFF_READOUT_JS)
    start_w = page.locator(".widget-slider:has(label:text-is('start w')) .widget-readout")
    start_b = page.locator(".widget-slider:has(label:text-is('start b')) .widget-readout")
    assert (_number(start_w.inner_text()), _number(start_b.inner_text())) == (6.0, -3.0)
    box = page.evaluate(
        f"(() => {{ const r = ({VISIBLE_CANVAS_JS}).getBoundingClientRect();"
        " return [r.x, r.y, r.width, r.height]; })()"
    )
    x, y, width, height = box
    page.mouse.click(x + 0.3 * width, y + 0.5 * height)
    page.wait_for_function(
        f"(before) => ({CLIFF_READOUT_JS})() !== before", arg=before_readout, timeout=20_000
    )
    # one pixel is 11 / 468 = 0.024 in w and 10 / 459 = 0.022 in b
    assert _number(start_w.inner_text()) == pytest.approx(5.77, abs=0.05)
    assert _number(start_b.inner_text()) == pytest.approx(-2.12, abs=0.05)
    assert "Ran 1 unclipped" in page.evaluate(VISIBLE_STATUS_JS)
    page.close()


@pytest.mark.xfail(
    strict=True,
    reason="the served FloatLogSlider snaps its value to the step grid of the exponent and sends"
    " it back: threshold 5 becomes 10^0.70 = 5.012, lr 0.5 becomes 10^-0.30 = 0.501",
)
def test_served_log_sliders_keep_the_panels_values(server: str, browser) -> None:
    """Served, the panels compute with their own defaults. Clipping: article 001's g = [16, 12,
    -8] at threshold 5 gives [5, 5, -5] and 5 g / sqrt(464) = [3.714, 2.785, -1.857]. The cliff:
    a clipped step is at most lr x threshold = 0.5 x 1, and the wall's step reaches it (0.5 to
    4 digits; test_panel_clip_cliff checks the same in Python)."""
    page = open_app(browser, server)
    open_tab(page, "Clipping")
    wait_for_status(page, "Clipped with torch semantics")
    tables = page.evaluate(
        "() => [...document.querySelectorAll('table')].filter(t => t.offsetParent !== null)"
        ".map(t => t.textContent).join(' ')"
    )
    assert "[5, 5, -5]" in tables
    assert "[3.714, 2.785, -1.857]" in tables
    open_tab(page, "The cliff")
    wait_for_status(page, "Ran 1 unclipped")
    page.wait_for_function(f"({CLIFF_READOUT_JS})().includes('ends at')", timeout=20_000)
    assert "largest step 0.5;" in page.evaluate(CLIFF_READOUT_JS)
    page.close()


def test_training_lab_starts_grows_and_stops(server: str, browser) -> None:
    """In the Training lab, steps typed as 5000 and Start pressed: the status counts steps, the
    curves' canvas repaints while training (the plots grow), and Stop ends the run within a few
    seconds. The tutorial's unclipped run overflows at step 4 with seed 0 (test_core_train), so
    by the time Stop is pressed the readout names that step."""
    page = open_app(browser, server)
    open_tab(page, "Training lab")
    wait_for_status(page, "press Start")
    type_into_slider(page, "steps", "5000")
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
    assert "non-finite at step 4" in readout.inner_text()
    page.close()
