"""What the served page shows equals the core at the exact values a preset, a user or another panel
set: no control rounds a value on its way through the browser.

Each preset of each tab is chosen in the page (Voila + Chromium) and, in this process, on a panel of
the same class; the page's readout must equal that panel's text character for character, and each
number box must show the preset's value. The articles' numbers are asserted on their own.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import torch

from explorer.core import SCENARIO_DEFAULTS, train_pair
from explorer.panels import ChainPanel, CliffPanel, ClipPanel, Panel, RNNPanel, SpectrumPanel
from tests.serving import (
    VISIBLE_READOUT_JS,
    VISIBLE_STATUS_JS,
    box_of,
    enter_value,
    open_app,
    open_tab,
    type_into_slider,
    wait_for_box,
    wait_for_status,
)

# the reference panels built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("close_new_widgets")]

TABS: dict[str, type[Panel]] = {
    "Deep network": ChainPanel,
    "Recurrent network": RNNPanel,
    "Spectra": SpectrumPanel,
    "Clipping": ClipPanel,
    "The cliff": CliffPanel,
}
# the written-out table of the visible panel: its rows as lists of cell texts
WRITTEN_JS = """() => {
  const table = [...document.querySelectorAll('.ge-written')].find(t => t.offsetParent !== null);
  return table ? [...table.rows].map(r => [...r.cells].map(c => c.textContent)) : [];
}"""


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    """The served kernels compute with one thread (voila.py); so do the reference panels here,
    so that float32 sums are added in the same order."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def text_of(fragment: str) -> str:
    """An HTML fragment's textContent, as the browser computes it."""
    return html.unescape(re.sub(r"<[^>]*>", "", fragment))


def js_number(value: float) -> str:
    """How JavaScript's String(value) writes a number: the shortest repr, '2' for 2.0."""
    if float(value).is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(float(value))
    return re.sub(r"e([+-])0*(\d+)", lambda m: f"e{'+' if m[1] == '+' else '-'}{m[2]}", text)


def choose_preset(page: Any, name: str) -> None:
    page.locator(
        ".widget-dropdown:has(label:text-is('preset')) select >> visible=true"
    ).select_option(label=name)


def wait_for_preset_shown(page: Any, name: str, timeout_ms: int = 20_000) -> None:
    """Wait until the visible preset menu shows ``name`` (ipywidgets writes spaces as U+00A0)."""
    page.wait_for_function(
        """(name) => [...document.querySelectorAll('.widget-dropdown select')]
             .filter(s => s.offsetParent !== null)
             .some(s => s.selectedIndex >= 0
                   && s.options[s.selectedIndex].text.replaceAll('\u00a0', ' ') === name)""",
        arg=name,
        timeout=timeout_ms,
    )


def wait_for_readout(page: Any, expected: str, timeout_ms: int = 30_000) -> None:
    """Wait until the visible readout's text is ``expected``; on timeout, show both."""
    try:
        page.wait_for_function(
            f"(expected) => ({VISIBLE_READOUT_JS})() === expected",
            arg=expected,
            timeout=timeout_ms,
        )
    except Exception:
        shown = page.evaluate(VISIBLE_READOUT_JS)
        status = page.evaluate(VISIBLE_STATUS_JS)
        pytest.fail(f"page readout:\n{shown}\nexpected:\n{expected}\nstatus: {status}")


@pytest.mark.parametrize("tab", list(TABS))
def test_every_preset_shows_the_cores_numbers(server: str, browser: Any, tab: str) -> None:
    """Every preset of ``tab``, chosen in the page, shows what the panel computes in Python from
    the preset's exact values (the reference panel's result carries them unchanged), and every
    number box shows the preset's value as written in the preset."""
    page = open_app(browser, server)
    if tab != "Deep network":
        open_tab(page, tab)
    reference = TABS[tab]()
    for name, values in reference.presets.items():
        choose_preset(page, name)
        reference.preset.value = name
        for key, value in values.items():  # the core computed with the preset's exact values
            assert reference.state[key] == value, (name, key)
            recorded = getattr(reference.result, key, None)  # a setting the result records
            if isinstance(recorded, int | float | str):
                assert recorded == value, (name, key)
        wait_for_readout(page, text_of(reference.readout.value))
        for key, value in values.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                wait_for_box(page, reference.controls[key].description, js_number(value))
        wait_for_preset_shown(page, name)
    page.close()


