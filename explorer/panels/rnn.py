"""The recurrent-network panel: backpropagation through time, where sequence length acts as depth.

Controls map one to one onto ``explorer.core.rnn_gradients``; the figure holds a ``TimeDeltaView``,
a ``StepJacobianView`` and a ``ContributionView``; the readout says in words what the plots show.
Presets load the source articles' scalar examples (w = 1.01 and 0.99 over 100 steps).
"""

from __future__ import annotations

import math
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl

from explorer.core import ACTIVATIONS, CELLS, DTYPES, RNN_INITS, RNNResult, rnn_gradients
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
from explorer.panels.written import PointedIndex, readout_table, written_out_html
from explorer.plots.rnn import ContributionView, StepJacobianView, TimeDeltaView
from explorer.plots.style import FONT_SIZE, HIGHLIGHT, format_number

# One refresh costs about T * S^3 (a spectral norm per step Jacobian of size S: S = n, or 2n for
# the LSTM's (h, c) state): 8e7 keeps compute, views and redraw within about 200 ms here with
# one thread (benchmarks/bench_panels.py).
COMPUTE_BUDGET = 80_000_000


def state_size(cell: str, hidden_size: int) -> int:
    """Size of the recurrent state: (h, c) for the LSTM, h otherwise."""
    return 2 * hidden_size if cell == "lstm" else hidden_size


def _scalar(weight: float, steps: int) -> dict[str, JSONValue]:
    """The articles' scalar recurrence: one unit, weight w, no nonlinearity."""
    return _network("rnn", steps, 1, weight, "identity", "linear")


def _network(
    cell: str,
    steps: int,
    hidden: int,
    scale: float,
    init: str,
    activation: str,
    gate_bias: float = 0.0,
) -> dict[str, JSONValue]:
    return {
        "seq_len": steps,
        "hidden_size": hidden,
        "weight_scale": scale,
        "init": init,
        "activation": activation,
        "cell": cell,
        "gate_bias": gate_bias,
        "input_scale": 1.0,
        "dtype": "float32",
    }


PRESETS: dict[str, dict[str, JSONValue]] = {
    "Article: w = 1.01, 100 steps (×2.70)": _scalar(1.01, 100),
    "Article: w = 0.99, 100 steps (×0.366)": _scalar(0.99, 100),
    "Scalar w = 1.01 over 1000 steps": _scalar(1.01, 1000),
    "tanh, orthogonal W at 1.0: vanishing": _network("rnn", 200, 32, 1.0, "orthogonal", "tanh"),
    "tanh, gaussian W at 1.5: λ₁ > 1, yet it vanishes": _network(
        "rnn", 200, 32, 1.5, "gaussian", "tanh"
    ),
    "ReLU, identity W at 1.05: exploding": _network("rnn", 200, 32, 1.05, "identity", "relu"),
    "sigmoid: λ₁ = 3 < 1/γ = 4, so it vanishes": _network(
        "rnn", 100, 32, 3.0, "orthogonal", "sigmoid"
    ),
    "LSTM, forget-gate bias 0: vanishing": _network("lstm", 300, 24, 1.0, "gaussian", "tanh"),
    "LSTM, forget-gate bias 4: it survives 300 steps": _network(
        "lstm", 300, 24, 1.0, "gaussian", "tanh", gate_bias=4.0
    ),
    "GRU, update-gate bias 4": _network("gru", 300, 32, 1.0, "gaussian", "tanh", gate_bias=4.0),
    "float32 overflow: w = 1.5, 250 steps": _scalar(1.5, 250),
}


BOUNDS = {
    "seq_len": Bounds(1, 1000, integer=True),
    "hidden_size": Bounds(1, 128, integer=True),
    "weight_scale": Bounds(0.01, 3.0),
    "input_scale": Bounds(0.0, 3.0),
    "gate_bias": Bounds(-2.0, 6.0),
    "seed": SEED_BOUNDS,
}


