"""The page's query string, read inside the kernel (standard library only: cheap to import).

A kernel started for a page gets the request in its environment (``QUERY_STRING``, as in CGI).
A preheated kernel was started before any page asked for it, so Voilà sends it the request over a
websocket (``/voila/query/<kernel id>``) once a page takes it; until then the kernel waits there.
This is Voilà's documented mechanism (``voila.utils.get_query_string``), done here without an
event loop of its own and only once per kernel.

``query_string()`` blocks until the request comes, as Voilà's own function does; a cell that calls
it in a pooled kernel is then still running when Voilà's cell timeout (``EXPLORER_CELL_TIMEOUT``)
interrupts it, and the kernel the next page takes is broken. ``when_requested(callback)`` is the
way a notebook waits instead: it returns at once and hands the query string to ``callback`` on the
kernel's event loop once a page has taken the kernel (at once in a kernel started for its page).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections.abc import Callable, Mapping

# set by Voilà in every kernel it starts (VOILA_KERNEL_ID by the code it runs before the notebook)
PREHEATED = "VOILA_PREHEAT"
KERNEL_ID = "VOILA_KERNEL_ID"
OPEN_TIMEOUT = 10.0

_received: dict[str, str] | None = None
log = logging.getLogger(__name__)


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


def when_requested(callback: Callable[[str], object]) -> None:
    """Call ``callback(query string)`` once this kernel's page is known, without blocking.

    In a kernel started for its page (or once the request has come) the call is immediate. In a
    pooled kernel a daemon thread waits for Voilà's request, keeps its variables as
    ``query_string`` does and schedules ``callback`` on the running event loop (the kernel's),
    so that it touches widgets from the kernel's own thread. Without a running loop (a plain
    script) it blocks as ``query_string`` does."""
    if os.environ.get(PREHEATED) != "True" or _received is not None:
        callback(query_string())
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        callback(query_string())
        return

    def wait() -> None:
        try:
            query = query_string()
        except Exception:  # the page still works, on the notebook's default view
            log.exception("no request info reached this preheated kernel")
            return
        loop.call_soon_threadsafe(callback, query)

    threading.Thread(target=wait, name="voila-request", daemon=True).start()
