"""A value for a control, checked in Python before any control takes it.

Values come from the browser (a client can send any JSON), from links and from other panels:
none is trusted. ``accepted`` returns the value a control may take, or raises ValueError saying
why not; numbers are clamped to their bounds later, by the panel, which says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ipywidgets as widgets

from explorer.panels.number import NumberSlider, parse_number

MAX_TEXT = 2000  # characters a text control takes
JSONValue = int | float | str | bool  # what a control's value is, as ``Panel.state`` gives it
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def options_of(control: widgets.ValueWidget) -> list[Any]:
    """The values a choice control (dropdown, toggles) allows, without their labels."""
    options: Sequence[Any] = control.options
    return [option[1] if isinstance(option, tuple) else option for option in options]


def is_choice(control: widgets.ValueWidget) -> bool:
    return isinstance(control, widgets.Dropdown | widgets.ToggleButtons)


def accepted(control: widgets.ValueWidget, raw: object) -> JSONValue:
    """``raw`` as ``control`` may take it; ValueError (naming what is allowed) if it may not."""
    if isinstance(control, NumberSlider):
        return _number(control, raw)
    if is_choice(control):
        allowed = options_of(control)
        if raw in allowed and isinstance(raw, str):
            return raw
        listed = ", ".join(str(option) for option in allowed)
        raise ValueError(f"{_shown(raw)} is not one of {listed}")
    if isinstance(control, widgets.Checkbox):
        return _flag(raw)
    if isinstance(control, widgets.Text):
        if not isinstance(raw, str) or len(raw) > MAX_TEXT:
            raise ValueError(f"expected text of at most {MAX_TEXT:,} characters")
        return raw
    raise ValueError(f"{type(control).__name__} takes no value from outside")


def _number(control: NumberSlider, raw: object) -> int | float:
    if isinstance(raw, str):
        value = parse_number(raw)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        try:
            value = float(raw)
        except OverflowError:  # a JSON integer beyond any float
            raise ValueError(f"{str(raw)[:20]}… is too large a number") from None
        if not math.isfinite(value):
            raise ValueError(f"{raw!r} is not a finite number")
    else:
        raise ValueError(f"{_shown(raw)} is not a number")
    if control.INTEGER:
        if value != round(value):
            raise ValueError(f"{value:g} is not a whole number")
        return round(value)
    return value


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in (*_TRUE, *_FALSE):
        return raw.strip().lower() in _TRUE
    raise ValueError(f"{_shown(raw)} is not true or false")


def _shown(raw: object) -> str:
    return repr(raw)[:40]
