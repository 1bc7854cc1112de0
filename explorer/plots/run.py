"""Views of one recorded run (a ``GradientHistory``) and its replay under clipping policies.

- ``TensorHeatmapView``: every tensor's gradient norm at every step, log10 colours, rows in the
  display order of ``explorer.core.diagnose.order_tensors`` with its module groups named and
  ruled off; inf and NaN cells in the highlight colour; each tensor's first spike marked; the
  first non-finite step as a dashed line. Hovering names the tensor under the pointer.
- ``RunCurvesView``: the global norm and the loss over steps, spikes and the first inf/NaN
  marked.
- ``ReplayView``: one row per policy (the run as it was first), each step coloured by what the
  policy does (leave grey, clip blue, skip purple), its first step that differs from the run marked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D

from explorer.core._types import FloatArray
from explorer.core.diagnose import TensorOrder
from explorer.core.monitor import GradientHistory
from explorer.core.policies import ACTIONS
from explorer.core.replay import Replay
from explorer.plots.style import (
    BLACK,
    BLUE,
    GREY,
    HIGHLIGHT,
    PURPLE,
    VERMILLION,
    format_number,
    hide_placeholder,
    log10_finite,
    setup_log_axes,
    show_legend,
    show_placeholder,
    use_integer_axis,
)
from explorer.plots.table import mark_positions, tabulate, tabulate_image

NAMED_ROWS = 40  # up to this many rows, each tensor is named; beyond, its module group
NAMED_GROUPS = 40  # up to this many groups are named on the axis
ACTION_COLOURS = ("#e8e8e8", BLUE, PURPLE)  # leave, clip, skip (in ACTIONS order)
NORM_COLOURS = "viridis"
ZERO_COLOUR = "#d0d0d0"
COLOUR_LABEL = "log₁₀ ‖∇‖ (red: inf or NaN; grey: 0)"


def _step_extent(steps: int, rows: int) -> tuple[float, float, float, float]:
    """Cells centred on integer steps and rows, row 0 at the top."""
    return (-0.5, max(steps, 1) - 0.5, rows - 0.5, -0.5)


class TensorHeatmapView:
    """Each tensor's gradient norm (before clipping) at each step, log10 colour scale."""

    def __init__(self, ax: Axes, colorbar_ax: Axes) -> None:
        self.ax = ax
        # inf and NaN in the highlight colour; a gradient of exactly 0 (no log) in light grey
        cmap = colormaps[NORM_COLOURS].with_extremes(bad=HIGHLIGHT, under=ZERO_COLOUR)
        self.image = ax.imshow(
            np.full((1, 1), np.nan),
            cmap=cmap,
            aspect="auto",
            interpolation="nearest",
            extent=_step_extent(1, 1),
        )
        self.image.set_label("‖∇‖ of each tensor")
        self.colorbar = ax.figure.colorbar(self.image, cax=colorbar_ax)
        self.colorbar.set_label(COLOUR_LABEL)
        ax.set_title("Each tensor's gradient norm at each step", loc="left")
        ax.set_xlabel("step")
        use_integer_axis(ax, "x")
        self.onsets = ax.scatter(
            [], [], marker="|", s=60, color="white", linewidths=1.5, label="first spike"
        )
        self.nonfinite = ax.axvline(0, color=HIGHLIGHT, ls="--", lw=1.5, visible=False)
        self.cursor = ax.axvline(0, color="white", lw=1, visible=False)
        self.rules: list[Any] = []
        self.placeholder = show_placeholder(ax, "no run loaded")
        self.names: list[str] = []
        self.values = np.empty((0, 0))
        ax.format_coord = self._describe  # type: ignore[method-assign]  # matplotlib's hook

    def update(
        self,
        history: GradientHistory,
        order: TensorOrder,
        onsets: npt.NDArray[np.int64],
        first_nonfinite: int | None,
        cursor: int | None = None,
    ) -> None:
        """Show ``history``'s tensors in ``order``, ``onsets`` (per tensor, -1: none) marked."""
        hide_placeholder(self.ax, self.placeholder, axis="x")
        self.ax.grid(False)  # grid lines would cross the cells
        rows = order.rows
        values = history.param_grad_norms[:, rows].T  # (tensors, steps), top row first
        self.values = values
        self.names = [history.names[i] for i in rows]
        shown = log10_finite(values)
        with np.errstate(divide="ignore"):
            shown = np.where(values == 0.0, np.nan, shown)  # a zero gradient: lowest colour
        finite = shown[np.isfinite(shown)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if high - low < 1.0:
            low, high = low - 0.5, high + 0.5
        drawn = np.where(values == 0.0, low - 1.0, shown)  # below the scale: ZERO_COLOUR
        drawn = np.where(np.isfinite(values), drawn, np.nan)
        self.image.set_data(drawn)
        self.image.set_clim(low, high)
        steps, count = values.shape[1], values.shape[0]
        self.image.set_extent(_step_extent(steps, count))
        tabulate_image(self.image, np.arange(steps), np.arange(count), values, "‖∇‖ of each tensor")
        self.ax.set_xlim(-0.5, max(steps, 1) - 0.5)
        self.ax.set_ylim(count - 0.5, -0.5)
        self._label_rows(order)
        self.set_onsets(onsets, rows)
        _place_lines([self.nonfinite], first_nonfinite)
        self.set_cursor(cursor)

    def set_cursor(self, step: int | None) -> None:
        """The inspected step's line (None: none)."""
        _place_lines([self.cursor], step)

    def set_onsets(self, onsets: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> None:
        """Mark each tensor's first spike (``onsets`` in the recording's order, -1: none) on its
        row, rows in display order."""
        marked = [(step, row) for row, step in enumerate(onsets[rows].tolist()) if step >= 0]
        self.onsets.set_offsets(np.array(marked, dtype=float).reshape(-1, 2))

    def _label_rows(self, order: TensorOrder) -> None:
        """Name each tensor (few rows) or each module group, and rule the groups off."""
        for rule in self.rules:
            rule.remove()
        self.rules = [
            self.ax.axhline(first - 0.5, color="white", lw=0.8) for _, first, _ in order.groups[1:]
        ]
        count = len(self.names)
        if count <= NAMED_ROWS:
            self.ax.set_yticks(np.arange(count), [_short(name) for name in self.names])
        elif len(order.groups) <= NAMED_GROUPS:
            middles = [(first + end - 1) / 2 for _, first, end in order.groups]
            self.ax.set_yticks(middles, [_short(name) for name, _, _ in order.groups])
        else:
            self.ax.set_yticks([])
        self.ax.tick_params(axis="y", labelsize=8 if count > 20 else 9)

    def _describe(self, x: float, y: float) -> str:
        """What the pointer is over: step, tensor, norm (ipympl shows it under the figure)."""
        step, row = round(x), round(y)
        if not (0 <= row < len(self.names) and 0 <= step < self.values.shape[1]):
            return ""
        value = float(self.values[row, step])
        return f"step {step} · {self.names[row]}: ‖∇‖ = {format_number(value)}"


def _short(name: str, most: int = 28) -> str:
    """A name that fits the axis: its end, which tells tensors apart, with an ellipsis."""
    return name if len(name) <= most else "…" + name[-(most - 1) :]


class RunCurvesView:
    """The global gradient norm (log10) and the loss over steps of one run."""

    def __init__(self, norm_ax: Axes, loss_ax: Axes) -> None:
        self.norm_ax, self.loss_ax = norm_ax, loss_ax
        (self.norm,) = norm_ax.plot([], [], color=BLACK, lw=1.4, label="‖∇L‖ before clipping")
        (self.loss,) = loss_ax.plot([], [], color=GREY, lw=1.4, label="loss")
        self.spikes = norm_ax.scatter(
            [],
            [],
            marker="o",
            s=36,
            facecolors="none",
            edgecolors=VERMILLION,
            lw=1.5,
            label="spike",
            zorder=4,
        )
        self.nonfinite = [
            ax.axvline(0, color=HIGHLIGHT, ls="--", lw=1.5, visible=False)
            for ax in (norm_ax, loss_ax)
        ]
        self.cursors = [ax.axvline(0, color=GREY, lw=1, visible=False) for ax in (norm_ax, loss_ax)]
        setup_log_axes(norm_ax, "Global gradient norm", "step", "‖∇L‖", title_loc="left")
        setup_log_axes(loss_ax, "Loss", "step", "loss", title_loc="left")
        show_legend(
            norm_ax,
            [
                self.norm,
                self.spikes,
                Line2D([], [], color=HIGHLIGHT, ls="--", label="first inf/NaN"),
            ],
            loc="upper left",
            fontsize=8,
        )

    def update(
        self,
        history: GradientHistory,
        spikes: np.ndarray,
        first_nonfinite: int | None,
        cursor: int | None = None,
    ) -> None:
        steps = np.arange(history.steps)
        norms = log10_finite(history.grad_norms)
        self.norm.set_data(steps, norms)
        tabulate(self.norm, history.grad_norms)
        losses = np.where(history.loss_given, history.losses, np.nan)
        self.loss.set_data(steps, log10_finite(losses))
        tabulate(self.loss, losses)
        self.set_spikes(spikes, history.grad_norms)
        for ax, values in ((self.norm_ax, norms), (self.loss_ax, log10_finite(losses))):
            finite = values[np.isfinite(values)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            pad = max((high - low) * 0.08, 0.3)
            ax.set_ylim(low - pad, high + pad)
            ax.set_xlim(-0.5, max(history.steps, 1) - 0.5)
        _place_lines(self.nonfinite, first_nonfinite)
        self.set_cursor(cursor)

    def set_cursor(self, step: int | None) -> None:
        """The inspected step's lines (None: none)."""
        _place_lines(self.cursors, step)

    def set_spikes(self, spikes: npt.NDArray[np.int64], norms: FloatArray) -> None:
        """Circle the global norm at the steps ``spikes``."""
        heights = log10_finite(norms)[spikes]
        self.spikes.set_offsets(
            np.column_stack([spikes, heights]) if spikes.size else np.empty((0, 2))
        )


class ReplayView:
    """What each policy does at each step: leave (grey), clip (blue), skip (purple)."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.image = ax.imshow(
            np.zeros((1, 1)),
            cmap=ListedColormap(ACTION_COLOURS),
            vmin=-0.5,
            vmax=len(ACTIONS) - 0.5,
            aspect="auto",
            interpolation="nearest",
            extent=_step_extent(1, 1),
        )
        self.image.set_label("action (0 none, 1 clip, 2 skip)")
        self.changes = ax.scatter(
            [],
            [],
            marker="v",
            s=60,
            color=BLACK,
            zorder=5,
            label="first step that differs",
            clip_on=False,
        )
        mark_positions(self.changes, "x")
        self.nonfinite = ax.axvline(0, color=HIGHLIGHT, ls="--", lw=1.5, visible=False)
        self.cursor = ax.axvline(0, color=BLACK, lw=1, visible=False)
        self.labels: list[Any] = []  # one text per row, left of the axes
        ax.set_title("What each policy does (replayed on this run's norms)", loc="left")
        ax.set_xlabel("step")
        use_integer_axis(ax, "x")
        show_legend(
            ax,
            [
                *(
                    Line2D([], [], ls="", marker="s", ms=9, color=colour, label=action)
                    for action, colour in zip(
                        ("leave", "clip", "skip"), ACTION_COLOURS, strict=True
                    )
                ),
                self.changes,
            ],
            loc="upper left",
            bbox_to_anchor=(0.0, -0.32),
            ncols=4,
            fontsize=8,
        )

    def update(
        self, replay: Replay, first_nonfinite: int | None, cursor: int | None = None
    ) -> None:
        rows = [replay.live.actions, *(p.trace.actions for p in replay.policies)]
        labels = [f"the run: {replay.live.label}", *(p.label for p in replay.policies)]
        actions = np.array(rows, dtype=float).reshape(len(rows), -1)
        steps = actions.shape[1]
        self.image.set_data(actions)
        self.image.set_extent(_step_extent(steps, len(rows)))
        tabulate_image(self.image, np.arange(steps), np.arange(len(rows)), actions, "action")
        self.ax.set_xlim(-0.5, max(steps, 1) - 0.5)
        self.ax.set_ylim(len(rows) - 0.5, -0.5)
        self._set_labels([_short(label, 34) for label in labels])
        changes = [
            (p.first_change, row + 1)
            for row, p in enumerate(replay.policies)
            if p.first_change is not None
        ]
        self.changes.set_offsets(
            np.array([(step, row - 0.5) for step, row in changes], dtype=float).reshape(-1, 2)
        )
        _place_lines([self.nonfinite], first_nonfinite)
        self.set_cursor(cursor)

    def set_cursor(self, step: int | None) -> None:
        """The inspected step's line (None: none)."""
        _place_lines([self.cursor], step)

    def _set_labels(self, labels: list[str]) -> None:
        """Each row's label, as a text left of the axes (not a tick label: a text can be
        repainted over the cached figure when a policy's setting changes its label)."""
        if len(labels) != len(self.labels):
            for text in self.labels:
                text.remove()
            self.ax.set_yticks(np.arange(len(labels)), [""] * len(labels))
            transform = self.ax.get_yaxis_transform()  # x in axes fractions, y in rows
            self.labels = [
                self.ax.text(
                    -0.012, row, "", transform=transform, ha="right", va="center", fontsize=9
                )
                for row in range(len(labels))
            ]
        for text, label in zip(self.labels, labels, strict=True):
            text.set_text(label)

    @property
    def artists(self) -> list[Any]:
        """What a policy's setting changes: repainted over the cached figure."""
        return [self.image, *self.labels, self.changes]


def _place_lines(lines: Sequence[Any], step: int | None) -> None:
    """Put vertical ``lines`` at ``step``, or hide them (None)."""
    for line in lines:
        line.set_visible(step is not None)
        if step is not None:
            line.set_xdata([step, step])


def movement_text(value: float) -> str:
    """A total update size for the readout: a number, or why there is none."""
    return "unknown (no update norms recorded)" if math.isnan(value) else format_number(value)
