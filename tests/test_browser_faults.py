"""Faults, served for real: forged widget messages over the kernel's websocket, and a kernel
killed (or a server stopped) under a page open in Chromium.

The app is served by Voila with the repository's voila.py, as in deployment: the server is
started without pytest's PYTEST_CURRENT_TEST in its environment, which would otherwise reach the
kernels and turn off ipykernel's capture of their stderr descriptor (the path by which log
records written to stderr reach the page). Websocket messages are sent as a page sends them
(tests/kernel_channels.py); nothing is mocked.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from explorer.core import SCENARIO_DEFAULTS
from explorer.panels import ChainPanel
from explorer.panels.faults import LOST_MESSAGE
from tests.conftest import REPO
from tests.kernel_channels import KernelChannels, find_model, kernel_channels
from tests.serving import (
    DARK_PIXELS_JS,
    VISIBLE_STATUS_JS,
    enter_value,
    kernel_process,
    open_app,
    open_tab,
    voila_server,
    wait_for_status,
)

# panels built here as references are closed afterwards (tests.conftest.close_new_widgets)
pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("close_new_widgets")]

# what a client must never read: a traceback, an install path, a source file's name
FORBIDDEN = ("Traceback", "site-packages", "/work/", str(REPO), '.py"')
BANNER = ".ge-lost[role=alert]"
ANSWERED_JS = "() => Number(document.querySelector('.ge-heartbeat').dataset.answered)"


@contextmanager
def served_as_deployed(log_path: Path | None = None) -> Iterator[str]:
    """The app served as in deployment (see the module docstring), its log kept in
    ``log_path``; its URL."""
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
    try:
        server = voila_server(log_path=log_path)
        url = server.__enter__()
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the module's server writes its log (the kernels' stderr included)."""
    return tmp_path_factory.mktemp("faults") / "server.log"


@pytest.fixture(scope="module")
def deployed(server_log: Path) -> Iterator[str]:
    """One server for the module's tests (but the one that stops its own)."""
    with served_as_deployed(server_log) as url:
        yield url


def leaks(channels: KernelChannels, since: int) -> list[str]:
    """Frames received after the ``since``-th that carry anything of FORBIDDEN."""
    return [
        text[:300] for text in channels.texts[since:] if any(word in text for word in FORBIDDEN)
    ]


def status_updates(channels: KernelChannels, states: dict[str, Any]) -> list[str]:
    """The status lines (HTML with role=status) the kernel sent, in order."""
    lines = []
    for model_id, entry in states.items():
        if entry["model_name"] == "HTMLModel":
            lines += [
                state["value"]
                for state in channels.state_updates(model_id)
                if 'role="status"' in str(state.get("value"))
            ]
    return lines


def sent(channels: KernelChannels, msg_id: str) -> None:
    channels.idle_after(msg_id)