def _controls() -> dict[str, widgets.ValueWidget]:
    return {
        "seq_len": int_slider("sequence T", 100, BOUNDS["seq_len"]),
        "hidden_size": int_slider("hidden size", 32, BOUNDS["hidden_size"]),
        "weight_scale": float_slider("weight scale", 1.0, BOUNDS["weight_scale"], step=0.01),
        "input_scale": float_slider("input scale", 1.0, BOUNDS["input_scale"], step=0.05),
        "gate_bias": float_slider("gate bias", 0.0, BOUNDS["gate_bias"], step=0.25),
        "cell": toggles("cell", CELLS, "rnn", "60px"),
        "init": dropdown("init of W", RNN_INITS, "gaussian"),
        "activation": dropdown("activation", ACTIVATIONS, "tanh"),
        "dtype": toggles("dtype", tuple(DTYPES), "float32", "80px"),
        "seed": seed_box(),
    }


class RNNPanel(Panel[RNNResult]):
    """Recurrent gradients: set T, the cell, W's scale... and watch dL/dh_k over time."""

    key, title = "recurrent", "Recurrent network"

    budget = COMPUTE_BUDGET

    def __init__(self, **kwargs: Any) -> None:
        with mpl.rc_context({"font.size": FONT_SIZE}):
            self.figure = make_figure(12.0, 4.0, left=0.75, gap=0.9, columns=3)
            axes = self.figure.subplots(1, 3)
            self.delta_view = TimeDeltaView(axes[0])
            self.jacobian_view = StepJacobianView(axes[1])
            self.contribution_view = ContributionView(axes[2])
        self.redrawer = Redrawer(
            self.figure,
            self.delta_view.artists + self.jacobian_view.artists + self.contribution_view.artists,
        )
        # the step written out beside the first and last five: typed, or clicked on the plot
        self.pointed = PointedIndex("write out step", 0, self.delta_view.ax)
        super().__init__(
            _controls(), BOUNDS, PRESETS, selectors={"step": self.pointed.box}, **kwargs
        )
        c = self.controls
        self.lay_out(
            "<b>Recurrent network</b>: h_t = φ(W h_(t−1) + U x_t), t = 1..T. A unit gradient"
            " enters at h_T; backpropagation through time multiplies it by one step Jacobian"
            " per step, so T acts like depth.",
            [
                [c["seq_len"], c["hidden_size"], c["weight_scale"]],
                [c["init"], c["activation"], c["input_scale"], c["gate_bias"]],
                [c["cell"], c["dtype"], c["seed"]],
            ],
            beside_readout=[self.pointed.box],
        )
        self.refresh()

    def cost(self, params: Params) -> Cost:
        steps, cell, hidden = params["seq_len"], params["cell"], params["hidden_size"]
        max_hidden = hidden
        while max_hidden > 1 and steps * state_size(cell, max_hidden) ** 3 > COMPUTE_BUDGET:
            max_hidden -= 1
        size = state_size(cell, hidden)
        return Cost(
            f"T {steps} × state {size}³",
            steps * size**3,
            f"at hidden size {hidden} use T ≤ {COMPUTE_BUDGET // size**3},"
            f" or at T {steps} use hidden size ≤ {max_hidden}",
        )

    def compute(self, params: Params) -> RNNResult:
        return rnn_gradients(**params)

    def selector_bounds(self, result: RNNResult) -> dict[str, Bounds]:
        return {"step": self.pointed.bounds(result.seq_len)}

    def show(self, result: RNNResult) -> None:
        self.delta_view.update(result)
        self.jacobian_view.update(result)
        self.contribution_view.update(result)
        self.redrawer.redraw()
        self.readout.value = readout_html(result, self.pointed.index)

    def ok_message(self, result: RNNResult) -> str:
        cell = result.cell.upper()
        article = "an" if cell[0] in "AEFHILMNORSX" else "a"  # said "an R-N-N", "an L-S-T-M"
        steps = "step" if result.seq_len == 1 else "steps"
        units = "unit" if result.hidden_size == 1 else "units"
        return (
            f"Computed {result.seq_len} {steps} of {article} {cell} with"
            f" {result.hidden_size} {units} in {result.dtype}."
        )

    def snippet(self) -> str:
        """``rnn_gradients`` at the settings of the result shown (its controls' names)."""
        result = shown(self.result)
        settings = {name: getattr(result, name) for name in self.controls}
        return snippet_text(
            ["from explorer.core import rnn_gradients"],
            [
                f"result = {call('rnn_gradients', settings)}",
                printed("result.delta_norms", array=True),
                printed("result.jacobian_norms", array=True),
                printed("result.weight_grad_contributions", array=True),
                printed("result.gradient_at_step_0"),
                printed("result.growth_ratio"),
                printed("result.weight_grad_norm"),
                printed("result.largest_singular_value"),
                printed("result.pascanu_threshold"),
            ],
        )

    def disabled_reasons(self, params: Params) -> dict[str, str]:
        # LSTM and GRU have their own sigmoid gates and tanh: the activation does not apply;
        # the gate bias (forget gate, update gate) applies to them only
        if params["cell"] == "rnn":
            return {"gate_bias": "for the plain cell, which has no gates (choose lstm or gru)"}
        cell = params["cell"].upper()
        return {"activation": f"for the {cell}: it uses its own sigmoid gates and tanh"}


