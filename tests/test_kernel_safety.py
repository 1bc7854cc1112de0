"""What a client may send the kernel, in plain Python: each message goes through the widget's own
message handler (``Widget._handle_msg``, the path a comm message from the page takes), and the
kernel keeps its sizes, bounds and choices.

Expected sizes come from the arguments the panels give ``make_figure`` (inches) times ``DPI``;
expected bounds from each panel's declared ``bounds`` and ``selector_bounds``; nothing here
restates the code under test. tests/test_browser_faults.py sends the same messages over a real
websocket to a served page.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

from explorer.app import PANELS
from explorer.panels import Panel, TrainingPanel
from explorer.panels.canvas import MAX_PIXEL_RATIO
from explorer.panels.faults import SERVER_LOGGERS, Heartbeat, ServerLogHandler, log_to_server
from explorer.panels.figures import DPI, make_figure
from explorer.panels.number import NumberSlider
from explorer.panels.values import is_choice, options_of

# panels built here are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = pytest.mark.usefixtures("close_new_widgets")


def update(widget: Any, state: dict[str, Any]) -> None:
    """What the page sends when it sets ``widget``'s synced traits (a comm_msg "update")."""
    data = {"method": "update", "state": state, "buffer_paths": []}
    widget._handle_msg({"content": {"data": data}, "buffers": []})


