"""The panel contract, the same for every tab: ``state``, ``set_state``, ``presets``, one refresh.

Expected values come from the panels' own declared bounds and presets, from torch-computed core
results, and from numpy's nanmedian (the fan's curves); nothing here restates a panel's code.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from explorer.app import PANELS, App
from explorer.panels import ChainPanel, CliffPanel, Panel, TrainingPanel
from explorer.panels.base import Cost
from explorer.panels.controls import CUSTOM
from explorer.panels.number import NumberSlider
from explorer.plots.cliff import LOSS_FLOOR

KEYS = [cls.key for cls in PANELS]


@pytest.fixture(scope="module")
def panels() -> dict[str, Panel[Any]]:
    """One of each panel (built once: some take a second)."""
    return {cls.key: cls() for cls in PANELS}


@pytest.mark.parametrize("key", KEYS)
def test_state_names_every_control_and_selector_and_is_json(
    panels: dict[str, Panel[Any]], key: str
) -> None:
    panel = panels[key]
    state = panel.state
    # every control and selector but the transient ones (a run's step: a link cannot bring it)
    assert set(state) == (set(panel.controls) | set(panel.selectors)) - panel.transient
    assert json.loads(json.dumps(state)) == state  # JSON carries every value exactly
    for name, value in state.items():
        control = panel.controls.get(name) or panel.selectors[name]
        assert value == control.value


@pytest.mark.parametrize("key", KEYS)
def test_set_state_restores_a_state_exactly(panels: dict[str, Panel[Any]], key: str) -> None:
    """A state taken from one panel and given to a new one: the same values, the same result."""
    panel = panels[key]
    given = json.loads(json.dumps(panel.state))
    fresh = type(panel)()
    assert fresh.set_state(given) == []
    assert fresh.state == given
    assert "color:#1a7f37" in fresh.status.value  # ok: nothing was refused or clamped


@pytest.mark.parametrize("key", KEYS)
def test_every_preset_is_part_of_the_state_and_shows_in_the_menu(
    panels: dict[str, Panel[Any]], key: str
) -> None:
    panel = panels[key]
    for name, values in panel.presets.items():
        assert set(values) <= set(panel.state), name
        panel.set_state(values)
        assert {k: panel.state[k] for k in values} == values, name
        assert panel.preset is not None
        assert panel.preset.value == name


@pytest.mark.parametrize("key", KEYS)
def test_numbers_from_a_mapping_are_clamped_to_the_declared_bounds_and_said(
    panels: dict[str, Panel[Any]], key: str
) -> None:
    """Every bounded number control takes 1e12 (and the text "1e12", as a link carries it) as its
    declared upper bound, and the status line says so; -1e12 as its lower bound."""
    panel = panels[key]
    for name, bounds in panel.bounds.items():
        if panel.controls[name].disabled:
            continue
        before = panel.state
        for raw, wanted in (("1e12", bounds.high), (-1e12, bounds.low)):
            panel.set_state({name: raw})
            assert panel.controls[name].value == wanted, name
            assert "is outside" in panel.status.value, name
        panel.set_state(before)


def test_set_state_refuses_what_is_not_a_value_and_keeps_the_rest() -> None:
    panel = ChainPanel()
    said = panel.set_state(
        {"depth": 7, "init": "nope", "width": "abc", "seed": 2.5, "colour": 1, "dtype": None}
    )
    assert panel.state["depth"] == 7  # the valid value is taken
    assert panel.state["init"] == "gaussian"
    assert panel.state["width"] == 32
    assert panel.state["seed"] == 0
    assert len(said) == 5
    status = panel.status.value
    for words in ("init: &#x27;nope&#x27; is not one of", "width:", "seed:", "colour", "dtype:"):
        assert words in status
    assert panel.result is not None
    assert panel.result.depth == 7


def test_nan_and_infinity_from_a_mapping_are_refused() -> None:
    panel = CliffPanel()
    said = panel.set_state({"lr": math.nan, "clip_threshold": math.inf, "steps": "inf"})
    assert len(said) == 3
    assert panel.state["lr"] == 0.5
    assert panel.state["clip_threshold"] == 1.0
    assert panel.state["steps"] == 200


def test_a_preset_then_any_other_change_shows_custom() -> None:
    panel = ChainPanel()
    first = next(iter(panel.presets))
    panel.set_state(panel.presets[first])
    assert panel.preset is not None
    assert panel.preset.value == first
    panel.set_state({"depth": 6})
    assert panel.preset.value == CUSTOM


def test_selectors_are_clamped_to_the_result_and_recompute_nothing() -> None:
    panel = ChainPanel()
    panel.set_state({"depth": 5})
    result = panel.result
    panel.set_state({"layer": 99})
    assert panel.state["layer"] == 5  # layers 1..5
    assert panel.result is result  # shown again, not recomputed
    assert "write out layer 99 is outside 1–5; using 5." in panel.status.value


def test_the_widget_protocol_still_reaches_ipywidgets() -> None:
    """ipywidgets calls ``set_state`` with the box's own synced traits when the front end sends
    an update; those are applied as traits, not read as settings."""
    panel = ChainPanel()
    panel.set_state({"tooltip": "from the front end"})
    assert panel.tooltip == "from the front end"
    assert panel.state["depth"] == 20


def test_a_forged_update_naming_controls_is_checked_like_a_link() -> None:
    """A client may send an update message for the panel's own model: it goes through the same
    checks, so a depth of 10^9 is clamped and said."""
    panel = ChainPanel()
    panel._handle_msg({"content": {"data": {"method": "update", "state": {"depth": 1e9}}}})
    assert panel.state["depth"] == 1000
    assert "is outside" in panel.status.value


def test_a_choice_without_an_option_is_put_back_and_said() -> None:
    """A client can send index null to a dropdown (its value becomes None): the panel puts the
    default back and says so, and stays usable."""
    panel = TrainingPanel()
    panel.controls["scenario"].index = None
    assert panel.state["scenario"] == "regression"
    assert "is not an option" in panel.status.value
    panel.set_state({"scenario": "adding"})
    assert panel.state["seq_len"] == 100  # the adding scenario's defaults loaded with it


def test_an_unexpected_error_in_compute_is_said_and_the_last_result_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    panel = ChainPanel()
    result = panel.result

    def broken(params: object) -> None:
        raise RuntimeError("the core fell over")

    monkeypatch.setattr(panel, "compute", broken)
    assert panel.set_state({"depth": 9}) == []
    assert "Unexpected error: RuntimeError: the core fell over" in panel.status.value
    assert "#cf222e" in panel.status.value  # the error colour
    assert panel.result is result
    monkeypatch.undo()
    panel.set_state({"depth": 8})
    assert panel.result is not None
    assert panel.result.depth == 8  # the panel still works


def test_over_budget_is_said_with_the_panels_own_cost() -> None:
    panel = ChainPanel()
    params = {**panel.state, "depth": 1000, "width": 256}
    cost = panel.cost(params)
    assert isinstance(cost, Cost)
    assert cost.units == 1000 * 256**2  # depth x width^2, the cost the panel states
    panel.set_state({"depth": 1000, "width": 256})
    assert f"{cost.units:,} is beyond this panel" in panel.status.value


class _Broken(Panel[None]):
    key, title = "broken", "Broken"

    def __init__(self) -> None:
        raise RuntimeError("cannot start")


def test_a_tab_that_fails_to_start_says_so_and_the_others_work() -> None:
    app = App(panels=(ChainPanel, _Broken))
    app.tabs.selected_index = 1
    slot = app.tabs.children[1]
    assert "This tab failed to start" in slot.children[0].value
    assert "RuntimeError" in slot.children[0].value
    assert "broken" not in app.panels
    app.tabs.selected_index = 0
    app.panel("deep").set_state({"depth": 3})
    assert app.panel("deep").state["depth"] == 3


def test_the_app_opens_a_tab_with_a_state_through_set_state() -> None:
    app = App()
    phase = app.panel("phase")
    phase.set_state({"weight_std": 1.31, "bias_std": 0.48})
    phase.choose()
    deep = app.panel("deep")
    assert app.tabs.selected_index == app.tab_keys.index("deep")
    assert (deep.state["weight_scale"], deep.state["bias_scale"]) == (1.31, 0.48)
    assert deep.result is not None
    assert (deep.result.weight_scale, deep.result.bias_scale) == (1.31, 0.48)


def test_fan_mode_draws_the_median_over_runs() -> None:
    """In fan mode the step curves are the median over the 64 runs at each step (numpy's
    nanmedian is the reference), the losses floored at 10^LOSS_FLOOR."""
    panel = CliffPanel()
    panel.set_state({"fan": True, "steps": 60})
    result = panel.result
    assert result is not None
    assert result.runs == 64
    with np.errstate(all="ignore"):
        for view, quantity in ((panel.loss_view, "losses"), (panel.norm_view, "grad_norms")):
            for run in ("unclipped", "clipped"):
                values = getattr(getattr(result, run), quantity)
                median = np.nanmedian(values, axis=0)
                expected = np.log10(np.where(np.isfinite(median) & (median > 0), median, np.nan))
                if quantity == "losses":
                    expected = np.maximum(expected, LOSS_FLOOR)
                drawn = view.lines[run].get_ydata()
                assert len(drawn) == values.shape[1]
                np.testing.assert_allclose(drawn, expected, rtol=1e-12)


def test_number_controls_and_selectors_hear_typed_text() -> None:
    """Typed text refused in any control or selector reaches the panel's status line."""
    panel = ChainPanel()
    for control in [*panel.controls.values(), *panel.selectors.values()]:
        if isinstance(control, NumberSlider):
            control.type_text("abc")
            assert "is not a number" in panel.status.value


