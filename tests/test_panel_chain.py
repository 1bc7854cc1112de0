"""The deep-network panel driven from plain Python, as the browser would drive it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import traitlets

from explorer.core import MAX_SEED, chain_gradients
from explorer.panels import ChainPanel
from explorer.panels.chain import COMPUTE_BUDGET, PRESETS


@pytest.fixture
def panel() -> ChainPanel:
    return ChainPanel()


def test_setting_a_control_updates_the_result_before_returning(panel: ChainPanel) -> None:
    """Observers run synchronously: the result, the artists and the readout follow the control."""
    assert panel.result.depth == 20
    panel.controls["depth"].value = 37
    assert panel.result.depth == 37
    expected = chain_gradients(37, width=32, weight_scale=1.5, init="gaussian", activation="tanh")
    np.testing.assert_array_equal(panel.result.delta_norms, expected.delta_norms)
    x, y = panel.delta_view.delta_line.get_data()
    assert len(x) == 37
    np.testing.assert_allclose(y, np.log10(expected.delta_norms))
    assert "‖∂L/∂a₁‖" in panel.readout.value
    assert "Computed 37 layers" in panel.status.value


def test_article_preset_writes_out_2_to_the_19(panel: ChainPanel) -> None:
    """The 20-layer preset of article 001 shows 524,288 at layer 1, once, in one refresh."""
    panel.preset.value = "Article: w = 2, 20 layers (2^19)"
    assert panel.result.gradient_at_layer_1 == 2.0**19
    assert "524,288" in panel.readout.value
    for name, value in PRESETS["Article: w = 2, 20 layers (2^19)"].items():
        assert panel.controls[name].value == value


def test_every_control_reaches_the_core(panel: ChainPanel) -> None:
    panel.set_state(
        {
            "depth": 12,
            "width": 9,
            "weight_scale": 0.7,
            "bias_scale": 0.5,
            "init": "orthogonal",
            "activation": "relu",
            "dtype": "float64",
            "seed": 4,
        }
    )
    result = panel.result
    assert (
        result.depth,
        result.width,
        result.init,
        result.activation,
        result.dtype,
        result.seed,
    ) == (12, 9, "orthogonal", "relu", "float64", 4)
    assert result.weight_scale == pytest.approx(0.7)
    assert result.bias_scale == pytest.approx(0.5)


def test_out_of_bounds_value_from_a_client_is_clamped(panel: ChainPanel) -> None:
    """A client can raise a slider's max and then send a larger value (a prototype
    computed depth 3000 that way). The panel restores the bounds and computes depth 1000."""
    depth = panel.controls["depth"]
    depth.max = 5000
    depth.value = 3000
    assert depth.max == 1000
    assert depth.value == 1000
    assert panel.result.depth == 1000
    assert "depth L 3,000 is outside 1–1,000; using 1,000." in panel.status.value


def test_tampered_log_slider_and_seed_are_clamped(panel: ChainPanel) -> None:
    scale = panel.controls["weight_scale"]
    scale.max = 1e9  # a client may set any trait, bounds included
    scale.value = 1e9
    assert panel.result.weight_scale == 100.0
    assert scale.max == 100.0
    assert "weight scale 1e+09 is outside 0.01–100; using 100." in panel.status.value
    seed = panel.controls["seed"]
    seed.max = 2**40
    seed.value = 2**40
    assert panel.result.seed == MAX_SEED  # the core's seed range, the control's too


def test_request_beyond_the_budget_gets_a_message_not_a_computation(panel: ChainPanel) -> None:
    before = panel.result
    panel.set_state({"depth": 1000, "width": 64})
    assert panel.result is before
    assert f"{1000 * 64**2:,}" in panel.status.value
    assert "depth ≤ 268" in panel.status.value  # 1,100,000 // 64^2
    assert COMPUTE_BUDGET < 1000 * 64**2
    panel.controls["width"].value = 32  # 1000 x 32^2 fits
    assert panel.result.depth == 1000


def test_invalid_choice_is_refused_and_panel_keeps_working(panel: ChainPanel) -> None:
    """A dropdown index outside the options is refused by the widget; nothing changes."""
    before = panel.result
    with pytest.raises(traitlets.TraitError):
        panel.controls["init"].index = 99
    assert panel.result is before
    panel.controls["depth"].value = 8
    assert panel.result.depth == 8


def test_overflow_is_reported_in_the_readout(panel: ChainPanel) -> None:
    panel.preset.value = "float32 overflow: 250 layers, scale 1.5"
    result = panel.result
    assert result.overflow_layer is not None
    assert f"layer {result.overflow_layer}" in panel.readout.value
    assert "not finite" in panel.readout.value
    assert all(math.isfinite(v) for v in panel.delta_view.ax.get_ylim())


def test_unchanged_limits_redraw_by_blitting(panel: ChainPanel) -> None:
    """After a full draw, a change that keeps the axis limits (another seed) only blits."""
    panel.figure.canvas.draw()  # what the browser asks for after draw_idle
    blits = panel.redrawer.blits
    panel.controls["seed"].value = 1
    assert panel.redrawer.blits == blits + 1
    full = panel.redrawer.full_draws
    panel.controls["depth"].value = 700  # new x limits
    assert panel.redrawer.full_draws == full + 1
