"""Kernel websocket frames: a crafted offset count must not freeze the server (both protocols).

The checks themselves are tested on frames built by jupyter_server's own serializers and on
crafted ones; then against a real server (``explorer-serve`` with the repository's voila.py):
a crafted frame closes its socket, the server keeps answering, the page's kernel keeps working,
and a legacy client that makes the kernel send a figure image no longer freezes the server.
"""

from __future__ import annotations

import json
import struct
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import websocket  # websocket-client
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

from explorer.serving.frames import CLOSE_MALFORMED, V1_PROTOCOL, frame_problem, outgoing_type
from tests.serving import Served, fetch, kernel_id_of, served_with_log

# The attack freezes the server for good, so any delay tells; a generous one keeps a loaded
# machine from failing the check.
LIVENESS_S = 5.0
SESSION = Session(key=b"")  # the server signs for the kernel: the client sends no signature


def message(msg_type: str, content: dict[str, Any] | None = None) -> dict[str, Any]:
    """A kernel message as a client builds it."""
    return SESSION.msg(msg_type, content=content or {})


def v1_frame(msg: dict[str, Any], channel: str = "shell") -> bytes:
    """``msg`` framed as the page sends it (the v1 protocol)."""
    return bytes(serialize_msg_to_ws_v1(msg, channel, SESSION.pack))


def legacy_text(msg: dict[str, Any], channel: str = "shell") -> str:
    """``msg`` as a legacy client sends it: JSON text, the channel inside."""
    return json.dumps({**msg, "channel": channel}, default=json_default)


# -- the checks, on frames built by jupyter_server's serializers and on crafted ones ---------------


def test_frames_as_jupyter_serializes_them_pass() -> None:
    info = message("kernel_info_request")
    assert frame_problem(v1_frame(info), V1_PROTOCOL) is None
    assert frame_problem(legacy_text(info), None) is None
    with_buffers = {**message("comm_msg", {"comm_id": "x", "data": {}}), "buffers": [b"\x00\x01"]}
    assert frame_problem(bytes(serialize_binary_message(with_buffers)), None) is None


def crafted_v1(count: int, offsets: list[int], tail: bytes = b"") -> bytes:
    return struct.pack(f"<Q{len(offsets)}Q", count, *offsets) + tail


GOOD_V1 = v1_frame(message("kernel_info_request"))
GOOD_COUNT = int.from_bytes(GOOD_V1[:8], "little")
GOOD_OFFSETS = list(struct.unpack_from(f"<{GOOD_COUNT}Q", GOOD_V1, 8))


@pytest.mark.parametrize(
    ("frame", "protocol", "said"),
    [
        (struct.pack("<QQ", 2**62, 0), V1_PROTOCOL, "claims 4611686018427387904 offsets"),
        (b"\x01\x02", V1_PROTOCOL, "shorter than its offset count"),
        (crafted_v1(2, [24, 24], b"shell"), V1_PROTOCOL, "fewer than a kernel message needs"),
        (
            GOOD_V1[:8] + struct.pack("<Q", 2**40) + GOOD_V1[16:],
            V1_PROTOCOL,
            "offsets go backwards",
        ),
        (GOOD_V1[:8] + struct.pack("<Q", 8) + GOOD_V1[16:], V1_PROTOCOL, "offset table"),
        (GOOD_V1[: GOOD_OFFSETS[-1] - 1], V1_PROTOCOL, "past the end of the frame"),
        (GOOD_V1.replace(b"shell", b"oops!", 1), V1_PROTOCOL, "unknown channel 'oops!'"),
        (GOOD_V1.replace(b'"msg_id"', b'"msg_id ', 1), V1_PROTOCOL, "a part is not JSON"),
        ('{"header": {}}', V1_PROTOCOL, "a text frame on the v1 protocol"),
        (struct.pack("!iI", 2**31 - 1, 8), None, "claims 2147483647 buffers"),
        (struct.pack("!iI", -5, 8), None, "claims -5 buffers"),
        (struct.pack("!iII", 2, 12, 4) + b"{}", None, "offsets go backwards"),
        ("[1, 2]", None, "not a JSON object"),
        ('{"header": {"msg_type": "kernel_info_request"}}', None, "has no parent_header"),
        ('{"header": {}, "parent_header": {}, "metadata": {}, "content": {}}', None, "msg_type"),
        (legacy_text({**message("comm_msg"), "buffers": ["AAAA"]}), None, "cannot carry buffers"),
        ("not json", None, "a part is not JSON"),
    ],
)
def test_crafted_frames_are_refused_saying_why(
    frame: bytes | str, protocol: str | None, said: str
) -> None:
    problem = frame_problem(frame, protocol)
    assert problem is not None
    assert said in problem


