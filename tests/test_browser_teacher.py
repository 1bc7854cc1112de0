"""A teacher's links in the served page (Voilà + Chromium): a lesson link chooses the tabs and
hides controls, the lesson-link maker makes the link it shows, projector mode makes the figure
fill a 1920 px window; links open the same view with kernels started for the page and with a
pooled kernel that waited past the cell timeout.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.link_pages import (
    HEIGHTS_JS,
    TAB_TITLES_JS,
    TOPS_JS,
    VIEW_JS,
    WIDTHS_JS,
    clipboard_context,
    open_link,
)
from tests.serving import VISIBLE_CANVAS_JS, enter_value, open_tab, voila_server, wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    """A browser context whose pages may read and write the clipboard (Copy link)."""
    yield from clipboard_context(browser)


def test_a_lesson_link_shows_its_tabs_and_hides_its_controls(server: str, context: Any) -> None:
    """``tabs`` and ``hide`` from the link: only those tabs, the named controls gone from the
    page (``seed`` in every tab, ``dtype`` in the recurrent tab only, the preset menu), and the
    hidden values still set by the link."""
    page = open_link(
        context,
        server + "?tab=recurrent&weight_scale=1.01&tabs=deep,recurrent"
        "&hide=seed,recurrent.dtype,preset",
    )
    assert page.evaluate(TAB_TITLES_JS) == ["Deep network", "Recurrent network"]
    view = page.evaluate(VIEW_JS)
    labels = [label for label, _ in view["boxes"]] + [label for label, _ in view["toggles"]]
    assert "seed" not in labels
    assert "dtype" not in labels
    assert "cell" in labels
    assert dict(view["boxes"])["weight scale"] == "1.01"
    assert not page.locator("select:has(option:text-is('(custom)')) >> visible=true").count()
    assert not page.locator("text=Teacher: make a lesson link >> visible=true").count()
    open_tab(page, "Deep network")
    labels = [label for label, _ in page.evaluate(VIEW_JS)["toggles"]]
    assert "dtype" in labels  # hidden in the recurrent tab only
    assert "seed" not in [label for label, _ in page.evaluate(VIEW_JS)["boxes"]]
    page.close()


def test_the_lesson_link_maker_makes_the_link_it_shows(server: str, context: Any) -> None:
    """A teacher opens "Make a lesson link", ticks two tabs and a control to hide, copies the
    link; opened, it shows those tabs without that control, at the teacher's values."""
    page = open_link(context, server)
    enter_value(page, "weight scale", "3")
    page.get_by_text("Teacher: make a lesson link").click()
    maker = page.locator(".ge-lesson-link").locator("..")
    page.wait_for_selector(".ge-lesson-link", state="visible")
    for title in ("Spectra", "Phase diagram", "Clipping", "The cliff", "Training lab", "Your run"):
        page.locator(".widget-checkbox", has_text=title).locator("input").uncheck()
    page.locator(".widget-checkbox", has_text="width").first.locator("input").check()
    page.wait_for_function(
        "() => document.querySelector('.ge-lesson-link .ge-link-box').value.includes('hide=')"
    )
    del maker
    page.locator(".ge-lesson-link .ge-link-copy").click()
    page.wait_for_function(
        "() => document.querySelector('.ge-lesson-link .ge-link-said').textContent"
    )
    link = str(page.evaluate("navigator.clipboard.readText()"))
    assert link == page.locator(".ge-lesson-link .ge-link-box").input_value()
    page.close()
    lesson = open_link(context, link)
    assert lesson.evaluate(TAB_TITLES_JS) == ["Deep network", "Recurrent network"]
    boxes = dict(lesson.evaluate(VIEW_JS)["boxes"])
    assert "width" not in boxes
    assert boxes["weight scale"] == "3"
    lesson.close()


@pytest.mark.parametrize("tab", ["Deep network", "Training lab"])
def test_projector_mode_fills_a_1920_window(server: str, context: Any, tab: str) -> None:
    """At 1920x1080, ``projector=1`` gives a figure at least 1600 px wide (the Training lab's
    two figures stacked), with the header hidden; the toggle turns it off.
    (Without projector mode a figure also gains width at 1920 px, but not type: it keeps its
    height and font size; projector mode zooms it whole.)"""
    page = open_link(context, server + "?projector=1", width=1920, height=1080)
    open_tab(page, tab)
    page.wait_for_function(f"Math.max(...({WIDTHS_JS})()) >= 1600", timeout=20_000)
    # stacked: each figure starts below the one before it
    tops = page.evaluate(TOPS_JS)
    assert tops == sorted(tops)
    assert len(set(tops)) == len(tops)
    assert not page.get_by_text("Why gradients explode").is_visible()
    # off: the figures are drawn at their natural height again (projector mode zooms them)
    tall = max(page.evaluate(HEIGHTS_JS))
    page.locator("button", has_text="Projector").click()
    page.wait_for_function(f"Math.max(...({HEIGHTS_JS})()) < {0.8 * tall}", timeout=20_000)
    page.wait_for_function("() => !window.location.search.includes('projector')")
    assert page.evaluate(f"({VISIBLE_CANVAS_JS}) !== undefined")
    page.close()


def _assert_the_recurrent_link_opens(browser: Any, url: str) -> None:
    """A recurrent-network link opened in a fresh page shows its tab and its exact values."""
    ctx = browser.new_context()
    page = open_link(ctx, url + "?tab=recurrent&weight_scale=1.01&seq_len=60")
    boxes = dict(page.evaluate(VIEW_JS)["boxes"])
    assert boxes["weight scale"] == "1.01"
    assert boxes["sequence T"] == "60"
    assert page.locator(".lm-TabBar-tab.lm-mod-current").inner_text() == "Recurrent network"
    ctx.close()


def test_links_work_with_kernels_started_for_the_page(browser: Any) -> None:
    """Without a preheated pool (EXPLORER_PREHEAT=0) a kernel is started for the page and gets
    its query string from the request: the link opens the same view as in the pooled server."""
    with voila_server(env={"EXPLORER_PREHEAT": "0"}) as url:
        _assert_the_recurrent_link_opens(browser, url)


def test_a_pooled_kernel_still_opens_its_link_after_the_cell_timeout(
    browser: Any, tmp_path: Path
) -> None:
    """A pooled kernel waits for its page for as long as no one comes: its notebook cell must end
    first. With EXPLORER_CELL_TIMEOUT=5 and a page arriving after 8 s, the page gets the kernel
    that ran the notebook (no cell was interrupted) and that kernel opens the page's link."""
    log = tmp_path / "server.log"
    env = {"EXPLORER_PREHEAT": "1", "EXPLORER_CELL_TIMEOUT": "5", "EXPLORER_MAX_KERNELS": "3"}
    with voila_server(env=env, log_path=log) as url:
        wait_for(lambda: "is filled with 1 kernel(s)" in log.read_text(), "the pool filled")
        time.sleep(8)  # longer than the cell timeout: a cell still waiting would be interrupted
        _assert_the_recurrent_link_opens(browser, url)
    text = log.read_text()
    assert "Using pre-heated kernel" in text
    assert "Timeout waiting for execute reply" not in text
