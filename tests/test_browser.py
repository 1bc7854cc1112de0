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
    width = page.locator(
        ".widget-slider:has(label:text-is('width')) .widget-readout >> visible=true"
    )
    width.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("256")
    page.keyboard.press("Enter")
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
