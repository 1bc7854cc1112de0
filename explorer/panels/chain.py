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
from explorer.panels.base import Bounds, Panel, make_figure
from explorer.panels.redraw import Redrawer
from explorer.plots import DeltaView, JacobianView
from explorer.plots.style import FONT_SIZE, format_number

# One refresh costs about depth * width^2 (the per-layer SVDs dominate): 1.1e6 units is about
# 150-200 ms on this machine (benchmarks/bench_chain.py), e.g. depth 1000 at width 32.
COMPUTE_BUDGET = 1_100_000


def _scalar_chain(depth: int, weight: float) -> dict[str, Any]:
    """The source articles' chain: width 1, every weight ``weight``, no activation."""
    return {
        "depth": depth,
        "width": 1,
        "weight_scale": weight,
        "init": "identity",
        "activation": "linear",
        "bias_scale": 0.0,
    }


def _network(depth: int, width: int, scale: float, init: str, activation: str) -> dict[str, Any]:
    return {
        "depth": depth,
        "width": width,
        "weight_scale": scale,
        "init": init,
        "activation": activation,
        "bias_scale": 0.0,
    }


# preset name -> control values
PRESETS: dict[str, dict[str, Any]] = {
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


def _controls() -> dict[str, widgets.ValueWidget]:
    style = {"description_width": "110px"}
    wide = widgets.Layout(width="340px")
    return {
        "depth": widgets.IntSlider(
            value=20, min=1, max=1000, description="depth L", style=style, layout=wide
        ),
        "width": widgets.IntSlider(
            value=32, min=1, max=256, description="width", style=style, layout=wide
        ),
        "weight_scale": widgets.FloatLogSlider(
            value=1.5,
            base=10,
            min=-2,
            max=2,
            step=0.01,
            description="weight scale",
            readout_format=".3g",
            style=style,
            layout=wide,
        ),
        "bias_scale": widgets.FloatSlider(
            value=0.0,
            min=0.0,
            max=2.0,
            step=0.05,
            description="bias std",
            style=style,
            layout=wide,
        ),
        "init": widgets.Dropdown(
            options=INITS, value="gaussian", description="init", style=style, layout=wide
        ),
        "activation": widgets.Dropdown(
            options=ACTIVATIONS, value="tanh", description="activation", style=style, layout=wide
        ),
        "dtype": widgets.ToggleButtons(
            options=tuple(DTYPES),
            value="float32",
            description="dtype",
            style={"description_width": "110px", "button_width": "80px"},
        ),
        "seed": widgets.BoundedIntText(
            value=0,
            min=0,
            max=2**31 - 1,
            description="seed",
            style=style,
            layout=widgets.Layout(width="220px"),
        ),
    }


BOUNDS = {
    "depth": Bounds(1, 1000, integer=True),
    "width": Bounds(1, 256, integer=True),
    "weight_scale": Bounds(0.01, 100.0),
    "bias_scale": Bounds(0.0, 2.0),
    "seed": Bounds(0, 2**31 - 1, integer=True),
}


class ChainPanel(Panel):
    """Deep-network gradients: set depth, width, init, activation... and watch delta_l change."""

    def __init__(self, **kwargs: Any) -> None:
        controls = _controls()
        super().__init__(controls, BOUNDS, **kwargs)
        with mpl.rc_context({"font.size": FONT_SIZE}):
            self.figure = make_figure(11.0, 4.0)
            delta_ax, jacobian_ax = self.figure.subplots(1, 2, width_ratios=[1.35, 1])
            self.delta_view = DeltaView(delta_ax)
            self.jacobian_view = JacobianView(jacobian_ax)
        self.redrawer = Redrawer(self.figure, self.delta_view.artists + self.jacobian_view.artists)
        self.preset = widgets.Dropdown(
            options=["(choose a preset)", *PRESETS],
            description="preset",
            style={"description_width": "110px"},
            layout=widgets.Layout(width="340px"),
        )
        self.preset.observe(self._on_preset, names="value")
        c = self.controls
        left = widgets.VBox([self.preset, c["depth"], c["width"], c["weight_scale"]])
        middle = widgets.VBox([c["init"], c["activation"], c["bias_scale"], c["seed"]])
        self.children = [
            widgets.HTML(
                "<b>Deep network</b>: a_l = φ(W_l a_(l−1) + b_l). A unit gradient enters at the"
                " output; see what reaches each layer."
            ),
            widgets.HBox([left, middle, widgets.VBox([c["dtype"]])]),
            self.figure.canvas,
            self.readout,
            self.status,
        ]
        self.refresh()

    def over_budget(self, params: dict[str, Any]) -> str | None:
        depth, width = params["depth"], params["width"]
        cost = depth * width**2
        if cost <= COMPUTE_BUDGET:
            return None
        max_depth = COMPUTE_BUDGET // width**2
        max_width = int((COMPUTE_BUDGET / depth) ** 0.5)
        return (
            f"depth {depth} × width {width}² = {cost:,} is beyond this panel's compute budget"
            f" of {COMPUTE_BUDGET:,} (one refresh within about 200 ms): at width {width} use"
            f" depth ≤ {max_depth}, or at depth {depth} use width ≤ {max_width}."
            " The plots still show the last setting."
        )

    def compute(self, params: dict[str, Any]) -> ChainResult:
        return chain_gradients(**params)

    def show(self, result: ChainResult) -> None:
        self.delta_view.update(result)
        self.jacobian_view.update(result)
        self.redrawer.redraw()
        self.readout.value = readout_html(result)

    def ok_message(self, result: ChainResult) -> str:
        return f"Computed {result.depth} layers × width {result.width} in {result.dtype}."

    def _on_preset(self, change: dict[str, Any]) -> None:
        settings = PRESETS.get(change["new"])
        if settings is not None:
            self.set_values(**settings)


def readout_html(result: ChainResult) -> str:
    """The numbers a student looks for, written out."""
    grad1 = result.gradient_at_layer_1
    ratio = result.growth_ratio
    if result.overflow_layer is None:
        overflow = f"none: every value fits in {result.dtype}"
    else:
        overflow = (
            f"<b style='color:#D55E00'>layer {result.overflow_layer}</b>"
            f" ({result.overflow_pass} pass; values there are inf/NaN)"
        )
    if not math.isfinite(ratio):
        trend = (
            f"not finite: {result.dtype} overflowed. The exact end-to-end Jacobian norm is"
            f" 10^{result.e2e_log10_norm:.2f}; float64 holds more"
        )
    elif ratio > 1:
        trend = "grows toward the input: exploding"
    elif ratio < 1:
        trend = "shrinks toward the input: vanishing"
    else:
        trend = "keeps its size"
    return (
        "<table style='font-size:14px'>"
        f"<tr><td>gradient at layer 1, ‖∂L/∂a₁‖</td><td><b>{format_number(grad1)}</b></td></tr>"
        f"<tr><td>ratio to the output gradient, ‖δ₁‖/‖δ_L‖</td><td><b>{format_number(ratio)}</b>"
        f" ({trend})</td></tr>"
        "<tr><td>weight gradient at layer 1, ‖∂L/∂W₁‖</td>"
        f"<td>{format_number(float(result.weight_grad_norms[0]))}</td></tr>"
        f"<tr><td>{result.dtype} overflow</td><td>{overflow}</td></tr>"
        "</table>"
    )
