"""Faults: what the kernel keeps to itself, and what the page is told.

**Kept in the kernel.** A client can send any widget message. One that a widget refuses (a
string for a slider's value, a dropdown index out of range, a canvas event without a type)
raises in ipywidgets, which shows the traceback "in the notebook": an ``error`` message, and log
records written to the kernel's stderr, which ipykernel forwards to the page as ``stream`` output.
Either way the page receives kilobytes of traceback naming install paths. ``keep_faults_in_kernel``
sends all of it to the server's log instead: it wraps the kernel's handlers of the three comm
messages (``comm_open``, ``comm_msg``, ``comm_close``, the only ones a page can use to reach the
widgets) so that, while one runs, a traceback IPython would show and any warning are logged; and
it gives the loggers these handlers and the panels write to (``SERVER_LOGGERS``) a handler on the
server's stderr. The notebook's own cells are untouched. A refused update is also answered with
the widget's own values: the page had applied the forged ones and would show them otherwise.

**Told to the page.** When the kernel dies, jupyter_server starts a bare kernel under the same
id: the page keeps its widgets, but nothing answers them. When the websocket drops, nothing
answers either. ``Heartbeat`` (front end: ``heartbeat.js``) pings the kernel every few seconds
over its own custom messages and shows a banner with a Reload button when no answer comes (see
the constants below for how a busy kernel is told from a dead one).
"""

from __future__ import annotations

import io
import logging
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO

import anywidget
import traitlets

__all__ = ["PING_SECONDS", "SERVER_LOGGERS", "Heartbeat", "keep_faults_in_kernel"]

log = logging.getLogger(__name__)

_HERE = Path(__file__).parent
# the loggers a client's message can reach: the comm machinery (ipykernel's and the comm
# package's: a comm that does not exist, a comm_open that fails), matplotlib's webagg core (an
# unknown canvas event) and the explorer's own (a refresh that failed, a canvas message dropped)
SERVER_LOGGERS = (
    "Comm",
    "ipykernel.comm",
    "matplotlib.backends.backend_webagg_core",
    "explorer",
)
COMM_MESSAGES = ("comm_open", "comm_msg", "comm_close")

# The heartbeat. The kernel answers a ping between two of its own handlers, so an answer waits
# for the longest one: a refresh within its compute budget takes up to about 0.3 s (the phase
# diagram), a training slice 0.04 s, a full draw 0.1 s; a machine shared by a class may make
# them several times slower. The page is told only after LOST_SECONDS without an answer to a
# ping, that is after about three pings went unanswered.
PING_SECONDS = 3.0
LOST_SECONDS = 10.0
LOST_MESSAGE = (
    "The connection to the server was lost (its kernel stopped). Reload the page to start again."
)


# -- kept in the kernel ----------------------------------------------------------------------
def keep_faults_in_kernel() -> None:
    """Send tracebacks, warnings and log records caused by a client's messages to the server's
    log, never to the page (see the module docstring). Safe to call again."""
    log_to_server()
    guard_client_messages()


def server_stream() -> TextIO:
    """The server's log: the stderr the kernel was started with.

    In a kernel ``sys.stderr`` is ipykernel's stream to the page, and file descriptor 2 is a
    pipe it forwards to the page as well; its ``fileno()`` is a copy of the original
    descriptor, which is the server's log. Outside a kernel, the process's own stderr."""
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # a stream with no descriptor of its own
        if sys.__stderr__ is None:
            return io.StringIO()  # no stderr at all: records are dropped
        return sys.__stderr__
    return open(descriptor, "w", buffering=1, closefd=False)  # kept open: the server's log


class ServerLogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``stream`` (the server's log); one per logger of ``SERVER_LOGGERS``."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.setFormatter(logging.Formatter("[kernel %(name)s] %(levelname)s %(message)s"))


def log_to_server() -> None:
    """Give each of ``SERVER_LOGGERS`` a handler on the server's stderr. A record that finds a
    handler no longer falls to logging's last resort, which writes to ``sys.stderr``: the page."""
    stream: TextIO | None = None
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(handler, ServerLogHandler) for handler in logger.handlers):
            stream = stream or server_stream()
            logger.addHandler(ServerLogHandler(stream))


