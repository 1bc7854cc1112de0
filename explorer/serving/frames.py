"""Kernel websocket frames, checked before jupyter_server reads them.

A page talks to its kernel over ``/api/kernels/<id>/channels`` in one of two framings:

- **v1** (subprotocol ``v1.kernel.websocket.jupyter.org``, what the page uses): a binary frame
  starting with a little-endian uint64 count ``n``, then ``n`` uint64 offsets, then the parts
  (channel, header, parent header, metadata, content, buffers...).
- **legacy** (no subprotocol): a JSON text frame, or a binary frame starting with a big-endian
  int32 buffer count, then that many uint32 offsets, then the message JSON and its buffers.

jupyter_server trusts the counts: a 16-byte v1 frame claiming 2**62 offsets makes it build a list
of that length in the server process, which freezes every page on the server. Voilà's own
websocket handler reads every *outgoing* binary message as v1, so a legacy client that makes the
kernel send a binary message (a figure's image) freezes it the same way.

``frame_problem`` says what is wrong with an incoming frame, reading nothing the frame does not
hold. ``CheckedConnection`` (set as ``Voila.kernel_websocket_connection_class`` in voila.py)
closes a socket that sends a malformed frame, and writes outgoing messages without Voilà's
reader.
"""

from __future__ import annotations

import json
import struct
from itertools import pairwise
from typing import Any, Literal

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketHandler

V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
CHANNELS = frozenset({"shell", "control", "iopub", "stdin"})
# channel, header, parent header, metadata, content: what every kernel message carries
V1_MIN_PARTS = 5
MESSAGE_FIELDS = ("header", "parent_header", "metadata", "content")
# RFC 6455 close code 1007: the payload is not what the protocol expects
CLOSE_MALFORMED = 1007


def read_offsets(
    frame: bytes, count: int, start: int, width: int, byteorder: Literal["little", "big"]
) -> list[int]:
    """The ``count`` offsets of ``width`` bytes each at ``start``. The caller has checked that
    the table fits in the frame, so this reads at most ``len(frame)`` bytes."""
    end = start + count * width
    return [int.from_bytes(frame[at : at + width], byteorder) for at in range(start, end, width)]


def offsets_problem(offsets: list[int], data_start: int, length: int) -> str | None:
    """Offsets must point past the offset table, never go back, and stay inside the frame."""
    if offsets[0] < data_start:
        return "an offset points into the offset table"
    if any(later < earlier for earlier, later in pairwise(offsets)):
        return "offsets go backwards"
    if offsets[-1] > length:
        return "an offset points past the end of the frame"
    return None


def split_v1(frame: bytes) -> tuple[list[bytes], str | None]:
    """The parts of a v1 frame (channel first), or ``([], problem)``."""
    if len(frame) < 8:
        return [], "shorter than its offset count"
    count = int.from_bytes(frame[:8], "little")
    if count > len(frame) // 8 - 1:
        return [], f"claims {count} offsets, more than its {len(frame)} bytes can hold"
    if count < V1_MIN_PARTS + 1:
        return [], f"{count} offsets, fewer than a kernel message needs"
    offsets = read_offsets(frame, count, 8, 8, "little")
    problem = offsets_problem(offsets, 8 * (count + 1), len(frame))
    if problem:
        return [], problem
    return [frame[a:b] for a, b in pairwise(offsets)], None


def header_problem(header: Any) -> str | None:
    """jupyter_server reads ``header["msg_type"]`` to filter message types."""
    if not isinstance(header, dict):
        return "the header is not a JSON object"
    if not isinstance(header.get("msg_type"), str):
        return "the header has no msg_type"
    return None


def json_part(part: bytes | str) -> tuple[Any, str | None]:
    """A JSON part decoded, or ``(None, problem)``."""
    try:
        return json.loads(part), None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None, "a part is not JSON"


def v1_problem(frame: bytes) -> str | None:
    """What jupyter_server would trip on in a v1 frame: its offsets, its channel, its header."""
    parts, problem = split_v1(frame)
    if problem:
        return problem
    try:
        channel = parts[0].decode("utf-8")
    except UnicodeDecodeError:
        return "the channel is not text"
    if channel not in CHANNELS:
        return f"unknown channel {channel[:20]!r}"
    header, problem = json_part(parts[1])
    return problem or header_problem(header)


