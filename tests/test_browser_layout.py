"""Every tab fits the screen: at 1366x768 (a classroom laptop) and at 1000 px (JupyterLab at
1400 px with its file browser open leaves about that to a notebook) no figure is wider than its
panel and the status line is on screen without scrolling; at 1920x1080 the figures use the width.
No label carries the title "null" that ipywidgets writes for a missing tooltip. In JupyterLab at
1400 px with the file browser open, the App's figure is not cut off.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from explorer.app import PANELS
from tests.conftest import REPO
from tests.serving import DARK_PIXELS_JS, jupyterlab_server, open_tab

TITLES = [cls.title for cls in PANELS]

pytestmark = pytest.mark.browser

# for the visible panel: its figures' and its own box, the status line's box, the page's widths
FIGURE_CANVAS = ".jupyter-matplotlib-canvas-div canvas:first-child"  # not ipympl's overlay
GEOMETRY_JS = """() => {
  const status = [...document.querySelectorAll('.ge-status')].find(s => s.offsetParent !== null);
  const panel = status.parentElement.getBoundingClientRect();
  const canvases = [...document.querySelectorAll(FIGURES)]
    .filter(c => c.offsetParent !== null).map(c => {
      const r = c.getBoundingClientRect();
      const shown = c.closest('.jupyter-widgets').getBoundingClientRect();  // its widget's box
      return {left: r.left, right: r.right, width: r.width, shownRight: shown.right};
    });
  const line = status.getBoundingClientRect();
  return {panel: {left: panel.left, right: panel.right, width: panel.width}, canvases,
          status: {top: line.top, bottom: line.bottom, height: line.height},
          viewport: {width: window.innerWidth, height: window.innerHeight},
          scrollWidth: document.documentElement.scrollWidth};
}""".replace("FIGURES", repr(FIGURE_CANVAS))
# labels whose title ipywidgets wrote from a missing tooltip
NULL_TITLES_JS = """() => [...document.querySelectorAll('[title]')]
  .filter(e => ['null', 'undefined'].includes(e.getAttribute('title')))
  .map(e => e.tagName + ' ' + e.textContent.slice(0, 30))"""
FITTED_JS = f"""() => {{
  const g = ({GEOMETRY_JS})();
  return g.canvases.length > 0 && g.canvases.every(c => c.right <= g.panel.right + 0.5);
}}"""


def _open(browser: Any, server: str, width: int, height: int) -> Any:
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(server, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=90_000, polling=100)
    return page


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1000, 800)])
def test_every_tab_fits_and_shows_its_status(
    server: str, browser: Any, width: int, height: int
) -> None:
    """The figures are fitted to the panel's width as the browser reports it (within a few
    hundred ms): each canvas ends inside its panel, nothing scrolls sideways, and the status line
    is inside the viewport and has its text."""
    page = _open(browser, server, width, height)
    for title in TITLES:
        if title != "Deep network":
            open_tab(page, title)
        page.wait_for_function(FITTED_JS, timeout=60_000, polling=100)
        geometry = page.evaluate(GEOMETRY_JS)
        for canvas in geometry["canvases"]:
            assert geometry["panel"]["left"] <= canvas["left"], title
            assert canvas["right"] <= geometry["panel"]["right"] + 0.5, title
            assert canvas["right"] <= canvas["shownRight"] + 0.5, title  # not cut by its widget
        assert geometry["scrollWidth"] <= geometry["viewport"]["width"], title
        status = geometry["status"]
        assert status["top"] >= 0, title
        assert status["bottom"] <= geometry["viewport"]["height"], title
        assert status["height"] > 0, title
    assert page.evaluate(NULL_TITLES_JS) == []  # every tab has been built by now
    page.close()


def test_figures_use_a_wide_screen(server: str, browser: Any) -> None:
    """At 1920x1080 each one-figure tab's figure is wider than any natural size (at most 1200 px)
    would be, and still inside its panel."""
    page = _open(browser, server, 1920, 1080)
    for title in TITLES:
        if title != "Deep network":
            open_tab(page, title)
        page.wait_for_function(
            f"() => {{ const g = ({GEOMETRY_JS})();"
            " const total = g.canvases.reduce((sum, c) => sum + c.width, 0);"
            " return g.canvases.length > 0 && total > 1300"
            " && g.canvases.every(c => c.right <= g.panel.right + 0.5); }",
            timeout=60_000,
            polling=100,
        )
    page.close()


def test_jupyterlab_with_the_file_browser_cuts_no_figure(browser: Any, tmp_path: Path) -> None:
    """JupyterLab at 1400 px with its file browser open: the App's figure, fitted to the output
    area, ends inside it, and the status line is there."""
    notebook = tmp_path / "explorer.ipynb"
    shutil.copy(REPO / "notebooks" / "explorer.ipynb", notebook)
    with jupyterlab_server(tmp_path) as url:
        page = browser.new_page()
        page.set_viewport_size({"width": 1400, "height": 900})
        page.goto(f"{url}lab/tree/explorer.ipynb", timeout=90_000)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        assert page.locator(".jp-FileBrowser").bounding_box()["width"] > 100  # it is open
        # run the cell once the kernel is idle (a key pressed while the notebook still connects
        # can be lost)
        page.wait_for_selector(".jp-StatusBar-Widget:has-text('Idle')", timeout=90_000)
        page.locator(".jp-Cell .jp-InputArea-editor").first.click()
        page.keyboard.press("Shift+Enter")
        page.wait_for_selector(".jp-OutputArea-output", timeout=60_000)
        page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=120_000, polling=200)
        boxes = """() => {
          const canvas = document.querySelector(FIGURES);
          const box = (e) => { const r = e.getBoundingClientRect();
                               return {left: r.left, right: r.right, width: r.width}; };
          return {canvas: box(canvas), pixels: canvas.width,
                  output: box(canvas.closest('.jp-OutputArea-output')),
                  shown: box(canvas.closest('.jupyter-widgets')),
                  panel: box(document.querySelector('.ge-status').parentElement)};
        }""".replace("FIGURES", repr(FIGURE_CANVAS))
        fitted = f"""() => {{ const b = ({boxes})();
          return b.canvas.width > 0 && b.canvas.right <= b.output.right + 0.5
                 && b.canvas.right <= b.shown.right + 0.5; }}"""
        try:
            page.wait_for_function(fitted, timeout=60_000, polling=100)
        except Exception as error:  # say where each box ended, so a failure elsewhere is readable
            raise AssertionError(f"figure not fitted: {page.evaluate(boxes)}") from error
        status = page.locator(".ge-status >> visible=true").inner_text()
        assert "Computed 20 layers" in status
        page.close()
