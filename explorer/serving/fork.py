"""Kernels forked from a warm template: a kernel provisioner for jupyter_client.

``ForkProvisioner`` is jupyter_client's ``LocalProvisioner`` with one change: a kernel is not
started as a new Python process but forked from ``explorer.serving.zygote``, a template process
that has already imported torch, matplotlib, the widgets and the app. The kernel is then ready
in a fraction of the time and CPU (docs/PERFORMANCE.md). Everything
else (connection files, ports, signals, interrupt, restart, shutdown) is the LocalProvisioner's:
the kernel is a process of its own, in its own process group, signalled by its pid.

Where the template cannot serve a kernel (a kernel command that is not this Python's
``-m ipykernel_launcher``, or the template failed to start), the kernel starts the usual way, and
the server's log says why. Selected in voila.py with
``c.KernelProvisionerFactory.default_provisioner_name = "explorer-fork"`` (the entry point is in
pyproject.toml).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.local_provisioner import LocalProvisioner

__all__ = ["ForkProvisioner", "ForkedKernel", "KernelTemplate"]

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0  # the template imports torch and the app once: about 2 s on one core
ANSWER_TIMEOUT_S = 30.0  # a fork takes milliseconds; a loaded machine may take much longer
LAUNCHER = ["-m", "ipykernel_launcher"]


class TemplateUnavailable(RuntimeError):
    """The template cannot fork this kernel; it is started the usual way instead."""


class KernelTemplate:
    """The template process (started on first use, restarted if it ended) and its socket."""

    def __init__(self) -> None:
        self.folder: Path | None = None  # made on first start, removed when the server exits
        self.process: subprocess.Popen[bytes] | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def socket(self) -> Path:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="explorer-template-"))  # mode 0700
            atexit.register(shutil.rmtree, self.folder, ignore_errors=True)
        return self.folder / "fork.sock"

    def start(self) -> None:
        """Start the template now (it warms up in the background), unless it runs already."""
        if self.process is not None and self.process.poll() is None:
            return
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(  # the server's environment: one thread per kernel
            [sys.executable, "-m", "explorer.serving.zygote", str(self.socket)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for the server is not the template's
        )
        log.info("kernel template started (pid %d)", self.process.pid)

    async def fork(self, cmd: list[str], env: Mapping[str, str], cwd: str) -> int:
        """Fork a kernel that runs ``cmd``; return its pid."""
        if len(cmd) < 3 or cmd[1:3] != LAUNCHER or not _same_python(cmd[0]):
            raise TemplateUnavailable(f"not this Python's ipykernel_launcher: {cmd[:3]}")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one request at a time: the template forks one at a time
            await self._ready()
            request = {"args": cmd[3:], "env": dict(env), "cwd": str(cwd)}
            try:
                reader, writer = await asyncio.open_unix_connection(str(self.socket))
            except OSError as error:
                raise TemplateUnavailable(f"cannot reach the template: {error}") from error
            try:
                writer.write(json.dumps(request).encode() + b"\n")
                await writer.drain()
                # sent: from here on the template may have forked the kernel, so a failure is
                # the kernel's start failing, never a second kernel on the same connection file
                line = await asyncio.wait_for(reader.readline(), ANSWER_TIMEOUT_S)
            finally:
                writer.close()
        answer = json.loads(line) if line else None
        if isinstance(answer, dict) and isinstance(answer.get("pid"), int):
            return int(answer["pid"])
        if isinstance(answer, dict) and "error" in answer:  # it forked nothing
            raise TemplateUnavailable(f"the template refused: {answer['error']}")
        raise RuntimeError(f"the kernel template gave no answer: {line!r}")

    async def _ready(self) -> None:
        """Wait until the template listens, started now if it is not running (the caller holds
        the lock: one start at a time)."""
        self.start()
        deadline = asyncio.get_running_loop().time() + READY_TIMEOUT_S
        while not self.socket.exists():
            if self.process is None or self.process.poll() is not None:
                raise TemplateUnavailable("the kernel template exited while warming up")
            if asyncio.get_running_loop().time() > deadline:
                raise TemplateUnavailable("the kernel template is not ready after 60 s")
            await asyncio.sleep(0.05)


def _same_python(executable: str) -> bool:
    try:
        return Path(executable).resolve() == Path(sys.executable).resolve()
    except OSError:
        return False


TEMPLATE = KernelTemplate()


class ForkedKernel:
    """The part of ``subprocess.Popen`` the LocalProvisioner uses, for a kernel forked by the
    template (its parent is the template, which collects its exit status)."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """None while the kernel runs, else an exit code (-9: ended, status unknown here)."""
        if self.returncode is None and not _running(self.pid):
            self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        del timeout  # the provisioner calls wait() only once poll() said the kernel ended
        return self.poll()

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie has ended; the template collects it


class ForkProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernels are forked from the warm template (module docstring)."""

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        env = kwargs.get("env") or os.environ
        cwd = str(kwargs.get("cwd") or Path.cwd())
        try:
            pid = await TEMPLATE.fork(cmd, env, cwd)
        except TemplateUnavailable as why:  # nothing was forked: start it the usual way
            log.warning("kernel started without the template: %s", why)
            return await super().launch_kernel(cmd, **kwargs)
        self.process = ForkedKernel(pid)  # type: ignore[assignment]  # Popen's part it uses
        self.pid = self.pgid = pid  # the kernel leads its own process group
        self.cwd = cwd
        return self.connection_info
