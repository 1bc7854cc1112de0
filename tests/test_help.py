"""Help on screen, from Python: every control's and selector's tooltip says what it is and what
it takes, and every figure has a "What am I looking at?" note.

The expected ranges are read from each panel's own ``bounds`` (a selector's from
``selector_bounds`` of the result shown) and the expected choices from the widget's own options;
the numbers in a tooltip are parsed back with the app's ``parse_number``, so nothing here copies
the tooltip's wording. The axis labels a note must name are read from the figure's axes. The
references a note or tooltip may cite are the ones docs/SCIENCE.md lists.
"""

from __future__ import annotations

import asyncio
import html
import math
import re
from collections.abc import Iterator
from typing import Any

import ipywidgets as widgets
import pytest

from explorer.app import PANELS
from explorer.panels import CliffPanel, Panel, RNNPanel, TrainingPanel
from explorer.panels.bounds import Bounds
from explorer.panels.help import ABOUT_CLASS, SUMMARY, TIP_CLASS, TitleKeeper
from explorer.panels.help_text import CONTROLS
from explorer.panels.number import NumberSlider, parse_number
from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("close_new_widgets")

SCIENCE = (REPO / "docs" / "SCIENCE.md").read_text()
# a setting that turns on the controls a panel starts with off (the rest are on at the start)
ENABLING: dict[str, dict[str, Any]] = {
    "recurrent": {"cell": "lstm"},  # the gate bias applies to gated cells
    "training": {"scenario": "adding"},  # the sequence length applies to the adding problem
}


def references() -> list[tuple[str, str]]:
    """(first author's surname, year) of every paper in docs/SCIENCE.md's References."""
    section = SCIENCE.split("## References", 1)[1].split("Library references", 1)[0]
    found = re.findall(r"^- (?:[A-Z]\.[ -]?)+\s*([^\s,]+).*?\((\d{4})\)", section, re.MULTILINE)
    assert len(found) >= 15, found  # the list holds nineteen papers
    return found


REFERENCES = references()
ARTICLES = [
    " ".join(title.split()) for title in re.findall(r'\*\*Article 00\d\*\*: "([^"]+)"', SCIENCE)
]


def names(name: str, text: str) -> bool:
    """Whether ``text`` holds the word ``name`` ("He" in "He et al.", not in "Hence")."""
    return re.search(rf"\b{re.escape(name)}\b", text) is not None


def cites_only_listed_references(text: str) -> None:
    """Every year ``text`` cites belongs to a paper of SCIENCE.md whose first author it names."""
    for year in re.findall(r"\b(?:19|20)\d\d\b", text):
        assert any(year == listed and names(name, text) for name, listed in REFERENCES), text


@pytest.fixture(scope="module")
def panels() -> Iterator[dict[str, Panel[Any]]]:
    """One panel of each class of the App, built once for the module's read-only checks."""
    built = {cls.key: cls() for cls in PANELS}
    yield built
    for panel in built.values():
        panel.close()


def what_and_allowed(tooltip: str, label: str) -> tuple[str, str]:
    """A tooltip split into what the control is and what it takes ("Range: …", "Choices: …")."""
    assert tooltip.startswith(f"{label}: "), tooltip
    body = tooltip[len(label) + 2 :]
    for marker in ("Range: ", "Choices: ", "On or off", "Text of at most"):
        if marker in body:
            what, _, rest = body.partition(marker)
            return what.strip(" ."), marker + rest
    raise AssertionError(f"no range or choices in {tooltip!r}")


def stated_range(allowed: str) -> tuple[float, float]:
    """The two numbers of 'Range: … from LOW to HIGH …', parsed as the app parses typed text."""
    match = re.search(r"from (\S+) to (\S+?)[.;)]?(?:\s|$)", allowed)
    assert match, allowed
    return parse_number(match[1]), parse_number(match[2])


