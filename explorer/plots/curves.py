"""The per-step curves of an unclipped and a clipped run: the cliff's descents and the Training
lab's runs share this one view.

``CurvesView`` draws a quantity (the loss, or the gradient norm before clipping) of both runs on a
log10 axis: the clip threshold as a dashed line labelled at its right end, outside the axes; the
first non-finite step of each run as a dashed line and a cross (where ``marks`` is on); a cursor
at the step being inspected. The title is on the left of its row and the legend on the right of
it, above the curves, so neither hides one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from explorer.plots.data import Array, RunData
from explorer.plots.style import (
    BLACK,
    CLIPPED,
    GREY,
    ROW_LEGEND,
    UNCLIPPED,
    VERMILLION,
    finite_limits,
    hide_placeholder,
    index_limits,
    log10_finite,
    setup_log_axes,
    show_legend,
    show_placeholder,
    sticky_limits,
    threshold_label,
)
from explorer.plots.table import mark_positions, tabulate

RUNS = ("unclipped", "clipped")


@dataclass(frozen=True)
class Curves:
    """What a ``CurvesView`` draws: each run's values per step (inf and NaN allowed)."""

    unclipped: Array
    clipped: Array
    threshold: float | None = None  # the norm the clipped run was held to, drawn as a line
    first_nonfinite: tuple[int | None, int | None] = (None, None)  # per run, for the marks
    cursor: int | None = None  # the step being inspected
    steps: int | None = None  # the x axis' last step (a run in progress: the planned steps)


def median_curve(values: Array) -> Array:
    """One curve of (runs, steps) values: the only run's, or the median over the runs at each step
    (ignoring NaN, which runs thrown off a surface hold)."""
    if values.ndim == 1:
        return values
    if len(values) == 1:
        # numpy's stubs type an integer index as Any (a scalar or an array, by ndim): here the
        # first row of a 2-D array
        return cast(Array, values[0])
    result: Array = np.nanmedian(values, axis=0)
    return result


def run_curves(
    unclipped: RunData | None,
    clipped: RunData | None,
    quantity: Literal["losses", "grad_norms"],
    *,
    threshold: float | None = None,
    cursor: int | None = None,
    steps: int | None = None,
) -> Curves:
    """``Curves`` of two recorded runs (None: a run not started): their ``quantity`` per step and
    their first non-finite steps. ``threshold``: the norm the clipped run's gradients were held
    to (drawn with the gradient norms only)."""
    empty = np.empty(0)
    return Curves(
        empty if unclipped is None else getattr(unclipped, quantity),
        empty if clipped is None else getattr(clipped, quantity),
        threshold=threshold if quantity == "grad_norms" else None,
        first_nonfinite=(
            None if unclipped is None else unclipped.first_nonfinite_step,
            None if clipped is None else clipped.first_nonfinite_step,
        ),
        cursor=cursor,
        steps=steps,
    )


class CurvesView:
    """A per-step quantity of the two runs on a log10 axis (see the module docstring).

    ``floor``: values are shown as at least 10^floor and the y range is fixed at floor - 0.5 to
    0.5 (a loss within [0, 1]). ``legend`` False leaves the legend to another view of the same
    runs; ``placeholder`` is shown until the first update."""

    def __init__(
        self,
        ax: Axes,
        title: str,
        ylabel: str,
        *,
        legend: bool = True,
        marks: bool = False,
        floor: float | None = None,
        placeholder: str | None = None,
    ) -> None:
        self.ax = ax
        self.floor = floor
        self.lines = {
            "unclipped": ax.plot([], [], color=UNCLIPPED, lw=1.8, label="unclipped")[0],
            "clipped": ax.plot([], [], color=CLIPPED, lw=1.8, label="clipped")[0],
        }
        self.diverged = {
            run: ax.axvline(0, color=line.get_color(), ls="--", lw=1.2, visible=False)
            for run, line in self.lines.items()
        }
        self.crosses = {
            run: ax.plot([], [], "X", color=VERMILLION, ms=10, mec=BLACK, clip_on=False)[0]
            for run in RUNS
        }
        for cross in self.crosses.values():
            mark_positions(cross, "x")  # the export writes the step, not the top it sits at
        (self.threshold,) = ax.plot([], [], color=BLACK, lw=1, ls="--", label="clip threshold")
        self.threshold_label = threshold_label(ax)
        self.cursor = ax.axvline(0, color=GREY, lw=1, visible=False)
        setup_log_axes(ax, title, "step", ylabel, title_loc="left", title_pad=10)
        if legend:  # one legend per figure's views (each legend costs a full draw ~8 ms)
            handles: list[Artist] = list(self.lines.values())
            if marks:
                handles.append(
                    Line2D(
                        [],
                        [],
                        ls="",
                        marker="X",
                        color=VERMILLION,
                        ms=9,
                        mec=BLACK,
                        label="first inf/NaN",
                    )
                )
            show_legend(ax, handles, **ROW_LEGEND)
        self.placeholder = None if placeholder is None else show_placeholder(ax, placeholder)
        self.artists: list[Any] = [
            *self.lines.values(),
            *self.diverged.values(),
            *self.crosses.values(),
            self.threshold,
            self.threshold_label,
            self.cursor,
        ]

    def update(self, curves: Curves) -> None:
        if self.placeholder is not None:
            hide_placeholder(self.ax, self.placeholder)
        shown = []
        for run, values in zip(RUNS, (curves.unclipped, curves.clipped), strict=True):
            curve = log10_finite(values)
            if self.floor is not None:
                curve = np.maximum(curve, self.floor)
            self.lines[run].set_data(np.arange(curve.size), curve)
            tabulate(self.lines[run], values)  # the export writes them, not the floored logs
            shown.append(curve)
        steps = curves.steps if curves.steps is not None else max(c.size for c in shown) - 1
        self.ax.set_xlim(index_limits(max(steps, 0), 0))
        level = math.nan if curves.threshold is None else math.log10(curves.threshold)
        if self.floor is not None:
            low, high = self.floor - 0.5, 0.5
        else:  # limits that seldom change, so a slider move only repaints the lines
            wanted = finite_limits(*shown, np.array([level]), minimum_span=2.0)
            low, high = sticky_limits(wanted, self.ax.get_ylim(), fill=0.15)
        self.ax.set_ylim(low, high)
        visible = math.isfinite(level)
        self.threshold.set_visible(visible)
        self.threshold.set_data([0, max(steps, 0)], [level, level])
        self.threshold_label.set_visible(visible)
        self.threshold_label.set_y(level if visible else 0.0)
        for run, step in zip(RUNS, curves.first_nonfinite, strict=True):
            self.diverged[run].set_visible(step is not None)
            self.crosses[run].set_visible(step is not None)
            if step is not None:
                self.diverged[run].set_xdata([step, step])
                self.crosses[run].set_data([step], [high])
        self.cursor.set_visible(curves.cursor is not None)
        if curves.cursor is not None:
            self.cursor.set_xdata([curves.cursor, curves.cursor])


__all__ = ["Curves", "CurvesView", "median_curve", "run_curves"]
