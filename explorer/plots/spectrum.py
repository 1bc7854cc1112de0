"""A view of the end-to-end Jacobian's singular values (``explorer.core.jacobian_spectrum``).

``SpectrumView`` draws their distribution as a histogram of log10 singular values, with a tick per
singular value along the bottom and the reference scale^L (where an orthogonal linear network puts
every one of them). Two views side by side with the same x limits compare two inits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.transforms import ScaledTranslation

from explorer.plots.data import SpectrumData
from explorer.plots.style import (
    BLACK,
    ORANGE,
    ROW_LEGEND,
    VERMILLION,
    CountLocator,
    finite_limits,
    format_number,
    nice_ceiling,
    set_row_title,
    set_text_within,
    sticky_limits,
    use_log10_axis,
)
from explorer.plots.table import mark_positions

BINS = 40
HEADROOM = 2.0  # the y axis reaches this many times the tallest bar: room for the notes


def spectrum_limits(
    results: Sequence[SpectrumData], current: tuple[float, float] | None
) -> tuple[float, float]:
    """Shared x limits (log10) covering every finite singular value and each reference."""
    arrays = [np.asarray(r.log10_singular_values) for r in results]
    references = [np.array([r.log10_reference]) for r in results]
    return sticky_limits(finite_limits(*arrays, *references, minimum_span=1.0), current)


class SpectrumView:
    """Histogram of log10 singular values of one end-to-end Jacobian."""

    def __init__(self, ax: Axes, colour: str) -> None:
        self.ax = ax
        self.bars = ax.stairs(
            np.zeros(BINS),
            np.linspace(0, 1, BINS + 1),
            fill=True,
            color=colour,
            alpha=0.75,
            label="singular values",
        )
        self.rug = ax.scatter([], [], marker="|", s=120, color=BLACK, lw=1, zorder=4)
        mark_positions(self.rug, "x")  # the export writes each singular value, not the rug's y
        self.reference = ax.axvline(
            0.0, color=ORANGE, lw=2, ls="--", label="scaleᴸ (orthogonal, linear)"
        )
        self.note = ax.text(
            0.01, 0.97, "", transform=ax.transAxes, va="top", fontsize=10, color=BLACK
        )
        # under the note's three lines of 10 pt (12 pt apart) and a 6 pt gap
        under_note = ScaledTranslation(0.0, -42.0 / 72.0, ax.figure.dpi_scale_trans)
        self.lost = ax.text(
            0.01,
            0.97,
            "",
            transform=ax.transAxes + under_note,
            va="top",
            fontsize=10,
            color=VERMILLION,
        )
        ax.set_xlabel("singular value σ (log scale)")
        ax.set_ylabel("how many")
        use_log10_axis(ax, axis="x")
        ax.yaxis.set_major_locator(CountLocator())  # a count: 0, 1, 2, never 0.5 or below 0
        ax.grid(True, alpha=0.3)
        # on the right of the title's row (the title goes left): over the bars, a legend would
        # hide the reference line or the tallest bars
        ax.legend(**{**ROW_LEGEND, "fontsize": 8.5, "columnspacing": 0.9})
        self.artists = [self.bars, self.rug, self.reference, self.note, self.lost]

    def update(self, result: SpectrumData, limits: tuple[float, float], title: str) -> None:
        """Redraw for ``result`` on x ``limits`` (shared with the view beside it)."""
        values = np.asarray(result.log10_singular_values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        edges = _bin_edges(limits, result.log10_reference)
        counts, _ = np.histogram(finite, bins=edges)
        self.bars.set_data(counts, edges)
        # headroom: the bars stay in the lower half, under the note's lines
        top = _sticky_top(HEADROOM * max(int(counts.max(initial=0)), 1), self.ax.get_ylim()[1])
        self.rug.set_offsets(
            np.column_stack([finite, np.full(finite.size, -0.06 * top)])
            if finite.size
            else np.empty((0, 2))
        )
        self.reference.set_xdata([result.log10_reference] * 2)
        spread = result.log10_spread
        self.note.set_text(
            f"σ from {_power(values[0])} to {_power(result.log10_smallest_nonzero)}"
            f"\n{decades(spread)} decades apart"
            f"\n{result.fraction_within(1.0):.0%} within ×10 of scaleᴸ"
        )
        zero, bad = int(np.sum(values == -np.inf)), int(np.sum(np.isnan(values)))
        lost = [f"{zero} direction(s) mapped to 0"] if zero else []
        lost += [f"{bad} not finite (overflow)"] if bad else []
        set_text_within(self.lost, "; ".join(lost), self.ax)
        set_row_title(self.ax, title, fontsize=12)
        self.ax.set_xlim(limits)
        self.ax.set_ylim(-0.12 * top, top)  # the rug below 0


def _sticky_top(wanted: float, current: float) -> float:
    """The y limit above the tallest bar (and the text): kept while it still fits, so most
    updates redraw only the data."""
    if wanted <= current <= 2.5 * wanted:
        return current
    return nice_ceiling(wanted)


def _bin_edges(limits: tuple[float, float], centre: float) -> np.ndarray:
    """About BINS equal bins over ``limits``, one of them centred on ``centre`` (so values at
    scale^L, up to rounding, fall in one bin rather than straddling an edge)."""
    width = (limits[1] - limits[0]) / BINS
    first = np.floor((limits[0] - centre) / width - 0.5)
    last = np.ceil((limits[1] - centre) / width + 0.5)
    return centre + (np.arange(first, last + 1) - 0.5) * width


def _power(log10_value: float) -> str:
    if not np.isfinite(log10_value):
        return "0" if log10_value == -np.inf else "nan"
    return f"10^{round(log10_value, 1) + 0.0:.1f}"  # + 0.0: no "-0.0"


def decades(spread: float) -> str:
    """A spread in decades for a readout: '0' below rounding, '1.29', '212.4', 'inf', 'nan'."""
    if not np.isfinite(spread):
        return str(spread)
    return "0" if spread < 5e-12 else format_number(spread)


__all__ = ["SpectrumView", "decades", "spectrum_limits"]
