"""Control factories shared by the panels: one look, and each widget's range taken from the same
``Bounds`` the panel enforces in Python, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from explorer.core import MAX_SEED
from explorer.panels.bounds import Bounds
from explorer.panels.help import range_words
from explorer.panels.number import IntNumberSlider, NumberSlider

LABEL_WIDTH = "110px"
STYLE = {"description_width": LABEL_WIDTH}
WIDE = "340px"
SEED_BOUNDS = Bounds(0, MAX_SEED, integer=True)  # the core's seed range
# every clip-threshold control: thresholds from 10^-3 to 10^3 (the core takes more)
THRESHOLD_BOUNDS = Bounds(1e-3, 1e3)
NO_PRESET = "(choose a preset)"
CUSTOM = "(custom)"  # shown once the controls hold no preset's values


def int_slider(label: str, value: int, bounds: Bounds, step: int = 1) -> IntNumberSlider:
    """An exact integer control over ``bounds``: a slider and a box that takes typed values."""
    return IntNumberSlider(
        value=value,
        min=int(bounds.low),
        max=int(bounds.high),
        step=step,
        description=label,
        tooltip=f"{label}: {range_words(bounds)}",
    )


def float_slider(label: str, value: float, bounds: Bounds, step: float) -> NumberSlider:
    """An exact float control over ``bounds``, swept linearly in steps of ``step``."""
    return NumberSlider(
        value=value,
        min=bounds.low,
        max=bounds.high,
        step=step,
        description=label,
        tooltip=f"{label}: {range_words(bounds)}",
    )


def log_slider(label: str, value: float, bounds: Bounds, step: float) -> NumberSlider:
    """An exact float control over ``bounds``, swept over log10 in steps of ``step`` decades."""
    return NumberSlider(
        value=value,
        min=bounds.low,
        max=bounds.high,
        step=step,
        scale="log",
        description=label,
        tooltip=f"{label}: {range_words(bounds, log_scale=True)}",
    )


def dropdown(
    label: str, options: Sequence[str] | Sequence[tuple[str, str]], value: str
) -> widgets.Dropdown:
    """A choice of ``options`` (values, or (label, value) pairs)."""
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


def seed_box() -> IntNumberSlider:
    """The random seed: a box alone (no slider), exact and validated like the sliders."""
    return IntNumberSlider(
        value=0,
        min=int(SEED_BOUNDS.low),
        max=int(SEED_BOUNDS.high),
        slider=False,
        description="seed",
        tooltip=f"random seed: {range_words(SEED_BOUNDS)}",
    )


def preset_menu(
    presets: Mapping[str, Mapping[str, Any]], apply: Callable[[Mapping[str, Any]], object]
) -> widgets.Dropdown:
    """A dropdown of preset names; choosing one calls ``apply(settings)``."""
    menu = widgets.Dropdown(
        options=[NO_PRESET, CUSTOM, *presets],
        description="preset",
        style=STYLE,
        layout=widgets.Layout(width=WIDE),
    )

    def on_choose(change: dict[str, Any]) -> None:
        settings = presets.get(change["new"])
        if settings is not None:
            apply(settings)

    menu.observe(on_choose, names="value")
    return menu
