"""Help on screen, in the served page (Voilà + Chromium): the controls carry their tooltip as the
title the browser shows on hover, with the range the panel enforces, and "What am I looking at?"
opens a note whose text is then visible.

Expected ranges come from the panel classes' own ``BOUNDS``, expected choices from the core's
option tuples, expected axis labels from a figure built in this process; the numbers in a title
are parsed with the app's ``parse_number``. One server for the module, one page for the tests.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

import pytest

from explorer.core import INITS, OPTIMIZERS
from explorer.panels import chain, spectrum, train
from explorer.panels.help import SUMMARY
from explorer.panels.help_text import START
from explorer.panels.number import parse_number
from tests.serving import number_control, open_app, open_tab

pytestmark = pytest.mark.browser

# the visible notes: whether each is open, and the text a user can see in it
NOTES_JS = """() => [...document.querySelectorAll('.ge-about details')]
  .filter(d => d.offsetParent !== null)
  .map(d => ({open: d.open, text: d.innerText}))"""


@pytest.fixture(scope="module")
def page(server: str, browser: Any) -> Iterator[Any]:
    """The app, opened once; each test opens its tab."""
    opened = open_app(browser, server)
    yield opened
    opened.close()


def title_range(title: str) -> tuple[float, float]:
    """LOW and HIGH of a title's 'Range: … from LOW to HIGH'."""
    match = re.search(r"Range: .*?from (\S+) to (\S+?)[.;)]?(?:\s|$)", title)
    assert match, title
    return parse_number(match[1]), parse_number(match[2])


def number_title(page: Any, label: str) -> str:
    """The title attribute of the visible number control ``label`` (its whole box)."""
    title = number_control(page, label).get_attribute("title")
    assert title, label
    return str(title)


def control_title(page: Any, kind: str, label: str, timeout_ms: int = 10_000) -> str:
    """The title of the visible ``kind`` widget (dropdown, checkbox, text) labelled ``label``:
    ipywidgets 8 gives it none, help.js sets it on the whole control."""
    from playwright.sync_api import expect

    control = page.locator(f".widget-{kind}:has(label:text-is('{label}')) >> visible=true").first
    expect(control).to_have_attribute("title", re.compile(r"\S"), timeout=timeout_ms)
    title = control.get_attribute("title")
    assert title, label
    return str(title)


def open_note(page: Any, index: int = 0) -> dict[str, Any]:
    """Click the visible note number ``index``'s summary; return what the page then shows."""
    before = page.evaluate(NOTES_JS)
    assert not before[index]["open"]  # collapsed until asked
    page.locator(".ge-about summary >> visible=true").nth(index).click()
    page.wait_for_function(f"({NOTES_JS})()[{index}].open", timeout=10_000)
    note = page.locator(".ge-about details >> visible=true").nth(index)
    assert note.locator("p").first.is_visible()
    return dict(page.evaluate(NOTES_JS)[index])


def test_deep_network_titles_and_note(page: Any) -> None:
    """Deep network: 'depth L' and 'weight scale' carry ChainPanel.BOUNDS as their title's
    range, the 'init' label lists the core's INITS; the note opens on a click and shows the
    axis labels of the figure."""
    open_tab(page, "Deep network")  # the first tab; the tests may run in any order
    for label, name in (("depth L", "depth"), ("weight scale", "weight_scale")):
        title = number_title(page, label)
        assert title.startswith(f"{label}: ")
        low, high = title_range(title)
        assert math.isclose(low, chain.BOUNDS[name].low)
        assert math.isclose(high, chain.BOUNDS[name].high)
    init = control_title(page, "dropdown", "init")
    assert init.endswith("Choices: " + ", ".join(INITS) + ".")
    note = open_note(page)
    assert note["text"].startswith(SUMMARY)
    for label in ("layer l", "norm (log scale)", "spectral norm (log scale)"):  # DeltaView,
        assert label in note["text"]  # JacobianView's labels (tests/test_help.py reads them)


def test_spectra_titles_and_note(page: Any) -> None:
    """Spectra, built when its tab opens: 'width' carries spectrum.BOUNDS, and the note names
    the histogram's axes."""
    open_tab(page, "Spectra")
    low, high = title_range(number_title(page, "width"))
    assert (low, high) == (spectrum.BOUNDS["width"].low, spectrum.BOUNDS["width"].high)
    note = open_note(page)
    assert "singular value σ (log scale)" in note["text"]
    assert "how many" in note["text"]


def test_training_lab_titles_buttons_and_both_notes(page: Any) -> None:
    """Training lab: 'steps' carries train.BOUNDS, the optimizer's label lists the core's
    OPTIMIZERS, Start's title says what it does; each of its two figures has a note."""
    open_tab(page, "Training lab")
    low, high = title_range(number_title(page, "steps"))
    assert (low, high) == (train.BOUNDS["steps"].low, train.BOUNDS["steps"].high)
    optimizer = control_title(page, "dropdown", "optimizer")
    assert optimizer.endswith("Choices: " + ", ".join(OPTIMIZERS) + ".")
    start = page.locator("button:has-text('Start') >> visible=true").first.get_attribute("title")
    assert start == START
    assert len(page.evaluate(NOTES_JS)) == 2
    assert "‖∇L‖" in open_note(page, 0)["text"]
    assert "‖∇‖ before clipping" in open_note(page, 1)["text"]