def check_tooltip(panel: Panel[Any], name: str, control: widgets.ValueWidget) -> None:
    """``control``'s tooltip names it, says what it is, and states its range or choices."""
    label = control.description
    what, allowed = what_and_allowed(control.tooltip, label)
    assert len(what.split()) >= 5, (name, what)  # a sentence, not the label again
    cites_only_listed_references(what)
    if isinstance(control, NumberSlider):
        if name in panel.bounds:
            bounds = panel.bounds[name]
        else:
            assert panel.result is not None
            bounds = panel.selector_bounds(panel.result)[name]
        low, high = stated_range(allowed)
        assert math.isclose(low, bounds.low), (name, allowed)
        assert math.isclose(high, bounds.high), (name, allowed)
        assert ("whole number" in allowed) == bounds.integer, (name, allowed)
    elif isinstance(control, widgets.Dropdown | widgets.ToggleButtons):
        labels = [o[0] if isinstance(o, tuple) else o for o in control.options]
        assert allowed == "Choices: " + ", ".join(labels) + ".", (name, allowed)
        if isinstance(control, widgets.ToggleButtons):  # each button's own title, on hover
            assert list(control.tooltips) == [control.tooltip] * len(labels)
    elif isinstance(control, widgets.Text):
        from explorer.panels.values import MAX_TEXT

        assert f"{MAX_TEXT:,}" in allowed
    else:
        assert isinstance(control, widgets.Checkbox), name
        assert allowed.startswith("On or off")


@pytest.mark.parametrize("cls", PANELS, ids=[cls.key for cls in PANELS])
def test_every_control_and_selector_says_what_it_is_and_its_range(cls: Any) -> None:
    """Each control and selector: 'label: what it is (five words or more). Range: from LOW to
    HIGH' with the panel's own bounds, or 'Choices: …' with the widget's own options. Controls
    off at the start are checked in a setting that turns them on."""
    panel = cls()
    every = {**panel.controls, **panel.selectors}
    assert set(every) <= set(CONTROLS[panel.key])  # a text for every one
    checked = set()
    for setting in ({}, ENABLING.get(panel.key, {})):
        if setting:
            assert panel.set_state(setting) == []
        for name, control in every.items():
            if not control.disabled or name in panel.selectors:
                check_tooltip(panel, name, control)
                checked.add(name)
    assert checked == set(every)


def test_a_disabled_control_says_why_and_gets_its_help_back() -> None:
    """Panel.sync_enabled swaps the tooltip of a control that does not apply for "off <reason>"
    (the reason from the panel's own disabled_reasons) and restores the help when it applies."""
    cliff = CliffPanel()
    help_before = cliff.controls["start_w"].tooltip
    low, high = stated_range(help_before)
    assert (low, high) == (cliff.bounds["start_w"].low, cliff.bounds["start_w"].high)
    cliff.set_state({"fan": True})
    reason = cliff.disabled_reasons(cliff.values())["start_w"]
    assert cliff.controls["start_w"].tooltip == f"off {reason}"
    cliff.set_state({"fan": False})
    assert cliff.controls["start_w"].tooltip == help_before

    rnn = RNNPanel()  # the plain cell: its gate bias starts off, its activation on
    assert rnn.controls["gate_bias"].tooltip.startswith("off ")
    activation_help = rnn.controls["activation"].tooltip
    rnn.set_state({"cell": "gru"})
    gate_help = rnn.controls["gate_bias"].tooltip
    assert stated_range(gate_help) == (rnn.bounds["gate_bias"].low, rnn.bounds["gate_bias"].high)
    assert rnn.controls["activation"].tooltip.startswith("off ")
    keeper = next(child for child in rnn.children if isinstance(child, TitleKeeper))
    assert keeper.titles["activation"] == rnn.controls["activation"].tooltip  # "off …" too
    rnn.set_state({"cell": "rnn"})
    assert rnn.controls["activation"].tooltip == activation_help
    assert keeper.titles["activation"] == activation_help
    assert rnn.controls["gate_bias"].tooltip.startswith("off ")
    rnn.set_state({"cell": "lstm"})
    assert rnn.controls["gate_bias"].tooltip == gate_help


def test_selector_tooltips_follow_the_result_shown(panels: dict[str, Panel[Any]]) -> None:
    """A selector's range depends on the result: its tooltip states the range the panel keeps
    it in now (selector_bounds of the new result), not the one it was built with."""
    deep = panels["deep"]
    deep.set_state({"depth": 7})
    assert deep.result is not None
    bounds: Bounds = deep.selector_bounds(deep.result)["layer"]
    assert bounds.high == 7  # the layers of a 7-layer network
    assert stated_range(deep.selectors["layer"].tooltip) == (bounds.low, bounds.high)

    lab = TrainingPanel()
    assert lab.set_state({"steps": 10}) == []
    assert lab.start()  # no event loop here: it trains to the end before returning
    assert lab.result is not None
    last = lab.selector_bounds(lab.result)["step"]
    assert last.high == 9  # ten steps: 0..9
    assert stated_range(lab.selectors["step"].tooltip) == (0, 9)


