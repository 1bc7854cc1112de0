"""Links in the served page (Voilà + Chromium): what a user sets is in the address bar and in the
copied link, and the link opened in a fresh page shows the same numbers; untrusted links are
refused with a message; a teacher's link chooses the tabs and hides controls; projector mode
makes the figure fill a 1920 px window.

The expected view is always the first page's own view: the test compares what two real pages
show, so it fails if a value is lost or rounded on its way through the link.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from explorer.core import chain_gradients
from explorer.plots.style import format_number
from tests.serving import (
    DARK_PIXELS_JS,
    VISIBLE_CANVAS_JS,
    VISIBLE_READOUT_JS,
    VISIBLE_STATUS_JS,
    enter_value,
    open_tab,
    voila_server,
    wait_for,
)

pytestmark = pytest.mark.browser

# what the visible panel shows: its readout and plan lines, every visible number box, dropdown,
# toggle choice, checkbox and text box, by label
VIEW_JS = """() => {
  const panel = [...document.querySelectorAll('.ge-status')]
    .find(s => s.offsetParent !== null).closest('.widget-vbox, .jupyter-widgets');
  const root = panel.parentElement.closest('.lm-Widget') || document;
  const visible = sel => [...root.querySelectorAll(sel)].filter(e => e.offsetParent !== null);
  const labelOf = e => (e.querySelector('label') || {textContent: ''}).textContent;
  return {
    readout: visible('.ge-readout').map(e => e.innerText).join('\\n'),
    boxes: visible('.ge-number').map(e => [labelOf(e), e.querySelector('.ge-number-box').value]),
    selects: visible('.widget-dropdown').map(e => [labelOf(e), e.querySelector('select').value]),
    toggles: visible('.widget-toggle-buttons').map(
      e => [labelOf(e), [...e.querySelectorAll('.mod-active')].map(b => b.textContent)]),
    checks: visible('.widget-checkbox').map(e => [e.textContent, e.querySelector('input').checked]),
    texts: visible('.widget-text').map(e => [labelOf(e), e.querySelector('input').value]),
  };
}"""
WIDTHS_JS = """() => [...document.querySelectorAll('.jupyter-matplotlib-canvas-div canvas')]
  .filter(c => c.offsetParent !== null).map(c => c.getBoundingClientRect().width)"""
HEIGHTS_JS = WIDTHS_JS.replace(".width)", ".height)")
TOPS_JS = """() => [...document.querySelectorAll('.jupyter-matplotlib-canvas-div')]
  .filter(c => c.offsetParent !== null).map(c => c.getBoundingClientRect().top)"""
TAB_TITLES_JS = """() => [...document.querySelectorAll('.lm-TabBar-tab')]
  .filter(t => t.offsetParent !== null).map(t => t.textContent)"""


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    """A browser context whose pages may read and write the clipboard (Copy link)."""
    ctx = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    yield ctx
    ctx.close()


def choose(page: Any, label: str, option: str) -> None:
    """Choose ``option`` in the visible dropdown labelled ``label``."""
    dropdown = page.locator(f".widget-dropdown:has(label:text-is('{label}')) >> visible=true")
    dropdown.locator("select").select_option(label=option)


def press(page: Any, label: str, option: str) -> None:
    """Press the toggle button ``option`` of the visible toggle group labelled ``label``."""
    group = page.locator(f".widget-toggle-buttons:has(label:text-is('{label}')) >> visible=true")
    group.locator("button", has_text=option).click()


def set_text(page: Any, label: str, text: str) -> None:
    """Type ``text`` into the visible text box labelled ``label`` and press Enter."""
    box = page.locator(f".widget-text:has(label:text-is('{label}')) >> visible=true")
    box.locator("input").fill(text)
    box.locator("input").press("Enter")


def settle(page: Any) -> None:
    """Wait until the page's view has stopped changing: the same on three reads 0.7 s apart (the
    kernel answers each change with a refresh, which rewrites the readout and status; a loaded
    machine may take a while to send it)."""
    reads: list[Any] = []
    for _ in range(60):
        reads = [*reads[-2:], (page.evaluate(VIEW_JS), page.evaluate(VISIBLE_STATUS_JS))]
        if len(reads) == 3 and reads[0] == reads[1] == reads[2]:
            return
        page.wait_for_timeout(700)
    raise AssertionError(f"the page kept changing: {reads[-1]}")


def copied_link(page: Any) -> str:
    """Click "Copy link" and read the clipboard."""
    page.locator(".ge-link-copy >> visible=true").first.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.ge-link-said')].some(s => s.textContent)"
    )
    return str(page.evaluate("navigator.clipboard.readText()"))


def open_link(context: Any, url: str, width: int = 1400, height: int = 1000) -> Any:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=90_000, polling=100)
    settle(page)
    return page


# per tab: what a user sets (as a user does it), and a value the link must then carry
SETTINGS = {
    "Deep network": (
        lambda page: (
            enter_value(page, "depth L", "7"),
            enter_value(page, "weight scale", "2"),
            choose(page, "init", "orthogonal"),
            press(page, "dtype", "float64"),
            enter_value(page, "write out layer", "3"),
        ),
        ("weight_scale", "2.0"),
    ),
    "Recurrent network": (
        lambda page: (
            enter_value(page, "sequence T", "60"),
            enter_value(page, "weight scale", "1.01"),
            choose(page, "activation", "linear"),
            enter_value(page, "write out step", "2"),
        ),
        ("weight_scale", "1.01"),
    ),
    "Spectra": (
        lambda page: (
            enter_value(page, "depth / steps", "40"),
            enter_value(page, "weight scale", "1.2"),
            choose(page, "activation", "tanh"),
        ),
        ("length", "40"),
    ),
    "Phase diagram": (
        lambda page: (
            enter_value(page, "chosen σ_w", "1.3"),
            enter_value(page, "chosen σ_b", "0.1"),
        ),
        ("weight_std", "1.3"),
    ),
    "Clipping": (
        lambda page: (
            set_text(page, "gradient", "3, 4"),
            enter_value(page, "threshold", "2"),
            choose(page, "right", "norm"),
        ),
        ("gradient", "3, 4"),
    ),
    "The cliff": (
        lambda page: (
            enter_value(page, "learning rate", "0.3"),
            enter_value(page, "steps", "120"),
            enter_value(page, "start w", "5.5"),
        ),
        ("start_w", "5.5"),
    ),
    "Training lab": (
        lambda page: (
            enter_value(page, "learning rate", "0.05"),
            enter_value(page, "steps", "150"),
            enter_value(page, "clip threshold", "0.5"),
        ),
        ("lr", "0.05"),
    ),
}


@pytest.mark.parametrize("tab", list(SETTINGS))
def test_a_copied_link_opens_the_same_view(server: str, context: Any, tab: str) -> None:
    """Set several controls in one page, copy its link, open it in a fresh page: the fresh page
    shows the same numbers, boxes and choices (the first page's view is the reference)."""
    actions, (name, text) = SETTINGS[tab]
    page = open_link(context, server)
    open_tab(page, tab)
    actions(page)
    settle(page)
    shown = page.evaluate(VIEW_JS)
    link = copied_link(page)
    assert parse_qs(urlsplit(page.url).query)[name] == [text]  # the address bar follows
    assert link == page.url
    page.close()
    fresh = open_link(context, link)
    settle(fresh)
    assert fresh.evaluate(VIEW_JS) == shown
    assert fresh.locator(".lm-TabBar-tab.lm-mod-current").inner_text() == tab
    fresh.close()


def test_a_link_with_bad_values_says_so_and_the_panel_keeps_working(
    server: str, context: Any
) -> None:
    """Out-of-range, malformed and unknown values: clamped or refused with a status message; a
    value over the compute budget is not computed; the panel then computes what is typed."""
    page = open_link(
        context,
        server + "?tab=deep&depth=5000&width=abc&weight_scale=-3&colour=red&tabs=deep,nope",
    )
    status = page.evaluate(VISIBLE_STATUS_JS)
    assert "depth L 5,000 is outside 1–1,000; using 1,000." in status
    assert "width: 'abc' is not a number; kept 32." in status
    assert "weight scale -3 is outside 0.01–100; using 0.01." in status
    assert "There is no setting 'colour' here; ignored." in status
    app_status = page.locator(".ge-app-status").inner_text()
    assert "No tab is called 'nope'" in app_status
    # the panel still works: a typed value computes the article's chain (2^4 = 16 at layer 1)
    enter_value(page, "depth L", "5")
    enter_value(page, "width", "1")
    choose(page, "init", "identity")
    choose(page, "activation", "linear")
    enter_value(page, "weight scale", "2")
    expected = chain_gradients(5, width=1, weight_scale=2.0, init="identity", activation="linear")
    # the readout of the last value typed (an earlier refresh also said "Computed 5 layers")
    shown = format_number(expected.gradient_at_layer_1)
    page.wait_for_function(f"({VISIBLE_READOUT_JS})().includes('layer 1, ‖∂L/∂a₁‖{shown}')")
    settle(page)
    assert "layer 1, ‖∂L/∂a₁‖" + shown in page.evaluate(VISIBLE_READOUT_JS)
    page.close()

    over = open_link(context, server + "?tab=deep&depth=1000&width=256")  # 6.6e7 units
    status = over.evaluate(VISIBLE_STATUS_JS)
    assert "compute budget" in status
    assert over.evaluate(VIEW_JS)["readout"]  # the last result (the defaults) still shown
    over.close()


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


def test_links_work_with_kernels_started_for_the_page(browser: Any) -> None:
    """Without a preheated pool (EXPLORER_PREHEAT=0) a kernel is started for the page and gets
    its query string from the request: the link opens the same view as in the pooled server."""
    with voila_server(env={"EXPLORER_PREHEAT": "0"}) as url:
        ctx = browser.new_context()
        page = open_link(ctx, url + "?tab=recurrent&weight_scale=1.01&seq_len=60")
        boxes = dict(page.evaluate(VIEW_JS)["boxes"])
        assert boxes["weight scale"] == "1.01"
        assert boxes["sequence T"] == "60"
        assert page.locator(".lm-TabBar-tab.lm-mod-current").inner_text() == "Recurrent network"
        ctx.close()


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
        ctx = browser.new_context()
        page = open_link(ctx, url + "?tab=recurrent&weight_scale=1.01&seq_len=60")
        boxes = dict(page.evaluate(VIEW_JS)["boxes"])
        assert boxes["weight scale"] == "1.01"
        assert boxes["sequence T"] == "60"
        assert page.locator(".lm-TabBar-tab.lm-mod-current").inner_text() == "Recurrent network"
        ctx.close()
    text = log.read_text()
    assert "Using pre-heated kernel" in text
    assert "Timeout waiting for execute reply" not in text
