"""The recurrent-network panel driven from plain Python, as the browser would drive it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explorer.core import rnn_gradients
from explorer.core.rnn import rnn_network
from explorer.panels import RNNPanel
from explorer.panels.rnn import COMPUTE_BUDGET, PRESETS, state_size


@pytest.fixture
def panel() -> RNNPanel:
    return RNNPanel()


def test_setting_a_control_recomputes_and_redraws(panel: RNNPanel) -> None:
    panel.controls["seq_len"].value = 57
    expected = rnn_gradients(57, hidden_size=32, weight_scale=1.0, init="gaussian")
    np.testing.assert_array_equal(panel.result.delta_norms, expected.delta_norms)
    x, y = panel.delta_view.delta_line.get_data()
    assert list(x) == list(range(58))
    np.testing.assert_allclose(y, np.log10(expected.delta_norms))
    _, norms = panel.jacobian_view.norm_line.get_data()
    np.testing.assert_allclose(norms, np.log10(expected.jacobian_norms))
    assert "Computed 57 steps" in panel.status.value


@pytest.mark.parametrize(
    ("preset", "weight"),
    [
        ("Article: w = 1.01, 100 steps (×2.70)", 1.01),
        ("Article: w = 0.99, 100 steps (×0.366)", 0.99),
    ],
)
def test_article_presets_say_the_ratio_in_words(
    panel: RNNPanel, preset: str, weight: float
) -> None:
    """Article 001, exercise 3: w^100 for w = 1.01 (2.70) and 0.99 (0.366), in float32."""
    panel.preset.value = preset
    ratio = panel.result.growth_ratio
    assert ratio == pytest.approx(weight**100, rel=1e-5)
    assert f"<b>{ratio:.4g}</b> times the one at step 100" in panel.readout.value
    # a factor of 2.7 (or 0.37) is growth (or shrinking), not yet an explosion (or vanishing)
    trend = "it grows toward step 0" if weight > 1 else "it shrinks toward step 0"
    assert f"times the one at step 100 ({trend})</td>" in panel.readout.value


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_preset_shows_what_its_name_claims(panel: RNNPanel, seed: int) -> None:
    """The claims in the presets' names hold for the computed gradients, whatever the seed (the
    presets keep the seed the user chose)."""
    panel.controls["seed"].value = seed
    claims = {
        "vanish": lambda r: r.growth_ratio < 1e-2,
        "exploding": lambda r: r.growth_ratio > 1e2,
        "survives": lambda r: r.growth_ratio > 1e-1,
        "overflow": lambda r: r.overflow_step is not None,
    }
    for name in PRESETS:
        panel.preset.value = name
        result = panel.result
        for word, holds in claims.items():
            if word in name:
                assert holds(result), name
        if "λ₁ > 1" in name:
            assert result.exploding_possible
        if "λ₁ = 3 < 1/γ = 4" in name:
            assert result.vanishing_guaranteed
            assert result.largest_singular_value == pytest.approx(3.0, rel=1e-6)


def test_gated_cells_grey_out_the_activation_and_use_the_gate_bias(panel: RNNPanel) -> None:
    assert panel.controls["gate_bias"].disabled
    panel.set_state({"cell": "lstm", "gate_bias": 3.0, "seq_len": 40, "hidden_size": 8})
    assert panel.controls["activation"].disabled
    assert not panel.controls["gate_bias"].disabled
    expected = rnn_gradients(40, 8, cell="lstm", gate_bias=3.0)
    np.testing.assert_array_equal(panel.result.delta_norms, expected.delta_norms)
    assert panel.result.cell_delta_norms is not None
    assert panel.delta_view.cell_line.get_visible()
    assert "no single" not in panel.readout.value  # Pascanu's row is for the plain cell only
    assert "Pascanu" not in panel.readout.value


def test_request_beyond_the_budget_gets_a_message(panel: RNNPanel) -> None:
    before = panel.result
    panel.set_state({"hidden_size": 128, "seq_len": 1000})
    assert panel.result is before
    assert f"use T ≤ {COMPUTE_BUDGET // 128**3}" in panel.status.value
    panel.controls["seq_len"].value = COMPUTE_BUDGET // 128**3
    assert panel.result.hidden_size == 128
    assert state_size("lstm", 10) == 20


def test_tampered_bounds_are_restored_and_values_clamped(panel: RNNPanel) -> None:
    gate = panel.controls["gate_bias"]
    gate.max = 1000.0
    gate.value = 500.0
    assert gate.max == 6.0
    assert panel.result.gate_bias == 6.0
    steps = panel.controls["seq_len"]
    steps.max = 10**6
    steps.value = 10**6
    assert panel.result.seq_len == 1000
    assert "outside 1–1,000" in panel.status.value


def test_float32_overflow_is_written_out(panel: RNNPanel) -> None:
    panel.preset.value = "float32 overflow: w = 1.5, 250 steps"
    result = panel.result
    assert result.overflow_step is not None
    # Expected steps from numpy float32 arithmetic, independently of the core: the forward pass
    # h_t = 1.5 h_(t-1) + u_t with the same inputs; the gradient 1.5^(T-k) counted back from 1.
    network = rnn_network(250, 1, 1.5, "identity", "rnn", "float32", 1.0, 0)
    drive = (network.inputs.numpy() @ network.weight_ih.numpy().T)[:, 0]
    h, forward = np.float32(0.0), None
    with np.errstate(over="ignore"):
        for t, u in enumerate(drive, start=1):
            h = np.float32(1.5) * h + np.float32(u)
            if forward is None and not np.isfinite(h):
                forward = t
        g, backward = np.float32(1.0), None
        for k in range(249, -1, -1):
            g = g * np.float32(1.5)
            if backward is None and not np.isfinite(g):
                backward = k
    assert (result.overflow_pass, result.overflow_step) == ("forward", forward)
    assert result.gradient_overflow_step == backward
    assert f"forward pass at step {forward}; gradient at step {backward} and before" in (
        panel.readout.value
    )
    assert f"not finite in float32: it is inf/NaN from step {backward} back" in (
        panel.readout.value
    )
    for ax in panel.figure.axes:
        assert all(math.isfinite(v) for v in (*ax.get_xlim(), *ax.get_ylim()))
    assert "gradient inf/NaN at steps ≤ 31" in panel.delta_view.note.get_text()


def test_float32_underflow_is_noted(panel: RNNPanel) -> None:
    """An LSTM without forget-gate bias halves the gradient each step: after 300 steps float32
    holds exactly 0 (below its smallest subnormal, 1.4e-45)."""
    panel.preset.value = "LSTM, forget-gate bias 0: vanishing"
    assert panel.result.delta_norms[0] == 0.0
    assert "underflow" in panel.delta_view.note.get_text()


def test_legend_lists_only_the_lines_shown(panel: RNNPanel) -> None:
    labels = [t.get_text() for t in panel.delta_view.ax.get_legend().get_texts()]
    assert labels == ["‖∂L/∂hₖ‖"]  # gaussian tanh: no reference line, no cell state
    panel.preset.value = "Article: w = 1.01, 100 steps (×2.70)"
    labels = [t.get_text() for t in panel.delta_view.ax.get_legend().get_texts()]
    assert labels == ["‖∂L/∂hₖ‖", "|w|^(T−k)"]
