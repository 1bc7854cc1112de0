"""The kernel template: one process that has imported everything a kernel of the app needs, and
forks a kernel from itself on request.

A kernel started the usual way spends about 2 s of one core before the page can be sent: 0.5 s
starting ipykernel, 1.0 s importing torch, 0.4 s importing matplotlib and the widgets, 0.1 s
building the first panel (docs/PERFORMANCE.md). Here those imports run
once, in this template; each kernel is a ``fork()`` of it that starts ipykernel with the
connection file the server wrote, in the environment the server gave it. The kernel is a fresh
process with nothing of another student's in it: the template never runs a notebook.

Run by ``explorer.serving.fork`` as ``python -m explorer.serving.zygote SOCKET``: it listens on
the Unix socket SOCKET (in a directory only this user can open) for one JSON line per kernel,
``{"args": [...], "env": {...}, "cwd": "..."}``, and answers ``{"pid": N}``. It exits when its
parent, the server, goes away; each kernel it forked exits when the template goes away.
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import random
import signal
import socket
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["main"]

ACCEPT_TIMEOUT_S = 1.0  # how often the template looks whether its parent still runs
MAX_REQUEST = 1 << 20  # bytes: a request is a command line and an environment
# modules IPKernelApp.initialize imports (pdb alone takes 0.1 s); debugpy, which its debugger
# imports, is left out: it patches threading when imported
WARM_MODULES = (
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.extensions.storemagic",
    "bdb",
    "cmd",
    "code",
    "faulthandler",
    "mimetypes",
    "pdb",
    "pydoc",
    "sqlite3",
)


def warm_up() -> None:
    """Import what every kernel of the app imports and that works the same before a kernel
    exists (torch, matplotlib, ipykernel, the app's core and views), and draw text once with
    Agg: its font cache and glyph tables then live in the template, shared by every fork.

    ipywidgets, ipympl and anywidget are left to each kernel (about 0.1 s): on import they
    register themselves with the running kernel (ipywidgets its comm targets, ipympl a hook),
    which a template that is no kernel cannot do for them.
    """
    import ipykernel.ipkernel
    import ipykernel.kernelapp  # noqa: F401

    for name in WARM_MODULES:  # what starting ipykernel imports (its debugger's excepted)
        importlib.import_module(name)
    import matplotlib.figure
    import torch  # noqa: F401
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    import explorer.core
    import explorer.plots.chain
    import explorer.plots.cliff
    import explorer.plots.clip
    import explorer.plots.curves
    import explorer.plots.phase
    import explorer.plots.rnn
    import explorer.plots.spectrum
    import explorer.plots.train  # noqa: F401

    for name in ("ipywidgets", "ipympl", "anywidget"):
        if name in sys.modules:  # a library changed what it imports: say so, kernels need it
            raise RuntimeError(f"{name} was imported by the template; kernels must import it")
    figure = matplotlib.figure.Figure(figsize=(2, 1))
    FigureCanvasAgg(figure)
    figure.add_subplot().set_title("‖δ‖ 10⁻³ warm")
    figure.canvas.draw()


def main(argv: Sequence[str]) -> int:
    """Warm up, then fork a kernel for each request on the socket ``argv[0]``."""
    if len(argv) != 1:
        print("usage: python -m explorer.serving.zygote SOCKET", file=sys.stderr)
        return 2
    parent = os.getppid()
    warm_up()
    signal.signal(signal.SIGCHLD, _reap)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(argv[0])
        server.listen(128)  # a class arriving at once: requests queue, one fork at a time
        server.settimeout(ACCEPT_TIMEOUT_S)
        while os.getppid() == parent:
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                _answer(server, connection)
    return 0


def _answer(server: socket.socket, connection: socket.socket) -> None:
    """Fork one kernel for the request on ``connection``. Nothing a client does (a malformed
    request, leaving before the answer) or a failed fork ends the template: every kernel it
    forked ends with it."""
    connection.settimeout(5.0)
    try:
        request = json.loads(_read_line(connection))
        args, env, cwd = _checked(request)
    except (OSError, ValueError) as error:
        _reply(connection, {"error": str(error)})
        return
    try:
        pid = os.fork()
    except OSError as error:  # no memory or process left: this kernel starts the usual way
        _reply(connection, {"error": f"fork failed: {error}"})
        return
    if pid == 0:  # the kernel
        _become_kernel(args, env, cwd, (server, connection))
    if not _reply(connection, {"pid": pid}):  # nobody will manage this kernel: end it
        os.kill(pid, signal.SIGKILL)


def _reply(connection: socket.socket, answer: dict[str, object]) -> bool:
    """Send ``answer``; False when the client has gone."""
    try:
        connection.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        return False
    return True


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError(f"a request is at most {MAX_REQUEST} bytes")
    return data


def _checked(request: Any) -> tuple[list[str], dict[str, str], str]:
    """The request's kernel arguments, environment and folder, or a ValueError."""
    if not isinstance(request, dict):
        raise ValueError("a request is a JSON object")
    args, env, cwd = request.get("args"), request.get("env"), request.get("cwd")
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("args must be a list of strings")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise ValueError("env must map strings to strings")
    if not isinstance(cwd, str) or not os.path.isdir(cwd):
        raise ValueError("cwd must be an existing folder")
    return args, env, cwd


def _become_kernel(
    args: list[str], env: Mapping[str, str], cwd: str, inherited: Sequence[socket.socket]
) -> None:
    """In the forked child: leave the template's sockets and signal handlers, take the
    kernel's environment, folder and own process group, and run ipykernel. Never returns."""
    code = 1
    try:
        for sock in inherited:
            sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own process group: the server signals the kernel, not the template
        os.chdir(cwd)
        sys.path[0] = cwd  # what `python -m ipykernel_launcher` started in ``cwd`` would have
        os.environ.clear()
        os.environ.update(env)
        os.environ["JPY_PARENT_PID"] = str(os.getppid())  # exit with the template
        _fresh_random_state()
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        from ipykernel.kernelapp import IPKernelApp

        # the kernel ends with the template (ipykernel read JPY_PARENT_PID at import, in the
        # template, where it was unset: it is given here)
        args = [*args, f"--IPKernelApp.parent_handle={os.getppid()}"]
        sys.argv = [sys.executable, "-m", "ipykernel_launcher", *args]
        IPKernelApp.launch_instance(argv=args)
        code = 0
    except BaseException:  # a kernel that cannot start says why on the server's log
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()  # as a process that returns from main would (IPython's history)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _fresh_random_state() -> None:
    """Each kernel draws its own random numbers, as a process started anew would."""
    import numpy as np
    import torch

    random.seed()
    np.random.seed(int.from_bytes(os.urandom(4), "little"))  # noqa: NPY002  (the global one)
    torch.seed()


def _reap(signum: int, frame: object) -> None:
    """Collect the exit status of every kernel that ended (no zombies)."""
    del signum, frame
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
