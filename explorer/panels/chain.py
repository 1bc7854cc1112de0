"""The deep-network panel: how a gradient grows or shrinks layer by layer.

Controls map one to one onto ``explorer.core.chain_gradients``; the figure holds a ``DeltaView``
and a ``JacobianView``; the readout writes out the numbers a student looks for. Presets load the
source articles' worked examples.
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl

from explorer.core import ACTIVATIONS, DTYPES, INITS, ChainResult, chain_gradients
from explorer.core.chain import gradient_trend
from explorer.panels.base import Bounds, Cost, Panel, Params, make_figure
from explorer.panels.controls import (
    SEED_BOUNDS,
    dropdown,
    float_slider,
    int_slider,
    log_slider,
    seed_box,
    toggles,
)
from explorer.panels.redraw import Redrawer
from explorer.panels.snippet import call, printed, shown, snippet_text
from explorer.panels.values import JSONValue
from explorer.panels.written import PointedIndex, readout_table, written_out_html
from explorer.plots import DeltaView, JacobianView
from explorer.plots.style import FONT_SIZE, HIGHLIGHT, format_number

# One refresh costs about depth * width^2 (the per-layer SVDs dominate): 1.1e6 units is about
# 150-200 ms on this machine (benchmarks/bench_chain.py), e.g. depth 1000 at width 32.
COMPUTE_BUDGET = 1_100_000


def _scalar_chain(depth: int, weight: float) -> dict[str, JSONValue]:
    """The source articles' chain: width 1, every weight ``weight``, no activation."""
    return {
        "depth": depth,
        "width": 1,
        "weight_scale": weight,
        "init": "identity",
        "activation": "linear",
        "bias_scale": 0.0,
    }


def _network(
    depth: int, width: int, scale: float, init: str, activation: str
) -> dict[str, JSONValue]:
    return {
        "depth": depth,
        "width": width,
        "weight_scale": scale,
        "init": init,
        "activation": activation,
        "bias_scale": 0.0,
    }


# preset name -> control values
PRESETS: dict[str, dict[str, JSONValue]] = {
    "Article: w = 2, 5 layers": _scalar_chain(5, 2.0),
    "Article: w = 2, 20 layers (2^19)": _scalar_chain(20, 2.0),
    "Exercise: w = 3, 5 layers": _scalar_chain(5, 3.0),
    "Exercise: w = 0.9, 5 layers": _scalar_chain(5, 0.9),
    "Exercise: w = 1, 5 layers": _scalar_chain(5, 1.0),
    # N(0, 1) entries: gaussian init divides by sqrt(fan_in) = 8, so scale 8
    "N(0, 1) weights, 20 layers, width 64": _network(20, 64, 8.0, "gaussian", "linear"),
    "He init + ReLU, 50 layers": _network(50, 64, 1.0, "he", "relu"),
    "Xavier init + tanh, 50 layers": _network(50, 64, 1.0, "xavier", "tanh"),
    "Orthogonal, scale 1: isometry": _network(100, 32, 1.0, "orthogonal", "linear"),
    "float32 overflow: 250 layers, scale 1.5": {
        **_network(250, 32, 1.5, "gaussian", "linear"),
        "dtype": "float32",
    },
}


BOUNDS = {
    "depth": Bounds(1, 1000, integer=True),
    "width": Bounds(1, 256, integer=True),
    "weight_scale": Bounds(0.01, 100.0),
    "bias_scale": Bounds(0.0, 2.0),
    "seed": SEED_BOUNDS,
}


def _controls() -> dict[str, widgets.ValueWidget]:
    return {
        "depth": int_slider("depth L", 20, BOUNDS["depth"]),
        "width": int_slider("width", 32, BOUNDS["width"]),
        "weight_scale": log_slider("weight scale", 1.5, BOUNDS["weight_scale"], step=0.01),
        "bias_scale": float_slider("bias std", 0.0, BOUNDS["bias_scale"], step=0.05),
        "init": dropdown("init", INITS, "gaussian"),
        "activation": dropdown("activation", ACTIVATIONS, "tanh"),
        "dtype": toggles("dtype", tuple(DTYPES), "float32", "80px"),
        "seed": seed_box(),
    }


