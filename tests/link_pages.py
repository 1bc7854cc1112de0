"""The page helpers of the link tests (test_browser_links, test_browser_teacher): what the
visible panel shows, as one comparable value, and a user's ways to set controls and copy a link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.serving import DARK_PIXELS_JS, VISIBLE_STATUS_JS

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


def clipboard_context(browser: Any) -> Iterator[Any]:
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