def _trend(ratio: float) -> str:
    """The growth toward step 0 in words: grows or shrinks, and exploding or vanishing once the
    factor passes 100 either way."""
    if ratio == 1:
        return "it keeps its size"
    if ratio > 1:
        return "it grows toward step 0" + (": exploding" if ratio > 100 else "")
    return "it shrinks toward step 0" + (": vanishing" if ratio < 0.01 else "")


def _overflow_words(result: RNNResult) -> str:
    """Where each pass overflowed, forward first (it poisons everything after it)."""
    if result.overflow_step is None:
        return "none"
    parts = []
    if result.overflow_pass == "forward":
        parts.append(f"forward pass at step {result.overflow_step}")
    if result.gradient_overflow_step is not None:
        parts.append(f"gradient at step {result.gradient_overflow_step} and before")
    return f"<b style='color:{HIGHLIGHT}'>" + "; ".join(parts) + "</b>"


def readout_html(result: RNNResult, pointed: int | None = None) -> str:
    """The numbers a student looks for, with the comparison said in words; then ‖∂L/∂h_k‖ at the
    first and last five steps and at step ``pointed``."""
    ratio = result.growth_ratio
    steps = result.seq_len
    if math.isfinite(ratio):
        words = (
            f"the gradient reaching step 0 is <b>{format_number(ratio)}</b> times the one at"
            f" step {steps}"
        )
        words += f" ({_trend(ratio)})"
    else:
        where = (
            f"it is inf/NaN from step {result.gradient_overflow_step} back"
            if result.gradient_overflow_step is not None
            else "it was computed from inf/NaN states"
        )
        words = f"the gradient reaching step 0 is not finite in {result.dtype}: {where}"
    rows = [
        ("In words", words),
        ("gradient at step 0, ‖∂L/∂h₀‖", f"<b>{format_number(result.gradient_at_step_0)}</b>"),
        ("‖∂L/∂W‖ (sum over steps)", format_number(result.weight_grad_norm)),
        (
            "largest term of ∂L/∂W",
            f"step {result.dominant_step} of {steps}"
            + (
                " (inf)"
                if result.dominant_step
                and not math.isfinite(result.weight_grad_contributions[result.dominant_step - 1])
                else ""
            )
            if result.dominant_step
            else "none above 0",
        ),
    ]
    largest, threshold = result.largest_singular_value, result.pascanu_threshold
    if largest is not None and threshold is not None:
        rows.append(
            (
                "Pascanu et al. 2013",
                f"λ₁(W) = {format_number(largest)} vs 1/γ = {format_number(threshold)}: "
                + (
                    "λ₁ &lt; 1/γ, sufficient for vanishing"
                    if result.vanishing_guaranteed
                    else "λ₁ &gt; 1/γ, necessary for exploding (not sufficient)"
                    if result.exploding_possible
                    else "λ₁ = 1/γ, the boundary"
                ),
            )
        )
    rows.append((f"{result.dtype} overflow", _overflow_words(result)))
    return readout_table(rows) + written_out_html(
        "‖∂L/∂h_k‖", "step k", result.delta_norms, 0, pointed
    )
