"""Kernels are freed when their page goes, against a real server and real websockets.

A page fetched without ever connecting its websocket (a client that left at once) loses its
kernel; a page whose websocket closes keeps its kernel through a reconnect within the grace
period, and loses it after. Closing a tab in a real browser is in test_serving_browser.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import websocket  # websocket-client
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)

from explorer.serving.frames import V1_PROTOCOL
from tests.serving import Served, fetch, kernel_alive, kernel_id_of, served_with_log, wait_for

GRACE_S = 3
UNCONNECTED_S = 8


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {
        "EXPLORER_PREHEAT": "0",
        "EXPLORER_DISCONNECT_GRACE": str(GRACE_S),
        "EXPLORER_UNCONNECTED": str(UNCONNECTED_S),
    }
    with served_with_log(tmp_path_factory.mktemp("lifetimes"), env) as server:
        yield server


def connect_and_talk(url: str, kernel_id: str) -> websocket.WebSocket:
    """Open the page's websocket as its page does (v1) and wait for the kernel's answer."""
    address = url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    socket = websocket.create_connection(
        f"{address}?session_id={uuid.uuid4()}", subprotocols=[V1_PROTOCOL], timeout=60
    )
    session = Session(key=b"")
    request = session.msg("kernel_info_request")
    socket.send_binary(serialize_msg_to_ws_v1(request, "shell", session.pack))
    while True:
        _, parts = deserialize_msg_from_ws_v1(socket.recv())
        if session.unpack(parts[0])["msg_type"] == "kernel_info_reply":
            return socket


def hang_up(socket: websocket.WebSocket) -> None:
    socket.close()
    socket.shutdown()


def test_a_page_that_never_connects_loses_its_kernel(served: Served) -> None:
    """A plain GET (no browser, no websocket) starts a kernel; it is shut down once it has sat
    idle for EXPLORER_UNCONNECTED seconds with no page on it."""
    kernel = kernel_id_of(fetch(served.url).body)
    assert kernel_alive(served.url, kernel)
    wait_for(lambda: not kernel_alive(served.url, kernel), "the unclaimed kernel shut down")
    assert f"Shutting down kernel {kernel}: its page never connected" in served.log_text()


def test_a_reconnect_within_the_grace_keeps_the_kernel(served: Served) -> None:
    """The websocket drops and comes back at once: the kernel stays past the grace period.
    When it drops for good, the kernel is shut down after the grace period."""
    kernel = kernel_id_of(fetch(served.url).body)
    hang_up(connect_and_talk(served.url, kernel))
    socket = connect_and_talk(served.url, kernel)
    try:
        time.sleep(2 * GRACE_S)  # past the grace the first hang-up started
        assert kernel_alive(served.url, kernel)
    finally:
        hang_up(socket)
    wait_for(lambda: not kernel_alive(served.url, kernel), "the kernel shut down after its page")
    log = served.log_text()
    assert f"Shutting down kernel {kernel}: its page closed {GRACE_S} s ago" in log
    assert f"Shutting down kernel {kernel}: its page never connected" not in log
