"""The exact number controls, typed text, the preset menu, the written-out values and figures that
fit the page, in plain Python (the browser tests drive the same paths through Voila)."""

from __future__ import annotations

import html
import math
from collections.abc import Iterator

import pytest
from matplotlib.backend_bases import MouseEvent

from explorer.panels import ChainPanel, CliffPanel, PhasePanel, RNNPanel, TrainingPanel
from explorer.panels.controls import CUSTOM, NO_PRESET
from explorer.panels.figures import DPI, FIT_SCALES
from explorer.panels.number import IntNumberSlider, NumberSlider, parse_number
from explorer.panels.written import four_digits, shown_indices

# panels built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = pytest.mark.usefixtures("close_new_widgets")


@pytest.fixture
def chain() -> Iterator[ChainPanel]:
    panel = ChainPanel()
    yield panel
    panel.close()


def typed(control: NumberSlider, text: str) -> None:
    """What the browser sends when a user types ``text`` and presses Enter (number.js)."""
    control._handle_custom_msg({"event": "typed", "text": text}, [])


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1e9", 1e9),
        ("2e-3", 0.002),
        ("\u22120.5", -0.5),  # the minus sign the readouts print
        ("  3 ", 3.0),
        ("524,288", 524288.0),  # as format_number writes whole numbers
        ("-1,000,000", -1e6),
        ("0.9", 0.9),
    ],
)
def test_parse_number_understands_what_a_user_types(text: str, number: float) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize(
    "text", ["abc", "", "1,5", "12,34", "0,500", "inf", "nan", "1e999", "2 3", "1" * 201]
)
def test_parse_number_refuses_what_is_not_one_finite_number(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a|too long"):
        parse_number(text)


def test_typed_weight_3_computes_81_exactly(chain: ChainPanel) -> None:
    """Exercise 1 of article 001: w = 3 over 5 layers gives 3^4 = 81 at layer 1; 0.9 gives
    0.9^4 = 0.6561 (float32 of the product, written to 4 digits)."""
    chain.preset.value = "Article: w = 2, 5 layers"
    typed(chain.controls["weight_scale"], "3")
    assert chain.result.weight_scale == 3.0
    assert chain.result.delta_norms[0] == 81.0
    typed(chain.controls["weight_scale"], " 0.9 ")
    assert chain.result.weight_scale == 0.9
    assert four_digits(float(chain.result.delta_norms[0])) == "0.6561"


def test_typed_value_out_of_range_is_clamped_and_said(chain: ChainPanel) -> None:
    typed(chain.controls["weight_scale"], "1e9")
    assert chain.result.weight_scale == 100.0
    assert chain.controls["weight_scale"].value == 100.0
    assert "weight scale 1e+09 is outside 0.01–100; using 100." in chain.status.value
    assert "#9a6700" in chain.status.value  # the warning colour
    # the same bound typed again changes nothing, and says so
    typed(chain.controls["weight_scale"], "1e12")
    assert "weight scale 1e+12 is outside 0.01–100; using 100." in chain.status.value


def test_text_that_is_not_a_number_is_refused_and_nothing_changes(chain: ChainPanel) -> None:
    before = chain.result
    typed(chain.controls["depth"], "abc")
    assert chain.result is before
    assert chain.controls["depth"].value == 20
    assert "depth L: 'abc' is not a number; kept 20." in html.unescape(chain.status.value)


def test_integer_control_refuses_fractions_and_takes_exponents(chain: ChainPanel) -> None:
    typed(chain.controls["depth"], "2.5")
    assert chain.controls["depth"].value == 20
    assert "depth L must be a whole number: 2.5 refused; kept 20." in chain.status.value
    typed(chain.controls["depth"], "3e1")
    assert chain.result.depth == 30
    assert isinstance(chain.controls["depth"].value, int)


def test_forged_messages_are_ignored() -> None:
    control = NumberSlider(value=1.0, min=0.0, max=2.0)
    control._handle_custom_msg({"event": "typed", "text": 3}, [])  # not text
    control._handle_custom_msg({"event": "other", "text": "1.5"}, [])
    control._handle_custom_msg(["typed", "1.5"], [])
    assert control.value == 1.0
    typed(control, "1.5" + " " * 1000)  # surrounding spaces do not count
    assert control.value == 1.5
    typed(control, "1" * 400)  # too long to be a number: refused, not cut to fewer digits
    assert control.value == 1.5


def test_int_control_keeps_ints() -> None:
    control = IntNumberSlider(value=3, min=1, max=10)
    typed(control, "1e1")
    assert control.value == 10
    assert isinstance(control.value, int)


def test_preset_menu_shows_custom_after_a_manual_change(chain: ChainPanel) -> None:
    assert chain.preset.value == NO_PRESET
    chain.preset.value = "Article: w = 2, 20 layers (2^19)"
    assert chain.result.delta_norms[0] == 2.0**19
    chain.controls["depth"].value = 21
    assert chain.preset.value == CUSTOM
    chain.controls["depth"].value = 20  # back to the preset's values: its name again
    assert chain.preset.value == "Article: w = 2, 20 layers (2^19)"
    chain.controls["dtype"].value = "float64"  # not a preset setting: still that preset
    assert chain.preset.value == "Article: w = 2, 20 layers (2^19)"
    assert chain.result.delta_norms[0] == 524288.0


def test_written_out_indices() -> None:
    """The first and last five, the pointed one, gaps marked."""
    assert shown_indices(1, 5, None) == [1, 2, 3, 4, 5]
    assert shown_indices(1, 20, 12) == [1, 2, 3, 4, 5, None, 12, None, 16, 17, 18, 19, 20]
    assert shown_indices(0, 100, 6) == [0, 1, 2, 3, 4, None, 6, None, 96, 97, 98, 99, 100]
    assert shown_indices(1, 20, 99) == [1, 2, 3, 4, 5, None, 16, 17, 18, 19, 20]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (524288.0, "524,288"),
        (16.0, "16"),
        (15.848931924611133, "15.85"),
        (0.6561, "0.6561"),
        (2.7048138294215294, "2.705"),
        (1.5e12, "1.5e+12"),
        (math.inf, "inf"),
        (math.nan, "nan"),
    ],
)
def test_four_digits(value: float, text: str) -> None:
    assert four_digits(value) == text