def test_deep_network_article_numbers_and_typed_weights(server: str, browser: Any) -> None:
    """Article 001 (exploding gradients): w = 2 over 5 layers gives 16, 8, 4, 2, 1 from layer 1
    to 5, and over 20 layers 2^19 = 524,288 at layer 1, also after another control is touched.
    Its exercise 1: w = 3 gives 3^4 = 81, w = 0.9 gives 0.9^4 = 0.6561. A manual change shows
    "(custom)" in the preset menu."""
    page = open_app(browser, server)
    choose_preset(page, "Article: w = 2, 5 layers")
    wait_for_status(page, "Computed 5 layers")
    page.wait_for_function(f"({WRITTEN_JS})().length === 2")
    assert page.evaluate(WRITTEN_JS)[1][1:] == ["16", "8", "4", "2", "1"]
    wait_for_box(page, "weight scale", "2")

    for typed, shown, first in (("3", "3", "81"), (" 0.9 ", "0.9", "0.6561")):
        enter_value(page, "weight scale", typed, shown)
        page.wait_for_function(f"({WRITTEN_JS})()[1][1] === {first!r}", timeout=20_000)

    choose_preset(page, "Article: w = 2, 20 layers (2^19)")
    page.wait_for_function(f"({WRITTEN_JS})()[1][1] === '524,288'", timeout=20_000)
    page.locator("button:has-text('float64') >> visible=true").click()
    wait_for_status(page, "in float64")
    assert page.evaluate(WRITTEN_JS)[1][1] == "524,288"
    wait_for_box(page, "weight scale", "2")
    type_into_slider(page, "depth L", "21")
    page.wait_for_function(f"({WRITTEN_JS})()[1][1] === '1,048,576'", timeout=20_000)
    wait_for_preset_shown(page, "(custom)")
    page.close()


def test_typed_text_is_understood_clamped_or_refused(server: str, browser: Any) -> None:
    """'1e9' is clamped to the bound with a message; '2e-3' likewise at the low end; the Unicode
    minus the readouts print and surrounding spaces are understood; 'abc' is refused and the
    old value kept."""
    page = open_app(browser, server)
    type_into_slider(page, "weight scale", "1e9")
    assert "weight scale 1e+09 is outside 0.01–100; using 100." in wait_for_status(page, "1e+09")
    wait_for_box(page, "weight scale", "100")
    type_into_slider(page, "weight scale", "2e-3")
    assert "weight scale 0.002 is outside 0.01–100; using 0.01." in wait_for_status(page, "0.002")
    wait_for_box(page, "weight scale", "0.01")
    enter_value(page, "bias std", "  0.25 ")
    type_into_slider(page, "bias std", "\u22120.5")  # −0.5: clamped to the bound 0
    assert "bias std -0.5 is outside 0–2; using 0." in wait_for_status(page, "-0.5")
    type_into_slider(page, "depth L", "abc")
    assert "depth L: 'abc' is not a number; kept 20." in wait_for_status(page, "abc")
    wait_for_box(page, "depth L", "20")
    page.close()


def _torch_clipped(values: list[float], max_norm: float) -> torch.Tensor:
    """torch.nn.utils.clip_grad_norm_ applied to one float64 gradient."""
    parameter = torch.zeros(len(values), dtype=torch.float64, requires_grad=True)
    parameter.grad = torch.tensor(values, dtype=torch.float64)
    torch.nn.utils.clip_grad_norm_([parameter], max_norm)
    return parameter.grad