# -- 2. no tracebacks or install paths reach a client ---------------------------------------
def test_refused_messages_send_the_client_no_traceback_and_the_panel_keeps_working(
    deployed: str, server_log: Path
) -> None:
    """Values the widgets' traits refuse, a message without a method, a mouse event without
    coordinates and a widget opened with no state each made the kernel send kilobytes of
    traceback with install paths (an ``error`` message, or ``stream`` stderr). Now no frame
    the client receives carries a traceback or a path; the server's log has them, the refused
    value is put back in the page (the values of a ChainPanel built here: the tab's defaults),
    and the panel computes the next setting."""
    reference = ChainPanel()
    with kernel_channels(deployed) as channels:
        states = channels.widget_states()
        depth = find_model(states, "AnyModel", description="depth L")
        activation = find_model(states, "DropdownModel", description="activation")
        canvas = find_model(states, "MPLCanvasModel")
        start = len(channels.texts)
        for msg_id in (
            channels.update(depth, {"value": "abc"}),  # a string for a number
            channels.update(depth, {"max": "abc"}),
            channels.update(activation, {"index": 99}),  # past the options
            channels.update(activation, {"index": "tanh"}),
            channels.comm_msg(depth, {"nomethod": 1}),
            channels.custom(canvas, {"type": "button_press"}),  # no x, y, button
            channels.comm_msg("no-such-comm", {"method": "update", "state": {}}),
            channels.send(
                "comm_open",
                {"comm_id": "forged", "target_name": "jupyter.widget", "data": {}},
                metadata={"version": "2.1.0"},
            ),
        ):
            sent(channels, msg_id)
        channels.drain(quiet=1.0)
        assert leaks(channels, start) == []
        assert not [m for m in channels.received if m.get("msg_type") == "error"]
        log = server_log.read_text(errors="replace")
        assert "a widget refused a client's message" in log
        assert "TraitError" in log  # the traceback is in the server's log instead
        # the page is told the kernel's own values again (it had applied the forged ones)
        assert {"index": reference.controls["activation"].index} in list(
            channels.state_updates(activation)
        )
        assert {"value": reference.state["depth"]} in list(channels.state_updates(depth))
        sent(channels, channels.update(depth, {"value": 21}))
        channels.drain(quiet=1.0)
        assert any("Computed 21 layers" in line for line in status_updates(channels, states))


# -- 3. forged values over the wire ---------------------------------------------------------
def test_a_forged_inspect_step_and_a_null_scenario_are_put_back_over_the_wire(
    deployed: str,
) -> None:
    """The Training lab's inspect step sent max = 1e9, then value = 1e9: the kernel sends its
    range (0 to 0 before any run) and value back, and says so. The scenario dropdown sent
    ``index: null`` (once an uncaught KeyError): the kernel sends index 0 (regression) back and
    says the choice was kept. The widgets' states asked afterwards are the kernel's."""
    with kernel_channels(deployed) as channels:
        states = channels.widget_states()
        sent(channels, channels.update(find_model(states, "TabModel"), {"selected_index": 6}))
        states = channels.widget_states()  # the Training lab is built when its tab is shown
        step = find_model(states, "AnyModel", description="inspect step")
        scenario = find_model(states, "DropdownModel", description="scenario")
        sent(channels, channels.update(step, {"max": 1e9}))
        sent(channels, channels.update(step, {"value": 1e9}))
        sent(channels, channels.update(scenario, {"index": None}))
        channels.drain(quiet=1.0)
        assert {"max": 0.0} in list(channels.state_updates(step))
        assert {"value": 0} in list(channels.state_updates(step))
        assert {"index": 0} in list(channels.state_updates(scenario))
        lines = " ".join(status_updates(channels, states)).replace("&#x27;", "'")
        assert "inspect step keeps its range 0 to 0" in lines
        assert "inspect step 1e+09 is outside 0–0; using 0." in lines
        assert "scenario: None is not an option; kept 'regression'." in lines
        now = channels.widget_states()
        assert (now[step]["state"]["max"], now[step]["state"]["value"]) == (0, 0)
        assert now[scenario]["state"]["index"] == 0


# -- 1. the canvas over the wire ------------------------------------------------------------
def test_a_forged_resize_over_the_wire_is_answered_with_the_figures_size(deployed: str) -> None:
    """A resize to 20000 × 20000 px sent to the Deep network's canvas is answered with the
    figure's own size, the size of a ChainPanel's figure built here (the page reported no width,
    so the served figure is at its natural size), and the canvas's size stays that."""
    reference = ChainPanel().figure.bbox.size
    with kernel_channels(deployed) as channels:
        states = channels.widget_states()
        canvas = find_model(states, "MPLCanvasModel")
        sent(channels, channels.custom(canvas, {"type": "resize", "width": 20000, "height": 20000}))
        channels.drain(quiet=1.0)
        answers = [
            json.loads(message["content"]["data"]["content"]["data"])
            for message in channels.received
            if message.get("msg_type") == "comm_msg"
            and message["content"]["comm_id"] == canvas
            and message["content"]["data"].get("method") == "custom"
        ]
        sizes = [answer["size"] for answer in answers if answer.get("type") == "resize"]
        assert len(sizes) == 1, answers  # the kernel answers the request once
        size = sizes[0]
        assert size == [float(n) for n in reference]
        assert channels.widget_states()[canvas]["state"]["_size"] == size