def test_menus_and_buttons_say_what_they_do(panels: dict[str, Panel[Any]]) -> None:
    """The preset menu counts its presets; the phase diagram's button and the training lab's
    Start and Stop say what they do, and Start and Stop why they are off while they are."""
    for panel in panels.values():
        if panel.preset is not None:
            assert f"the {len(panel.presets)} presets" in panel.preset.tooltip
    load = panels["phase"].load
    assert load.tooltip.startswith(f"{load.description}: ")
    assert "Deep network" in load.tooltip

    lab = TrainingPanel()
    assert lab.set_state({"steps": 2000}) == []
    idle = (lab.start_button.tooltip, lab.stop_button.tooltip)
    assert idle[0].startswith("Start: ")
    assert "off" in idle[1]

    async def while_training() -> tuple[str, str]:
        assert lab.start()
        await asyncio.sleep(0)
        shown = (lab.start_button.tooltip, lab.stop_button.tooltip)
        lab.stop()
        assert lab.task is not None
        await lab.task
        return shown

    running = asyncio.run(while_training())
    assert lab.start_button.disabled is False  # the run has ended
    assert "off" in running[0]
    assert running[1].startswith("Stop: ")
    assert (lab.start_button.tooltip, lab.stop_button.tooltip) == idle


@pytest.mark.parametrize("key", [cls.key for cls in PANELS])
def test_titles_ipywidgets_drops_are_sent_to_the_page(
    panels: dict[str, Panel[Any]], key: str
) -> None:
    """ipywidgets 8 shows no title for a dropdown, check box or text box with a description
    (ipywidgets#3964): the panel's TitleKeeper holds each one's tooltip by name, and the control
    carries the class help.js finds it by."""
    panel = panels[key]
    keepers = [child for child in panel.children if isinstance(child, TitleKeeper)]
    assert len(keepers) == 1
    shown = {
        name: control
        for name, control in panel.controls.items()
        if isinstance(control, widgets.Dropdown | widgets.Checkbox | widgets.Text)
    }
    if panel.preset is not None:
        shown["preset"] = panel.preset
    assert keepers[0].titles == {name: control.tooltip for name, control in shown.items()}
    for name, control in shown.items():
        assert TIP_CLASS + name in control._dom_classes


def note_text(note: widgets.HTML) -> str:
    """A note's text as the page shows it once opened."""
    return html.unescape(re.sub(r"<[^>]*>", " ", note.value))


@pytest.mark.parametrize("key", [cls.key for cls in PANELS])
def test_every_figure_has_a_note_naming_its_axes_and_source(
    panels: dict[str, Panel[Any]], key: str
) -> None:
    """Under the figures, one collapsed note per figure (in the order of figures()). Each names
    every axis label its figure draws (colour bars included), gives equations, and a source:
    a source article or a paper that docs/SCIENCE.md lists, citing no year it does not list."""
    panel = panels[key]
    notes = [child for child in panel.children if ABOUT_CLASS in child._dom_classes]
    figures = panel.figures()
    assert len(notes) == len(figures) >= 1
    for figure, note in zip(figures, notes, strict=True):
        assert note.value.startswith("<details")
        assert not re.search(r"<details[^>]*\bopen\b", note.value)  # collapsed
        assert "<script" not in note.value  # nothing runs at page load
        text = note_text(note)
        assert SUMMARY in text
        labels = [
            label
            for ax in figure.axes
            for label in (ax.get_xlabel(), ax.get_ylabel())
            if label.strip()
        ]
        assert labels, key
        for label in labels:
            assert label in text, (key, label)
        assert "Equations." in text
        source = text.split("Source.", 1)[1]
        assert any(names(name, source) for name, _ in REFERENCES) or any(
            title in " ".join(source.split()) for title in ARTICLES
        ), source
        cites_only_listed_references(source)
