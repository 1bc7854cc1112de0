"""The spectra and phase-diagram panels, and the App that links them, driven from Python."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.backend_bases import MouseEvent

from explorer import App
from explorer.core import jacobian_spectrum, mean_field_chi
from explorer.panels import ChainPanel, PhasePanel, RNNPanel, SpectrumPanel
from explorer.panels.phase import COMPUTE_BUDGET as PHASE_BUDGET
from explorer.panels.spectrum import COMPUTE_BUDGET as SPECTRUM_BUDGET
from explorer.panels.spectrum import compute_cost

# panels built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = pytest.mark.usefixtures("close_new_widgets")


# one panel per test: each test expects the defaults (a module-wide panel would carry one
# test's settings, e.g. a bias std of 1, into the next one in random order)
@pytest.fixture
def spectra() -> SpectrumPanel:
    return SpectrumPanel()


@pytest.fixture
def phase() -> PhasePanel:
    return PhasePanel()


def test_orthogonal_linear_spectrum_sits_at_scale_to_the_L(spectra: SpectrumPanel) -> None:
    """Saxe et al. 2013: every singular value of an orthogonal linear product is scale^L."""
    spectra.set_state(
        {"network": "deep", "length": 60, "width": 16, "weight_scale": 1.1, "activation": "linear"}
    )
    gaussian, orthogonal = spectra.result.both
    np.testing.assert_allclose(orthogonal.log10_singular_values, 60 * np.log10(1.1), atol=1e-12)
    assert gaussian.log10_spread > 20  # gaussian factors spread them (Lyapunov spectrum)
    reference = jacobian_spectrum("deep", 60, 16, 1.1, "gaussian", "linear")
    np.testing.assert_allclose(gaussian.log10_singular_values, reference.log10_singular_values)
    # each histogram holds every singular value, on shared x limits
    for view in spectra.views:
        assert view.bars.get_data().values.sum() == 16
    assert spectra.views[0].ax.get_xlim() == spectra.views[1].ax.get_xlim()
    assert "0 decades" in spectra.readout.value


def test_recurrent_spectrum_and_budget(spectra: SpectrumPanel) -> None:
    spectra.set_state({"network": "recurrent", "length": 30, "width": 8, "activation": "tanh"})
    assert spectra.result.gaussian.network == "recurrent"
    before = spectra.result
    spectra.set_state({"length": 1000, "width": 64})
    assert spectra.result is before
    assert f"length ≤ {SPECTRUM_BUDGET // 64**2}" in spectra.status.value
    assert compute_cost(1000, 64) > SPECTRUM_BUDGET
    assert compute_cost(100, 8) == compute_cost(100, 32)  # per-step overhead below width 32


def test_phase_panel_measures_and_marks_the_choice(phase: PhasePanel) -> None:
    result = phase.result
    assert result.log10_growth.shape == (result.bias_stds.size, result.weight_stds.size)
    assert phase.view.critical is not None  # tanh: chi_1 = 1 crosses the grid
    phase.weight_std.value = 2.0
    assert list(phase.view.choice.get_xdata()) == [2.0]
    chi, _ = mean_field_chi(2.0, 0.0, "tanh")
    assert f"χ₁ = <b>{chi:.4g}</b>" in phase.readout.value
    assert "exploding (chaotic)" in phase.readout.value
    phase.weight_std.value = 1.0  # tanh without bias: chi_1 = 1 exactly (Poole et al. 2016)
    assert "critical: the edge of chaos" in phase.readout.value


def test_new_diagram_is_drawn_in_full(phase: PhasePanel) -> None:
    """The heatmap and the chi_1 = 1 line are not blitted artists: a new diagram must redraw
    the whole figure, even when the axis limits stay the same."""
    phase.figure.canvas.draw()
    full = phase.redrawer.full_draws
    phase.controls["depth"].value = 40
    assert phase.redrawer.full_draws == full + 1
    np.testing.assert_array_equal(phase.view.image.get_array(), phase.result.log10_growth)
    phase.figure.canvas.draw()
    blits = phase.redrawer.blits
    phase.weight_std.value = 1.7  # only the marker moves: a blit
    assert phase.redrawer.blits == blits + 1
    phase.controls["depth"].value = 50


def test_phase_panel_budget_and_tampered_choice(phase: PhasePanel) -> None:
    before = phase.result
    phase.set_state({"depth": 200, "width": 256})
    assert phase.result is before
    assert f"depth ≤ {PHASE_BUDGET // 256**2}" in phase.status.value
    # the choice refers to the diagram shown, not to the refused request
    assert (phase.chosen()["depth"], phase.chosen()["width"]) == (before.depth, before.width)
    phase.set_state({"depth": 50, "width": 128})
    phase.bias_std.max = 50.0
    phase.bias_std.value = 40.0
    assert phase.bias_std.max == 1.0
    assert phase.bias_std.value == 1.0
    assert "outside" in phase.status.value


def _click(panel: PhasePanel, weight_std: float, bias_std: float) -> None:
    """A mouse press at data point (weight_std, bias_std), as ipympl delivers it."""
    x, y = panel.view.ax.transData.transform((weight_std, bias_std))
    event = MouseEvent("button_press_event", panel.figure.canvas, x, y, button=1)
    panel.figure.canvas.callbacks.process("button_press_event", event)


def test_click_on_the_phase_diagram_loads_the_deep_network_panel() -> None:
    app = App()
    phase, deep = app.panel("phase"), app.panel("deep")
    assert isinstance(deep, ChainPanel)
    app.tabs.selected_index = 3
    _click(phase, 1.31, 0.48)  # the point a user tried: it must arrive exactly
    assert app.tabs.selected_index == 0
    result = deep.result
    assert (result.init, result.activation, result.depth, result.width) == (
        "gaussian",
        "tanh",
        50,
        128,
    )
    assert (result.weight_scale, result.bias_scale) == (1.31, 0.48)
    assert (deep.controls["weight_scale"].value, deep.controls["bias_scale"].value) == (1.31, 0.48)
    assert "Loaded σ_w = 1.31, σ_b = 0.48" in phase.status.value
    # the keyboard path: the two sliders and the button
    phase.weight_std.value, phase.bias_std.value = 0.8, 0.1
    phase.load.click()
    assert deep.result.weight_scale == pytest.approx(0.8)


def test_app_builds_a_tab_when_it_is_first_selected() -> None:
    app = App()
    assert app.tabs.titles == (
        "Deep network",
        "Recurrent network",
        "Spectra",
        "Phase diagram",
        "Clipping",
        "The cliff",
        "Training lab",
        "Your run",
    )
    assert list(app.panels) == ["deep"]  # the others wait for their tab
    app.tabs.selected_index = 1
    assert isinstance(app.panels["recurrent"], RNNPanel)
    assert app.tabs.children[1].children == (app.panels["recurrent"],)
    app.tabs.selected_index = 0
    app.tabs.selected_index = 1
    assert list(app.panels) == ["deep", "recurrent"]  # built once
