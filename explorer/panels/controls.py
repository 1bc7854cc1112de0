"""Control factories shared by the panels: one look, and each widget's range taken from the same
``Bounds`` the panel enforces in Python, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from explorer.panels.base import Bounds

LABEL_WIDTH = "110px"
STYLE = {"description_width": LABEL_WIDTH}
WIDE = "340px"
SEED_BOUNDS = Bounds(0, 2**31 - 1, integer=True)
NO_PRESET = "(choose a preset)"


def int_slider(label: str, value: int, bounds: Bounds) -> widgets.IntSlider:
    return widgets.IntSlider(
        value=value,
        min=int(bounds.low),
        max=int(bounds.high),
        description=label,
        style=STYLE,
        layout=widgets.Layout(width=WIDE),
    )


def float_slider(
    label: str, value: float, bounds: Bounds, step: float, **kwargs: Any
) -> widgets.FloatSlider:
    return widgets.FloatSlider(
        value=value,
        min=bounds.low,
        max=bounds.high,
        step=step,
        description=label,
        style=STYLE,
        layout=widgets.Layout(width=WIDE),
        **kwargs,
    )


def log_slider(label: str, value: float, bounds: Bounds, step: float) -> widgets.FloatLogSlider:
    """A base-10 log slider over ``bounds`` (its min and max are exponents)."""
    return widgets.FloatLogSlider(
        value=value,
        base=10,
        min=math.log10(bounds.low),
        max=math.log10(bounds.high),
        step=step,
        description=label,
        readout_format=".3g",
        style=STYLE,
        layout=widgets.Layout(width=WIDE),
    )


def dropdown(label: str, options: Sequence[str], value: str) -> widgets.Dropdown:
    return widgets.Dropdown(
        options=options,
        value=value,
        description=label,
        style=STYLE,
        layout=widgets.Layout(width=WIDE),
    )


def toggles(
    label: str, options: Sequence[str], value: str, button_width: str
) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(
        options=options,
        value=value,
        description=label,
        style={"description_width": LABEL_WIDTH, "button_width": button_width},
    )


def seed_box() -> widgets.BoundedIntText:
    return widgets.BoundedIntText(
        value=0,
        min=int(SEED_BOUNDS.low),
        max=int(SEED_BOUNDS.high),
        description="seed",
        style=STYLE,
        layout=widgets.Layout(width="220px"),
    )


def preset_menu(
    presets: Mapping[str, Mapping[str, Any]], apply: Callable[..., None]
) -> widgets.Dropdown:
    """A dropdown of preset names; choosing one calls ``apply(**settings)``."""
    menu = widgets.Dropdown(
        options=[NO_PRESET, *presets],
        description="preset",
        style=STYLE,
        layout=widgets.Layout(width=WIDE),
    )

    def on_choose(change: dict[str, Any]) -> None:
        settings = presets.get(change["new"])
        if settings is not None:
            apply(**settings)

    menu.observe(on_choose, names="value")
    return menu