def custom(widget: Any, content: Any) -> None:
    """A custom message from the page to ``widget`` (``model.send`` in a front end)."""
    widget._handle_msg(
        {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    )


# -- 1. the canvas is sized by the kernel ---------------------------------------------------
def test_a_resize_request_from_the_page_keeps_the_figures_own_size() -> None:
    """ipympl hands ``{"type": "resize"}`` to matplotlib's ``handle_resize``, which made the
    figure 20000 × 20000 px (16.7 s and 5.6 GB to draw). The figure keeps the 8.2 × 5.4 inches
    it was made with, drawn at DPI: 820 × 540 pixels, and the page is answered with that size."""
    figure = make_figure(8.2, 5.4)
    canvas = figure.canvas
    custom(canvas, {"type": "resize", "width": 20000, "height": 20000})
    assert tuple(figure.get_size_inches()) == (8.2, 5.4)
    canvas.draw()
    renderer = canvas.get_renderer()
    assert (renderer.width, renderer.height) == (round(8.2 * DPI), round(5.4 * DPI))
    assert tuple(canvas._size) == (8.2 * DPI, 5.4 * DPI)  # the answer the page resizes to
    custom(canvas, {"type": "resize", "width": 10, "height": 10})  # smaller: the same answer
    assert tuple(figure.get_size_inches()) == (8.2, 5.4)


def test_a_forged_pixel_ratio_is_clamped_and_a_non_number_ignored() -> None:
    """The page's device pixel ratio multiplies the figure's dpi: 100 would draw 10⁴ times the
    pixels. It is clamped to MAX_PIXEL_RATIO, by both the current message and ipympl's older
    one; a non-number, a boolean and NaN leave the ratio as it was."""
    figure = make_figure(8.2, 5.4)
    canvas = figure.canvas
    custom(canvas, {"type": "set_device_pixel_ratio", "device_pixel_ratio": 2})
    assert figure.dpi == 2 * DPI  # a real hi-dpi screen is drawn for
    custom(canvas, {"type": "set_device_pixel_ratio", "device_pixel_ratio": 100})
    assert figure.dpi == MAX_PIXEL_RATIO * DPI
    canvas.draw()
    assert canvas.get_renderer().width == round(8.2 * DPI * MAX_PIXEL_RATIO)
    custom(canvas, {"type": "set_device_pixel_ratio", "device_pixel_ratio": 1})
    custom(canvas, {"type": "set_dpi_ratio", "dpi_ratio": 1e6})
    assert figure.dpi == MAX_PIXEL_RATIO * DPI
    custom(canvas, {"type": "set_device_pixel_ratio", "device_pixel_ratio": 1})
    for forged in ("3", None, True, math.nan, [2]):
        custom(canvas, {"type": "set_device_pixel_ratio", "device_pixel_ratio": forged})
        assert figure.dpi == DPI, forged


def test_canvas_messages_that_are_no_events_are_dropped() -> None:
    """ipympl's handler indexes ``content["type"]``: a list, a dict without a type or a type
    that is no text raised in the kernel (ipywidgets then sent the traceback to the page). The
    canvas's own handler drops them, and the figure keeps its size."""
    figure = make_figure(4.0, 3.0)
    canvas = figure.canvas
    for forged in ([1], {"width": 5}, {"type": 5}, "resize", None):
        canvas._handle_message(canvas, forged, [])
    assert tuple(figure.get_size_inches()) == (4.0, 3.0)


def test_the_page_width_still_fits_the_figures_after_a_forged_resize() -> None:
    """The page's width (the width probe) still sizes the figures: 1500 px gives more inches."""
    panel = TrainingPanel()
    natural = panel.figure.get_figwidth()
    custom(panel.figure.canvas, {"type": "resize", "width": 20000, "height": 20000})
    assert panel.figure.get_figwidth() == natural
    panel.width_probe.width = 1500
    assert panel.figure.get_figwidth() > natural


# -- 2. faults go to the server's log --------------------------------------------------------
def test_the_loggers_a_client_reaches_write_to_the_server_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Each of SERVER_LOGGERS gets one handler on the server's stderr (a record with a handler
    never falls to logging's last resort, sys.stderr, which a kernel forwards to the page);
    installing twice adds none; records still propagate (pytest's caplog sees them)."""
    log_to_server()
    log_to_server()
    for name in SERVER_LOGGERS:
        handlers = [h for h in logging.getLogger(name).handlers if isinstance(h, ServerLogHandler)]
        assert len(handlers) == 1, name
    with caplog.at_level(logging.WARNING):
        logging.getLogger("Comm").warning("No such comm: forged")
    assert "No such comm: forged" in caplog.text


def test_the_heartbeat_answers_pings_with_their_number_only() -> None:
    """The page sends {"event": "ping", "n": k} and the kernel answers it (``pings`` counts the
    answers; tests/test_browser_faults.py sees them arrive in the page). Anything else (a
    boolean or text for the number, no number, no dict) is not answered."""
    heartbeat = Heartbeat()
    for forged in ({"event": "ping", "n": True}, {"event": "ping", "n": "7"}, {"event": "ping"}):
        custom(heartbeat, forged)
    custom(heartbeat, [1, 2])
    assert heartbeat.pings == 0
    custom(heartbeat, {"event": "ping", "n": 7})
    assert heartbeat.pings == 1


# -- 3. forged values are put back or clamped, and said ---------------------------------------
def number_controls(panel: Panel[Any]) -> dict[str, tuple[NumberSlider, float, float]]:
    """Every number control and selector a client can move, with the bounds it must keep."""
    assert panel.result is not None
    found = {
        name: (control, panel.bounds[name].low, panel.bounds[name].high)
        for name, control in panel.controls.items()
        if isinstance(control, NumberSlider) and name in panel.bounds
    }
    for name, bounds in panel.selector_bounds(panel.result).items():
        found[name] = (panel.selectors[name], bounds.low, bounds.high)
    return found


@pytest.mark.parametrize("cls", PANELS, ids=[cls.key for cls in PANELS])
def test_forged_slider_bounds_are_put_back_at_once_and_said(cls: Any) -> None:
    """A client sets a slider's max to 1e9 or its min to -1e9 (no value): the declared bounds
    come back at once, the value is unchanged, nothing is recomputed, and the status line says
    so. Before, they stayed until the next refresh, and a selector's (the Training lab's inspect
    step, the phase diagram's chosen σ) until the next selection. A selector sent 1e9 with a max
    to match shows the result's last index or highest value instead, and says so."""
    panel = cls()
    result = panel.result
    for name, (control, low, high) in number_controls(panel).items():
        value = control.value
        for forged in ({"max": 1e9}, {"min": -1e9}, {"min": high, "max": high + 1}):
            update(control, forged)
            assert (control.min, control.max) == (low, high), (name, forged)
            assert control.value == value, name
            assert "keeps its range" in panel.status.value, name
    assert panel.result is result
    for name, bounds in panel.selector_bounds(result).items():  # with a value, in one message
        selector = panel.selectors[name]
        update(selector, {"max": 1e9, "value": 1e9})
        assert (selector.max, selector.value) == (bounds.high, bounds.high), name
        assert "is outside" in panel.status.value, name
    assert panel.result is result


@pytest.mark.parametrize("cls", PANELS, ids=[cls.key for cls in PANELS])
def test_a_null_index_sent_to_any_choice_is_refused_and_said(cls: Any) -> None:
    """Every dropdown and toggle button row (and the preset menu) sent ``index: null`` (value
    None), or an index one past its options (which traitlets refuses), keeps its choice; a
    control's refusal is said and computes nothing."""
    panel = cls()
    result = panel.result
    choices = {name: c for name, c in panel.controls.items() if is_choice(c)}
    for name, control in choices.items():
        value = control.value
        update(control, {"index": None})
        assert control.value == value, name
        assert f"None is not an option; kept {value!r}" in panel.status.value.replace(
            "&#x27;", "'"
        ), name
        update(control, {"index": len(options_of(control))})
        assert control.value == value, name
    assert panel.result is result
    if panel.preset is not None:
        shown = panel.preset.value
        update(panel.preset, {"index": None})
        assert panel.preset.value == shown


def test_a_null_scenario_keeps_the_training_labs_scenario_and_its_settings() -> None:
    """The Training lab's scenario dropdown sent index null once raised KeyError in
    ``_scenario_values``. Refused now: the adding problem chosen before stays, with its T (the
    core's SCENARIO_DEFAULTS via the panel's own link), and Start still plans it."""
    panel = TrainingPanel()
    panel.set_state({"scenario": "adding"})
    state = panel.state
    update(panel.controls["scenario"], {"index": None})
    assert panel.state == state
    assert "kept &#x27;adding&#x27;" in panel.status.value
    assert panel.result is not None
    assert panel.result.scenario == "adding"
