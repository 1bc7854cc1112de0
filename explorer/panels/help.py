"""Help on screen: what each control is (its tooltip, with its range) and, under each panel's
figures, "What am I looking at?": what is plotted, the equation, and where it comes from.

The words live in ``explorer.panels.help_text``. The ranges do not: a number's range is read from
the ``Bounds`` the panel enforces (a selector's from the range the panel keeps it in, updated as
the result changes), a choice's from the widget's own options, so the tooltip cannot drift from
what the control takes. ``describe_controls`` runs once, from ``Panel.lay_out``, before the panel
first disables the controls that do not apply (``Panel.sync_enabled`` swaps a disabled control's
tooltip for "off <reason>" and puts this one back).
"""

from __future__ import annotations

import html
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import ipywidgets as widgets
import traitlets

from explorer.panels import help_text
from explorer.panels.bounds import Bounds
from explorer.panels.number import NumberSlider
from explorer.panels.values import MAX_TEXT
from explorer.plots.style import format_number

if TYPE_CHECKING:
    from explorer.panels.base import Panel

log = logging.getLogger(__name__)

ABOUT_CLASS = "ge-about"  # the notes' widgets, for the tests
TIP_CLASS = "ge-tip-"  # + a control's name: a control whose title help.js sets
# ipywidgets 8 shows no tooltip for these when they have a description (ipywidgets#3964)
TITLELESS = (widgets.Dropdown, widgets.Checkbox, widgets.Text)
SUMMARY = "What am I looking at?"
LOG_SWEEP = " (the slider sweeps a log scale; type any value in the box)"
_NOTE_STYLE = "font-size:14px;max-width:1100px;margin:4px 8px"


# -- tooltips -------------------------------------------------------------------------------------
def range_words(bounds: Bounds, *, log_scale: bool = False) -> str:
    """A number control's range in words: 'a whole number from 1 to 1,000', 'from 0.01 to 100'."""
    if bounds.integer:
        return f"a whole number from {int(bounds.low):,} to {int(bounds.high):,}"
    words = f"from {format_number(bounds.low)} to {format_number(bounds.high)}"
    return words + (LOG_SWEEP if log_scale else "")


def option_labels(control: widgets.ValueWidget) -> list[str]:
    """The options of a choice control as the page shows them (the label of a (label, value))."""
    return [str(option[0] if isinstance(option, tuple) else option) for option in control.options]


def allowed_words(control: widgets.ValueWidget, bounds: Bounds | None) -> str:
    """What ``control`` takes, in words: its range, its choices, on or off, or text."""
    if isinstance(control, NumberSlider):
        if bounds is None:  # a selector: the range the panel keeps it in now
            bounds = Bounds(control.min, control.max, integer=control.INTEGER)
        return "Range: " + range_words(bounds, log_scale=control.scale == "log")
    if isinstance(control, widgets.Dropdown | widgets.ToggleButtons):
        return "Choices: " + ", ".join(option_labels(control))
    if isinstance(control, widgets.Checkbox):
        return "On or off"
    if isinstance(control, widgets.Text):
        return f"Text of at most {MAX_TEXT:,} characters"
    return ""


def tooltip_text(label: str, what: str, allowed: str) -> str:
    """'label: what it is. Range: …' (either part may be empty)."""
    sentences = [part for part in (what, allowed) if part]
    return f"{label}: " + ". ".join(sentences) + "." if sentences else label


def _names(panel: Panel[Any]) -> dict[str, Any]:
    """The constants a help text may name in braces: its panel module's, and the written-out
    tables' EDGE (imported here, when a panel is built: written.py imports the controls)."""
    from explorer.panels.written import EDGE

    return {**vars(sys.modules[type(panel).__module__]), "EDGE": EDGE}


def _what(texts: Mapping[str, str], name: str, names: Mapping[str, Any]) -> str:
    text = texts.get(name)
    if text is None:  # the tests require a text for every control; the page still works
        log.warning("no help text for control %r", name)
        return ""
    return text.format_map(names)


