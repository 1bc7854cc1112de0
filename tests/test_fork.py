"""Kernels forked from the warm template (explorer/serving/fork.py, explorer/serving/zygote.py),
started by jupyter_client itself with the "explorer-fork" provisioner, the way Voilà starts them:
each is a process of its own, forked from the template, with the environment the server gave it,
the widget comm targets registered, interrupt, restart and shutdown working."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import pytest
from jupyter_client.manager import AsyncKernelManager

from explorer.serving.fork import TEMPLATE, ForkProvisioner, TemplateUnavailable

PROBE = """
import json, os, sys
import numpy as np
import ipywidgets
from IPython import get_ipython
targets = sorted(get_ipython().kernel.comm_manager.targets)
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "query": os.environ.get("QUERY_STRING"),
                  "targets": targets, "random": float(np.random.random_sample()),
                  "torch_loaded_before": "torch" in sys.modules}))
"""


@asynccontextmanager
async def _kernel(env: Mapping[str, str] | None = None) -> AsyncIterator[Any]:
    manager = AsyncKernelManager(kernel_name="python3")
    # what voila.py's default_provisioner_name gives every kernel, for this one kernel
    manager.kernel_spec.metadata["kernel_provisioner"] = {"provisioner_name": "explorer-fork"}
    await manager.start_kernel(env={**os.environ, **(env or {})})
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=90)
        yield manager, client
    finally:
        client.stop_channels()
        if await manager.is_alive():
            await manager.shutdown_kernel(now=True)
        manager.context.destroy(linger=0)  # the client's sockets were made in it


async def _run(client: Any, code: str) -> dict[str, Any]:
    """Run ``code`` in the kernel; the JSON line it printed."""
    printed: list[str] = []

    def keep(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])

    reply = await client.execute_interactive(code, timeout=60, output_hook=keep)
    assert reply["content"]["status"] == "ok", reply["content"]
    result: dict[str, Any] = json.loads("".join(printed))
    return result


def test_a_kernel_is_forked_from_the_template_with_the_servers_environment() -> None:
    async def check() -> None:
        async with _kernel({"QUERY_STRING": "tab=deep&depth=5"}) as (manager, client):
            assert isinstance(manager.provisioner, ForkProvisioner)
            seen = await _run(client, PROBE)
            assert TEMPLATE.process is not None
            assert seen["ppid"] == TEMPLATE.process.pid  # forked by the template, not spawned
            assert seen["pid"] == manager.provisioner.pid
            assert seen["torch_loaded_before"]  # the template's imports came with the fork
            assert seen["query"] == "tab=deep&depth=5"  # the environment Voilà gives a kernel
            # what ipywidgets registers on import in a kernel: the page's widget manager
            # fetches every widget's state through the control comm
            assert {"jupyter.widget", "jupyter.widget.control"} <= set(seen["targets"])

    asyncio.run(check())


def test_two_kernels_are_separate_processes_with_their_own_random_numbers() -> None:
    async def check() -> None:
        async with _kernel() as (_, first), _kernel() as (_, second):
            one, two = await _run(first, PROBE), await _run(second, PROBE)
            assert one["pid"] != two["pid"]
            assert one["random"] != two["random"]  # not the template's one random state
            await _run(first, "x = 41\nprint('{}')")
            missing = await first.execute_interactive("x", timeout=30)
            assert missing["content"]["status"] == "ok"
            other = await second.execute_interactive("x", timeout=30)
            assert other["content"]["ename"] == "NameError"  # nothing shared between students

    asyncio.run(check())


def test_interrupt_restart_and_shutdown_reach_the_forked_kernel() -> None:
    async def check() -> None:
        async with _kernel() as (manager, client):
            first_pid = manager.provisioner.pid
            client.execute("import time; time.sleep(60)")
            await asyncio.sleep(1.0)
            await manager.interrupt_kernel()
            reply = await client.get_shell_msg(timeout=30)
            assert reply["content"]["ename"] == "KeyboardInterrupt"

            await manager.restart_kernel(now=True)
            await client.wait_for_ready(timeout=90)
            assert manager.provisioner.pid != first_pid
            assert not _alive(first_pid)
            second_pid = manager.provisioner.pid
            seen = await _run(client, PROBE)
            assert seen["pid"] == second_pid

            await manager.shutdown_kernel(now=False)
            assert not await manager.is_alive()
            for _ in range(50):  # the template collects it: no zombie stays
                if not _alive(second_pid):
                    break
                await asyncio.sleep(0.1)
            assert not _alive(second_pid)

    asyncio.run(check())


def test_a_command_that_is_not_this_pythons_ipykernel_is_not_forked() -> None:
    async def check() -> None:
        with pytest.raises(TemplateUnavailable, match="ipykernel_launcher"):
            await TEMPLATE.fork(["/usr/bin/python3", "-m", "other_kernel", "-f", "x"], {}, "/")

    asyncio.run(check())


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_a_forked_kernel_ends_when_its_template_ends() -> None:
    """No orphan kernels: the template is their parent, and ipykernel's parent poller ends a
    kernel whose parent is gone (as it ends a kernel whose server is gone)."""

    async def check() -> None:
        async with _kernel() as (manager, client):
            pid = manager.provisioner.pid
            seen = await _run(client, PROBE)
            assert TEMPLATE.process is not None
            assert seen["ppid"] == TEMPLATE.process.pid
            TEMPLATE.process.kill()
            TEMPLATE.process.wait()
            for _ in range(100):
                if not _alive(pid):
                    break
                await asyncio.sleep(0.1)
            assert not _alive(pid)

    asyncio.run(check())


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


def test_kernels_started_together_are_all_forked() -> None:
    """A class arriving at once: concurrent starts queue for the template, none falls back to a
    two-second start as a new process."""

    async def check() -> None:
        managers = [AsyncKernelManager(kernel_name="python3") for _ in range(4)]
        for manager in managers:
            manager.kernel_spec.metadata["kernel_provisioner"] = {
                "provisioner_name": "explorer-fork"
            }
        try:
            await asyncio.gather(*(m.start_kernel(env=dict(os.environ)) for m in managers))
            assert TEMPLATE.process is not None
            assert {_ppid(m.provisioner.pid) for m in managers} == {TEMPLATE.process.pid}
        finally:
            for manager in managers:
                await manager.shutdown_kernel(now=True)
                manager.context.destroy(linger=0)

    asyncio.run(check())


def test_a_client_that_leaves_before_the_answer_does_not_end_the_template() -> None:
    """The template outlives any one request (every kernel it forked ends with it)."""

    async def check() -> None:
        async with _kernel() as (_, client):  # the template runs
            await _run(client, PROBE)
        assert TEMPLATE.process is not None
        template = TEMPLATE.process.pid
        for request in (b'{"args": ["-f", "/nonexistent/k.json"], "env": {}, "cwd": "/"}\n', b"{"):
            _, writer = await asyncio.open_unix_connection(str(TEMPLATE.socket))
            writer.write(request)
            await writer.drain()
            writer.close()  # gone before the answer
        await asyncio.sleep(1.0)
        assert TEMPLATE.process.poll() is None
        async with _kernel() as (_, client):  # and it still forks kernels
            seen = await _run(client, PROBE)
            assert seen["ppid"] == template

    asyncio.run(check())
