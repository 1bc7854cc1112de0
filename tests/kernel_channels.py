"""A served page's kernel, spoken to over its websocket as a browser would: no mocks.

``open_page(url)`` fetches the page (Voila starts a kernel and runs the notebook) and reads the
kernel id from it; ``KernelChannels`` then opens ``/api/kernels/<id>/channels`` and sends widget
protocol messages (``comm_open``, ``comm_msg``): what any client of the page may send. Every
message the server sends back is kept in ``received`` so a test can look through all of them.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import websocket  # websocket-client, a jupyter_server dependency

Message = dict[str, Any]


def kernel_id_of(html: str) -> str:
    """The kernel id Voila writes into the page it serves."""
    found = re.search(r'"kernelId": "([0-9a-f-]{36})"', html)
    assert found, "the served page names its kernel"
    return found.group(1)


def open_page(url: str) -> str:
    """GET the app's page (which starts its kernel and runs the notebook); its kernel id."""
    html = urllib.request.urlopen(url, timeout=120).read().decode()
    return kernel_id_of(html)


class KernelChannels:
    """One websocket to a kernel's channels, in Jupyter's JSON message format."""

    def __init__(self, url: str, kernel_id: str) -> None:
        self.kernel_id = kernel_id
        self.session = uuid.uuid4().hex
        ws_url = url.replace("http://", "ws://").rstrip("/")
        self.socket = websocket.create_connection(
            f"{ws_url}/api/kernels/{kernel_id}/channels?session_id={self.session}", timeout=5
        )
        self.received: list[Message] = []
        self.texts: list[str] = []  # every frame as it arrived (what a client could read)

    def close(self) -> None:
        self.socket.close()

    # -- sending -----------------------------------------------------------------------------
    def send(self, msg_type: str, content: Message, metadata: Message | None = None) -> str:
        """Send a shell message; its id."""
        msg_id = uuid.uuid4().hex
        message = {
            "header": {
                "msg_id": msg_id,
                "msg_type": msg_type,
                "session": self.session,
                "username": "student",
                "date": "2025-01-01T00:00:00.000000Z",
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": metadata or {},
            "content": content,
            "channel": "shell",
            "buffers": [],
        }
        self.socket.send(json.dumps(message))
        return msg_id

    def comm_msg(self, comm_id: str, data: Message) -> str:
        return self.send("comm_msg", {"comm_id": comm_id, "data": data})

    def update(self, model_id: str, state: Message) -> str:
        """Set synced traits of widget ``model_id``, as the page does when a control moves."""
        return self.comm_msg(model_id, {"method": "update", "state": state, "buffer_paths": []})

    def custom(self, model_id: str, content: Any) -> str:
        """A custom message to widget ``model_id`` (``model.send`` in a front end)."""
        return self.comm_msg(model_id, {"method": "custom", "content": content})

    # -- receiving ---------------------------------------------------------------------------
    def _receive(self, timeout: float) -> Message | None:
        self.socket.settimeout(timeout)
        try:
            frame = self.socket.recv()
        except websocket.WebSocketTimeoutException:
            return None
        text = frame if isinstance(frame, str) else frame.decode("utf-8", "replace")
        self.texts.append(text)
        message: Message = json.loads(text) if isinstance(frame, str) else {"binary": text}
        self.received.append(message)
        return message

    def wait_for(self, test: Callable[[Message], bool], timeout: float = 30) -> Message:
        """The first message from now on that passes ``test`` (AssertionError after
        ``timeout`` seconds without one)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            message = self._receive(min(left, 1.0))
            if message is not None and test(message):
                return message
        raise AssertionError(f"no such message within {timeout} s")

    def drain(self, quiet: float = 1.0, limit: float = 30) -> None:
        """Read until the kernel has sent nothing for ``quiet`` seconds (or ``limit`` passed)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and self._receive(quiet) is not None:
            pass

    def idle_after(self, msg_id: str, timeout: float = 60) -> None:
        """Wait until the kernel is idle after handling message ``msg_id``."""
        self.wait_for(
            lambda m: (
                m.get("msg_type") == "status"
                and m.get("parent_header", {}).get("msg_id") == msg_id
                and m["content"].get("execution_state") == "idle"
            ),
            timeout,
        )

    # -- the widgets -------------------------------------------------------------------------
    def widget_states(self) -> dict[str, Message]:
        """Every widget's state by model id, asked of ipywidgets' control comm as a page does on
        load (``request_states``)."""
        control = uuid.uuid4().hex
        self.send(
            "comm_open",
            {"comm_id": control, "target_name": "jupyter.widget.control", "data": {}},
            metadata={"version": "1.0.0"},  # ipywidgets' control protocol
        )
        self.comm_msg(control, {"method": "request_states"})
        reply = self.wait_for(
            lambda m: (
                m.get("msg_type") == "comm_msg"
                and m["content"].get("comm_id") == control
                and m["content"]["data"].get("method") == "update_states"
            )
        )
        states: dict[str, Message] = reply["content"]["data"]["states"]
        return states

    def state_updates(self, model_id: str) -> Iterator[Message]:
        """The state updates the kernel sent so far for widget ``model_id``, in order."""
        for message in self.received:
            content = message.get("content", {})
            if message.get("msg_type") == "comm_msg" and content.get("comm_id") == model_id:
                data = content.get("data", {})
                if data.get("method") in ("update", "echo_update"):
                    yield data.get("state", {})


def find_model(states: dict[str, Message], model_name: str, **traits: object) -> str:
    """The id of the one widget of ``model_name`` whose state holds ``traits``."""
    found = [
        model_id
        for model_id, entry in states.items()
        if entry.get("model_name") == model_name
        and all(entry["state"].get(key) == value for key, value in traits.items())
    ]
    assert len(found) == 1, f"{len(found)} {model_name} widgets with {traits}"
    return found[0]


@contextmanager
def kernel_channels(url: str) -> Iterator[KernelChannels]:
    """A fresh page's kernel, and a websocket to it."""
    channels = KernelChannels(url, open_page(url))
    try:
        yield channels
    finally:
        channels.close()