class ClientMessageGuard:
    """A kernel's handler of one comm message type, run so that nothing it raises, shows or
    warns reaches the page (each goes to the server's log), and so that a widget update the
    widget refused is answered with the widget's own values: the page shows the truth again."""

    def __init__(self, handler: Callable[..., Any], shell: Any) -> None:
        self.handler = handler
        self.shell = shell

    def __call__(self, stream: Any, idents: Any, msg: Any) -> Any:
        result = None
        with _to_server_log(self.shell) as failures:
            result = self.handler(stream, idents, msg)
        if failures:
            put_back_refused(msg)
        return result


@contextmanager
def _to_server_log(shell: Any) -> Iterator[list[str]]:
    """Inside, an exception, a traceback IPython would show (ipywidgets calls ``showtraceback``
    when a widget message fails, and it sends the traceback to the page) and a warning are
    logged instead; yields the list of failures seen."""
    failures: list[str] = []

    def showtraceback(*args: Any, **kwargs: Any) -> None:
        del args, kwargs
        failures.append("refused")
        log.warning("a widget refused a client's message", exc_info=sys.exc_info())

    shadowed = "showtraceback" in vars(shell)
    shell.showtraceback = showtraceback
    try:
        with warnings.catch_warnings(record=True) as caught:
            try:
                yield failures
            except Exception:
                failures.append("raised")
                log.exception("a client's comm message failed")
        for warning in caught:
            log.warning("a client's comm message warned: %s", warning.message)
    finally:
        if not shadowed:
            with suppress(AttributeError):
                del shell.showtraceback


def put_back_refused(msg: Any) -> None:
    """After a refused widget update: send the widget's own values of the traits it named (the
    page applied them already, and the kernel kept its own)."""
    from ipywidgets.widgets.widget import _instances

    content = msg.get("content") if isinstance(msg, dict) else None
    comm_id = content.get("comm_id") if isinstance(content, dict) else None
    data = content.get("data") if isinstance(content, dict) else None
    widget = _instances.get(comm_id) if isinstance(comm_id, str) else None
    if widget is None or not isinstance(data, dict) or data.get("method") != "update":
        return
    state = data.get("state")
    named = [key for key in state if key in widget.keys] if isinstance(state, dict) else []
    if named:
        widget.send_state(named)


def guard_client_messages() -> bool:
    """Wrap the running kernel's comm handlers in ``ClientMessageGuard``; False outside a
    kernel (nothing to guard)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover (ipywidgets requires IPython)
        return False
    shell = get_ipython()
    handlers = getattr(getattr(shell, "kernel", None), "shell_handlers", None)
    if not isinstance(handlers, dict):
        return False
    for name in COMM_MESSAGES:
        handler = handlers.get(name)
        if handler is not None and not isinstance(handler, ClientMessageGuard):
            handlers[name] = ClientMessageGuard(handler, shell)
    return True


# -- told to the page ------------------------------------------------------------------------
class Heartbeat(anywidget.AnyWidget):
    """Answers the page's pings; the page shows ``message`` with a Reload button when they go
    unanswered (``heartbeat.js``). Zero height while all is well."""

    _esm = _HERE / "heartbeat.js"

    ping_ms = traitlets.Int(round(PING_SECONDS * 1000)).tag(sync=True)
    lost_ms = traitlets.Int(round(LOST_SECONDS * 1000)).tag(sync=True)
    message = traitlets.Unicode(LOST_MESSAGE).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pings = 0  # answered so far (for tests and benchmarks)
        self.on_msg(self._on_message)

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        """Answer a ping with its own number (anything else is ignored)."""
        del widget, buffers
        if isinstance(content, dict) and content.get("event") == "ping":
            number = content.get("n")
            if isinstance(number, int) and not isinstance(number, bool):
                self.pings += 1
                self.send({"event": "pong", "n": number})
