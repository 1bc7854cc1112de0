"""Views of training runs (``explorer.core.train`` and ``GradientRecorder`` histories).

``TrainingCurvesView``: the loss or the global gradient norm at each step of an unclipped and a
clipped run, log10 y, growing while the runs train; the first non-finite step of each run is
marked with a dashed line and a cross, and a cursor shows the step being inspected.
``LayerNormsView``: each parameter tensor's gradient norm at one step, the two runs side by side.
Both accept any object with a ``GradientHistory``'s fields, or None for a run not started.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.text import Text

from explorer.plots.cliff import CLIPPED, UNCLIPPED
from explorer.plots.style import (
    BLACK,
    GREY,
    ROW_LEGEND,
    VERMILLION,
    finite_limits,
    index_limits,
    log10_finite,
    setup_log_axes,
    show_legend,
    sticky_limits,
    text_width,
    threshold_label,
    use_log10_axis,
)

NORM_METHODS = ("norm", "global_norm", "pascanu")  # methods whose threshold is a norm


def _runs(unclipped: Any, clipped: Any) -> list[tuple[str, Any]]:
    return [("unclipped", unclipped), ("clipped", clipped)]


class TrainingCurvesView:
    """A per-step quantity ("losses" or "grad_norms") of the two runs on a log10 axis."""

    def __init__(
        self, ax: Axes, quantity: str, title: str, ylabel: str, *, legend: bool = True
    ) -> None:
        self.ax = ax
        self.quantity = quantity
        self.legend = legend
        self.lines = {
            "unclipped": ax.plot([], [], color=UNCLIPPED, lw=1.8, label="unclipped")[0],
            "clipped": ax.plot([], [], color=CLIPPED, lw=1.8, label="clipped")[0],
        }
        self.diverged = {
            name: ax.axvline(0, color=line.get_color(), ls="--", lw=1.2, visible=False)
            for name, line in self.lines.items()
        }
        self.crosses = {
            name: ax.plot([], [], "X", color=VERMILLION, ms=10, mec=BLACK, clip_on=False)[0]
            for name in self.lines
        }
        self.legend_cross = Line2D(
            [], [], ls="", marker="X", color=VERMILLION, ms=9, mec=BLACK, label="first inf/NaN"
        )
        (self.threshold,) = ax.plot([], [], color=BLACK, lw=1, ls=":", label="clip threshold")
        self.threshold_label = threshold_label(ax)
        self.cursor = ax.axvline(0, color=GREY, lw=1, visible=False)
        # the title on the left of its row, the legend on the right of it: above the curves
        # padded clear of the crosses on the top edge
        setup_log_axes(ax, title, "step", ylabel, title_loc="left", title_pad=10)
        if legend:  # one legend for the figure's views (each legend costs a full draw ~8 ms)
            show_legend(ax, [*self.lines.values(), self.legend_cross], **ROW_LEGEND)
        self.placeholder = show_placeholder(ax, "press Start to train both runs")
        self.artists: list[Any] = [
            *self.lines.values(),
            *self.diverged.values(),
            *self.crosses.values(),
            self.threshold,
            self.threshold_label,
            self.cursor,
        ]
        self.steps = 1

    def start(self, steps: int) -> None:
        """A new pair of runs of ``steps`` steps: the x axis spans all of them from the start."""
        hide_placeholder(self.ax, self.placeholder)
        self.steps = steps
        self.ax.set_xlim(index_limits(steps, 0))
        for line in self.lines.values():
            line.set_data([], [])

    def update(self, unclipped: Any, clipped: Any, cursor: int | None = None) -> None:
        hide_placeholder(self.ax, self.placeholder)
        curves = []
        for name, run in _runs(unclipped, clipped):
            values = np.empty(0) if run is None else getattr(run, self.quantity)
            curve = log10_finite(values)
            self.lines[name].set_data(np.arange(curve.size), curve)
            curves.append(curve)
        level = _threshold_level(clipped)
        self.threshold.set_visible(self.quantity == "grad_norms" and math.isfinite(level))
        self.threshold.set_data([0, self.steps], [level, level])
        wanted = finite_limits(*curves, np.array([level]), minimum_span=2.0)
        low, high = sticky_limits(wanted, self.ax.get_ylim(), fill=0.15)
        self.ax.set_ylim(low, high)
        for name, run in _runs(unclipped, clipped):
            step = None if run is None else run.first_nonfinite_step
            self.diverged[name].set_visible(step is not None)
            self.crosses[name].set_visible(step is not None)
            if step is not None:
                self.diverged[name].set_xdata([step, step])
                self.crosses[name].set_data([step], [high])
        self.cursor.set_visible(cursor is not None)
        if cursor is not None:
            self.cursor.set_xdata([cursor, cursor])
        self.threshold_label.set_visible(self.threshold.get_visible())
        self.threshold_label.set_y(level if math.isfinite(level) else 0.0)


def _threshold_level(clipped: Any) -> float:
    """log10 of the clip threshold when it bounds the gradient's norm, else NaN."""
    if clipped is None or clipped.clip_threshold is None:
        return math.nan
    if clipped.clip_method not in NORM_METHODS:
        return math.nan
    return math.log10(clipped.clip_threshold)