def test_a_full_state_keeps_its_clamps_and_refusals_in_the_status_line() -> None:
    """A link carries every selector too: what was clamped or refused stays said after the
    selection is shown."""
    panel = ChainPanel()
    panel.set_state({"depth": 5000, "init": "nope", "layer": 3})
    status = panel.status.value
    assert "depth L 5,000 is outside 1–1,000; using 1,000." in status
    assert "is not one of" in status
    assert "#9a6700" in status  # a warning, not ok
    assert panel.state["layer"] == 3


def test_selectors_wait_while_the_controls_are_over_budget() -> None:
    panel = ChainPanel()
    panel.set_state({"depth": 1000, "width": 256, "layer": 500})
    assert panel.state["layer"] == 1  # not set: no result of that setting was shown
    assert "is beyond this panel" in panel.status.value
    panel.pointed.box.value = 7  # chosen on the result still shown: the warning stays
    assert "is beyond this panel" in panel.status.value


def test_a_linked_value_does_not_replace_a_refused_one() -> None:
    """The mapping names the learning rate: refused, it is kept, not replaced by the scenario's
    default (which only fills what the mapping does not name)."""
    panel = TrainingPanel()
    said = panel.set_state({"scenario": "adding", "lr": "abc"})
    assert said == ["learning rate: 'abc' is not a number; kept 0.07."]
    assert panel.state["lr"] == 0.07
    assert panel.state["seq_len"] == 100  # the scenario's other defaults came with it


def test_the_same_scenario_again_keeps_the_other_settings() -> None:
    """As in the page, only a change of scenario loads its defaults."""
    panel = TrainingPanel()
    panel.set_state({"lr": 0.5, "clip_method": "norm"})
    panel.set_state({"scenario": "regression", "steps": 50})
    assert (panel.state["lr"], panel.state["clip_method"], panel.state["steps"]) == (
        0.5,
        "norm",
        50,
    )


def test_a_number_too_large_for_a_float_is_refused() -> None:
    panel = ChainPanel()
    said = panel.set_state(json.loads('{"depth": 1' + "0" * 400 + "}"))
    assert len(said) == 1
    assert "too large" in said[0]
    assert panel.state["depth"] == 20


def test_an_update_mixing_a_box_trait_and_a_control_applies_both() -> None:
    panel = ChainPanel()
    panel._handle_msg(
        {"content": {"data": {"method": "update", "state": {"box_style": "info", "depth": 7}}}}
    )
    assert panel.box_style == "info"
    assert panel.state["depth"] == 7
    assert "box_style" not in panel.status.value