def test_clipping_typed_threshold_and_torchs_multiplier(server: str, browser: Any) -> None:
    """Exercise 2 of article 001: g = [3, 4] clipped to norm 2 is [1.2, 1.6] (typed threshold 2
    stays 2). At threshold 5 the norm is exactly 5, and torch still scales by 5 / (5 + 1e-6):
    the multiplier shown is torch's own ratio, not 1."""
    page = open_app(browser, server)
    open_tab(page, "Clipping")
    choose_preset(page, "g = [3, 4], threshold 2 (exercise 2)")
    wait_for_box(page, "threshold", "2")
    enter_value(page, "threshold", "5")
    enter_value(page, "threshold", "2")
    page.wait_for_function(f"({VISIBLE_READOUT_JS})().includes('[1.2, 1.6]')", timeout=20_000)
    assert "threshold 2" in page.evaluate(VISIBLE_READOUT_JS)

    choose_preset(page, "a norm exactly at the threshold: [3, 4] at 5")
    wait_for_box(page, "threshold", "5")
    clipped = _torch_clipped([3.0, 4.0], 5.0)
    multiplier = float(clipped[0] / 3.0)
    assert multiplier < 1.0
    page.wait_for_function(
        f"({VISIBLE_READOUT_JS})().includes({f'{multiplier:.9g}'!r})", timeout=20_000
    )
    page.close()


def test_training_lab_rnn_learning_rate_stays_and_the_run_blows_up(
    server: str, browser: Any
) -> None:
    """The adding problem's learning rate is 0.05 and stays 0.05 in the page; trained there for
    60 steps, the unclipped run goes non-finite at the step train_pair finds at the same
    settings in this process (32 with seed 0), and the clipped run stays finite."""
    unclipped, clipped = train_pair(
        "adding", clip_method="global_norm", clip_threshold=1.0, steps=60, seed=0
    )
    step = unclipped.first_nonfinite_step
    assert step is not None
    assert clipped.first_nonfinite_step is None
    page = open_app(browser, server)
    open_tab(page, "Training lab")
    page.locator(
        ".widget-dropdown:has(label:text-is('scenario')) select >> visible=true"
    ).select_option(label=SCENARIO_DEFAULTS["adding"].title)
    wait_for_box(page, "learning rate", "0.05")
    enter_value(page, "steps", "60")
    assert box_of(page, "learning rate").input_value() == "0.05"
    page.locator("button:has-text('Start') >> visible=true").click()
    status = wait_for_status(page, "Done:", timeout_ms=60_000)
    assert f"the unclipped run went non-finite at step {step}" in status
    assert "the clipped run stayed finite" in status
    assert f"non-finite at step {step}" in page.evaluate(VISIBLE_READOUT_JS)
    page.close()


def test_phase_diagram_hands_its_exact_choice_to_the_deep_network(
    server: str, browser: Any
) -> None:
    """σ_w = 1.31 and σ_b = 0.48 typed on the phase diagram arrive in the deep network as 1.31
    and 0.48 (the slider grid of 0.05 once made 0.48 into 0.50), and the readout there equals a
    deep-network panel computed here at those values."""
    page = open_app(browser, server)
    open_tab(page, "Phase diagram")
    wait_for_status(page, "Measured")
    enter_value(page, "chosen σ_w", "1.31")
    enter_value(page, "chosen σ_b", "0.48")
    page.locator("button:has-text('Open in the deep-network panel') >> visible=true").click()
    wait_for_status(page, "Computed 50 layers")
    wait_for_box(page, "weight scale", "1.31")
    wait_for_box(page, "bias std", "0.48")
    reference = ChainPanel()
    reference.set_state(
        {
            "init": "gaussian",
            "weight_scale": 1.31,
            "bias_scale": 0.48,
            "activation": "tanh",
            "depth": 50,
            "width": 128,
        }
    )
    assert (reference.result.weight_scale, reference.result.bias_scale) == (1.31, 0.48)
    wait_for_readout(page, text_of(reference.readout.value))
    page.close()
