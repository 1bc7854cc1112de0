"""Views of backpropagation through time (``explorer.core.rnn_gradients`` results).

``TimeDeltaView``: ||dL/dh_k|| over the time steps k = 0..T (and ||dL/dc_k|| for an LSTM), with
w^(T-k) where that is exact, overflow drawn as marks.
``StepJacobianView``: the spectral norm of each step Jacobian against 1 and against Pascanu et al.'s
1/gamma, with lambda_1 of the recurrent matrix.
``ContributionView``: the norm of each time step's term in dL/dW (Pascanu et al. 2013, eq. 4-5),
which steps the weight gradient is made of.

Built once on given Axes; ``update(result)`` mutates the artists. They read only the result's
public fields.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from explorer.plots.data import StepData
from explorer.plots.style import (
    BAND_LEGEND_2,
    BLACK,
    BLUE,
    GREEN,
    MARKERS_UP_TO,
    ORANGE,
    PURPLE,
    SKY,
    VERMILLION,
    band_bottom,
    finite_limits,
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


class TimeDeltaView:
    """Gradient norm at each time step on a log10 axis; the legend in a band along the top that
    the y limits keep free of data, overflow marked along the top of the data."""

    BAND = 38.0  # points: a legend of up to two rows, and gaps

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        (self.delta_line,) = ax.plot([], [], color=BLUE, lw=2, label="‖∂L/∂hₖ‖")
        (self.cell_line,) = ax.plot(
            [], [], color=GREEN, lw=1.5, ls="--", label="‖∂L/∂cₖ‖ (LSTM cell)"
        )
        (self.reference_line,) = ax.plot([], [], color=BLACK, lw=1, ls=":", label="|w|^(T−k)")
        self.overflow_marks = overflow_marks(ax, label="inf/NaN")
        self.note = warning_note(ax)
        setup_log_axes(ax, "Gradient reaching each step", "time step k", "norm (log scale)")
        self.legend_handles = [
            self.delta_line,
            self.cell_line,
            self.reference_line,
            self.overflow_marks,
        ]
        show_legend(ax, self.legend_handles, **BAND_LEGEND_2)
        self.artists = [
            self.delta_line,
            self.cell_line,
            self.reference_line,
            self.overflow_marks,
            self.note,
        ]

    def update(self, result: StepData) -> None:
        steps = np.arange(result.seq_len + 1)
        delta = log10_finite(result.delta_norms)
        self.delta_line.set_data(steps, delta)
        tabulate(self.delta_line, result.delta_norms)  # the export writes them, inf included
        self.delta_line.set_marker("o" if result.seq_len <= MARKERS_UP_TO else "")
        shown = [delta]
        cell = result.cell_delta_norms
        for line, values in (
            (self.cell_line, None if cell is None else log10_finite(cell)),
            (self.reference_line, result.log10_reference),
        ):
            if values is None:
                line.set_data([], [])
                line.set_visible(False)
                continue
            line.set_data(steps, values)
            line.set_visible(True)
            shown.append(values)
        if cell is not None:
            tabulate(self.cell_line, cell)
        low, high = limits_below_band(finite_limits(*shown), self.ax.get_ylim(), self.ax, self.BAND)
        bad = nonfinite_indices(result.delta_norms, 0)
        place_marks(self.overflow_marks, bad, band_bottom((low, high), self.ax, self.BAND))
        self.overflow_marks.set_visible(bad.size > 0)
        set_text_within(self.note, _delta_note(result), self.ax)  # wrapped inside the axes
        show_legend(self.ax, self.legend_handles, **BAND_LEGEND_2)
        self.ax.set_xlim(index_limits(result.seq_len, first=0))
        self.ax.set_ylim(low, high)


def _delta_note(result: Any) -> str:
    """Where the dtype gave out: overflow to inf/NaN (the gradient's own, and the forward pass's
    if that came first), or underflow to exactly 0."""
    if result.overflow_step is not None:
        parts = []
        if result.overflow_pass == "forward":
            parts.append(f"forward pass from step {result.overflow_step}")
        if result.gradient_overflow_step is not None:
            parts.append(f"gradient inf/NaN at steps ≤ {result.gradient_overflow_step}")
        return f"{result.dtype} overflow: " + "; ".join(parts)
    zero = np.flatnonzero(np.asarray(result.delta_norms) == 0)
    if zero.size:
        return f"{result.dtype} underflow: exactly 0 at steps ≤ {zero[-1]} (gap)"
    return ""


class StepJacobianView:
    """Step Jacobian norms against 1 and against 1/gamma (Pascanu et al. 2013, section 2.1); the
    legend in a band along the top that the y limits keep free of data."""

    BAND = 38.0  # points: a legend of up to two rows, and gaps

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.unit_line = ax.axhline(0.0, color=BLACK, lw=1, label="1")
        (self.threshold_line,) = ax.plot(
            [], [], color=ORANGE, lw=1.5, ls="--", label="1/γ (Pascanu threshold)"
        )
        (self.lambda_line,) = ax.plot([], [], color=PURPLE, lw=1.5, ls="-.", label="λ₁ of W")
        (self.norm_line,) = ax.plot([], [], color=SKY, lw=1.5, label="‖∂sₜ/∂sₜ₋₁‖₂")
        self.overflow_marks = overflow_marks(ax)
        setup_log_axes(ax, "Step Jacobians", "time step t", "spectral norm (log scale)")
        self.legend_handles = [
            self.unit_line,
            self.threshold_line,
            self.lambda_line,
            self.norm_line,
        ]
        show_legend(ax, self.legend_handles, **BAND_LEGEND_2)
        self.artists = [self.threshold_line, self.lambda_line, self.norm_line, self.overflow_marks]

    def update(self, result: StepData) -> None:
        steps = np.arange(1, result.seq_len + 1)
        norms = log10_finite(result.jacobian_norms)
        self.norm_line.set_data(steps, norms)
        tabulate(self.norm_line, result.jacobian_norms)
        self.norm_line.set_marker("o" if result.seq_len <= MARKERS_UP_TO else "")
        left, right = index_limits(result.seq_len, first=1)
        shown = [norms, np.zeros(1)]
        for line, value in (
            (self.threshold_line, result.pascanu_threshold),
            (self.lambda_line, result.largest_singular_value),
        ):
            if value is None or not np.isfinite(value) or value <= 0:
                line.set_data([], [])
                line.set_visible(False)
                continue
            line.set_data([left, right], [np.log10(value)] * 2)
            line.set_visible(True)
            shown.append(np.log10([value]))
        wanted = finite_limits(*shown, minimum_span=0.5)
        low, high = limits_below_band(wanted, self.ax.get_ylim(), self.ax, self.BAND)
        place_marks(
            self.overflow_marks,
            nonfinite_indices(result.jacobian_norms, 1),
            band_bottom((low, high), self.ax, self.BAND),
        )
        show_legend(self.ax, self.legend_handles, **BAND_LEGEND_2)
        self.ax.set_xlim(left, right)
        self.ax.set_ylim(low, high)


class ContributionView:
    """Norm of each time step's term in dL/dW, with the step that dominates marked; the legend
    in a band along the top that the y limits keep free of data."""

    BAND = 26.0  # points: a legend of one row, and gaps

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        (self.term_line,) = ax.plot([], [], color=GREEN, lw=1.5, label="‖term of step t‖")
        self.dominant = ax.scatter(
            [], [], marker="*", s=120, color=VERMILLION, zorder=5, label="largest term"
        )
        self.note = ax.text(0.01, 0.03, "", transform=ax.transAxes, fontsize=10, va="bottom")
        setup_log_axes(
            ax, "What each step adds to ∂L/∂W", "time step t", "Frobenius norm (log scale)"
        )
        ax.legend(**BAND_LEGEND_2)
        self.artists = [self.term_line, self.dominant, self.note]

    def update(self, result: StepData) -> None:
        steps = np.arange(1, result.seq_len + 1)
        terms = log10_finite(result.weight_grad_contributions)
        self.term_line.set_data(steps, terms)
        tabulate(self.term_line, result.weight_grad_contributions)
        self.term_line.set_marker("o" if result.seq_len <= MARKERS_UP_TO else "")
        step = result.dominant_step
        if step and np.isfinite(terms[step - 1]):
            self.dominant.set_offsets([[step, terms[step - 1]]])
            self.note.set_text(f"largest term: step {step} of {result.seq_len}")
        else:
            self.dominant.set_offsets(np.empty((0, 2)))
            self.note.set_text(
                f"step {step}'s term is inf" if step else "no term above 0 (all 0 or NaN)"
            )
        low, high = limits_below_band(finite_limits(terms), self.ax.get_ylim(), self.ax, self.BAND)
        self.ax.set_xlim(index_limits(result.seq_len, first=1))
        self.ax.set_ylim(low, high)


__all__ = ["ContributionView", "StepJacobianView", "TimeDeltaView"]
