"""The deep-network views drawn with Agg, finite and overflowing results alike."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from explorer.core import chain_gradients
from explorer.plots import DeltaView, JacobianView
from explorer.plots.style import band_bottom, finite_limits, nice_ceiling, sticky_limits
from tests.geometry import covers, curve_points

# views built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = pytest.mark.usefixtures("close_new_widgets")


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
    and marks along the top of the data; the limits stay finite; the note names the layer."""
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
    # along the top of the data, under the legend's band: above every finite value, in the axes
    top = band_bottom(deltas.ax.get_ylim(), deltas.ax, deltas.BAND)
    assert np.all(marks[:, 1] == top)
    assert np.nanmax(np.log10(np.abs(result.delta_norms[np.isfinite(result.delta_norms)]))) < top
    assert top < deltas.ax.get_ylim()[1]
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


# -- layout at the panel's native size: nothing covers a tick label or the data ----------------


def _box(artist: Any, renderer: Any) -> Bbox:
    """An artist's extent on the canvas; a text's includes its box."""
    boxes = [artist.get_window_extent(renderer)]
    patch = getattr(artist, "get_bbox_patch", lambda: None)()
    if patch is not None:
        boxes.append(patch.get_window_extent(renderer))
    return Bbox.union(boxes)


def _tick_label_boxes(figure: Figure, renderer: Any) -> list[Bbox]:
    """The extents of the tick labels the figure's axes draw (within their limits)."""
    boxes = []
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            locs = axis.get_majorticklocs()
            for loc, tick in zip(locs, axis.get_major_ticks(len(locs)), strict=True):
                label = tick.label1
                if label.get_visible() and label.get_text() and low <= loc <= high:
                    boxes.append(label.get_window_extent(renderer))
    return boxes


def test_chain_text_boxes_cover_no_tick_label_and_no_curve() -> None:
    """Each of the panel's presets in turn (the limits stay sticky between them): the Jacobian
    view's summary box and both legends lie inside their axes, over no tick label and no point
    of a curve; the overflow note stays inside its axes."""
    from explorer.panels import ChainPanel

    panel = ChainPanel()
    deltas, jacobians = panel.delta_view, panel.jacobian_view
    for name, values in panel.presets.items():
        panel.set_state(values)
        panel.figure.canvas.draw()
        renderer = panel.figure.canvas.get_renderer()
        labels = _tick_label_boxes(panel.figure, renderer)
        summary = _box(jacobians.summary, renderer)
        boxes = {
            "summary": (summary, jacobians.ax, [jacobians.norm_line, jacobians.unit_line]),
            "jacobian legend": (
                jacobians.ax.get_legend().get_window_extent(renderer),
                jacobians.ax,
                [jacobians.norm_line, jacobians.unit_line],
            ),
            "delta legend": (
                deltas.ax.get_legend().get_window_extent(renderer),
                deltas.ax,
                [
                    deltas.delta_line,
                    deltas.activation_line,
                    deltas.bound_line,
                    deltas.reference_line,
                ],
            ),
        }
        for what, (box, ax, lines) in boxes.items():
            where = f"{what} in {name!r}"
            assert not any(box.overlaps(label) for label in labels), where
            assert ax.get_window_extent(renderer).contains(*box.min), where
            assert ax.get_window_extent(renderer).contains(*box.max), where
            for line in lines:
                if line.get_visible():
                    assert not covers(box, curve_points(line)), f"{where} covers {line}"
            marks = deltas.overflow_marks.get_offsets()
            if ax is deltas.ax and len(marks):
                assert not covers(box, ax.transData.transform(marks)), where
        assert not summary.overlaps(boxes["jacobian legend"][0]), name
        note = deltas.note.get_window_extent(renderer)
        assert note.x1 <= deltas.ax.get_window_extent(renderer).x1, name
