"""The clipping-geometry and cliff panels driven from plain Python, as the browser would drive them.

Expected values come from article 001 and its exercises (derived again here by hand), from
torch's clip_grad_norm_ rule (coefficient t / (norm + 1e-6), clamped to 1) and from the core
functions called directly with the panel's settings.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from explorer import App
from explorer.core import ClipResult, cliff_descents, cliff_surface
from explorer.panels import CliffPanel, ClipPanel
from explorer.panels import cliff as cliff_module
from explorer.panels.cliff import B_RANGE, COMPUTE_BUDGET, RESOLUTION, W_RANGE, fan_starts
from explorer.panels.clip import PRESETS as CLIP_PRESETS
from explorer.plots.cliff import LOSS_FLOOR

ARTICLE = "g = [16, 12, −8], threshold 5 (article 001)"
EXERCISE_2 = "g = [3, 4], threshold 2 (exercise 2)"
EXERCISE_4 = "∂L/∂W₁ = [100, 0], ∂L/∂W₂ = [0, 0.1], max norm 1 (exercise 4)"
AT_THRESHOLD = "a norm exactly at the threshold: [3, 4] at 5"
VALLEY = "in the smooth valley (w < 4): clipping changes nothing"
FAN = "a fan of 64 starts"


@pytest.fixture
def clip() -> ClipPanel:
    return ClipPanel()


@pytest.fixture
def cliff() -> CliffPanel:
    return CliffPanel()


# -- the clipping-geometry panel ---------------------------------------------------------------


def test_article_preset_shows_the_article_numbers(clip: ClipPanel) -> None:
    """Article 001: g = [16, 12, -8], threshold 5. ‖g‖ = sqrt(256 + 144 + 64) = sqrt(464) =
    21.54; Pascanu's rule scales by 5 / sqrt(464), so 16, 12, -8 become 3.714, 2.785, -1.857.
    (The article prints 2.786, but 12 * 5 / sqrt(464) = 2.78543: the panel shows the exact value.)
    Value clipping clamps each component into [-5, 5]: [5, 5, -5]."""
    clip.preset.value = ARTICLE
    assert clip.mode == "3-D"
    value, pascanu = clip.result.both
    assert isinstance(value, ClipResult)
    assert (value.method, pascanu.method) == ("value", "pascanu")
    norm = math.sqrt(16**2 + 12**2 + 8**2)
    assert norm == pytest.approx(21.5407, abs=1e-4)
    expected = [16 * 5 / norm, 12 * 5 / norm, -8 * 5 / norm]
    assert expected[1] == pytest.approx(2.78543, abs=1e-5)
    np.testing.assert_allclose(pascanu.grads[0], expected, rtol=1e-12)
    np.testing.assert_array_equal(value.grads[0], [5.0, 5.0, -5.0])
    assert pascanu.norm_before == pytest.approx(norm, rel=1e-12)
    assert pascanu.coefficient == pytest.approx(5 / norm, rel=1e-12)
    readout = clip.readout.value
    assert "<td style='padding:0 12px'>21.54</td>" in readout
    assert "[3.714, 2.785, -1.857]" in readout
    assert "[5, 5, -5]" in readout
    assert "Pascanu et al. 2013, Algorithm 1" in readout
    # the 3-D axes are the ones shown; the 2-D and tensor axes are hidden
    assert all(view.ax.get_visible() for view in clip.views["3-D"])
    assert not any(view.ax.get_visible() for view in [*clip.views["2-D"], *clip.views["tensors"]])


def test_exercise_2_preset_is_drawn_in_2d(clip: ClipPanel) -> None:
    """Exercise 2: [3, 4] has norm 5; norm clipping to 2 gives 2/5 of it, [1.2, 1.6] (torch's
    coefficient is 2 / (5 + 1e-6), 2e-7 relative below 2/5). Value clipping gives [2, 2]."""
    clip.preset.value = EXERCISE_2
    assert clip.mode == "2-D"
    value, norm = clip.result.both
    np.testing.assert_allclose(norm.grads[0], [3 * 2 / (5 + 1e-6), 4 * 2 / (5 + 1e-6)], rtol=1e-15)
    np.testing.assert_allclose(norm.grads[0], [1.2, 1.6], rtol=1e-6)
    np.testing.assert_array_equal(value.grads[0], [2.0, 2.0])
    assert "[1.2, 1.6]" in clip.readout.value
    assert "[2, 2]" in clip.readout.value


def test_exercise_4_preset_shows_global_against_per_tensor(clip: ClipPanel) -> None:
    """Exercise 4: tensors [100, 0] and [0, 0.1], max norm 1. The global norm is sqrt(10000.01),
    so global clipping shrinks the small tensor to 0.1 / sqrt(10000.01) ≈ 0.001; per-tensor
    clipping leaves it at 0.1 (its own norm 0.1 is below 1: torch's coefficient clamps to 1)."""
    clip.preset.value = EXERCISE_4
    assert clip.mode == "tensors"
    global_side, per_tensor = clip.result.both
    assert (global_side.method, per_tensor.method) == ("global_norm", "norm")
    total = math.sqrt(10000.01)
    assert global_side.norm_before == pytest.approx(total, rel=1e-12)
    np.testing.assert_allclose(global_side.grads[1], [0.0, 0.1 / (total + 1e-6)], rtol=1e-12)
    assert global_side.grads[1][1] == pytest.approx(0.001, rel=1e-6)
    np.testing.assert_array_equal(per_tensor.grads[1], [0.0, 0.1])
    np.testing.assert_allclose(per_tensor.grads[0], [100 / (100 + 1e-6), 0.0], rtol=1e-15)
    np.testing.assert_array_equal(per_tensor.coefficients[1], 1.0)
    assert "[1, 0]; [0, 0.001]" in clip.readout.value
    assert "[1, 0]; [0, 0.1]" in clip.readout.value
    # the bars: after clipping, tensor 2 reaches log10(0.001) = -3 on the global side
    bar = clip.views["tensors"][0].after.patches[1]
    assert bar.get_y() + bar.get_height() == pytest.approx(-3.0, abs=1e-6)
    assert all(view.ax.get_visible() for view in clip.views["tensors"])
    assert not any(view.ax.get_visible() for view in [*clip.views["2-D"], *clip.views["3-D"]])


def test_norm_exactly_at_the_threshold(clip: ClipPanel) -> None:
    """[3, 4] at threshold 5: Pascanu's rule (norm >= t) fires with multiplier exactly 1; torch
    multiplies by 5 / (5 + 1e-6) < 1 anyway (clip_grad_norm_ always multiplies)."""
    clip.preset.value = AT_THRESHOLD
    torch_side, pascanu = clip.result.both
    np.testing.assert_array_equal(pascanu.grads[0], [3.0, 4.0])
    assert pascanu.clipped
    assert torch_side.coefficient == pytest.approx(5 / (5 + 1e-6), rel=1e-7)
    assert torch_side.coefficient < 1.0


def test_every_preset_loads(clip: ClipPanel) -> None:
    for name, settings in CLIP_PRESETS.items():
        clip.preset.value = name
        assert "Clipped with torch semantics" in clip.status.value, name
        assert (clip.result.left.method, clip.result.right.method) == (
            settings["left"],
            settings["right"],
        )
        assert clip.result.left.threshold == settings["threshold"]


def test_scaled_gradient_clips_to_the_same_vector(clip: ClipPanel) -> None:
    """Exercise 2, second part: [6, 8] has the direction of [3, 4], so norm clipping to 2 gives
    the same [1.2, 1.6] (to torch's 1e-6 epsilon: 2 / (10 + 1e-6) against 2 / (5 + 1e-6))."""
    clip.set_state({"gradient": "3, 4", "threshold": 2.0, "right": "norm"})
    small = clip.result.right.grads[0]
    clip.controls["gradient"].value = "6, 8"
    large = clip.result.right.grads[0]
    np.testing.assert_allclose(small, [1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(large, [1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(large, small, rtol=1e-6)
    assert clip.result.right.cosine == pytest.approx(1.0, abs=1e-12)


def test_typed_gradient_that_is_not_numbers_is_an_error_naming_it(clip: ClipPanel) -> None:
    before = clip.result
    clip.controls["gradient"].value = "1, x"
    assert clip.result is before
    assert "color:#cf222e" in clip.status.value  # the error colour
    assert "gradient must be numbers" in clip.status.value
    assert "1, x" in clip.status.value
    clip.controls["gradient"].value = "3, 4"
    assert clip.result is not before
    np.testing.assert_array_equal(clip.result.left.original[0], [3.0, 4.0])
    assert "Clipped with torch semantics" in clip.status.value


def test_infinite_gradient_is_data(clip: ClipPanel) -> None:
    """g = [inf, 1] at threshold 5: value clipping clamps inf to 5, giving [5, 1]. Pascanu's
    multiplier is 5 / inf = 0, and inf * 0 is NaN in IEEE arithmetic: [nan, 0]."""
    clip.controls["gradient"].value = "inf, 1"
    assert "Unexpected error" not in clip.status.value
    assert "Clipped with torch semantics" in clip.status.value
    value, pascanu = clip.result.both
    np.testing.assert_array_equal(value.grads[0], [5.0, 1.0])
    assert math.isnan(pascanu.grads[0][0])
    assert pascanu.grads[0][1] == 0.0
    assert pascanu.norm_before == math.inf
    assert math.isnan(pascanu.norm_after)
    assert "[5, 1]" in clip.readout.value
    assert "[nan, 0]" in clip.readout.value
    assert "<td style='padding:0 12px'>inf</td>" in clip.readout.value
    for view in clip.views["2-D"]:  # the axes still have finite limits
        assert all(math.isfinite(v) for v in (*view.ax.get_xlim(), *view.ax.get_ylim()))


def test_combination_a_library_lacks_is_an_error_naming_semantics(clip: ClipPanel) -> None:
    """Optax has no per-tensor norm clipping (explorer.core.clip.LIBRARY_CALLS)."""
    clip.set_state({"gradient": "3, 4", "right": "norm"})
    before = clip.result
    clip.controls["semantics"].value = "optax"
    assert clip.result is before
    assert "semantics for method=&#x27;norm&#x27; must be one of" in clip.status.value
    assert "optax" in clip.status.value
    clip.controls["semantics"].value = "keras"
    assert clip.result.right.library_call == "keras optimizer clipnorm"
    assert "Clipped with keras semantics" in clip.status.value


def test_tampered_threshold_is_clamped_and_noted(clip: ClipPanel) -> None:
    """A client widening the threshold's max to 10^9 and sending 1e8 gets 1000 (BOUNDS), the max
    put back, and a note."""
    threshold = clip.controls["threshold"]
    threshold.max = 1e9
    threshold.value = 1e8
    assert clip.result.left.threshold == 1000.0
    assert clip.result.right.threshold == 1000.0
    assert threshold.max == 1000.0
    assert "threshold 1e+08 is outside 0.001–1,000; using 1,000." in clip.status.value


def test_2d_view_draws_the_clipped_tip_and_the_ball(clip: ClipPanel) -> None:
    clip.preset.value = EXERCISE_2
    value_view, norm_view = clip.views["2-D"]
    value, norm = clip.result.both
    x, y = norm_view.clipped.get_data()
    assert (x[0], y[0]) == (0.0, 0.0)
    np.testing.assert_array_equal([x[-1], y[-1]], norm.grads[0])
    assert norm_view.ball.get_visible()
    assert not norm_view.box.get_visible()
    ball_x, ball_y = norm_view.ball.get_data()
    np.testing.assert_allclose(np.hypot(ball_x, ball_y), 2.0, rtol=1e-12)
    # value clipping: the box |g_i| <= 2 is shown, the ball is not
    assert value_view.box.get_visible()
    assert not value_view.ball.get_visible()
    box_x, box_y = value_view.box.get_data()
    np.testing.assert_array_equal(np.abs(box_x), 2.0)
    np.testing.assert_array_equal(np.abs(box_y), 2.0)
    x, y = value_view.clipped.get_data()
    np.testing.assert_array_equal([x[-1], y[-1]], value.grads[0])


# -- the cliff panel ---------------------------------------------------------------------------


def _start(panel: CliffPanel) -> tuple[float, float]:
    return tuple(panel.result.clipped.trajectories[0, 0])


def test_defaults_clip_each_step_to_lr_times_threshold(cliff: CliffPanel) -> None:
    """Pascanu's Fig. 6 preset (start (6, -3), lr 0.5, 200 steps, threshold 1, T 50). torch's
    global-norm clipping scales g by min(1, t / (‖g‖ + 1e-6)), so each clipped step moves at most
    lr * t = 0.5; the unclipped run meets the wall and steps further than 1."""
    unclipped, clipped = cliff.result.unclipped, cliff.result.clipped
    assert (clipped.lr, clipped.clip_threshold, clipped.seq_len) == (0.5, 1.0, 50)
    assert clipped.trajectories.shape == (1, 201, 2)
    assert _start(cliff) == (6.0, -3.0)
    assert clipped.step_lengths.max() <= 0.5 * 1.0 + 1e-12
    assert clipped.step_lengths.max() == pytest.approx(0.5, rel=1e-5)  # the wall was clipped
    assert unclipped.step_lengths.max() > 1.0
    assert clipped.clipped.sum() > 0
    assert not unclipped.clipped.any()
    expected_u, expected_c = cliff_descents((6.0, -3.0), 0.5, 200, 1.0, "global_norm", 50)
    np.testing.assert_array_equal(unclipped.trajectories, expected_u.trajectories)
    np.testing.assert_array_equal(clipped.trajectories, expected_c.trajectories)
    readout = cliff.readout.value
    assert readout.count("ends at (w, b)") == 2
    assert "<tr><td>unclipped</td>" in readout
    assert "<tr><td>clipped</td>" in readout
    assert "largest step 0.5;" in readout
    assert f"{int(clipped.clipped.sum())} of 200 steps clipped" in readout
    assert "0 of 200 steps clipped" in readout
    assert "Ran 1 unclipped and 1 clipped descents." in cliff.status.value
    # both lines are drawn from the start
    for line in (cliff.surface_view.unclipped, cliff.surface_view.clipped):
        x, y = line.get_data()
        assert (x[0], y[0]) == (6.0, -3.0)


def test_valley_preset_clipping_changes_nothing(cliff: CliffPanel) -> None:
    """Below w = 4 the map has one fixed point and no wall: the gradient stays below the
    threshold, so the clipped run is the unclipped one step for step."""
    cliff.preset.value = VALLEY
    unclipped, clipped = cliff.result.unclipped, cliff.result.clipped
    assert _start(cliff) == (3.0, -1.2)
    assert unclipped.grad_norms.max() < 1.0
    np.testing.assert_array_equal(clipped.trajectories, unclipped.trajectories)
    assert not clipped.clipped.any()


def test_surface_image_is_log10_loss_floored(cliff: CliffPanel) -> None:
    surface = cliff_surface(W_RANGE, B_RANGE, RESOLUTION, 50)
    assert (surface.loss > 0).all()  # so log10 is defined everywhere
    expected = np.maximum(np.log10(surface.loss), LOSS_FLOOR)
    image = cliff.surface_view.image
    np.testing.assert_array_equal(np.ma.getdata(image.get_array()), expected)
    assert tuple(image.get_extent()) == (*W_RANGE, *B_RANGE)


def test_new_sequence_length_redraws_the_surface_in_full(cliff: CliffPanel) -> None:
    cliff.figure.canvas.draw()
    full = cliff.redrawer.full_draws
    before = np.ma.getdata(cliff.surface_view.image.get_array()).copy()
    cliff.controls["seq_len"].value = 20
    assert cliff.redrawer.full_draws == full + 1
    after = np.ma.getdata(cliff.surface_view.image.get_array())
    assert not np.array_equal(after, before)
    surface = cliff_surface(W_RANGE, B_RANGE, RESOLUTION, 20)
    np.testing.assert_array_equal(after, np.maximum(np.log10(surface.loss), LOSS_FLOOR))
    assert "T = 20" in cliff.surface_view.ax.get_title()
    assert cliff.result.clipped.seq_len == 20


def test_new_learning_rate_reuses_the_surface_and_blits(cliff: CliffPanel) -> None:
    cliff.figure.canvas.draw()
    image = cliff.surface_view.image.get_array()
    cache = cliff_module._surface.cache_info()
    blits, full = cliff.redrawer.blits, cliff.redrawer.full_draws
    cliff.controls["lr"].value = 0.55
    assert cliff.result.clipped.lr == pytest.approx(0.55)
    after = cliff_module._surface.cache_info()
    assert (after.hits, after.misses) == (cache.hits + 1, cache.misses)
    assert cliff.surface_view.image.get_array() is image  # the image was not set again
    assert (cliff.redrawer.blits, cliff.redrawer.full_draws) == (blits + 1, full)


def _click(panel: CliffPanel, w: float, b: float) -> None:
    """A mouse press at data point (w, b) of the surface, as ipympl delivers it."""
    x, y = panel.surface_view.ax.transData.transform((w, b))
    event = MouseEvent("button_press_event", panel.figure.canvas, x, y, button=1)
    panel.figure.canvas.callbacks.process("button_press_event", event)


def test_click_on_the_surface_starts_there(cliff: CliffPanel) -> None:
    _click(cliff, 2.0, -1.0)
    assert cliff.controls["start_w"].value == 2.0
    assert cliff.controls["start_b"].value == -1.0
    for run in ("unclipped", "clipped"):
        np.testing.assert_array_equal(getattr(cliff.result, run).trajectories[0, 0], [2.0, -1.0])
    x, y = cliff.surface_view.start.get_data()
    assert (list(x), list(y)) == ([2.0], [-1.0])
    # a click in fan mode leaves it: one start again
    cliff.controls["fan"].value = True
    _click(cliff, 5.0, 0.0)
    assert not cliff.controls["fan"].value
    assert len(cliff.result.clipped.trajectories) == 1
    assert _start(cliff) == (5.0, 0.0)


def test_click_outside_the_surface_is_ignored(cliff: CliffPanel) -> None:
    before = cliff.result
    ax = cliff.loss_view.ax
    x, y = ax.transData.transform((np.mean(ax.get_xlim()), np.mean(ax.get_ylim())))
    event = MouseEvent("button_press_event", cliff.figure.canvas, x, y, button=1)
    cliff.figure.canvas.callbacks.process("button_press_event", event)
    assert cliff.result is before


def test_fan_counts_the_runs_thrown_off(cliff: CliffPanel) -> None:
    cliff.preset.value = FAN
    result = cliff.result
    unclipped, clipped = result.unclipped, result.clipped
    assert unclipped.trajectories.shape == (64, 201, 2)
    np.testing.assert_array_equal(unclipped.trajectories[:, 0], fan_starts())
    expected_u, _ = cliff_descents(fan_starts(), 0.5, 200, 1.0, "global_norm", 50)
    np.testing.assert_array_equal(unclipped.trajectories, expected_u.trajectories)
    counts = {}
    for run, descent in (("unclipped", unclipped), ("clipped", clipped)):
        counts[run] = int(descent.thrown(W_RANGE, B_RANGE).sum())
        # again by hand: some point outside the box, or not finite (NaN compares False)
        w, b = descent.trajectories[..., 0], descent.trajectories[..., 1]
        inside = (w >= -1) & (w <= 10) & (b >= -7) & (b <= 3)
        assert counts[run] == int((~inside.all(axis=1)).sum())
    assert counts["unclipped"] > 0  # the fan shows the wall throwing runs away
    assert counts["clipped"] <= counts["unclipped"]
    readout = cliff.readout.value
    assert f"<b>{counts['unclipped']} of 64</b> unclipped runs" in readout
    assert f"<b>{counts['clipped']} of 64</b> clipped runs" in readout
    assert "Ran 64 unclipped and 64 clipped descents." in cliff.status.value
    # each thrown unclipped run gets an end mark; the bundles replace the two lines
    assert len(cliff.surface_view.ends.get_xdata()) == counts["unclipped"]
    assert len(cliff.surface_view.fan_unclipped.get_segments()) == 64
    assert not cliff.surface_view.unclipped.get_visible()


def test_fan_starts_fill_the_box() -> None:
    """8 x 8 starts strictly inside the surface's box, evenly spaced: w steps 11 / 9, b 10 / 9."""
    starts = fan_starts()
    assert starts.shape == (64, 2)
    np.testing.assert_allclose(np.unique(starts[:, 0]), -1 + 11 / 9 * np.arange(1, 9))
    np.testing.assert_allclose(np.unique(starts[:, 1]), -7 + 10 / 9 * np.arange(1, 9))


def test_fan_beyond_the_budget_keeps_the_last_result(cliff: CliffPanel) -> None:
    """64 starts x 1000 steps x T 100 = 6,400,000 > 1,600,000; the largest step count that fits
    at T = 100 is 1,600,000 // (64 x 100) = 250."""
    before = cliff.result
    cliff.set_state({"fan": True, "seq_len": 100, "steps": 1000})
    assert cliff.result is before
    status = cliff.status.value
    assert "6,400,000 is beyond this panel" in status
    assert f"compute budget of {COMPUTE_BUDGET:,}" in status
    assert "in fan mode at T = 100 use steps ≤ 250" in status
    assert "The plots still show the last setting." in status
    assert "ends at" in cliff.readout.value  # the single run's readout stays
    cliff.controls["steps"].value = 250  # exactly at the budget: computed
    assert cliff.result.clipped.trajectories.shape == (64, 251, 2)
    assert "Ran 64 unclipped" in cliff.status.value


def test_tampered_learning_rate_is_clamped_and_noted(cliff: CliffPanel) -> None:
    """The learning rate is kept within 10^-3..10^1: a client widening the max to 10^9 and
    sending 1e8 gets lr 10 and a note."""
    lr = cliff.controls["lr"]
    lr.max = 1e9
    lr.value = 1e8
    assert lr.max == 10.0
    assert cliff.result.clipped.lr == 10.0
    assert "learning rate 1e+08 is outside 0.001–10; using 10." in cliff.status.value


# -- the App -----------------------------------------------------------------------------------


def test_app_builds_the_clipping_tabs_on_demand() -> None:
    app = App()
    titles = list(app.tabs.titles)
    assert titles[titles.index("Clipping") + 1] == "The cliff"
    assert "Clipping" not in app.panels
    app.tabs.selected_index = titles.index("Clipping")
    clip = app.panels["clipping"]
    assert isinstance(clip, ClipPanel)
    assert app.tabs.children[titles.index("Clipping")].children == (clip,)
    assert clip.result.right.method == "pascanu"
    cliff = app.panel("cliff")
    assert isinstance(cliff, CliffPanel)
    assert "Ran 1 unclipped" in cliff.status.value
    app.tabs.selected_index = titles.index("The cliff")
    assert app.panels["cliff"] is cliff  # built once


def test_fan_mode_disables_the_start_controls_and_says_why(cliff: CliffPanel) -> None:
    """The fan starts from a fixed 8 x 8 grid: while it is on, the start controls are disabled
    with a hint; off again, they are live."""
    cliff.preset.value = FAN
    assert cliff.controls["fan"].value
    assert cliff.controls["start_w"].disabled
    assert cliff.controls["start_b"].disabled
    assert "off in fan mode" in cliff.controls["start_w"].tooltip
    assert "8×8 grid" in cliff.fan_hint.value
    cliff.controls["fan"].value = False
    assert not cliff.controls["start_w"].disabled
    assert not cliff.controls["start_b"].disabled
    assert cliff.fan_hint.value == ""
