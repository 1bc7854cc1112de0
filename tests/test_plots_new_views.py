"""The recurrent, spectrum and phase views drawn with Agg: finite, overflowing and lost values."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from explorer.core import jacobian_spectra, phase_diagram, rnn_gradients
from explorer.plots import (
    ContributionView,
    PhaseView,
    SpectrumView,
    StepJacobianView,
    TimeDeltaView,
)
from explorer.plots.spectrum import spectrum_limits
from explorer.plots.style import Log10Locator


def _finite_limits(ax) -> bool:
    return all(math.isfinite(v) for v in (*ax.get_xlim(), *ax.get_ylim()))


def _rnn_views() -> tuple[Figure, TimeDeltaView, StepJacobianView, ContributionView]:
    figure = Figure(figsize=(14, 4))
    axes = figure.subplots(1, 3)
    return figure, TimeDeltaView(axes[0]), StepJacobianView(axes[1]), ContributionView(axes[2])


def test_rnn_views_draw_the_scalar_recurrence() -> None:
    """w = 1.01 over 100 steps: log10 ||delta_k|| = (100 - k) log10 1.01, every step Jacobian has
    norm 1.01 (article 001, exercise 3), and the reference line lies on the deltas."""
    figure, deltas, jacobians, terms = _rnn_views()
    result = rnn_gradients(100, 1, 1.01, "identity", "linear", dtype="float64")
    for view in (deltas, jacobians, terms):
        view.update(result)
    figure.canvas.draw()
    x, y = deltas.delta_line.get_data()
    np.testing.assert_array_equal(x, np.arange(101))
    np.testing.assert_allclose(y, (100 - np.arange(101)) * math.log10(1.01), atol=1e-13)
    np.testing.assert_allclose(deltas.reference_line.get_data()[1], y, atol=1e-13)
    np.testing.assert_allclose(jacobians.norm_line.get_data()[1], math.log10(1.01), atol=1e-15)
    np.testing.assert_allclose(jacobians.lambda_line.get_data()[1], math.log10(1.01))
    assert jacobians.threshold_line.get_data()[1] == [0.0, 0.0]  # 1/gamma = 1 for linear
    step = result.dominant_step
    assert terms.dominant.get_offsets()[0][0] == step
    assert f"step {step} of 100" in terms.note.get_text()


def test_rnn_views_survive_overflow_and_nan() -> None:
    """float32 overflow (w = 1.5 over 250 steps) and a result with NaN everywhere: the views
    draw marks and notes, never non-finite limits."""
    figure, deltas, jacobians, terms = _rnn_views()
    result = rnn_gradients(250, 1, 1.5, "identity", "linear", dtype="float32")
    assert result.overflow_step is not None
    for view in (deltas, jacobians, terms):
        view.update(result)
    figure.canvas.draw()
    assert deltas.overflow_marks.get_offsets().shape[0] > 0
    assert f"steps ≤ {result.gradient_overflow_step}" in deltas.note.get_text()
    broken = dataclasses.replace(
        result,
        delta_norms=np.full(251, np.nan),
        jacobian_norms=np.full(250, np.inf),
        weight_grad_contributions=np.full(250, np.nan),
    )
    for view in (deltas, jacobians, terms):
        view.update(broken)
    figure.canvas.draw()
    assert all(_finite_limits(ax) for ax in figure.axes)
    assert terms.note.get_text() == "no term above 0 (all 0 or NaN)"


def test_spectrum_views_share_limits_and_note_lost_directions() -> None:
    figure = Figure(figsize=(12, 4))
    axes = figure.subplots(1, 2)
    views = [SpectrumView(ax, "C0") for ax in axes]
    gaussian, orthogonal = jacobian_spectra("deep", 40, 8, 1.0, ("gaussian", "orthogonal"))
    limits = spectrum_limits([gaussian, orthogonal], None)
    assert limits[0] <= gaussian.log10_singular_values[-1]
    assert limits[1] >= gaussian.log10_singular_values[0]
    views[0].update(gaussian, limits, "gaussian")
    views[1].update(orthogonal, limits, "orthogonal")
    figure.canvas.draw()
    # orthogonal: all 8 at 10^0 fall in the one bin centred on scale^L = 1
    counts = views[1].bars.get_data().values
    assert counts.max() == 8
    lost = dataclasses.replace(
        gaussian, log10_singular_values=np.array([0.0, -1.0, -np.inf, np.nan])
    )
    views[0].update(lost, limits, "lost")
    figure.canvas.draw()
    assert "1 direction(s) mapped to 0" in views[0].lost.get_text()
    assert "1 not finite" in views[0].lost.get_text()
    assert _finite_limits(views[0].ax)


def test_phase_view_draws_the_measured_map_and_the_critical_line() -> None:
    figure = Figure(figsize=(8, 5))
    view = PhaseView(figure.add_subplot())
    result = phase_diagram(
        "tanh", np.linspace(0.5, 2.0, 7), np.linspace(0.0, 0.5, 4), depth=20, width=32
    )
    view.update(result)
    view.mark(1.2, 0.1)
    figure.canvas.draw()
    np.testing.assert_array_equal(view.image.get_array(), result.log10_growth)
    assert view.critical is not None
    assert view.image.get_extent() == pytest.approx((0.375, 2.125, -1 / 12, 0.5 + 1 / 12))
    nan_map = dataclasses.replace(result, log10_growth=np.full((4, 7), np.nan))
    view.update(nan_map)  # a map of NaN (every run overflowed): drawn blank, no error
    figure.canvas.draw()
    assert _finite_limits(view.ax)


def test_log10_ticks_are_powers_of_ten_or_1_2_5() -> None:
    """Two decades or more: whole powers only (labels 10^k); less: 1, 2, 5 x 10^k, as a log
    axis would place them."""
    wide = Log10Locator().tick_values(-3.2, 2.4)
    assert all(float(t).is_integer() for t in wide)
    assert 3 <= len(wide) <= 7
    np.testing.assert_allclose(
        Log10Locator().tick_values(-0.1, 0.8), [0.0, math.log10(2), math.log10(5)]
    )
    narrow = Log10Locator().tick_values(0.05, 0.5)  # 1.12 .. 3.16: every integer 2, 3
    np.testing.assert_allclose(narrow, [math.log10(2), math.log10(3)])
