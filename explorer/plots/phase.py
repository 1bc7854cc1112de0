"""A view of the order-to-chaos phase diagram (``explorer.core.phase_diagram`` results).

``PhaseView`` draws the measured per-layer log10 growth of the gradient over (sigma_w, sigma_b) as
a heatmap on a colour-blind-safe diverging map (blue: vanishing, red: exploding, white: neither),
the mean-field line chi_1 = 1 over it, and a marker at the chosen setting.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize
from matplotlib.contour import QuadContourSet

from explorer.plots.data import PhaseData
from explorer.plots.style import BLACK, ROW_LEGEND, VERMILLION, nice_ceiling
from explorer.plots.table import tabulate_image

COLOURS = "RdBu_r"  # ColorBrewer RdBu: colour-blind safe


class PhaseView:
    """Measured gradient growth per layer, with the theory's critical line."""

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.image = ax.imshow(
            np.zeros((2, 2)),
            origin="lower",
            aspect="auto",
            cmap=COLOURS,
            norm=Normalize(-0.5, 0.5),
            interpolation="nearest",
            extent=(0, 1, 0, 1),
        )
        self.colorbar = ax.figure.colorbar(self.image, ax=ax, pad=0.02)
        self.colorbar.set_label("measured log₁₀ growth of ‖δ‖ per layer")
        self.critical: QuadContourSet | None = None  # the chi_1 = 1 contour, redrawn per result
        # the legend's entry for the contour line (a ContourSet carries no label of its own)
        (self.legend_line,) = ax.plot([], [], color=BLACK, lw=2, label="theory: χ₁ = 1")
        (self.choice,) = ax.plot(
            [],
            [],
            marker="o",
            ms=11,
            mfc="none",
            mec=VERMILLION,
            mew=2.5,
            ls="",
            label="chosen setting",
        )
        ax.set_xlabel("weight std σ_w")
        ax.set_ylabel("bias std σ_b")
        ax.legend(**ROW_LEGEND)  # above the heatmap, right of the title: no cell hidden

    def update(self, result: PhaseData) -> None:
        """Redraw the heatmap and the critical line for a phase-diagram result."""
        w, b = result.weight_stds, result.bias_stds
        self.image.set_data(np.ma.masked_invalid(result.log10_growth))
        tabulate_image(self.image, w, b, result.log10_growth, self.colorbar.ax.get_ylabel())
        extent = _extent(w, b)
        self.image.set_extent(extent)
        self.ax.set_xlim(extent[:2])
        self.ax.set_ylim(extent[2:])
        finite = np.abs(result.log10_growth[np.isfinite(result.log10_growth)])
        limit = nice_ceiling(float(np.percentile(finite, 95))) if finite.size else 1.0
        self.image.set_norm(Normalize(-limit, limit))
        self.colorbar.update_normal(self.image)
        if self.critical is not None:
            self.critical.remove()
            self.critical = None
        chi = np.asarray(result.chi_1, dtype=np.float64)
        if w.size > 1 and b.size > 1 and np.nanmin(chi) < 1 < np.nanmax(chi):
            self.critical = self.ax.contour(w, b, chi, levels=[1.0], colors=BLACK, linewidths=2)
        self.ax.set_title(
            f"{result.activation}, {result.depth} layers × width {result.width}: measured",
            loc="left",
        )

    def mark(self, weight_std: float | None, bias_std: float | None) -> None:
        """Ring the chosen (sigma_w, sigma_b), or remove the ring."""
        if weight_std is None or bias_std is None:
            self.choice.set_data([], [])
        else:
            self.choice.set_data([weight_std], [bias_std])


def _extent(w: np.ndarray, b: np.ndarray) -> tuple[float, float, float, float]:
    """Image extent with each cell centred on its grid value."""

    def edges(values: np.ndarray) -> tuple[float, float]:
        if values.size == 1:
            return (float(values[0]) - 0.5, float(values[0]) + 0.5)
        step = (values[-1] - values[0]) / (values.size - 1)
        return (float(values[0] - step / 2), float(values[-1] + step / 2))

    return (*edges(w), *edges(b))


__all__ = ["PhaseView"]
