"""Views of the cliff (``explorer.core.cliff_surface`` and ``cliff_descent`` results).

``CliffSurfaceView``: the loss over (w, b) as an image on a log10 colour scale (viridis, readable
in grey and by the colour-blind), with descent trajectories over it: unclipped and clipped from
the same start, or a fan of many starts. The runs' per-step curves are ``explorer.plots.curves``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize

from explorer.plots.data import Array, PathData, SurfaceData
from explorer.plots.style import (
    BLACK,
    CLIPPED,
    UNCLIPPED,
    VERMILLION,
    legend_below,
    log10_finite,
    show_legend,
)
from explorer.plots.table import tabulate_image

LOSS_FLOOR = -12.0  # log10 loss shown as "at most 10^-12" (the valley floor is exactly 0)


class CliffSurfaceView:
    """log10 loss over (w, b) with unclipped and clipped trajectories."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.image = ax.imshow(
            np.zeros((2, 2)),
            origin="lower",
            aspect="auto",
            cmap="viridis",
            interpolation="nearest",
            extent=(0, 1, 0, 1),
            norm=Normalize(LOSS_FLOOR, 0),
        )
        self.colorbar = ax.figure.colorbar(self.image, ax=ax, pad=0.02)
        self.colorbar.set_label("log₁₀ loss")
        (self.unclipped,) = ax.plot(
            [], [], color=UNCLIPPED, lw=2, marker=".", ms=4, label="unclipped"
        )
        (self.clipped,) = ax.plot([], [], color=CLIPPED, lw=2, marker=".", ms=4, label="clipped")
        # kept as LineCollections (``add_collection`` returns its argument, typed Collection)
        self.fan_unclipped = LineCollection(
            [], colors=UNCLIPPED, linewidths=1, alpha=0.8, label="unclipped"
        )
        self.fan_clipped = LineCollection(
            [], colors=CLIPPED, linewidths=1, alpha=0.9, label="clipped"
        )
        ax.add_collection(self.fan_unclipped)
        ax.add_collection(self.fan_clipped)
        (self.start,) = ax.plot(
            [], [], ls="", marker="o", ms=9, mfc="white", mec=BLACK, label="start"
        )
        (self.ends,) = ax.plot(
            [], [], ls="", marker="x", ms=8, color=VERMILLION, mew=2, label="thrown off"
        )
        ax.set_xlabel("w (recurrent weight)")
        ax.set_ylabel("b (bias)")
        # one row under the x label: over the image a legend would hide trajectories and starts
        self.legend_style = legend_below(ax, 42.0, fontsize=9)
        self.artists = [
            self.unclipped,
            self.clipped,
            self.fan_unclipped,
            self.fan_clipped,
            self.start,
            self.ends,
        ]

    def show_surface(self, surface: SurfaceData) -> None:
        """The loss image of a ``CliffSurface``; limits are the grid's."""
        self.image.set_data(np.maximum(log10_finite(surface.loss), LOSS_FLOOR))
        # the export writes the loss itself, not its floored log10 (explorer.plots.table)
        tabulate_image(self.image, surface.w, surface.b, surface.loss, "loss")
        extent = (surface.w[0], surface.w[-1], surface.b[0], surface.b[-1])
        self.image.set_extent(extent)
        self.ax.set_xlim(extent[:2])
        self.ax.set_ylim(extent[2:])
        self.ax.set_title(f"loss (σ(x_T) − 0.7)², T = {surface.seq_len}")

    def show_runs(
        self, unclipped: PathData, clipped: PathData, thrown: Array | None = None
    ) -> None:
        """One start: two lines. Several starts (a fan): two bundles, thrown runs marked."""
        fan = len(unclipped.trajectories) > 1
        for line, run in ((self.unclipped, unclipped), (self.clipped, clipped)):
            line.set_visible(not fan)
            points = _drawable(run.trajectories[0])
            line.set_data(points[:, 0], points[:, 1])
        for bundle, run in ((self.fan_unclipped, unclipped), (self.fan_clipped, clipped)):
            bundle.set_visible(fan)
            bundle.set_segments([_drawable(path) for path in run.trajectories] if fan else [])
        starts = unclipped.trajectories[:, 0]
        self.start.set_data(starts[:, 0], starts[:, 1])
        self.start.set_markersize(5 if fan else 9)
        ends = np.empty((0, 2))
        if thrown is not None:
            last = unclipped.trajectories[:, -1][thrown]
            ends = _clamp_to_view(last, self.ax)
        # the key always lists "thrown off", marks or not: a legend that changes costs a full
        # draw (about 115 ms here, against 30 for a blit), and a learning-rate sweep crosses
        # from thrown to kept and back many times
        self.ends.set_data(ends[:, 0], ends[:, 1])
        handles = (
            [self.unclipped, self.clipped] if not fan else [self.fan_unclipped, self.fan_clipped]
        )
        show_legend(self.ax, [*handles, self.start, self.ends], **self.legend_style)


def _drawable(path: Array) -> Array:
    """A trajectory cut at its first non-finite point (matplotlib cannot place inf)."""
    finite = np.isfinite(path).all(axis=1)
    stop = len(path) if finite.all() else int(np.argmin(finite))
    return path[:stop]


def _clamp_to_view(points: Array, ax: Axes) -> Array:
    """Points pulled onto the edge of the view (NaN points to its centre), to mark where runs
    left it."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    points = np.where(np.isfinite(points), points, [(x0 + x1) / 2, (y0 + y1) / 2])
    return np.column_stack([np.clip(points[:, 0], x0, x1), np.clip(points[:, 1], y0, y1)])


__all__ = ["CliffSurfaceView"]