class ChainPanel(Panel[ChainResult]):
    """Deep-network gradients: set depth, width, init, activation... and watch delta_l change."""

    key, title = "deep", "Deep network"

    budget = COMPUTE_BUDGET

    def __init__(self, **kwargs: Any) -> None:
        with mpl.rc_context({"font.size": FONT_SIZE}):
            self.figure = make_figure(11.0, 4.0)
            delta_ax, jacobian_ax = self.figure.subplots(1, 2, width_ratios=[1.35, 1])
            self.delta_view = DeltaView(delta_ax)
            self.jacobian_view = JacobianView(jacobian_ax)
        self.redrawer = Redrawer(self.figure, self.delta_view.artists + self.jacobian_view.artists)
        # the layer written out beside the first and last five: typed, or clicked on the plot
        self.pointed = PointedIndex("write out layer", 1, self.delta_view.ax)
        super().__init__(
            _controls(), BOUNDS, PRESETS, selectors={"layer": self.pointed.box}, **kwargs
        )
        c = self.controls
        self.lay_out(
            "<b>Deep network</b>: a_l = φ(W_l a_(l−1) + b_l). A unit gradient enters at the"
            " output; see what reaches each layer.",
            [
                [c["depth"], c["width"], c["weight_scale"]],
                [c["init"], c["activation"], c["bias_scale"], c["seed"]],
                [c["dtype"]],
            ],
            beside_readout=[self.pointed.box],
        )
        self.refresh()

    def cost(self, params: Params) -> Cost:
        depth, width = params["depth"], params["width"]
        return Cost(
            f"depth {depth} × width {width}²",
            depth * width**2,
            f"at width {width} use depth ≤ {COMPUTE_BUDGET // width**2}, or at depth {depth}"
            f" use width ≤ {int((COMPUTE_BUDGET / depth) ** 0.5)}",
        )

    def compute(self, params: Params) -> ChainResult:
        return chain_gradients(**params)

    def selector_bounds(self, result: ChainResult) -> dict[str, Bounds]:
        return {"layer": self.pointed.bounds(result.depth)}

    def show(self, result: ChainResult) -> None:
        self.delta_view.update(result)
        self.jacobian_view.update(result)
        self.redrawer.redraw()
        self.readout.value = readout_html(result, self.pointed.index)

    def ok_message(self, result: ChainResult) -> str:
        layers = "1 layer" if result.depth == 1 else f"{result.depth} layers"
        return f"Computed {layers} × width {result.width} in {result.dtype}."

    def snippet(self) -> str:
        """``chain_gradients`` at the settings of the result shown (its controls' names)."""
        result = shown(self.result)
        settings = {name: getattr(result, name) for name in self.controls}
        return snippet_text(
            ["from explorer.core import chain_gradients"],
            [
                f"result = {call('chain_gradients', settings)}",
                printed("result.delta_norms", array=True),
                printed("result.activation_norms", array=True),
                printed("result.jacobian_norms", array=True),
                printed("result.weight_grad_norms", array=True),
                printed("result.gradient_at_layer_1"),
                printed("result.growth_ratio"),
            ],
        )


def readout_html(result: ChainResult, pointed: int | None = None) -> str:
    """The numbers a student looks for, written out: the summary, then ‖∂L/∂a_l‖ at the first and
    last five layers and at layer ``pointed``."""
    grad1 = result.gradient_at_layer_1
    ratio = result.growth_ratio
    if result.overflow_layer is None:
        overflow = f"none: every value fits in {result.dtype}"
    else:
        overflow = (
            f"<b style='color:{HIGHLIGHT}'>layer {result.overflow_layer}</b>"
            f" ({result.overflow_pass} pass; values there are inf/NaN)"
        )
    trend = gradient_trend(ratio)
    if not math.isfinite(ratio):
        trend += (
            f": {result.dtype} overflowed. The exact end-to-end Jacobian norm is"
            f" 10^{result.e2e_log10_norm:.2f}; float64 holds more"
        )
    rows = [
        ("gradient at layer 1, ‖∂L/∂a₁‖", f"<b>{format_number(grad1)}</b>"),
        ("ratio to the output gradient, ‖δ₁‖/‖δ_L‖", f"<b>{format_number(ratio)}</b> ({trend})"),
        ("weight gradient at layer 1, ‖∂L/∂W₁‖", format_number(float(result.weight_grad_norms[0]))),
        (f"{result.dtype} overflow", overflow),
    ]
    return readout_table(rows) + written_out_html(
        "‖∂L/∂aₗ‖", "layer l", result.delta_norms, 1, pointed
    )
