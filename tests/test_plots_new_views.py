"""The recurrent, spectrum and phase views drawn with Agg: finite, overflowing and lost values."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

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
from tests.geometry import covers, curve_points

# views built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = pytest.mark.usefixtures("close_new_widgets")


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


# -- layout at the panels' native sizes: nothing cropped, nothing over tick labels or data -------


def _box(artist: Any, renderer: Any) -> Bbox:
    return artist.get_window_extent(renderer)


def _tick_labels(ax: Any, renderer: Any) -> list[Bbox]:
    """The extents of the visible tick labels of ``ax`` (x, y and, in 3-D, z)."""
    axes = [ax.xaxis, ax.yaxis, *([ax.zaxis] if hasattr(ax, "zaxis") else [])]
    return [box for axis in axes for box in _drawn_tick_labels(axis, renderer)]


def _drawn_tick_labels(axis: Any, renderer: Any) -> list[Bbox]:
    """The extents of the tick labels ``axis`` draws: shown, not empty, within its limits."""
    low, high = sorted(axis.get_view_interval())
    locs = axis.get_majorticklocs()
    margin = 1e-9 * max(abs(low), abs(high), 1.0)
    return [
        tick.label1.get_window_extent(renderer)
        for loc, tick in zip(locs, axis.get_major_ticks(len(locs)), strict=True)
        if tick.label1.get_visible() and tick.label1.get_text()
        if low - margin <= loc <= high + margin
    ]


def _inside_figure(box: Bbox, figure: Figure) -> bool:
    return bool(
        box.x0 >= 0 and box.y0 >= 0 and box.x1 <= figure.bbox.x1 and box.y1 <= figure.bbox.y1
    )


def test_clip_legends_lie_below_the_axes_clear_of_tick_labels() -> None:
    """2-D, 3-D and several tensors: each shown axes' legend is one row under it, inside the
    figure, over none of the figure's tick labels (a 3-D axes' too) and outside the 2-D data."""
    from explorer.panels import ClipPanel

    panel = ClipPanel()
    for gradient, mode in (("3, 4", "2-D"), ("16, 12, -8", "3-D"), ("100, 0; 0, 0.1", "tensors")):
        for left, right in (("value", "pascanu"), ("global_norm", "norm")):
            panel.set_state({"gradient": gradient, "left": left, "right": right})
            assert panel.mode == mode
            panel.figure.canvas.draw()
            renderer = panel.figure.canvas.get_renderer()
            shown = [ax for ax in panel.figure.axes if ax.get_visible()]
            labels = [box for ax in shown for box in _tick_labels(ax, renderer)]
            assert labels
            for ax in shown:
                legend = _box(ax.get_legend(), renderer)
                where = f"{mode} {left}/{right}"
                assert _inside_figure(legend, panel.figure), where
                assert not any(legend.overlaps(label) for label in labels), where
                assert legend.y1 <= ax.get_window_extent(renderer).y0 + 1, where
                assert not legend.overlaps(_box(ax.title, renderer)), where


def test_cliff_legends_lie_outside_the_curves_and_the_surface() -> None:
    """One start and the fan: the step curves' legend is in the title row above the loss axes
    (the gradient-norm axes names its threshold at the line's end, outside), the surface's is
    under its x label; none covers data, a tick label or a title, all inside the figure."""
    from explorer.panels import CliffPanel

    panel = CliffPanel()
    for fan in (False, True):
        panel.set_state({"fan": fan})
        panel.figure.canvas.draw()
        renderer = panel.figure.canvas.get_renderer()
        labels = [box for ax in panel.figure.axes for box in _tick_labels(ax, renderer)]
        loss, norm, surface = panel.loss_view, panel.norm_view, panel.surface_view
        assert norm.ax.get_legend() is None
        for ax in (loss.ax, surface.ax):
            legend = _box(ax.get_legend(), renderer)
            assert _inside_figure(legend, panel.figure)
            assert not legend.overlaps(ax.get_window_extent(renderer))  # off the data
            assert not any(legend.overlaps(label) for label in labels)
            for title in (ax.title, ax._left_title):
                if title.get_text():
                    assert not legend.overlaps(_box(title, renderer))
        assert not _box(surface.ax.get_legend(), renderer).overlaps(
            _box(surface.ax.xaxis.label, renderer)
        )
        label = _box(norm.threshold_label, renderer)
        assert norm.threshold_label.get_visible()
        assert _inside_figure(label, panel.figure)
        assert label.x0 >= norm.ax.get_window_extent(renderer).x1


def test_rnn_overflow_note_stays_in_its_axes_and_legends_cover_no_curve() -> None:
    """The float32-overflow preset: the note wraps inside the first axes (it used to run into
    the next plot); each view's legend sits in a band the y limits keep free of its curves."""
    from explorer.panels import RNNPanel

    panel = RNNPanel()
    for name in ("float32 overflow: w = 1.5, 250 steps", "LSTM, forget-gate bias 0: vanishing"):
        panel.set_state(panel.presets[name])
        panel.figure.canvas.draw()
        renderer = panel.figure.canvas.get_renderer()
        deltas = panel.delta_view
        note = _box(deltas.note, renderer)
        axes = deltas.ax.get_window_extent(renderer)
        assert deltas.note.get_text()
        assert axes.x0 <= note.x0, name
        assert note.x1 <= axes.x1, name
        assert axes.y0 <= note.y0, name
        labels = [box for ax in panel.figure.axes for box in _tick_labels(ax, renderer)]
        for view in (deltas, panel.jacobian_view, panel.contribution_view):
            legend = _box(view.ax.get_legend(), renderer)
            assert not any(legend.overlaps(label) for label in labels), name
            inside = view.ax.get_window_extent(renderer)
            assert inside.x0 <= legend.x0, name
            assert legend.x1 <= inside.x1, name
            for line in view.ax.get_lines():
                if line.get_visible() and len(line.get_xydata()):
                    assert not covers(legend, curve_points(line)), f"{name}: {line}"


def test_spectrum_counts_have_whole_ticks_and_nothing_is_cropped() -> None:
    """The 'how many' axis ticks whole counts from 0; each title and legend share a row without
    touching; every tick label lies inside the figure (10^150 at the right edge too)."""
    from explorer.panels import SpectrumPanel

    panel = SpectrumPanel()
    for values in [{}, *panel.presets.values()]:
        panel.set_state(values)
        panel.figure.canvas.draw()
        renderer = panel.figure.canvas.get_renderer()
        for view in panel.views:
            low, high = view.ax.get_ylim()
            ticks = [t for t in view.ax.get_yticks() if low <= t <= high]
            assert ticks
            assert all(float(t).is_integer() and t >= 0 for t in ticks), ticks
            legend = _box(view.ax.get_legend(), renderer)
            assert not legend.overlaps(_box(view.ax._left_title, renderer))
            assert _inside_figure(legend, panel.figure)
            assert all(_inside_figure(box, panel.figure) for box in _tick_labels(view.ax, renderer))
            note, lost = _box(view.note, renderer), _box(view.lost, renderer)
            bars = view.bars.get_window_extent(renderer)
            assert note.y0 > bars.y1 or not view.note.get_text()
            assert not (view.lost.get_text() and lost.overlaps(note))


def test_training_views_show_a_placeholder_then_fitting_names() -> None:
    """Before a run both figures show 'press Start' and no tick label at all (an empty axes'
    0..1 would mean nothing); after one every tensor's name fits left of the bars inside the
    figure and the legend shares the loss title's row."""
    from explorer.panels import TrainingPanel
    from explorer.plots.train import fit_name

    panel = TrainingPanel()
    for figure in (panel.figure, panel.layer_figure):
        figure.canvas.draw()
        renderer = figure.canvas.get_renderer()
        assert all(not _tick_labels(ax, renderer) for ax in figure.axes)
    for view in (panel.loss_view, panel.norm_view, panel.layer_view):
        assert view.placeholder.get_visible()
        assert "press Start" in view.placeholder.get_text()
    for scenario in ("regression", "adding"):
        panel.controls["scenario"].value = scenario
        panel.set_state({"steps": 12, **({"seq_len": 10} if scenario == "adding" else {})})
        panel.start()
        for figure in (panel.figure, panel.layer_figure):
            figure.canvas.draw()
        renderer = panel.layer_figure.canvas.get_renderer()
        names = _tick_labels(panel.layer_view.ax, renderer)
        assert len(names) > len(panel.layer_view.names)  # the names and the x ticks
        assert all(_inside_figure(box, panel.layer_figure) for box in names), scenario
        assert not any(v.placeholder.get_visible() for v in (panel.loss_view, panel.layer_view))
        renderer = panel.figure.canvas.get_renderer()
        legend = _box(panel.loss_view.ax.get_legend(), renderer)
        assert not legend.overlaps(_box(panel.loss_view.ax._left_title, renderer))
        assert not legend.overlaps(panel.loss_view.ax.get_window_extent(renderer))
        assert _inside_figure(legend, panel.figure)
    long = "encoder.layers.11.self_attention.in_proj_weight"
    short = fit_name(long, panel.layer_view.ax)
    assert "…" in short
    assert short.startswith(long[:4])  # both ends kept
    assert short.endswith(long[-4:])
    assert len(short) < len(long)
    assert fit_name("fc1.bias", panel.layer_view.ax) == "fc1.bias"


def test_phase_legend_sits_above_the_heatmap_beside_the_title() -> None:
    """The legend hides no cell of the measured map: it lies above the axes, clear of the
    title, inside the figure."""
    from explorer.panels import PhasePanel

    panel = PhasePanel()
    figure, ax = panel.figure, panel.view.ax
    renderer = figure.canvas.get_renderer()
    figure.canvas.draw()
    legend = ax.get_legend().get_window_extent(renderer)
    title = ax.title.get_window_extent(renderer)
    assert legend.y0 >= ax.get_window_extent(renderer).y1 - 0.5
    assert not legend.overlaps(title)
    assert legend.x1 <= figure.bbox.x1