def test_outgoing_messages_are_read_without_trusting_their_counts() -> None:
    """Voilà holds back execute_input (it shows code); the type is read from the frame safely.
    A legacy binary message (big-endian count of 2 = 2**57 read as a little-endian uint64 by
    Voilà's reader) is not opened at all."""
    code = message("execute_input", {"code": "secret()", "execution_count": 1})
    assert outgoing_type(v1_frame(code, "iopub"), V1_PROTOCOL) == "execute_input"
    assert outgoing_type(legacy_text(code, "iopub"), None) == "execute_input"
    assert outgoing_type(legacy_text(message("status"), "iopub"), None) is None
    image = {**message("comm_msg", {"comm_id": "c", "data": {}}), "buffers": [b"png"]}
    legacy_binary = bytes(serialize_binary_message(image))
    assert int.from_bytes(legacy_binary[:8], "little") > 2**56  # what Voilà would loop over
    assert outgoing_type(legacy_binary, None) is None
    assert outgoing_type(struct.pack("<QQ", 2**62, 0), V1_PROTOCOL) is None


# -- against a real server ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_with_log(tmp_path_factory.mktemp("frames"), {"EXPLORER_PREHEAT": "0"}) as server:
        yield server


@pytest.fixture(scope="module")
def kernel(served: Served) -> str:
    """The kernel of one page served (its notebook has run: the App and its figure exist)."""
    page = fetch(served.url)
    assert page.status == 200
    return kernel_id_of(page.body)


@contextmanager
def connected(url: str, kernel_id: str, *, v1: bool) -> Iterator[websocket.WebSocket]:
    """A websocket to the kernel's channels, in the v1 or the legacy framing; closed after."""
    address = url.replace("http", "ws", 1) + f"api/kernels/{kernel_id}/channels"
    protocols = [V1_PROTOCOL] if v1 else None
    socket = websocket.create_connection(
        f"{address}?session_id={uuid.uuid4()}", subprotocols=protocols, timeout=60
    )
    try:
        assert socket.subprotocol == (V1_PROTOCOL if v1 else None)
        yield socket
    finally:
        socket.close()  # a no-op once the server closed: shutdown() then frees the socket
        socket.shutdown()


def receive(socket: websocket.WebSocket) -> dict[str, Any]:
    """The next message the server sends, whatever its framing; ``{}`` when it closes."""
    opcode, data = socket.recv_data()
    if opcode == websocket.ABNF.OPCODE_CLOSE:
        return {"close": struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None}
    if opcode == websocket.ABNF.OPCODE_TEXT:
        return dict(json.loads(data))
    if socket.subprotocol == V1_PROTOCOL:
        channel, parts = deserialize_msg_from_ws_v1(data)
        header, parent, _, content = (json.loads(part) for part in parts[:4])
        found = {"header": header, "parent_header": parent, "content": content}
        return {**found, "channel": channel, "binary": True}
    return {**deserialize_binary_message(data), "binary": True}


def reply_to(socket: websocket.WebSocket, msg_type: str) -> dict[str, Any]:
    """The first message of type ``msg_type`` the server sends on ``socket``."""
    while True:
        received = receive(socket)
        assert "close" not in received, f"socket closed before a {msg_type}: {received}"
        if received["header"]["msg_type"] == msg_type:
            return received


