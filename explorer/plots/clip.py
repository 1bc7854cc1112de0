"""Views of gradient clipping (``explorer.core.clip_gradients`` results).

``ClipGeometryView``: a 2-D or 3-D gradient before and after clipping, with the threshold's ball
(what norm clipping projects onto) and box (what value clipping clamps into). Norm clipping moves
the tip along the ray to the ball and keeps the direction; value clipping moves it into the box
and turns it.
``TensorNormView``: for several tensors, each tensor's norm before and after clipping on a log10
axis: global clipping shrinks a small tensor because a big one set the norm, per-tensor does not.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.ticker import MaxNLocator

from explorer.plots.data import ClipData
from explorer.plots.style import (
    BLACK,
    BLUE,
    GREY,
    ORANGE,
    VERMILLION,
    finite_limits,
    legend_below,
    log10_finite,
    show_legend,
    use_log10_axis,
)
from explorer.plots.table import tabulate

TICK_LABELS_BELOW = 24.0  # points under a 2-D axes taken by its x tick labels


_CIRCLE = np.linspace(0.0, 2.0 * math.pi, 121)
# the 12 edges of the cube [-1, 1]^3 as one polyline, NaN between edges
_CUBE_EDGES = [
    (a, b)
    for a in np.ndindex(2, 2, 2)
    for b in np.ndindex(2, 2, 2)
    if a < b and sum(x != y for x, y in zip(a, b, strict=True)) == 1
]


# the largest half-width of the axes: matplotlib measures a span as max − min, which overflows to
# inf (and its tick locator fails) beyond half the largest float; longer vectors leave the axes
MAX_SPAN = 1e300


def _cube(threshold: float) -> np.ndarray:
    points = []
    for a, b in _CUBE_EDGES:
        points += [np.array(a) * 2 - 1, np.array(b) * 2 - 1, np.full(3, np.nan)]
    return np.array(points) * threshold


def _ball(threshold: float, dimensions: int) -> np.ndarray:
    """The sphere of radius ``threshold``: one circle in 2-D, three great circles in 3-D."""
    cos, sin, zero = np.cos(_CIRCLE), np.sin(_CIRCLE), np.zeros_like(_CIRCLE)
    gap = np.full((1, 3), np.nan)
    circles = [np.column_stack(c) for c in ((cos, sin, zero), (cos, zero, sin), (zero, cos, sin))]
    if dimensions == 2:
        return threshold * circles[0][:, :2]
    return threshold * np.concatenate([circles[0], gap, circles[1], gap, circles[2]])


class ClipGeometryView:
    """One gradient vector (2 or 3 components) before and after one clipping method."""

    def __init__(self, ax: Axes, dimensions: int) -> None:
        self.ax = ax
        self.dimensions = dimensions
        style = {"lw": 1.5}
        self.ball = self._line(color=BLUE, ls="-", label="‖g‖ = threshold (ball)", **style)
        self.box = self._line(color=ORANGE, ls="--", label="|gᵢ| = threshold (box)", **style)
        self.original = self._line(color=GREY, lw=2.5, marker="o", label="gradient g")
        self.clipped = self._line(color=VERMILLION, lw=2.5, marker="o", label="clipped")
        self.path = self._line(color=BLACK, lw=1, ls=":")
        self.handles = [self.original, self.clipped, self.ball, self.box]
        self.drawn = False  # the first update fits the drawing exactly
        # what a threshold or gradient change repaints (the rest is the blitted background)
        self.artists = [self.ball, self.box, self.path, self.original, self.clipped]
        if dimensions == 2:
            ax.set_aspect("equal", adjustable="box")
            ax.axhline(0, color=GREY, lw=0.5)
            ax.axvline(0, color=GREY, lw=0.5)
            ax.grid(True, alpha=0.3)
        else:  # fewer ticks: the default ones crowd into each other along the 3-D edges
            for axis in (ax.xaxis, ax.yaxis, _zaxis(ax)):
                axis.set_major_locator(MaxNLocator(nbins=4))
        # below the axes, on one row: in 2-D under the tick labels; a 3-D axes draws its tick
        # labels inside its own box, so there right under the box
        self.legend_style = legend_below(ax, TICK_LABELS_BELOW if dimensions == 2 else 8.0)
        show_legend(ax, self.handles, **self.legend_style)

    def _line(self, **style: Any) -> Any:
        empty: list[list[float]] = [[] for _ in range(self.dimensions)]
        (line,) = self.ax.plot(*empty, **style)
        return line

    def _set(self, line: Any, points: np.ndarray) -> None:
        if self.dimensions == 2:
            line.set_data(points[:, 0], points[:, 1])
        else:
            line.set_data_3d(points[:, 0], points[:, 1], points[:, 2])

    def update(self, result: ClipData) -> None:
        """Draw ``result`` (one tensor of 2 or 3 components) with its threshold's ball and box."""
        before = np.asarray(result.original[0], dtype=np.float64).reshape(-1)
        after = np.asarray(result.grads[0], dtype=np.float64).reshape(-1)
        threshold = result.threshold
        origin = np.zeros(self.dimensions)
        self._set(self.original, np.array([origin, before]))
        self._set(self.clipped, np.array([origin, after]))
        self._set(self.path, np.array([before, after]))
        norm_based = result.method != "value"
        self.ball.set_visible(norm_based and result.method != "agc")
        self.box.set_visible(not norm_based)
        self._set(self.ball, _ball(threshold, self.dimensions))
        cube = _cube(threshold)
        self._set(self.box, cube if self.dimensions == 3 else _square(threshold))
        reach = max(threshold * (math.sqrt(self.dimensions) if not norm_based else 1.0), 1e-300)
        finite = np.concatenate([before, after])
        finite = finite[np.isfinite(finite)]
        span = 1.15 * max(reach, float(np.abs(finite).max()) if finite.size else 0.0)
        # the limits stay while they cover the drawing and it fills most of them, so most
        # threshold moves repaint only the vectors (see explorer.panels.redraw)
        shown = self.ax.get_xlim()[1]
        if 0.8 * shown <= span <= shown:
            span = shown
        elif self.drawn and shown < span < 1.25 * shown:
            span = 1.25 * span  # growing step by step: room for the next steps
        self.drawn = True
        span = min(span, MAX_SPAN)
        for axis in "xyz"[: self.dimensions]:
            getattr(self.ax, f"set_{axis}lim")(-span, span)
        self.ax.set_title(f"{result.method} ({result.library_call})", fontsize=10)
        show_legend(self.ax, self.handles, **self.legend_style)


