"""The spectra panel: gaussian and orthogonal weights side by side at the same scale.

Both networks are built by ``explorer.core.jacobian_spectra`` at the same depth (or sequence
length), width, scale and activation; the histograms share their x axis, so a student sees the
orthogonal spectrum stay at scale^L while the gaussian one spreads (Saxe et al. 2013; Pennington
et al. 2017).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl

from explorer.core import ACTIVATIONS, NETWORKS, SpectrumResult, jacobian_spectra
from explorer.panels.base import Bounds, Cost, Panel, Params, make_figure
from explorer.panels.controls import (
    SEED_BOUNDS,
    dropdown,
    float_slider,
    int_slider,
    seed_box,
    toggles,
)
from explorer.panels.redraw import Redrawer
from explorer.panels.snippet import call, printed, shown, snippet_text
from explorer.panels.values import JSONValue
from explorer.panels.written import readout_table
from explorer.plots.spectrum import SpectrumView, decades, spectrum_limits
from explorer.plots.style import BLUE, FONT_SIZE, GREEN, format_number

INITS_COMPARED = ("gaussian", "orthogonal")
# one refresh costs about length * max(width, 32)^2 (a QR factorisation per step for both inits
# in one pass, whose fixed cost dominates below width 32, then one Jacobi SVD per init):
# 250,000 keeps it within about 200 ms here with one thread (benchmarks/bench_panels.py)
COMPUTE_BUDGET = 250_000


def compute_cost(length: int, width: int) -> int:
    """Cost units of one refresh, compared with COMPUTE_BUDGET."""
    return length * max(width, 32) ** 2


PRESETS: dict[str, dict[str, JSONValue]] = {
    "Linear, scale 1, 100 layers: isometry vs spread": {
        "network": "deep",
        "length": 100,
        "width": 32,
        "weight_scale": 1.0,
        "activation": "linear",
    },
    "tanh at the edge of chaos (scale 1), 200 layers": {
        "network": "deep",
        "length": 200,
        "width": 32,
        "weight_scale": 1.0,
        "activation": "tanh",
    },
    "ReLU, He scale √2, 50 layers": {
        "network": "deep",
        "length": 50,
        "width": 64,
        "weight_scale": 2**0.5,
        "activation": "relu",
    },
    "Recurrent tanh, 200 steps": {
        "network": "recurrent",
        "length": 200,
        "width": 32,
        "weight_scale": 1.0,
        "activation": "tanh",
    },
}


BOUNDS = {
    "length": Bounds(1, 1000, integer=True),
    "width": Bounds(1, 64, integer=True),
    "weight_scale": Bounds(0.1, 3.0),
    "seed": SEED_BOUNDS,
}


def _controls() -> dict[str, widgets.ValueWidget]:
    return {
        "network": toggles("network", NETWORKS, "deep", "90px"),
        "length": int_slider("depth / steps", 100, BOUNDS["length"]),
        "width": int_slider("width", 32, BOUNDS["width"]),
        "weight_scale": float_slider("weight scale", 1.0, BOUNDS["weight_scale"], step=0.01),
        "activation": dropdown("activation", ACTIVATIONS, "linear"),
        "seed": seed_box(),
    }


@dataclass(frozen=True)
class Spectra:
    """The two spectra the panel compares: gaussian and orthogonal weights, same settings."""

    gaussian: SpectrumResult
    orthogonal: SpectrumResult

    @property
    def both(self) -> tuple[SpectrumResult, SpectrumResult]:
        return (self.gaussian, self.orthogonal)


class SpectrumPanel(Panel[Spectra]):
    """End-to-end Jacobian spectra, gaussian beside orthogonal, at the chosen settings."""

    key, title = "spectra", "Spectra"

    budget = COMPUTE_BUDGET

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_controls(), BOUNDS, PRESETS, **kwargs)
        with mpl.rc_context({"font.size": FONT_SIZE}):
            self.figure = make_figure(12.0, 3.8, right=0.4, columns=2)  # room for 10¹⁵⁰
            axes = self.figure.subplots(1, 2, sharey=False)
            self.views = (SpectrumView(axes[0], BLUE), SpectrumView(axes[1], GREEN))
        self.redrawer = Redrawer(self.figure, [a for v in self.views for a in v.artists])
        c = self.controls
        self.lay_out(
            "<b>Spectra</b>: every singular value of the end-to-end Jacobian (∂a_L/∂a_0, or"
            " ∂h_T/∂h_0), gaussian and orthogonal weights at the same scale.",
            [
                [c["length"], c["width"]],
                [c["weight_scale"], c["activation"], c["seed"]],
                [c["network"]],
            ],
        )
        self.refresh()

    def cost(self, params: Params) -> Cost:
        length, width = params["length"], params["width"]
        return Cost(
            f"length {length} × max(width, 32)²",
            compute_cost(length, width),
            f"at width {width} use length ≤ {COMPUTE_BUDGET // max(width, 32) ** 2}",
        )

    def compute(self, params: Params) -> Spectra:
        gaussian, orthogonal = jacobian_spectra(inits=INITS_COMPARED, **params)
        return Spectra(gaussian, orthogonal)

    def show(self, result: Spectra) -> None:
        limits = spectrum_limits(list(result.both), self.views[0].ax.get_xlim())
        for view, spectrum in zip(self.views, result.both, strict=True):
            view.update(spectrum, limits, f"{spectrum.init} weights")
        self.redrawer.redraw()
        self.readout.value = readout_html(result)

    def ok_message(self, result: Spectra) -> str:
        first = result.gaussian
        what = "layers" if first.network == "deep" else "steps"
        return f"Computed {2 * first.width} singular values over {first.length} {what}."

    def snippet(self) -> str:
        """``jacobian_spectra`` for both inits at the settings of the spectra shown."""
        first = shown(self.result).gaussian
        settings = {name: getattr(first, name) for name in self.controls}
        spectra = call("jacobian_spectra", {**settings, "inits": INITS_COMPARED})
        return snippet_text(
            ["from explorer.core import jacobian_spectra"],
            [
                f"gaussian, orthogonal = {spectra}",
                *(
                    printed(f"{init}.{name}", array=name == "log10_singular_values")
                    for init in INITS_COMPARED
                    for name in ("log10_singular_values", "log10_reference", "log10_spread")
                ),
            ],
        )


def readout_html(result: Spectra) -> str:
    """Each init's spread in decades, and scale^L."""
    first = result.gaussian
    rows = [
        (
            "scaleᴸ",
            f"{format_number(first.weight_scale)}^{first.length} ="
            f" 10^{_two(first.log10_reference)} (where an orthogonal linear network puts every"
            " singular value)",
        )
    ]
    rows += [
        (
            r.init,
            f"largest 10^{_two(r.log10_singular_values[0])},"
            f" smallest nonzero 10^{_two(r.log10_smallest_nonzero)}: <b>{decades(r.log10_spread)}"
            f" decades</b> apart; {r.fraction_within(1.0):.0%} within ×10 of scaleᴸ"
            + (f"; {r.lost_directions} of {r.width} exactly 0" if r.lost_directions else ""),
        )
        for r in result.both
    ]
    return readout_table(rows)


def _two(value: float) -> str:
    """Two decimals without a '-0.00'."""
    return f"{round(value, 2) + 0.0:.2f}"
