"""The page's query string, read inside the kernel (standard library only: cheap to import).

A kernel started for a page gets the request in its environment (``QUERY_STRING``, as in CGI).
A preheated kernel was started before any page asked for it, so Voilà sends it the request over a
websocket (``/voila/query/<kernel id>``) once a page takes it; until then the kernel waits there.
This is Voilà's documented mechanism (``voila.utils.get_query_string``), done here without an
event loop of its own and only once per kernel.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

# set by Voilà in every kernel it starts (VOILA_KERNEL_ID by the code it runs before the notebook)
PREHEATED = "VOILA_PREHEAT"
KERNEL_ID = "VOILA_KERNEL_ID"
OPEN_TIMEOUT = 10.0

_received: dict[str, str] | None = None


def request_socket_url(env: Mapping[str, str]) -> str:
    """Where a preheated kernel hears about its page: the server's request-info websocket.

    voila.py sets ``VOILA_APP_IP`` to an address the server listens on; the other variables are
    set by Voilà itself.
    """
    protocol = env.get("VOILA_WS_PROTOCOL", "ws")
    host = env.get("VOILA_APP_IP", "127.0.0.1")
    port = env.get("VOILA_APP_PORT", "8866")
    base = env.get("VOILA_WS_BASE_URL", env.get("VOILA_SERVER_URL", "/"))
    return f"{protocol}://{host}:{port}{base}voila/query/{env[KERNEL_ID]}"


def receive_request() -> dict[str, str]:
    """Block until Voilà sends this preheated kernel its page's request; return its variables.

    There is no time limit on the wait itself: a pooled kernel waits for as long as no student
    takes it. Only opening the socket is bounded.
    """
    # Voilà's own dependency, imported only in a preheated kernel
    from websockets.exceptions import WebSocketException
    from websockets.sync.client import connect

    url = request_socket_url(os.environ)
    try:
        with connect(url, open_timeout=OPEN_TIMEOUT) as socket:
            payload = socket.recv()
    except (OSError, WebSocketException) as error:
        raise RuntimeError(f"no request info from Voilà at {url}: {error}") from error
    info = json.loads(payload)
    return {str(name): str(value) for name, value in info.items()}


def query_string() -> str:
    """The query string of the page this kernel serves ("" when it has none).

    In a preheated kernel the first call waits until a page takes the kernel, then keeps the
    request's variables in ``os.environ`` as a plain kernel has them; later calls return at once.
    """
    global _received  # noqa: PLW0603  (one request per kernel: received once, then kept)
    if os.environ.get(PREHEATED) == "True" and _received is None:
        _received = receive_request()
        os.environ.update(_received)
    return os.environ.get("QUERY_STRING", "")