# -- 4. faults shown to the student ---------------------------------------------------------
def page_kernel_id(page: Any) -> str:
    found = re.search(r'"kernelId": "([0-9a-f-]{36})"', page.content())
    assert found, "the page names its kernel"
    return found.group(1)


def test_a_killed_kernel_shows_the_banner_and_reload_starts_again(
    deployed: str, browser: Any
) -> None:
    """SIGKILL to the page's kernel: jupyter_server restarts a bare kernel under the same id,
    which answers no widget. The page says so in a banner (role alert) whose Reload button has
    the keyboard focus; Enter reloads, and the new page has a new kernel whose figure draws and
    whose status line reports the Deep network's default computation."""
    page = open_app(browser, deployed)
    assert page.evaluate(ANSWERED_JS) >= 0
    assert page.locator(BANNER).count() == 0
    page.wait_for_function(f"({ANSWERED_JS})() > 0", timeout=30_000)  # pings are answered
    killed = page_kernel_id(page)
    kernel_process(killed).send_signal(signal.SIGKILL)
    page.wait_for_selector(BANNER, timeout=60_000)
    assert page.locator(BANNER).inner_text().startswith(LOST_MESSAGE)
    focused = page.evaluate(
        "() => [document.activeElement.tagName, document.activeElement.textContent]"
    )
    assert focused == ["BUTTON", "Reload"]
    page.keyboard.press("Enter")
    page.wait_for_function(f"({DARK_PIXELS_JS})() > 2000", timeout=90_000, polling=100)
    assert page_kernel_id(page) != killed
    assert "Computed 20 layers" in page.evaluate(VISIBLE_STATUS_JS)
    assert page.locator(BANNER).count() == 0
    page.close()


def test_a_closed_connection_shows_the_banner(browser: Any) -> None:
    """The server stops under an open page (its websocket closes): the banner says the
    connection was lost. This test serves its own app, since it stops the server."""
    with served_as_deployed() as url:
        page = open_app(browser, url)
        page.wait_for_function(f"({ANSWERED_JS})() > 0", timeout=30_000)
    page.wait_for_selector(BANNER, timeout=60_000)
    assert page.locator(BANNER).inner_text().startswith(LOST_MESSAGE)
    page.close()


def test_a_busy_kernel_is_not_declared_lost_and_the_heartbeat_takes_no_room(
    deployed: str, browser: Any
) -> None:
    """While the Training lab trains the adding problem for 3000 steps (about half a minute, in
    slices that yield to the kernel), the kernel answers three more pings and no banner shows.
    The heartbeat's element is zero pixels high."""
    page = open_app(browser, deployed)
    height = "() => document.querySelector('.ge-heartbeat').getBoundingClientRect().height"
    assert page.evaluate(height) == 0
    open_tab(page, "Training lab")
    page.locator(
        ".widget-dropdown:has(label:text-is('scenario')) select >> visible=true"
    ).select_option(label=SCENARIO_DEFAULTS["adding"].title)
    enter_value(page, "steps", "3000")
    wait_for_status(page, "press Start")
    page.locator("button:has-text('Start') >> visible=true").click()
    wait_for_status(page, "Training… step")
    before = page.evaluate(ANSWERED_JS)
    page.wait_for_function(f"({ANSWERED_JS})() >= {before + 3}", timeout=60_000)
    assert "Training… step" in page.evaluate(VISIBLE_STATUS_JS)  # still training meanwhile
    assert page.locator(BANNER).count() == 0
    page.locator("button:has-text('Stop') >> visible=true").click()
    wait_for_status(page, "Stopped after")
    page.close()