class LayerNormsView:
    """Each parameter tensor's gradient norm (before clipping) at one step, log10 x axis: the
    unclipped run's bar above the clipped run's."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.names: tuple[str, ...] = ()
        self.bars: dict[str, list[Any]] = {"unclipped": [], "clipped": []}
        self.flags: list[Any] = []
        ax.set_title("Each tensor's gradient norm")
        ax.set_xlabel("‖∇‖ before clipping")
        use_log10_axis(ax, "x")
        ax.grid(True, axis="x", alpha=0.3)
        ax.tick_params(axis="y", labelsize=NAME_SIZE)
        self.placeholder = show_placeholder(ax, "press Start:\none row per tensor\nof the network")
        self.artists: list[Any] = []

    def set_names(self, names: Sequence[str]) -> None:
        """One row per tensor (rebuilt only when the names change: that needs a full redraw)."""
        names = tuple(names)
        if names == self.names:
            return
        for bar in [*self.bars["unclipped"], *self.bars["clipped"], *self.flags]:
            bar.remove()
        rows = np.arange(len(names))[::-1]
        self.bars = {
            "unclipped": list(self.ax.barh(rows + 0.2, 0, height=0.38, color=UNCLIPPED)),
            "clipped": list(self.ax.barh(rows - 0.2, 0, height=0.38, color=CLIPPED)),
        }
        self.flags = [
            self.ax.text(0, y, "", va="center", ha="right", fontsize=9, color=VERMILLION)
            for y in np.concatenate([rows + 0.2, rows - 0.2])
        ]
        hide_placeholder(self.ax, self.placeholder, axis="x")
        self.ax.set_yticks(rows, [fit_name(name, self.ax) for name in names])
        self.ax.set_ylim(-0.7, len(names) - 0.3)
        self.names = names
        self.artists = [*self.bars["unclipped"], *self.bars["clipped"], *self.flags]
        for artist in self.artists:
            artist.set_animated(True)

    def update(self, unclipped: Any, clipped: Any, step: int) -> None:
        """Bars for ``step``; the x axis covers every step of both runs, so scrubbing only
        repaints the bars."""
        runs = [(name, run) for name, run in _runs(unclipped, clipped) if run is not None]
        if not runs:
            return
        self.set_names(runs[0][1].names)
        everything = [log10_finite(run.param_grad_norms) for _, run in runs]
        low, high = finite_limits(*everything, minimum_span=2.0)
        low, high = math.floor(low), math.ceil(high)
        self.ax.set_xlim(low, high)
        flags = iter(self.flags)
        for name, run in _runs(unclipped, clipped):
            shown = run is not None and step < run.steps
            values = log10_finite(run.param_grad_norms[step]) if shown else None
            for index, bar in enumerate(self.bars[name]):
                flag = next(flags)
                value = math.nan if values is None else values[index]
                raw = math.nan if values is None else run.param_grad_norms[step, index]
                bar.set_x(low)
                bar.set_width(value - low if math.isfinite(value) else 0.0)
                overflow = values is not None and not math.isfinite(raw)
                flag.set_text(str(raw) if overflow else "")
                flag.set_x(high)


NAME_SIZE = 9  # points, the tensor names on the layer view's y axis


def fit_name(name: str, ax: Axes) -> str:
    """``name`` as a y tick label that fits left of ``ax`` inside the figure: whole if it fits,
    else with its middle replaced by '…' (both ends tell tensors apart: 'rnn.wei…ih_l0')."""
    # the margin left of the axes, less the tick (3.5 pt), its pad (3.5 pt) and 2 pt to spare
    room = ax.get_position().x0 * ax.figure.get_figwidth() * 72.0 - 9.0
    font = FontProperties(size=NAME_SIZE)
    if text_width(name, font) <= room:
        return name
    for keep in range(len(name) - 1, 1, -1):
        head = (keep + 1) // 2
        short = name[:head] + "…" + name[len(name) - (keep - head) :]
        if text_width(short, font) <= room:
            return short
    return name[:1] + "…"


def show_placeholder(ax: Axes, message: str) -> Text:
    """Before there is data: ``message`` in the middle of an axes with no ticks and no grid
    (an empty axes' 0..1 ticks would mean nothing). ``hide_placeholder`` undoes it."""
    ax.tick_params(left=False, bottom=False, labelleft=False, labelbottom=False)
    ax.xaxis.grid(False)
    ax.yaxis.grid(False)
    return ax.text(
        0.5,
        0.5,
        message,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=11,
        color=GREY,
    )


def hide_placeholder(ax: Axes, placeholder: Text, axis: str = "both") -> None:
    """Show the ticks (and the grid along ``axis``) and hide the placeholder; once only."""
    if not placeholder.get_visible():
        return
    placeholder.set_visible(False)
    ax.tick_params(left=True, bottom=True, labelleft=True, labelbottom=True)
    ax.grid(True, axis=axis, alpha=0.3)


__all__ = ["LayerNormsView", "TrainingCurvesView"]