def close_code(socket: websocket.WebSocket) -> int | None:
    """The code the server closes ``socket`` with (other messages before it are skipped)."""
    while "close" not in (received := receive(socket)):
        pass
    return received["close"]


def server_answers(url: str) -> bool:
    """The liveness check: a static file within LIVENESS_S."""
    started = time.monotonic()
    with urllib.request.urlopen(url + "voila/static/voila.js", timeout=LIVENESS_S) as answer:
        answer.read(64)
    return time.monotonic() - started < LIVENESS_S


def kernel_answers(url: str, kernel_id: str) -> bool:
    """The page's kernel replies to a kernel_info_request over a fresh v1 socket."""
    with connected(url, kernel_id, v1=True) as socket:
        socket.send_binary(v1_frame(message("kernel_info_request")))
        return bool(reply_to(socket, "kernel_info_reply")["content"]["status"] == "ok")


def test_the_served_page_is_the_explorer_not_a_failure(served: Served, kernel: str) -> None:
    page = fetch(served.url)
    assert "application/vnd.jupyter.widget-view+json" in page.body
    assert "explorer-failed" not in page.body
    assert "voila.js" in page.body


def test_a_valid_v1_message_is_answered(served: Served, kernel: str) -> None:
    assert kernel_answers(served.url, kernel)


def test_a_crafted_v1_offset_count_closes_the_socket_only(served: Served, kernel: str) -> None:
    """16 bytes claiming 2**62 offsets: without the check the server loops over them (it then
    stops answering anything, its memory growing by tens of MiB a second)."""
    with connected(served.url, kernel, v1=True) as socket:
        socket.send_binary(struct.pack("<QQ", 2**62, 0))
        assert server_answers(served.url)
        assert close_code(socket) == CLOSE_MALFORMED
    assert kernel_answers(served.url, kernel)
    log = served.log_text()
    assert "Refused a websocket frame" in log
    assert "claims 4611686018427387904 offsets" in log
    assert "Traceback" not in log


@pytest.mark.parametrize(
    "frame",
    [struct.pack("!iI", 2**31 - 1, 8), '{"channel": "shell", "header": []}', "[]"],
    ids=["binary count", "header not an object", "not an object"],
)
def test_a_crafted_legacy_frame_closes_the_socket_only(
    served: Served, kernel: str, frame: bytes | str
) -> None:
    with connected(served.url, kernel, v1=False) as socket:
        if isinstance(frame, bytes):
            socket.send_binary(frame)
        else:
            socket.send(frame)
        assert server_answers(served.url)
        assert close_code(socket) == CLOSE_MALFORMED
    assert kernel_answers(served.url, kernel)
    assert "Traceback" not in served.log_text()


def test_a_legacy_client_receives_a_figure_image_and_the_server_keeps_answering(
    served: Served, kernel: str
) -> None:
    """A legacy client asks every widget to draw: the figure's canvas answers with its image, a
    binary message. Voilà's handler would read that message's first 8 bytes as a v1 offset count
    (about 2**57 here) and freeze the server; it arrives instead, and the server answers."""
    with connected(served.url, kernel, v1=False) as socket:
        socket.send(legacy_text(message("comm_info_request")))
        comms = reply_to(socket, "comm_info_reply")["content"]["comms"]
        assert comms, "the page's notebook opened its widgets"
        for comm_id in comms:
            draw = {"method": "custom", "content": {"type": "draw"}}
            socket.send(legacy_text(message("comm_msg", {"comm_id": comm_id, "data": draw})))
        while not (received := receive(socket)).get("binary"):
            assert "close" not in received, received
        assert received["header"]["msg_type"] == "comm_msg"
        assert received["buffers"], "the image travels as a buffer"
    assert server_answers(served.url)
    assert kernel_answers(served.url, kernel)