def test_click_on_the_gradient_plot_writes_out_that_layer(chain: ChainPanel) -> None:
    """A click at x = 12.3 on the gradient plot writes out layer 12 beside the first and last
    five (2^(20-12) = 256 for the 20-layer preset)."""
    chain.preset.value = "Article: w = 2, 20 layers (2^19)"
    ax = chain.delta_view.ax
    x, y = ax.transData.transform((12.3, 1.0))
    chain.figure.canvas.callbacks.process(
        "button_press_event", MouseEvent("button_press_event", chain.figure.canvas, x, y, 1)
    )
    assert chain.pointed.box.value == 12
    assert "<b>256</b>" in chain.readout.value
    chain.pointed.box.value = 500  # beyond the depth: clamped, and said
    assert chain.pointed.box.value == 20
    assert "write out layer 500 is outside 1–20; using 20." in chain.status.value


def test_recurrent_panel_writes_out_steps() -> None:
    """1.01^100 = 2.705 at step 0 and 1.01 at step 99 (articles 001 and 002)."""
    panel = RNNPanel()
    panel.preset.value = "Article: w = 1.01, 100 steps (×2.70)"
    assert "<b>2.705</b>" in panel.readout.value
    assert "<b>1.01</b>" in panel.readout.value
    panel.close()


