"""The phase-diagram panel: where random deep networks pass from vanishing to exploding gradients.

The heatmap is measured (``explorer.core.phase_diagram``: random networks over a grid of weight and
bias std); the black line is the mean-field theory's chi_1 = 1 (Poole et al. 2016; Schoenholz et
al. 2017). Clicking the figure, or setting the two "chosen" sliders and pressing the button, picks
a (sigma_w, sigma_b), the panel's two selectors; choosing it opens that setting in the
deep-network panel, through the App (``Panel.open_in``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
from matplotlib.backend_bases import MouseEvent

from explorer.core import PhaseResult, mean_field_chi, phase_diagram
from explorer.panels.base import Bounds, Cost, Panel, Params, make_figure
from explorer.panels.chain import ChainPanel
from explorer.panels.controls import SEED_BOUNDS, float_slider, int_slider, seed_box, toggles
from explorer.panels.redraw import Redrawer
from explorer.panels.snippet import call, literal, printed, shown, snippet_text
from explorer.panels.values import JSONValue
from explorer.panels.written import readout_table
from explorer.plots.phase import PhaseView
from explorer.plots.style import FONT_SIZE, format_number

ACTIVATIONS_SHOWN = ("tanh", "relu", "sigmoid", "linear")
# one refresh measures 864 networks of depth x width^2 each: 1,000,000 keeps it within about
# 0.25 s here (benchmarks/bench_panels.py measures it at the edge)
COMPUTE_BUDGET = 1_000_000
CHOICE_BOUNDS = {"weight_std": Bounds(0.25, 4.0), "bias_std": Bounds(0.0, 1.0)}


BOUNDS = {
    "depth": Bounds(10, 200, integer=True),
    "width": Bounds(16, 256, integer=True),
    "seed": SEED_BOUNDS,
}


def _controls() -> dict[str, widgets.ValueWidget]:
    return {
        "activation": toggles("activation", ACTIVATIONS_SHOWN, "tanh", "70px"),
        "depth": int_slider("depth", 50, BOUNDS["depth"]),
        "width": int_slider("width", 128, BOUNDS["width"]),
        "seed": seed_box(),
    }


class PhasePanel(Panel[PhaseResult]):
    """Measured order-to-chaos diagram; choose a point to study it in the deep-network panel."""

    key, title = "phase", "Phase diagram"
    budget = COMPUTE_BUDGET

    def __init__(self, **kwargs: Any) -> None:
        with mpl.rc_context({"font.size": FONT_SIZE}):
            self.figure = make_figure(9.0, 5.0, right=0.3, columns=1)
            self.view = PhaseView(self.figure.add_subplot())
        self.redrawer = Redrawer(self.figure, [self.view.choice])
        self.drawn: PhaseResult | None = None  # the diagram on the figure now
        self.weight_std = float_slider("chosen σ_w", 1.0, CHOICE_BOUNDS["weight_std"], step=0.01)
        self.bias_std = float_slider("chosen σ_b", 0.0, CHOICE_BOUNDS["bias_std"], step=0.01)
        super().__init__(
            _controls(),
            BOUNDS,
            selectors={"weight_std": self.weight_std, "bias_std": self.bias_std},
            **kwargs,
        )
        self.load = widgets.Button(
            description="Open in the deep-network panel",
            layout=widgets.Layout(width="260px"),
        )
        self.load.on_click(lambda _button: self.choose())
        self.figure.canvas.mpl_connect("button_press_event", self._on_click)
        c = self.controls
        self.lay_out(
            "<b>Phase diagram</b>: random deep networks with W ~ N(0, σ_w²/n), b ~ N(0, σ_b²)."
            " Colour: how much the gradient grows (red) or shrinks (blue) per layer, measured;"
            " black line: the mean-field edge of chaos χ₁ = 1. Click a point to study it.",
            [
                [c["activation"], c["depth"], c["width"], c["seed"]],
                [self.weight_std, self.bias_std, self.load],
            ],
        )
        self.refresh()

    def cost(self, params: Params) -> Cost:
        depth, width = params["depth"], params["width"]
        return Cost(
            f"depth {depth} × width {width}² per network",
            depth * width**2,
            f"at width {width} use depth ≤ {COMPUTE_BUDGET // width**2}",
        )

    def compute(self, params: Params) -> PhaseResult:
        return phase_diagram(**params)

    def selector_bounds(self, result: PhaseResult) -> Mapping[str, Bounds]:
        del result
        return CHOICE_BOUNDS

    def show(self, result: PhaseResult) -> None:
        new = result is not self.drawn
        if new:  # the heatmap and the line are in the background: a full draw
            self.view.update(result)
            self.drawn = result
        self.view.mark(self.weight_std.value, self.bias_std.value)
        self.redrawer.redraw(full=new)
        self.readout.value = self._readout(result)

    def ok_message(self, result: PhaseResult) -> str:
        cells = result.log10_growth.size
        return (
            f"Measured {cells} networks of {result.depth} layers × width {result.width}."
            f" Chosen σ_w = {self.weight_std.value!r}, σ_b = {self.bias_std.value!r}: press"
            " the button to open it in the deep-network panel."
        )

    def snippet(self) -> str:
        """``phase_diagram`` at the settings of the diagram shown, and the mean-field χ₁ and q*
        the readout gives for the chosen point."""
        result = shown(self.result)
        settings = {name: getattr(result, name) for name in self.controls}
        chosen = [self.weight_std.value, self.bias_std.value, result.activation]
        return snippet_text(
            ["from explorer.core import mean_field_chi, phase_diagram"],
            [
                f"result = {call('phase_diagram', settings)}",
                f"chi_1, q_star = mean_field_chi({', '.join(literal(v) for v in chosen)})",
                printed("result.weight_stds", array=True),
                printed("result.bias_stds", array=True),
                printed("result.log10_growth", array=True),
                printed("chi_1"),
                printed("q_star"),
            ],
        )

    # -- choosing a setting -----------------------------------------------------------------

    def chosen(self, result: PhaseResult | None = None) -> dict[str, JSONValue]:
        """The chosen setting on the diagram shown (``result``, by default the panel's), as
        the deep-network panel's state."""
        shown = result or self.result
        assert shown is not None, "the panel computes a diagram when it is built"
        return {
            "init": "gaussian",
            "weight_scale": self.weight_std.value,  # gaussian: std = weight_scale / sqrt(fan_in)
            "bias_scale": self.bias_std.value,
            "activation": shown.activation,  # the diagram shown, not a refused request
            "depth": shown.depth,
            "width": shown.width,
        }

    def choose(self) -> None:
        """Open the chosen setting in the deep-network panel (through the App)."""
        setting = self.chosen()
        self.open_in(ChainPanel.key, setting)
        self.set_status(
            f"Loaded σ_w = {setting['weight_scale']!r}, σ_b = {setting['bias_scale']!r}"
            f" ({setting['activation']}) into the deep-network panel."
        )

    def _on_click(self, event: MouseEvent) -> None:
        if event.inaxes is not self.view.ax or event.xdata is None or event.ydata is None:
            return
        self.apply_state(
            {"weight_std": round(float(event.xdata), 2), "bias_std": round(float(event.ydata), 2)}
        )
        self.choose()

    def _readout(self, result: PhaseResult) -> str:
        setting = self.chosen(result)
        chi, q = mean_field_chi(self.weight_std.value, self.bias_std.value, result.activation)
        if abs(chi - 1) < 1e-9:  # quadrature rounding: chi_1 = 1 holds to ~1e-16 where exact
            phase = "critical: the edge of chaos"
        else:
            phase = "exploding (chaotic)" if chi > 1 else "vanishing (ordered)"
        return readout_table(
            [
                (
                    "chosen",
                    f"σ_w = {setting['weight_scale']!r}, σ_b = {setting['bias_scale']!r},"
                    f" {setting['activation']}",
                ),
                (
                    "mean field",
                    f"χ₁ = <b>{format_number(chi)}</b>, q* = {format_number(q)}: {phase}; the"
                    f" gradient norm changes by about ×{format_number(chi**0.5)} per layer",
                ),
            ]
        )
