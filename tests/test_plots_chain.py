"""The deep-network views drawn with Agg, finite and overflowing results alike."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from explorer.core import chain_gradients
from explorer.plots import DeltaView, JacobianView
from explorer.plots.style import finite_limits, nice_ceiling, sticky_limits


def _views() -> tuple[Figure, DeltaView, JacobianView]:
    figure = Figure(figsize=(10, 4))
    delta_ax, jacobian_ax = figure.subplots(1, 2)
    return figure, DeltaView(delta_ax), JacobianView(jacobian_ax)


def _assert_finite_limits(*views: DeltaView | JacobianView) -> None:
    for view in views:
        assert all(math.isfinite(v) for v in (*view.ax.get_xlim(), *view.ax.get_ylim()))


def test_views_plot_log10_of_the_result() -> None:
    """The delta line holds log10 ||delta_l|| over l = 1..L (the scalar chain: 4, 3, 2, 1, 0
    times log10 2), the activation line starts at a_0, the Jacobian line holds log10 2."""
    figure, deltas, jacobians = _views()
    result = chain_gradients(5, width=1, weight_scale=2.0, init="identity", activation="linear")
    deltas.update(result)
    jacobians.update(result)
    figure.canvas.draw()
    x, y = deltas.delta_line.get_data()
    np.testing.assert_array_equal(x, [1, 2, 3, 4, 5])
    np.testing.assert_allclose(y, np.log10([16, 8, 4, 2, 1]))
    x, y = deltas.activation_line.get_data()
    np.testing.assert_array_equal(x, np.arange(6))
    assert deltas.reference_line.get_visible()
    np.testing.assert_allclose(jacobians.norm_line.get_data()[1], math.log10(2.0))
    assert "32 = 10^1.51" in jacobians.summary.get_text()  # da_5/da_0 = 2^5 = 10^1.505
    assert deltas.overflow_marks.get_offsets().shape == (0, 2)
    assert deltas.note.get_text() == ""
    ylow, yhigh = deltas.ax.get_ylim()
    assert ylow <= 0
    assert yhigh >= math.log10(32)


def test_overflow_is_drawn_not_passed_to_the_axes() -> None:
    """float32 overflow (gaussian scale 1.5, 300 layers): inf values become NaN gaps in the line
    and marks at the top of the axes; the limits stay finite; the note names the layer."""
    figure, deltas, jacobians = _views()
    result = chain_gradients(300, width=16, weight_scale=1.5, activation="linear")
    assert result.overflow_layer is not None
    deltas.update(result)
    jacobians.update(result)
    figure.canvas.draw()
    _assert_finite_limits(deltas, jacobians)
    bad = (~np.isfinite(result.delta_norms)).sum() + (~np.isfinite(result.activation_norms)).sum()
    marks = deltas.overflow_marks.get_offsets()
    assert len(marks) == len(
        set(np.flatnonzero(~np.isfinite(result.delta_norms)) + 1)
        | set(np.flatnonzero(~np.isfinite(result.activation_norms)))
    )
    assert 0 < len(marks) <= bad
    assert np.all(marks[:, 1] == deltas.ax.get_ylim()[1])
    assert f"layer {result.overflow_layer}" in deltas.note.get_text()
    assert np.isnan(deltas.delta_line.get_data()[1][0])


def test_all_nan_result_still_draws() -> None:
    """A result that is NaN everywhere (as from a NaN forward pass) draws with finite limits."""
    figure, deltas, jacobians = _views()
    result = chain_gradients(10)
    nan = dataclasses.replace(
        result,
        delta_norms=np.full(10, np.nan),
        activation_norms=np.full(11, np.inf),
        jacobian_norms=np.full(10, np.nan),
        e2e_log10_singular_values=np.full(32, np.nan),
        overflow_layer=1,
        overflow_pass="forward",
    )
    deltas.update(nan)
    jacobians.update(nan)
    figure.canvas.draw()
    _assert_finite_limits(deltas, jacobians)
    assert len(jacobians.overflow_marks.get_offsets()) == 10
    assert "nan" in jacobians.summary.get_text()


def test_finite_limits_ignore_inf_and_nan() -> None:
    assert finite_limits(np.array([np.inf, np.nan])) == (-0.5, 0.5)
    low, high = finite_limits(np.array([0.0, np.inf, 10.0]), pad=0.0)
    assert (low, high) == (0.0, 10.0)


@pytest.mark.parametrize(
    ("value", "expected"), [(1, 1), (21, 30), (31, 50), (76, 100), (101, 150), (1000, 1000)]
)
def test_nice_ceiling(value: float, expected: float) -> None:
    assert nice_ceiling(value) == expected


def test_sticky_limits_keep_current_while_they_fit() -> None:
    """Limits change only when the data leaves them or fills less than 40 % of them."""
    first = sticky_limits((0.0, 10.0), None)
    assert first[0] <= -2.5
    assert first[1] >= 12.5
    assert sticky_limits((0.0, 11.0), first) == first
    assert sticky_limits((0.0, 40.0), first) != first
    assert sticky_limits((0.0, 1.0), first) != first