def _zaxis(ax: Axes) -> Axis:
    """The z axis of a 3-D axes (``projection="3d"``), looked up by name: ``mpl_toolkits`` ships
    no type information, so an ``Axes3D`` annotation would be Any and check nothing."""
    zaxis = getattr(ax, "zaxis", None)
    if not isinstance(zaxis, Axis):
        raise TypeError("a 3-D ClipGeometryView needs a 3-D axes (projection='3d')")
    return zaxis


def _square(threshold: float) -> np.ndarray:
    corners = [(-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)]
    return np.array(corners, dtype=np.float64) * threshold


class TensorNormView:
    """Each tensor's norm before (outline) and after (filled) clipping, log10 axis."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.before = ax.bar([], [], width=0.7, fill=False, edgecolor=GREY, lw=2)
        self.after = ax.bar([], [], width=0.45, color=VERMILLION)
        (self.threshold_line,) = ax.plot([], [], color=BLUE, ls="--", lw=1.5, label="threshold")
        use_log10_axis(ax)
        ax.set_ylabel("tensor norm (log scale)")
        ax.grid(True, axis="y", alpha=0.3)

    def update(self, result: ClipData) -> None:
        """Bars for ``result``'s per-tensor norms; bars start at the bottom of the axis."""
        for container in (self.before, self.after):
            container.remove()
        before = log10_finite(result.tensor_norms_before)
        after = log10_finite(result.tensor_norms_after)
        low, high = finite_limits(before, after, np.array([math.log10(result.threshold)]))
        low = math.floor(low)
        count = len(before)
        positions = np.arange(count)
        self.before = self.ax.bar(
            positions,
            np.nan_to_num(before - low),
            bottom=low,
            width=0.7,
            fill=False,
            edgecolor=GREY,
            lw=2,
            label="before",
        )
        self.after = self.ax.bar(
            positions,
            np.nan_to_num(after - low),
            bottom=low,
            width=0.45,
            color=VERMILLION,
            label="after",
        )
        for container, norms in (
            (self.before, result.tensor_norms_before),
            (self.after, result.tensor_norms_after),
        ):
            for bar, norm in zip(container, norms, strict=True):
                tabulate(bar, [norm])  # the export writes the norm, inf and 0 included
        norm_based = result.method in ("norm", "global_norm", "pascanu")
        self.threshold_line.set_visible(norm_based)
        self.threshold_line.set_data([-0.5, count - 0.5], [math.log10(result.threshold)] * 2)
        self.ax.set_xlim(-0.6, count - 0.4)
        self.ax.set_ylim(low, math.ceil(high))
        self.ax.set_xticks(positions, [f"tensor {i + 1}" for i in positions])
        self.ax.set_title(f"{result.method} ({result.library_call})", fontsize=10)
        handles = [self.before, self.after, self.threshold_line]
        self.ax.legend(
            handles=[h for h in handles if getattr(h, "get_visible", lambda: True)()],
            **legend_below(self.ax, TICK_LABELS_BELOW),
        )


__all__ = ["ClipGeometryView", "TensorNormView"]