def describe_controls(panel: Panel[Any]) -> None:
    """Give every control, selector, preset menu and button of ``panel`` its tooltip: what it is
    and what it takes. Selectors' tooltips follow their range as the result changes."""
    texts = help_text.CONTROLS.get(panel.key, {})
    names = _names(panel)
    for name, control in panel.controls.items():
        label = getattr(control, "description", "") or name
        text = tooltip_text(
            label, _what(texts, name, names), allowed_words(control, panel.bounds.get(name))
        )
        _set_tooltip(panel, name, control, text)
    for name, selector in panel.selectors.items():
        what = _what(texts, name, names)
        _retitle_selector(selector, what)
        selector.observe(
            lambda change, what=what: _retitle_selector(change["owner"], what),
            names=["min", "max"],
        )
    if panel.preset is not None:
        count = len(panel.presets)
        panel.preset.tooltip = tooltip_text(
            "preset", help_text.PRESET, f"Choices: the {count} presets listed"
        )
    for attribute, what in help_text.WIDGETS.get(panel.key, {}).items():
        widget = getattr(panel, attribute, None)
        if isinstance(widget, widgets.DOMWidget):
            label = getattr(widget, "description", "") or attribute
            widget.tooltip = tooltip_text(label, what.format_map(names), "")


def _set_tooltip(panel: Panel[Any], name: str, control: widgets.ValueWidget, text: str) -> None:
    """Set a control's tooltip; a control already off keeps "off <reason>" and gets this one
    back when it is on again. A toggle's buttons carry the same words (the page shows a button's
    own title on hover)."""
    if name in panel._tooltips:
        panel._tooltips[name] = text
    else:
        control.tooltip = text
    if isinstance(control, widgets.ToggleButtons):
        control.tooltips = [text] * len(control.options)


def _retitle_selector(selector: NumberSlider, what: str) -> None:
    selector.tooltip = tooltip_text(selector.description, what, allowed_words(selector, None))


def training_buttons(running: bool) -> tuple[str, str]:
    """The Start and Stop buttons' tooltips: what each does, or why it is off."""
    if running:
        return help_text.START_OFF, help_text.STOP
    return help_text.START, help_text.STOP_OFF


# -- "What am I looking at?" ----------------------------------------------------------------
def note_html(note: help_text.Note, several: bool) -> str:
    """A collapsed note: each axes, the equations, the source (plain text, escaped here)."""
    summary = SUMMARY + (f" ({note.topic})" if several else "")
    axes = "".join(
        f"<p><b>{html.escape(where)}.</b> {html.escape(what)}</p>" for where, what in note.axes
    )
    equations = "<br>".join(html.escape(line) for line in note.equations)
    return (
        f"<details class='ge-about-note' style='{_NOTE_STYLE}'>"
        f"<summary style='cursor:pointer;color:#0072B2'>{html.escape(summary)}</summary>"
        f"{axes}<p><b>Equations.</b><br>{equations}</p>"
        f"<p><b>Source.</b> {html.escape(note.source)}</p></details>"
    )


def figure_help(panel: Panel[Any]) -> list[widgets.Widget]:
    """The "What am I looking at?" notes shown under ``panel``'s figures, one per figure in the
    order of ``panel.figures()`` (none for a panel without notes), then the ``TitleKeeper`` that
    shows the tooltips ipywidgets would not."""
    notes = help_text.NOTES.get(panel.key, ())
    several = len(notes) > 1
    shown: list[widgets.Widget] = []
    for note in notes:
        widget = widgets.HTML(note_html(note, several))
        widget.add_class(ABOUT_CLASS)
        shown.append(widget)
    return [*shown, TitleKeeper.of(panel)]


class TitleKeeper(anywidget.AnyWidget):
    """Sends the tooltips of the panel's dropdowns, check boxes and text boxes to the page, where
    help.js sets each as its control's title (ipywidgets 8 drops them); kept up to date as
    ``Panel.sync_enabled`` swaps a tooltip for "off <reason>" and back."""

    _esm = Path(__file__).parent / "help.js"
    titles = traitlets.Dict().tag(sync=True)  # control name -> its tooltip

    @classmethod
    def of(cls, panel: Panel[Any]) -> TitleKeeper:
        """A keeper of ``panel``'s titleless controls (the preset menu as "preset")."""
        keeper = cls()
        shown: dict[str, widgets.DOMWidget] = {
            name: control
            for name, control in panel.controls.items()
            if isinstance(control, TITLELESS)
        }
        if panel.preset is not None:
            shown["preset"] = panel.preset
        for name, control in shown.items():
            control.add_class(TIP_CLASS + name)
            control.observe(
                lambda change, name=name: keeper.keep(name, change["new"]), names="tooltip"
            )
            keeper.keep(name, control.tooltip)
        return keeper

    def keep(self, name: str, tooltip: str | None) -> None:
        """Show ``tooltip`` as control ``name``'s title."""
        self.titles = {**self.titles, name: tooltip or ""}