def fields_problem(message: dict[str, Any]) -> str | None:
    """The fields jupyter_client's Session.send packs: all four, the parent and content objects."""
    missing = [name for name in MESSAGE_FIELDS if name not in message]
    if missing:
        return f"the message has no {missing[0]}"
    if not isinstance(message["parent_header"], dict):
        return "the parent header is not a JSON object"
    if not isinstance(message["content"], dict):
        return "the content is not a JSON object"
    return None


def message_problem(message: Any, *, text_frame: bool) -> str | None:
    """A legacy message dict as jupyter_server and Session.send read it: its fields, a text
    channel, a header with its type, and (in a text frame) no buffers."""
    if not isinstance(message, dict):
        return "the message is not a JSON object"
    channel = message.get("channel")
    if channel is not None and not isinstance(channel, str):
        return "the channel is not text"
    if text_frame and message.get("buffers"):
        return "a text frame cannot carry buffers"
    return fields_problem(message) or header_problem(message["header"])


def legacy_binary_problem(frame: bytes) -> str | None:
    """A legacy binary frame: its int32 buffer count, its uint32 offsets, its message JSON."""
    if len(frame) < 4:
        return "shorter than its buffer count"
    (count,) = struct.unpack("!i", frame[:4])
    if count < 1 or count > len(frame) // 4 - 1:
        return f"claims {count} buffers, which its {len(frame)} bytes cannot hold"
    offsets = read_offsets(frame, count, 4, 4, "big")
    problem = offsets_problem(offsets, 4 * (count + 1), len(frame))
    if problem:
        return problem
    end = offsets[1] if count > 1 else len(frame)
    message, problem = json_part(frame[offsets[0] : end])
    return problem or message_problem(message, text_frame=False)


def frame_problem(frame: bytes | str, subprotocol: str | None) -> str | None:
    """What is wrong with an incoming frame, or ``None`` when jupyter_server can read it.

    Every count is bounded by the frame's own length before anything is read, so the check
    costs at most one pass over the frame's offset table and one JSON decode of its header.
    """
    if subprotocol == V1_PROTOCOL:
        if isinstance(frame, str):
            return "a text frame on the v1 protocol"
        return v1_problem(frame)
    if isinstance(frame, bytes):
        return legacy_binary_problem(frame)
    message, problem = json_part(frame)
    return problem or message_problem(message, text_frame=True)


def outgoing_type(message: bytes | str | dict[str, Any], subprotocol: str | None) -> str | None:
    """The msg_type of a message the server sends to the page, read safely; ``None`` if unknown.

    Used only to hold back ``execute_input`` (it would show the notebook's code), as Voilà does.
    A kernel never sends that type with buffers, so legacy binary messages are not opened.
    """
    if isinstance(message, dict):
        header = message.get("header")
    elif isinstance(message, str):
        if "execute_input" not in message:
            return None
        header = json_part(message)[0]
        header = header.get("header") if isinstance(header, dict) else None
    elif subprotocol == V1_PROTOCOL:
        parts, problem = split_v1(message)
        header = None if problem else json_part(parts[1])[0]
    else:
        return None
    msg_type = header.get("msg_type") if isinstance(header, dict) else None
    return msg_type if isinstance(msg_type, str) else None


class CheckedConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel connection with every frame checked in both directions."""

    def handle_incoming_message(self, incoming_msg: str | bytes) -> None:
        """Close the socket on a malformed frame instead of letting jupyter_server parse it.

        Closing (rather than dropping one frame) stops a client that is probing; the page's own
        client never sends such a frame. The kernel and its other connections are untouched.
        """
        problem = frame_problem(incoming_msg, self.subprotocol)
        if problem is None:
            super().handle_incoming_message(incoming_msg)  # type: ignore[arg-type]
            return
        self.log.warning(
            "Refused a websocket frame for kernel %s from %s (%s, %d bytes): %s; socket closed",
            self.kernel_id,
            self.websocket_handler.request.remote_ip,
            self.subprotocol or "legacy protocol",
            len(incoming_msg),
            problem,
        )
        self.websocket_handler.close(CLOSE_MALFORMED, "malformed kernel message")

    @property
    def write_message(self) -> Any:
        """Send through tornado directly: Voilà's handler would read a legacy binary message as
        v1 and loop over its first 8 bytes as a count."""
        return self._write_checked

    def _write_checked(self, message: bytes | str | dict[str, Any], binary: bool = False) -> Any:
        if outgoing_type(message, self.subprotocol) == "execute_input":
            return None
        return WebSocketHandler.write_message(self.websocket_handler, message, binary=binary)