def test_figures_fit_the_reported_width(chain: ChainPanel) -> None:
    """Wider than natural: more inches at the same dpi; narrower: the same inches at a lower dpi
    (a uniform zoom). Widths a browser should never report are ignored."""
    natural = chain.figure.get_figwidth()
    chain.width_probe.width = 1500
    assert chain.figure.get_figwidth() > natural
    assert chain.figure.dpi == DPI
    assert chain.figure.bbox.width <= 1500
    chain.width_probe.width = 800
    assert chain.figure.get_figwidth() == natural
    assert chain.figure.bbox.width <= 800
    assert chain.figure.dpi < DPI
    size = (chain.figure.get_figwidth(), chain.figure.dpi)
    for forged in (0, 10**9, -5):
        chain.width_probe.width = forged
        assert (chain.figure.get_figwidth(), chain.figure.dpi) == size
    chain.fit_width(math.nan)
    chain.fit_width(True)
    assert (chain.figure.get_figwidth(), chain.figure.dpi) == size
    chain.width_probe.width = 100_000 // 30  # 3333 px: at most FIT_SCALES[1] x natural
    assert chain.figure.get_figwidth() == pytest.approx(natural * FIT_SCALES[1])


def test_training_figures_share_the_width() -> None:
    panel = TrainingPanel()
    naturals = [figure.get_figwidth() for figure in panel.figures()]
    panel.fit_width(1000)
    pixels = [figure.bbox.width for figure in panel.figures()]
    assert sum(pixels) <= 1000
    assert pixels[0] / pixels[1] == pytest.approx(naturals[0] / naturals[1], rel=1e-3)
    panel.close()


def test_gradient_text_reads_the_minus_the_readouts_print() -> None:
    """The clipping readout writes article 001's gradient as [16, 12, −8] (U+2212); typed back,
    it is the same gradient. inf stays data."""
    from explorer.panels.clip import parse_gradient

    tensors = parse_gradient(" 16, 12, \u22128 ; 100, inf")
    assert [tensor.tolist() for tensor in tensors] == [[16.0, 12.0, -8.0], [100.0, math.inf]]
    with pytest.raises(ValueError, match="numbers split by commas"):
        parse_gradient("16, 1 2")


def test_typed_values_clamped_on_boxes_outside_the_controls_are_said() -> None:
    """The boxes a panel owns beside its controls (the layer written out, the phase diagram's
    chosen σ, the training lab's inspected step) say what they clamp or refuse, too."""
    chain = ChainPanel()
    typed(chain.pointed.box, "1e9")
    assert chain.pointed.box.value == 20
    assert "write out layer 1e+09 is outside 1–20; using 20." in chain.status.value
    phase = PhasePanel()
    typed(phase.weight_std, "10")
    assert phase.weight_std.value == 4.0
    assert "chosen σ_w 10 is outside 0.25–4; using 4." in phase.status.value
    assert "Chosen σ_w = 4.0" in phase.status.value  # and what is chosen now
    typed(phase.bias_std, "abc")
    assert phase.bias_std.value == 0.0
    assert "chosen σ_b: &#x27;abc&#x27; is not a number; kept 0." in phase.status.value


def test_a_forged_integer_flag_does_not_let_fractions_in(chain: ChainPanel) -> None:
    """``integer`` is synced for the page's slider; the kernel decides by the class."""
    chain.controls["depth"].integer = False
    typed(chain.controls["depth"], "2.5")
    assert chain.controls["depth"].value == 20
    assert "must be a whole number" in chain.status.value


def test_typing_into_a_disabled_box_changes_nothing() -> None:
    """In fan mode the start boxes are off: text sent to them anyway is ignored, and said."""
    cliff = CliffPanel()
    cliff.controls["fan"].value = True
    typed(cliff.controls["start_w"], "2")
    assert cliff.controls["start_w"].value == 6.0
    assert "start w is off just now" in cliff.status.value


def test_custom_picked_by_hand_shows_what_the_controls_hold(chain: ChainPanel) -> None:
    chain.preset.value = "Article: w = 2, 5 layers"
    chain.preset.value = CUSTOM  # chosen in the menu: nothing to load, the menu is put back
    assert chain.preset.value == "Article: w = 2, 5 layers"
    assert chain.result.depth == 5


def test_a_fitted_figure_is_drawn_in_full_before_it_blits_again(chain: ChainPanel) -> None:
    """The cached background is the old size's after a resize: the next redraw is a full draw."""
    chain.figure.canvas.draw()
    assert chain.redrawer.redraw() == "blit"
    chain.fit_width(700)
    assert chain.redrawer.redraw() == "full"
