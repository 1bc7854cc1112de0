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
    chromium_path,
    open_app,
    voila_server,
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
    status = page.locator("[role=status]")
    assert "Computed 20 layers" in status.inner_text()
    before_readout = readout.inner_text()
    before_image = page.evaluate(CANVAS_URL_JS)

    handle = page.locator(".widget-slider:has(label:text-is('depth L')) .noUi-handle")
    handle.focus()
    handle.press("ArrowRight")

    page.wait_for_function(
        "() => document.querySelector('[role=status]').textContent.includes('21 layers')",
        timeout=20_000,
    )
    assert readout.inner_text() != before_readout
    page.wait_for_function(f"({CANVAS_URL_JS})() !== {before_image!r}", timeout=20_000)
    page.close()


def test_typed_value_beyond_budget_gets_a_message(server: str, browser) -> None:
    """Typing depth 1000 at width 256 in the slider's readout asks for 1000 x 256^2: the panel
    answers in its status line and keeps its last figure."""
    page = open_app(browser, server)
    width = page.locator(".widget-slider:has(label:text-is('width')) .widget-readout")
    width.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("256")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('[role=status]').textContent.includes('compute budget')",
        timeout=20_000,
    )
    assert "at width 256 use depth ≤ 16" in page.locator("[role=status]").inner_text()
    page.close()
