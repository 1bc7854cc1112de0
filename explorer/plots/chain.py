"""Views of the deep-network gradients (``explorer.core.chain_gradients`` results).

``DeltaView``: per-layer gradient norms ||dL/da_l|| with the forward activation norms, the bound
prod_{k>l} ||J_k||, the scalar chain's |w|^(L-l) where it is exact, and marks where values
overflowed.
``JacobianView``: per-layer Jacobian spectral norms against 1, the line where shrinking turns into
growing, with the product of the norms (an upper bound) beside the true end-to-end norm.

Each view is built once on given Axes and ``update(result)`` mutates its artists in place. The views
read only the result's public fields (duck typing), so they do not import the core.
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.transforms import ScaledTranslation

from explorer.plots.data import LayerData
from explorer.plots.style import (
    BAND_LEGEND,
    BAND_LEGEND_2,
    BLACK,
    BLUE,
    GREY,
    MARKERS_UP_TO,
    ORANGE,
    SKY,
    LegendStyle,
    band_bottom,
    finite_limits,
    format_power,
    index_limits,
    limits_below_band,
    log10_finite,
    nonfinite_indices,
    overflow_marks,
    place_marks,
    set_text_within,
    setup_log_axes,
    show_legend,
    warning_note,
)
from explorer.plots.table import tabulate


class DeltaView:
    """Gradient norm per layer on a log10 axis, with overflow drawn as marks along the top of the
    data. The legend sits in a band along the top of the axes that the y limits keep free."""

    BAND = 48.0  # points: a legend of up to three rows, and gaps

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        (self.delta_line,) = ax.plot([], [], color=BLUE, lw=2, label="gradient ‖∂L/∂aₗ‖")
        (self.activation_line,) = ax.plot(
            [], [], color=ORANGE, lw=1.5, label="activation ‖aₗ‖ (forward)"
        )
        (self.bound_line,) = ax.plot(
            [], [], color=GREY, lw=1.2, ls="--", label="bound: ∏ ‖Jₖ‖ over k > l"
        )
        (self.reference_line,) = ax.plot(
            [], [], color=BLACK, lw=1, ls=":", label="|w|^(L−l) (scalar chain)"
        )
        self.overflow_marks = overflow_marks(ax, label="inf/NaN")
        self.note = warning_note(ax)
        setup_log_axes(ax, "Gradient reaching each layer", "layer l", "norm (log scale)")
        self.legend_handles = [
            self.delta_line,
            self.activation_line,
            self.bound_line,
            self.reference_line,
            self.overflow_marks,
        ]
        show_legend(ax, self.legend_handles, **BAND_LEGEND_2)
        # what ``update`` changes; everything else stays as long as the limits do
        self.artists = [
            self.delta_line,
            self.activation_line,
            self.bound_line,
            self.reference_line,
            self.overflow_marks,
            self.note,
        ]

    def update(self, result: LayerData) -> None:
        """Redraw from a chain result; overflowed values become marks, never axis limits."""
        depth = result.depth
        layers = np.arange(1, depth + 1)
        delta = log10_finite(result.delta_norms)
        activation = log10_finite(result.activation_norms)
        bound = np.asarray(result.log10_delta_bound, dtype=np.float64)
        reference = result.log10_reference

        marker = "o" if depth <= MARKERS_UP_TO else ""
        self.delta_line.set_data(layers, delta)
        self.delta_line.set_marker(marker)
        self.activation_line.set_data(np.arange(0, depth + 1), activation)
        tabulate(self.delta_line, result.delta_norms)  # the export writes them, inf included
        tabulate(self.activation_line, result.activation_norms)
        self.bound_line.set_data(layers, bound)
        shown = [delta, activation, bound]
        if reference is None:
            self.reference_line.set_data([], [])
            self.reference_line.set_visible(False)
        else:
            self.reference_line.set_data(layers, reference)
            self.reference_line.set_visible(True)
            shown.append(np.asarray(reference))

        low, high = limits_below_band(finite_limits(*shown), self.ax.get_ylim(), self.ax, self.BAND)
        overflowed = np.union1d(
            nonfinite_indices(result.delta_norms, 1), nonfinite_indices(result.activation_norms, 0)
        )
        place_marks(self.overflow_marks, overflowed, band_bottom((low, high), self.ax, self.BAND))
        note = ""
        if result.overflow_layer is not None:
            note = (
                f"{result.dtype} overflow from layer {result.overflow_layer}"
                f" ({result.overflow_pass} pass): {overflowed.size} layer(s) hold inf/NaN"
            )
        set_text_within(self.note, note, self.ax)
        self.overflow_marks.set_visible(overflowed.size > 0)
        show_legend(self.ax, self.legend_handles, **BAND_LEGEND_2)
        self.ax.set_xlim(index_limits(depth, first=0))
        self.ax.set_ylim(low, high)


class JacobianView:
    """Per-layer Jacobian spectral norms against the line 1, with the end-to-end comparison.

    The comparison and the legend sit in a band along the top of the axes that the y limits keep
    free of data (``limits_below_band``): they cover neither the curve nor a tick label."""

    BAND = 68.0  # points: the two-line summary box, the one-row legend under it, and gaps

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.unit_line = ax.axhline(0.0, color=BLACK, lw=1, label="1: shrink below, grow above")
        (self.norm_line,) = ax.plot([], [], color=SKY, lw=1.5, label="‖Jₗ‖ = ‖diag(φ′)Wₗ‖₂")
        self.overflow_marks = overflow_marks(ax)
        self.summary = ax.annotate(
            "",
            xy=(0.0, 1.0),
            xycoords="axes fraction",
            xytext=(5.0, -5.0),
            textcoords="offset points",
            va="top",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.85, "edgecolor": GREY},
        )
        setup_log_axes(ax, "Layer Jacobians", "layer l", "spectral norm (log scale)")
        # under the summary box: 5 pt gap, the box (2 lines of 9 pt and its padding), 4 pt gap
        below_summary = ScaledTranslation(0.0, -40.0 / 72.0, ax.figure.dpi_scale_trans)
        legend_style: LegendStyle = {
            **BAND_LEGEND,
            "fontsize": 8.5,
            "borderaxespad": 0.3,
            "ncols": 2,
            "bbox_to_anchor": (0.0, 1.0),
            "bbox_transform": ax.transAxes + below_summary,
        }
        ax.legend(**legend_style)
        self.artists = [self.norm_line, self.overflow_marks, self.summary]

    def update(self, result: LayerData) -> None:
        """Redraw from a chain result."""
        depth = result.depth
        layers = np.arange(1, depth + 1)
        norms = log10_finite(result.jacobian_norms)
        self.norm_line.set_data(layers, norms)
        tabulate(self.norm_line, result.jacobian_norms)
        self.norm_line.set_marker("o" if depth <= MARKERS_UP_TO else "")
        wanted = finite_limits(norms, np.zeros(1), minimum_span=0.5)
        low, high = limits_below_band(wanted, self.ax.get_ylim(), self.ax, self.BAND)
        data_top = band_bottom((low, high), self.ax, self.BAND)
        bad = nonfinite_indices(result.jacobian_norms, 1)
        place_marks(self.overflow_marks, bad, data_top)  # along the top of the data, below the band
        self.summary.set_text(
            f"∏ ‖Jₗ‖ = {format_power(result.log10_norm_product)}  (upper bound)\n"
            f"‖J_L ⋯ J₁‖ = {format_power(result.e2e_log10_norm)}  (true, end to end)"
        )
        self.ax.set_xlim(index_limits(depth, first=1))
        self.ax.set_ylim(low, high)


__all__ = ["DeltaView", "JacobianView"]
