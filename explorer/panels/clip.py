"""The clipping-geometry panel: one gradient, two clipping methods side by side.

A 2- or 3-component gradient is drawn with the threshold's ball and box; several tensors (the
gradient typed as "100, 0; 0, 0.1") are drawn as each tensor's norm before and after. The numbers a
student checks by hand are written out beside the picture. The clipping is
``explorer.core.clip_gradients``, in torch's, Keras's or Optax's semantics.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
import numpy as np

from explorer.core import ClipResult, clip_gradients
from explorer.panels.base import Panel, Params, make_figure
from explorer.panels.controls import STYLE, THRESHOLD_BOUNDS, WIDE, dropdown, log_slider, toggles
from explorer.panels.number import plain_number_text
from explorer.panels.redraw import Redrawer
from explorer.panels.snippet import Code, call, literal, printed, shown, snippet_text
from explorer.panels.values import MAX_TEXT, JSONValue
from explorer.panels.written import readout_table
from explorer.plots.clip import ClipGeometryView, TensorNormView
from explorer.plots.style import FONT_SIZE, format_number

METHODS_SHOWN = ("value", "norm", "global_norm", "pascanu")  # AGC needs weights: see the core
MAX_TENSORS = 8
MAX_COMPONENTS = 64
BOUNDS = {"threshold": THRESHOLD_BOUNDS}
PRESETS: dict[str, dict[str, JSONValue]] = {
    "g = [16, 12, −8], threshold 5 (article 001)": {
        "gradient": "16, 12, -8",
        "threshold": 5.0,
        "left": "value",
        "right": "pascanu",
    },
    "g = [3, 4], threshold 2 (exercise 2)": {
        "gradient": "3, 4",
        "threshold": 2.0,
        "left": "value",
        "right": "norm",
    },
    "∂L/∂W₁ = [100, 0], ∂L/∂W₂ = [0, 0.1], max norm 1 (exercise 4)": {
        "gradient": "100, 0; 0, 0.1",
        "threshold": 1.0,
        "left": "global_norm",
        "right": "norm",
    },
    "a norm exactly at the threshold: [3, 4] at 5": {
        "gradient": "3, 4",
        "threshold": 5.0,
        "left": "global_norm",
        "right": "pascanu",
    },
}


def parse_gradient(text: str) -> list[np.ndarray]:
    """'16, 12, -8' -> one tensor; '100, 0; 0, 0.1' -> two. inf and nan are accepted as data, and
    the Unicode minus the readouts print ('16, 12, −8') is read as a minus."""
    if not isinstance(text, str):
        raise ValueError("gradient must be numbers separated by commas, tensors by ';'")
    if len(text) > MAX_TEXT:
        raise ValueError(f"gradient may be up to {MAX_TEXT} characters long")
    tensors = []
    for part in text.split(";"):
        try:
            values = [float(plain_number_text(item)) for item in part.split(",") if item.strip()]
        except ValueError:
            raise ValueError(
                f"gradient must be numbers split by commas, tensors by ';': got {part.strip()!r}"
            ) from None
        if not values:
            raise ValueError("gradient must hold at least one number in each tensor")
        tensors.append(np.array(values))
    if len(tensors) > MAX_TENSORS or sum(t.size for t in tensors) > MAX_COMPONENTS:
        raise ValueError(
            f"gradient may hold up to {MAX_TENSORS} tensors and {MAX_COMPONENTS} numbers"
        )
    return tensors


def _controls() -> dict[str, widgets.ValueWidget]:
    return {
        "gradient": widgets.Text(
            value="16, 12, -8",
            description="gradient",
            style=STYLE,
            layout=widgets.Layout(width=WIDE),
            continuous_update=False,
        ),
        "threshold": log_slider("threshold", 5.0, BOUNDS["threshold"], step=0.01),
        "left": dropdown("left", METHODS_SHOWN, "value"),
        "right": dropdown("right", METHODS_SHOWN, "pascanu"),
        "semantics": toggles("semantics", ("torch", "keras", "optax"), "torch", "70px"),
    }


@dataclass(frozen=True)
class Clippings:
    """One gradient clipped by two methods, side by side."""

    left: ClipResult
    right: ClipResult

    @property
    def both(self) -> tuple[ClipResult, ClipResult]:
        return (self.left, self.right)


class ClipPanel(Panel[Clippings]):
    """Two clipping methods applied to the same gradient, drawn and written out."""

    key, title = "clipping", "Clipping"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_controls(), BOUNDS, PRESETS, **kwargs)
        with mpl.rc_context({"font.size": FONT_SIZE}):
            self.figure = make_figure(11.0, 5.2, left=0.7, bottom=0.8, gap=0.9)
            planes = [self.figure.add_subplot(1, 2, i + 1) for i in range(2)]
            spaces = [self.figure.add_subplot(1, 2, i + 1, projection="3d") for i in range(2)]
            bars = [self.figure.add_subplot(1, 2, i + 1) for i in range(2)]
            self.views: dict[str, list[ClipGeometryView | TensorNormView]] = {
                "2-D": [ClipGeometryView(ax, 2) for ax in planes],
                "3-D": [ClipGeometryView(ax, 3) for ax in spaces],
                "tensors": [TensorNormView(ax) for ax in bars],
            }
        self.mode = ""
        self.redrawer = Redrawer(self.figure, [])
        self.drawn_titles: tuple[str, ...] = ()
        c = self.controls
        self.lay_out(
            "<b>Clipping geometry</b>: norm clipping shrinks g onto the ball ‖g‖ = threshold"
            " and keeps its direction; value clipping clamps each component into the box"
            " and turns it. Type a gradient (tensors separated by ';').",
            [[c["gradient"], c["threshold"]], [c["left"], c["right"], c["semantics"]]],
        )
        self.refresh()

    def compute(self, params: Params) -> Clippings:
        tensors = parse_gradient(params["gradient"])
        left, right = (
            clip_gradients(tensors, params[side], params["threshold"], params["semantics"])
            for side in ("left", "right")
        )
        return Clippings(left, right)

    def show(self, result: Clippings) -> None:
        original = result.left.original
        if len(original) == 1 and original[0].size in (2, 3):
            mode = f"{original[0].size}-D"
        else:
            mode = "tensors"
        for name, views in self.views.items():
            for view in views:
                view.ax.set_visible(name == mode)
        for view, side in zip(self.views[mode], result.both, strict=True):
            view.update(side)
        # blit the vectors while the background stays (same mode, titles, limits, legends); the
        # tensor bars are rebuilt on each update, so that mode always draws in full
        titles = tuple(view.ax.get_title() for view in self.views[mode])
        full = mode != self.mode or mode == "tensors" or titles != self.drawn_titles
        if mode != self.mode:
            views = self.views[mode]
            self.redrawer.set_artists(
                [a for v in views if isinstance(v, ClipGeometryView) for a in v.artists]
            )
        self.mode, self.drawn_titles = mode, titles
        self.redrawer.redraw(full=full)
        self.readout.value = _readout(result)

    def ok_message(self, result: Clippings) -> str:
        return f"Clipped with {result.left.semantics} semantics."

    def snippet(self) -> str:
        """``clip_gradients`` on the gradient shown, once per side, as the readout gives them."""
        result = shown(self.result)
        tensors = ", ".join(f"np.array({literal(t.ravel())})" for t in result.left.original)
        lines = [f"gradient = [{tensors}]"]
        for side, clipping in (("left", result.left), ("right", result.right)):
            settings = {
                "method": clipping.method,
                "threshold": clipping.threshold,
                "semantics": clipping.semantics,
            }
            lines.append(f"{side} = {call('clip_gradients', settings, Code('gradient'))}")
        for side in ("left", "right"):
            lines += [
                f'print("{side}.grads =", [g.tolist() for g in {side}.grads])',
                printed(f"{side}.norm_before"),
                printed(f"{side}.norm_after"),
                printed(f"{side}.coefficient"),
                printed(f"{side}.coefficients", array=True),
                printed(f"{side}.cosine"),
                printed(f"{side}.clipped"),
            ]
        return snippet_text(
            ["import numpy as np", "", "from explorer.core import clip_gradients"], lines
        )


def _vector(values: np.ndarray) -> str:
    return "[" + ", ".join(format_number(float(v)) for v in np.ravel(values)) + "]"


def _multiplier(result: ClipResult) -> str:
    """The one multiplier, the per-tensor ones, or none (value clipping is per component)."""
    if result.method == "value":
        return "none: each component is clamped"
    if math.isnan(result.coefficient):
        return _vector(result.coefficients)
    return f"{result.coefficient:.9g}"


def _readout(result: Clippings) -> str:
    rows: list[tuple[str, Callable[[ClipResult], str]]] = [
        ("library call", lambda r: html.escape(r.library_call)),
        ("‖g‖ before", lambda r: format_number(r.norm_before)),
        ("‖g‖ after", lambda r: format_number(r.norm_after)),
        ("multiplier", _multiplier),
        ("clipped?", lambda r: "yes" if r.clipped else "no"),
        ("cosine(g, clipped)", lambda r: f"{r.cosine:.6f}"),
        ("clipped gradient", lambda r: "; ".join(_vector(g) for g in r.grads)),
    ]
    table = readout_table(
        [
            ("", *(f"<b>{r.method}</b>" for r in result.both)),
            *((label, *(cell(r) for r in result.both)) for label, cell in rows),
        ],
        cell_style="padding:0 12px",
    )
    given = "; ".join(_vector(g) for g in result.left.original)
    threshold = format_number(result.left.threshold)
    return f"<div style='font-size:14px'>g = {given}, threshold {threshold}{table}</div>"
