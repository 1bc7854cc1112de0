"""The cliff panel: gradient descent with and without clipping across Pascanu et al.'s wall.

The loss surface of the one-unit recurrent net (``explorer.core.cliff_surface``) on a log colour
scale, with unclipped and clipped descent from the same start (``cliff_descents``) over it, and
the loss and gradient norm at each step beside. Click the surface to choose the start. In fan
mode a grid of starts runs at once, and the readout counts the runs thrown off the surface.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
import numpy.typing as npt
from matplotlib.backend_bases import MouseEvent

from explorer.core import (
    CLIFF_METHODS,
    NORM_METHODS,
    CliffDescent,
    CliffSurface,
    cliff_descents,
    cliff_surface,
)
from explorer.panels.base import Bounds, Cost, Panel, Params, make_figure
from explorer.panels.controls import (
    STYLE,
    THRESHOLD_BOUNDS,
    dropdown,
    float_slider,
    int_slider,
    log_slider,
)
from explorer.panels.redraw import Redrawer
from explorer.panels.snippet import Code, call, printed, shown, snippet_text
from explorer.panels.values import JSONValue
from explorer.panels.written import readout_table
from explorer.plots.cliff import LOSS_FLOOR, CliffSurfaceView
from explorer.plots.curves import Curves, CurvesView, median_curve
from explorer.plots.style import FONT_SIZE, format_number

W_RANGE = (-1.0, 10.0)
B_RANGE = (-7.0, 3.0)
RESOLUTION = 300
FAN_SIDE = 8  # fan mode: an 8 x 8 grid of starts
# one refresh runs (starts x 2) descents of seq_len steps each per step: 64 starts x 500 steps x
# T = 50 measured about 160 ms here (benchmarks/bench_cliff.py)
COMPUTE_BUDGET = 1_600_000
BOUNDS = {
    "clip_threshold": THRESHOLD_BOUNDS,
    "lr": Bounds(1e-3, 10.0),
    "steps": Bounds(1, 1000, integer=True),
    "seq_len": Bounds(5, 100, integer=True),
    "start_w": Bounds(*W_RANGE),
    "start_b": Bounds(*B_RANGE),
}
PRESETS: dict[str, dict[str, JSONValue]] = {
    "Pascanu's Fig. 6: a step onto the wall": {
        "start_w": 6.0,
        "start_b": -3.0,
        "lr": 0.5,
        "clip_threshold": 1.0,
        "fan": False,
    },
    "in the smooth valley (w < 4): clipping changes nothing": {
        "start_w": 3.0,
        "start_b": -1.2,
        "lr": 0.5,
        "clip_threshold": 1.0,
        "fan": False,
    },
    "a fan of 64 starts": {"fan": True, "steps": 200, "lr": 0.5, "clip_threshold": 1.0},
}


def _controls() -> dict[str, widgets.ValueWidget]:
    return {
        "clip_threshold": log_slider("clip threshold", 1.0, BOUNDS["clip_threshold"], 0.05),
        "method": dropdown("clip method", CLIFF_METHODS, "global_norm"),
        "lr": log_slider("learning rate", 0.5, BOUNDS["lr"], 0.05),
        "steps": int_slider("steps", 200, BOUNDS["steps"]),
        "seq_len": int_slider("sequence T", 50, BOUNDS["seq_len"]),
        "start_w": float_slider("start w", 6.0, BOUNDS["start_w"], 0.01),
        "start_b": float_slider("start b", -3.0, BOUNDS["start_b"], 0.01),
        "fan": widgets.Checkbox(value=False, description="fan of 8×8 starts", style=STYLE),
    }


@functools.lru_cache(maxsize=4)
def _surface(seq_len: int) -> CliffSurface:
    return cliff_surface(W_RANGE, B_RANGE, RESOLUTION, seq_len)


def fan_starts() -> np.ndarray:
    """The fan's starts: an 8 x 8 grid inside the surface's box."""
    w = np.linspace(*W_RANGE, FAN_SIDE + 2)[1:-1]
    b = np.linspace(*B_RANGE, FAN_SIDE + 2)[1:-1]
    return np.stack(np.meshgrid(w, b), axis=-1).reshape(-1, 2)


@dataclass(frozen=True)
class CliffRuns:
    """Unclipped and clipped descent from the same start(s), over the surface they descend."""

    surface: CliffSurface
    unclipped: CliffDescent
    clipped: CliffDescent
    thrown_unclipped: npt.NDArray[np.bool_]  # (runs,) left the surface's box or overflowed
    thrown_clipped: npt.NDArray[np.bool_]

    @property
    def runs(self) -> int:
        return len(self.unclipped.trajectories)


class CliffPanel(Panel[CliffRuns]):
    """Unclipped versus clipped descent on the cliff-shaped loss of a one-unit recurrent net."""

    key, title = "cliff", "The cliff"
    budget = COMPUTE_BUDGET

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_controls(), BOUNDS, PRESETS, **kwargs)
        with mpl.rc_context({"font.size": FONT_SIZE}):
            # room under the surface for its legend, right of the curves for " threshold"
            self.figure = make_figure(12.0, 5.9)
            self.surface_view = CliffSurfaceView(self.figure.add_axes((0.06, 0.146, 0.47, 0.778)))
            self.loss_view = CurvesView(
                self.figure.add_axes((0.63, 0.614, 0.31, 0.31)),
                "Loss per step",
                "loss",
                floor=LOSS_FLOOR,  # the loss lies in [0, 0.49]: one fixed range
            )
            self.norm_view = CurvesView(
                self.figure.add_axes((0.63, 0.146, 0.31, 0.31)),
                "Gradient norm before clipping",
                "‖∇L‖",
                legend=False,  # the loss view's legend names the runs
            )
        self.redrawer = Redrawer(
            self.figure,
            [*self.surface_view.artists, *self.loss_view.artists, *self.norm_view.artists],
        )
        self.shown_seq_len: int | None = None
        self.figure.canvas.mpl_connect("button_press_event", self._on_click)
        self.fan_hint = widgets.HTML(layout=widgets.Layout(width="220px"))
        self.controls["fan"].observe(self._show_fan_hint, names="value")
        self._show_fan_hint()
        c = self.controls
        self.lay_out(
            "<b>The cliff</b> (Pascanu et al. 2013): x_t = w σ(x_{t−1}) + b from x₀ = 0.5,"
            " loss (σ(x_T) − 0.7)². Where the wall is, the gradient is huge: unclipped"
            " descent (orange) is thrown away, clipped descent (blue) climbs it with a"
            " bounded step. Click the surface to start from there.",
            [
                [c["clip_threshold"], c["method"], c["lr"]],
                [c["steps"], c["seq_len"], c["start_w"], c["start_b"]],
                [c["fan"], self.fan_hint],
            ],
        )
        self.refresh()

    def cost(self, params: Params) -> Cost:
        starts = FAN_SIDE**2 if params["fan"] else 1
        limit = COMPUTE_BUDGET // (FAN_SIDE**2 * params["seq_len"])
        return Cost(
            f"{starts} start(s) × {params['steps']} steps × T {params['seq_len']}",
            starts * params["steps"] * params["seq_len"],
            f"in fan mode at T = {params['seq_len']} use steps ≤ {limit}",
        )

    def compute(self, params: Params) -> CliffRuns:
        start = fan_starts() if params["fan"] else (params["start_w"], params["start_b"])
        unclipped, clipped = cliff_descents(
            start,
            params["lr"],
            params["steps"],
            params["clip_threshold"],
            params["method"],
            params["seq_len"],
        )
        return CliffRuns(
            _surface(params["seq_len"]),
            unclipped,
            clipped,
            unclipped.thrown(W_RANGE, B_RANGE),
            clipped.thrown(W_RANGE, B_RANGE),
        )

    def show(self, result: CliffRuns) -> None:
        full = result.surface.seq_len != self.shown_seq_len
        if full:
            self.surface_view.show_surface(result.surface)
            self.shown_seq_len = result.surface.seq_len
        unclipped, clipped = result.unclipped, result.clipped
        self.surface_view.show_runs(unclipped, clipped, result.thrown_unclipped)
        self.loss_view.update(Curves(median_curve(unclipped.losses), median_curve(clipped.losses)))
        bound = clipped.method in NORM_METHODS  # value clipping bounds no norm
        self.norm_view.update(
            Curves(
                median_curve(unclipped.grad_norms),
                median_curve(clipped.grad_norms),
                threshold=clipped.clip_threshold if bound else None,
            )
        )
        self.redrawer.redraw(full=full)
        self.readout.value = _readout(result)

    def ok_message(self, result: CliffRuns) -> str:
        return f"Ran {result.runs} unclipped and {result.runs} clipped descents."

    def snippet(self) -> str:
        """``cliff_descents`` from the start(s) of the runs shown, with their settings."""
        result = shown(self.result)
        run = result.unclipped
        starts = run.trajectories[:, 0]
        imports = ["from explorer.core import cliff_descents"]
        lines = []
        if len(starts) == 1:
            start: object = (float(starts[0, 0]), float(starts[0, 1]))
        elif np.array_equal(starts, fan_starts()):  # the fan: its grid, as fan_starts makes it
            imports = ["import numpy as np", "", *imports]
            lines += [
                f"w = np.linspace({W_RANGE[0]!r}, {W_RANGE[1]!r}, {FAN_SIDE + 2})[1:-1]",
                f"b = np.linspace({B_RANGE[0]!r}, {B_RANGE[1]!r}, {FAN_SIDE + 2})[1:-1]",
                "starts = np.stack(np.meshgrid(w, b), axis=-1).reshape(-1, 2)",
            ]
            start = Code("starts")
        else:
            start = [tuple(float(value) for value in pair) for pair in starts]
        settings = {
            "lr": run.lr,
            "steps": run.losses.shape[1] - 1,
            "clip_threshold": result.clipped.clip_threshold,
            "method": result.clipped.method,
            "seq_len": run.seq_len,
        }
        lines += [
            f"unclipped, clipped = {call('cliff_descents', settings, start)}",
            f"box = ({W_RANGE!r}, {B_RANGE!r})  # the surface's w and b ranges",
        ]
        for name in ("unclipped", "clipped"):
            lines += [
                printed(f"{name}.losses", array=True),
                printed(f"{name}.grad_norms", array=True),
                printed(f"{name}.trajectories", array=True),
                printed(f"int({name}.thrown(*box).sum())"),
            ]
        return snippet_text(imports, lines)

    def disabled_reasons(self, params: Params) -> dict[str, str]:
        """In fan mode the 64 starts are a fixed grid: the start controls are off."""
        if not params["fan"]:
            return {}
        reason = "in fan mode: the fan starts from an 8×8 grid; untick it to choose a start"
        return {"start_w": reason, "start_b": reason}

    def _show_fan_hint(self, change: dict[str, Any] | None = None) -> None:
        del change
        self.fan_hint.value = (
            "<i style='color:#555'>Start w and b are off: the fan starts from an 8×8 grid."
            " Untick it to choose one start.</i>"
            if self.controls["fan"].value
            else ""
        )

    def _on_click(self, event: MouseEvent) -> None:
        if event.inaxes is not self.surface_view.ax or event.xdata is None:
            return
        if event.ydata is None:
            return
        self.apply_state(
            {
                "start_w": round(float(event.xdata), 2),
                "start_b": round(float(event.ydata), 2),
                "fan": False,
            }
        )


def _run_summary(descent: CliffDescent) -> str:
    path = descent.trajectories[0]
    end = path[-1]
    steps = descent.step_lengths[0]
    finite = steps[np.isfinite(steps)]
    largest = float(finite.max()) if finite.size else float("nan")
    return (
        f"ends at (w, b) = ({format_number(end[0])}, {format_number(end[1])}), loss"
        f" {format_number(descent.losses[0, -1])}; largest step {format_number(largest)};"
        f" largest gradient norm {format_number(float(np.nanmax(descent.grad_norms[0])))};"
        f" {int(descent.clipped[0].sum())} of {descent.clipped.shape[1]} steps clipped"
    )


def _readout(result: CliffRuns) -> str:
    runs = result.runs
    if runs > 1:
        return (
            "<div style='font-size:14px'>Thrown off the surface (left the box or overflowed):"
            f" <b>{int(result.thrown_unclipped.sum())} of {runs}</b> unclipped runs,"
            f" <b>{int(result.thrown_clipped.sum())} of {runs}</b> clipped runs. Right: the"
            " median over runs.</div>"
        )
    return readout_table(
        [
            ("unclipped", _run_summary(result.unclipped)),
            ("clipped", _run_summary(result.clipped)),
        ]
    )
