"""The per-tensor view of training runs (any record with a ``HistoryData``'s fields).

``LayerNormsView``: each parameter tensor's gradient norm at one step, the two runs side by side;
None stands for a run not started. The runs' per-step curves are ``explorer.plots.curves``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties

from explorer.plots.data import HistoryData
from explorer.plots.style import (
    CLIPPED,
    UNCLIPPED,
    VERMILLION,
    figure_size_inches,
    finite_limits,
    hide_placeholder,
    log10_finite,
    show_placeholder,
    text_width,
    use_log10_axis,
)
from explorer.plots.table import tabulate


def _runs(unclipped: HistoryData | None, clipped: HistoryData | None) -> list[tuple[str, Any]]:
    return [("unclipped", unclipped), ("clipped", clipped)]


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
            # labelled for the export (explorer.plots.table); this axes has no legend
            "unclipped": list(
                self.ax.barh(rows + 0.2, 0, height=0.38, color=UNCLIPPED, label="unclipped")
            ),
            "clipped": list(
                self.ax.barh(rows - 0.2, 0, height=0.38, color=CLIPPED, label="clipped")
            ),
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

    def update(self, unclipped: HistoryData | None, clipped: HistoryData | None, step: int) -> None:
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
                tabulate(bar, [raw], axis="x")  # the export writes the norm, inf included
                overflow = values is not None and not math.isfinite(raw)
                flag.set_text(str(raw) if overflow else "")
                flag.set_x(high)


NAME_SIZE = 9  # points, the tensor names on the layer view's y axis


def fit_name(name: str, ax: Axes) -> str:
    """``name`` as a y tick label that fits left of ``ax`` inside the figure: whole if it fits,
    else with its middle replaced by '…' (both ends tell tensors apart: 'rnn.wei…ih_l0')."""
    # the margin left of the axes, less the tick (3.5 pt), its pad (3.5 pt) and 2 pt to spare
    room = ax.get_position().x0 * figure_size_inches(ax)[0] * 72.0 - 9.0
    font = FontProperties(size=NAME_SIZE)
    if text_width(name, font) <= room:
        return name
    for keep in range(len(name) - 1, 1, -1):
        head = (keep + 1) // 2
        short = name[:head] + "…" + name[len(name) - (keep - head) :]
        if text_width(short, font) <= room:
            return short
    return name[:1] + "…"


__all__ = ["LayerNormsView"]
