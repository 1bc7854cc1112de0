"""Exact number controls: a slider to sweep and a box that shows, and takes, the exact value.

ipywidgets' sliders round in the browser: a FloatLogSlider snaps a value to the step grid of its
exponent and sends the snapped value back (a preset of 2 came back as 10^0.30 = 1.995), and their
readouts parse typed text in the browser, clamping silently. Here the kernel holds the value and
the browser never rewrites it:

- a value set from Python (a preset, a link, another panel) is shown as it is and computed as it
  is; the slider's thumb may sit on its grid, the value does not;
- dragging the slider sends a value of the slider's grid, rounded to the digits the grid resolves
  (10^0.3 arrives as 2.00, not 1.9953), so the box shows exactly the value computed;
- typed text is sent as text and parsed here (``parse_number``): "1e9", "2e-3", the Unicode minus
  the readouts print, and spaces are understood; text that is not a number is refused with a
  message, the old value kept; a value outside ``min``..``max`` is clamped, with a message.

Messages reach whoever listens (a panel's status line) through ``on_note``; a note about a value
that changes waits in ``pop_notes()`` for the refresh that shows it. The front end is
``number.js``, an anywidget ES module.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anywidget
import traitlets

from explorer.panels.bounds import outside_note
from explorer.plots.style import format_number

_HERE = Path(__file__).parent
MAX_TYPED = 200  # typed text longer than this is refused (number.js sends at most 1000)
_MINUS_SIGNS = {"\u2212": "-", "\u2012": "-", "\u2013": "-", "\ufe63": "-", "\uff0d": "-"}
_SPACES = ("\u00a0", "\u2009", "\u202f", "_")


def parse_number(text: str) -> float:
    """The number a user typed: '1e9', '2e-3', '−0.5' (Unicode minus), ' 3 ', '524,288'.

    Raises ValueError, saying what was typed, for anything that is not one finite number.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected typed text, got {type(text).__name__}")
    if len(text.strip()) > MAX_TYPED:
        raise ValueError(f"{text.strip()[:20]!r}… is too long to be a number")
    cleaned = plain_number_text(text)
    if _is_grouped_integer(cleaned):
        cleaned = cleaned.replace(",", "")
    try:
        value = float(cleaned)
    except ValueError:
        raise ValueError(f"{text.strip()[:40]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text.strip()[:40]!r} is not a finite number")
    return value


def plain_number_text(text: str) -> str:
    """``text`` as Python's float() reads it: surrounding spaces stripped, Unicode minus signs made
    ASCII, the digit-group separators a page may print (non-breaking and thin spaces,
    underscores) dropped. Plain spaces inside stay: '2 3' is not a number."""
    cleaned = text.strip()
    for sign, ascii_minus in _MINUS_SIGNS.items():
        cleaned = cleaned.replace(sign, ascii_minus)
    for space in _SPACES:
        cleaned = cleaned.replace(space, "")
    return cleaned


def _is_grouped_integer(text: str) -> bool:
    """'524,288' or '-1,000,000': digits in groups of three, as format_number writes them."""
    digits = text.removeprefix("-").removeprefix("+")
    groups = digits.split(",")
    return (
        len(groups) > 1
        and 1 <= len(groups[0]) <= 3
        and not groups[0].startswith("0")  # '0,500' is a decimal comma, not 500
        and all(group.isdigit() for group in groups)
        and all(len(group) == 3 for group in groups[1:])
    )


class NumberSlider(anywidget.AnyWidget):
    """A float control that keeps the exact value it is given (see the module docstring).

    ``scale`` "log" sweeps log10 of the value (``step`` in decades); "linear" sweeps the value
    (``step`` in its units). ``slider=False`` shows the box alone.
    """

    INTEGER = False  # whole numbers only; a class constant, not the synced trait a client can set

    _esm = _HERE / "number.js"
    _css = _HERE / "number.css"

    value: Any = traitlets.Float(0.0).tag(sync=True)
    min = traitlets.Float(0.0).tag(sync=True)
    max = traitlets.Float(1.0).tag(sync=True)
    step = traitlets.Float(0.01).tag(sync=True)
    scale = traitlets.Unicode("linear").tag(sync=True)
    integer = traitlets.Bool(False).tag(sync=True)
    slider = traitlets.Bool(True).tag(sync=True)
    description = traitlets.Unicode("").tag(sync=True)
    tooltip = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._listeners: list[Callable[[str], None]] = []
        self._notes: list[str] = []
        self.on_msg(self._on_message)

    # -- what a panel uses ---------------------------------------------------------------------
    def on_note(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(message)`` when typed text is refused or clamped without a change."""
        self._listeners.append(listener)

    def pop_notes(self) -> list[str]:
        """Notes about the value being set (a typed value clamped), for the refresh showing it:
        a note nobody takes while the value changes is announced afterwards instead."""
        notes, self._notes = self._notes, []
        return notes

    def type_text(self, text: str) -> None:
        """Take ``text`` as if typed in the box: parse, clamp or refuse, and say so."""
        label = self.description or "value"
        kept = f"kept {format_number(self.value)}."
        if self.disabled:
            self._announce(f"{label} is off just now: {text.strip()[:40]!r} ignored; {kept}")
            return
        try:
            typed = parse_number(text)
        except ValueError as error:
            self._announce(f"{label}: {error}; {kept}")
            return
        if self.INTEGER and typed != round(typed):
            whole = f"{label} must be a whole number: {format_number(typed)} refused"
            self._announce(f"{whole}; {kept}")
            return
        clamped = min(max(typed, self.min), self.max)
        value = round(clamped) if self.INTEGER else clamped
        note = None if clamped == typed else outside_note(label, typed, self.min, self.max, value)
        if value == self.value:
            if note:
                self._announce(note)
            return
        if note:
            self._notes.append(note)
        self.value = value  # a panel's refresh takes the note now, with its own messages
        for left in self.pop_notes():  # nobody took it: say it directly
            self._announce(left)

    # -- the browser's messages ------------------------------------------------------------------
    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        del widget, buffers
        if isinstance(content, dict) and content.get("event") == "typed":
            text = content.get("text")
            if isinstance(text, str):
                self.type_text(text)

    def _announce(self, message: str) -> None:
        for listener in self._listeners:
            listener(message)


class IntNumberSlider(NumberSlider):
    """An integer control with the same box and messages."""

    INTEGER = True
    value: Any = traitlets.Int(0).tag(sync=True)
    step = traitlets.Float(1.0).tag(sync=True)
    integer = traitlets.Bool(True).tag(sync=True)  # tells number.js to round the slider's values


class WidthProbe(anywidget.AnyWidget):
    """The width in CSS pixels the browser gives this (zero-height) element: the panel's width.

    ``width`` comes from the browser; whoever reads it clamps it (see ``Panel.fit_width``).
    """

    _esm = _HERE / "width.js"

    width = traitlets.Int(0).tag(sync=True)
