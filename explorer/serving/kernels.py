"""The kernel manager behind every page: a cap on kernels, and kernels freed when pages go.

Voilà starts a kernel of about 300 MiB for every page request, and by itself never frees one
whose tab closed. ``ExplorerKernelManager`` (``VoilaConfiguration.multi_kernel_manager_class`` in
voila.py) adds:

- **a cap** (``max_kernels``) and a memory check (``memory_reserve_mib``): the page handler asks
  ``admit`` before a page may start a kernel; preheated pool kernels wait for room instead;
- **a disconnect grace** (``disconnect_grace``): a kernel whose last websocket closed is shut
  down that many seconds later unless a page reconnects;
- **a never-connected limit** (``unconnected_timeout``, ``unconnected_limit``): a kernel started
  for a page that never opened its websocket (a client that left, a failed page) is shut down.

Preheated kernels waiting in Voilà's pool are left alone by all of these.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from tornado.ioloop import IOLoop, PeriodicCallback
from traitlets import Float, Integer
from voila.request_info_handler import RequestInfoSocketHandler  # type: ignore[import-untyped]

from explorer.serving import capacity


@dataclass(eq=False)
class Admission:
    """One page allowed in: it holds a slot until its kernel starts (or the request ends), so
    concurrent requests cannot all pass the cap at once. ``kernel_id`` is the page's kernel once
    known (a preheated one is known at once)."""

    notebook: str
    kernel_id: str | None = None
    preheated: bool = False


# the admission of the page request being served, read where Voilà starts its kernel
CURRENT_ADMISSION: contextvars.ContextVar[Admission | None] = contextvars.ContextVar(
    "explorer_admission", default=None
)


def seconds_since(moment: datetime) -> float:
    """Seconds from ``moment`` (a UTC datetime, as jupyter_server records activity) to now."""
    return (datetime.now(timezone.utc) - moment).total_seconds()


def is_pool_start(kwargs: dict[str, Any]) -> bool:
    """Voilà marks the kernels it starts for its preheated pool with VOILA_PREHEAT=True."""
    env = kwargs.get("env") or {}
    return bool(env.get("VOILA_PREHEAT") == "True")


class ExplorerKernelManager(AsyncMappingKernelManager):
    """jupyter_server's kernel manager with a cap and page-bound kernel lifetimes."""

    max_kernels = Integer(8, help="Kernels alive at once, preheated ones included.").tag(
        config=True
    )
    kernel_mib = Integer(capacity.KERNEL_MIB, help="Memory budgeted per kernel (MiB).").tag(
        config=True
    )
    memory_reserve_mib = Integer(
        capacity.RESERVE_FLOOR_MIB, help="Memory a new kernel may not eat into (MiB)."
    ).tag(config=True)
    disconnect_grace = Float(
        10.0, help="Seconds a kernel outlives its last websocket (a reconnect keeps it)."
    ).tag(config=True)
    unconnected_timeout = Float(
        30.0, help="Seconds a page's kernel may sit idle before its page ever connects."
    ).tag(config=True)
    unconnected_limit = Float(
        300.0, help="Seconds a page's kernel may live, busy or not, without a page connecting."
    ).tag(config=True)
    sweep_interval = Float(5.0, help="Seconds between never-connected checks.").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        # the pool's own __init__ (Voilà's subclass) starts kernels, so these exist first
        self._admissions: set[Admission] = set()
        self._starting = 0
        self._connected_once: set[str] = set()
        self._handed_out: dict[str, float] = {}
        self._last_pool: set[str] = set()
        self._started: dict[str, float] = {}
        self._grace_timers: dict[str, object] = {}
        self._sweeper: PeriodicCallback | None = None
        self._shutdowns: set[asyncio.Future[None]] = set()
        self._closing = False
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]

    # -- the cap ---------------------------------------------------------------------------
    def kernels_in_use(self) -> int:
        """Kernels alive or starting, plus pages admitted whose kernel has not started yet."""
        return len(self._kernels) + self._starting + len(self._admissions)

    def memory_allows(self) -> bool:
        """Whether one more kernel fits in the memory available now."""
        available = capacity.memory_available()
        return capacity.has_room(available, self.memory_reserve_mib, self.kernel_mib)

    def has_room(self) -> bool:
        """Whether a new kernel may start now: under the cap and within memory."""
        return self.kernels_in_use() < self.max_kernels and self.memory_allows()

    def ready_pool_kernel(self, notebook: str) -> str | None:
        """The preheated kernel Voilà would hand the next page, if it has finished starting.

        Voilà pops the first task of the notebook's pool (``get_rendered_notebook``); a kernel
        still starting there would make the page wait for it, so only a finished one counts.
        """
        pool = getattr(self, "_pools", {}).get(notebook, [])
        if not pool or not pool[0].done() or pool[0].cancelled() or pool[0].exception():
            return None
        return str(pool[0].result()["kernel_id"])

    def admit(self, notebook: str) -> Admission | None:
        """Let a page in, or ``None`` when the class is full.

        A ready preheated kernel is always handed out: it is already counted. Otherwise the page
        holds a slot (``kernels_in_use``) until its kernel starts. This runs without awaiting,
        so the check and the reservation cannot interleave with another request.
        """
        pool_kernel = self.ready_pool_kernel(notebook)
        if pool_kernel is not None:
            self._handed_out[pool_kernel] = time.monotonic()
            return Admission(notebook, kernel_id=pool_kernel, preheated=True)
        if not self.has_room():
            return None
        admission = Admission(notebook)
        self._admissions.add(admission)
        return admission

    def release(self, admission: Admission) -> None:
        """Free a page's slot; a no-op once its kernel started (the kernel holds it then)."""
        self._admissions.discard(admission)

    @contextmanager
    def admitted(self, admission: Admission) -> Iterator[None]:
        """Serve one page under ``admission``; its slot is released when the request ends."""
        token = CURRENT_ADMISSION.set(admission)
        try:
            yield
        finally:
            CURRENT_ADMISSION.reset(token)
            self.release(admission)

    async def wait_for_room(self) -> None:
        """Hold a preheated kernel's start until it fits: the pool must not push the server
        past its cap or its memory reserve."""
        waited = False
        while not self.has_room():
            if self._closing:
                raise RuntimeError("the server is stopping")
            if not waited:
                self.log.info("Preheated kernel waits for room (%d in use)", self.kernels_in_use())
                waited = True
            await asyncio.sleep(1.0)

    async def start_kernel(  # type: ignore[override]
        self, *, kernel_id: str | None = None, path: Any = None, **kwargs: Any
    ) -> str:
        """Start a kernel within the cap: a page's start takes over its admission's slot, a pool
        start waits for room, and a page start without an admission (Voilà's own handler, if
        the app was started without ours) is refused when there is no room."""
        admission = None if is_pool_start(kwargs) else CURRENT_ADMISSION.get()
        if is_pool_start(kwargs):
            await self.wait_for_room()
        elif admission is not None and admission in self._admissions:
            self._admissions.discard(admission)
        elif not self.has_room():
            raise web.HTTPError(503, "the class is full", reason="Class full")
        self._starting += 1
        try:
            started: str = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        except Exception:
            self.forget_failed_starts()
            raise
        finally:
            self._starting -= 1
        self._started[started] = time.monotonic()
        if admission is not None:
            admission.kernel_id = started
        self.start_sweeping()
        return started

    def forget_failed_starts(self) -> None:
        """Drop kernels whose process could not be launched: jupyter_client keeps them as
        pending forever, and shutting the server down would then fail on each of them."""
        for kernel_id, task in list(self._pending_kernels.items()):
            if task.done() and kernel_id not in self._kernels:
                self._pending_kernels.pop(kernel_id, None)

    async def kernel_alive(self, kernel_id: str | None) -> bool:
        """Whether a page's kernel still runs (``True`` while it is not known yet)."""
        if kernel_id is None:
            return True
        if kernel_id not in self:
            return False
        kernel = self.get_kernel(kernel_id)
        return bool(await ensure_async(kernel.is_alive()))

    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]
        """Stop the server's kernels; preheated starts still waiting for room give up (Voilà
        waits for every pool start when it stops)."""
        self._closing = True
        if self._sweeper is not None:
            self._sweeper.stop()
        await ensure_async(super().shutdown_all(now=now))

    # -- lifetimes -------------------------------------------------------------------------
    def notify_connect(self, kernel_id: str) -> None:
        """A page connected: cancel any pending shutdown."""
        super().notify_connect(kernel_id)  # type: ignore[no-untyped-call]
        self._connected_once.add(kernel_id)
        self.cancel_grace(kernel_id)

    def notify_disconnect(self, kernel_id: str) -> None:
        """The last websocket of a kernel closed: shut it down after the grace period."""
        super().notify_disconnect(kernel_id)  # type: ignore[no-untyped-call]
        if self._kernel_connections.get(kernel_id, 0) > 0:
            return
        self.cancel_grace(kernel_id)
        loop = IOLoop.current()
        self._grace_timers[kernel_id] = loop.call_later(
            self.disconnect_grace, self.shutdown_after_grace, kernel_id
        )

    def cancel_grace(self, kernel_id: str) -> None:
        """Forget a pending grace shutdown of ``kernel_id``."""
        timer = self._grace_timers.pop(kernel_id, None)
        if timer is not None:
            IOLoop.current().remove_timeout(timer)

    def shutdown_after_grace(self, kernel_id: str) -> None:
        """The grace period ended: shut the kernel down if still nobody is connected."""
        self._grace_timers.pop(kernel_id, None)
        if kernel_id in self and self._kernel_connections.get(kernel_id, 0) == 0:
            reason = f"its page closed {self.disconnect_grace:g} s ago"
            shutdown = asyncio.ensure_future(self.shutdown_for(kernel_id, reason))
            self._shutdowns.add(shutdown)  # held until done: the loop keeps only weak references
            shutdown.add_done_callback(self._shutdowns.discard)

    async def shutdown_for(self, kernel_id: str, reason: str) -> None:
        """Shut a kernel down, saying why; a kernel already gone is not an error."""
        if kernel_id not in self:
            return
        self.log.info("Shutting down kernel %s: %s", kernel_id, reason)
        # a kernel shut down meanwhile (by its page's own request, the culler) is not an error
        with suppress(KeyError, web.HTTPError):
            await self.shutdown_kernel(kernel_id)  # type: ignore[no-untyped-call]

    def pool_kernels(self) -> set[str]:
        """Preheated kernels still waiting in Voilà's pool."""
        waiting = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in pool:
                if task.done() and not task.cancelled() and task.exception() is None:
                    waiting.add(str(task.result()["kernel_id"]))
        return waiting

    def unconnected_reason(self, kernel_id: str, now: float) -> str | None:
        """Why a kernel whose page never connected should go, or ``None`` to keep it.

        The clock starts when the kernel started or was handed to a page from the pool. A page
        connects within seconds of its HTML arriving, and the HTML is sent once the notebook ran,
        so an idle kernel unclaimed for ``unconnected_timeout`` has lost its page; a kernel still
        busy gets up to ``unconnected_limit`` (its notebook's timeouts are shorter).
        """
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return None
        since = now - max(self._started.get(kernel_id, now), self._handed_out.get(kernel_id, 0.0))
        if since > self.unconnected_limit:
            return f"its page never connected in {since:.0f} s"
        if getattr(kernel, "execution_state", "") == "busy":
            return None
        idle = min(since, seconds_since(kernel.last_activity))
        if idle > self.unconnected_timeout:
            return f"its page never connected; idle for {idle:.0f} s"
        return None

    async def sweep(self) -> None:
        """Shut down kernels whose page never connected; forget kernels that are gone (Voilà's
        own record of each preheated page's request included: it never drops one)."""
        now = time.monotonic()
        waiting = self.pool_kernels()
        for taken in self._last_pool - waiting:  # handed to a page since the last sweep
            self._handed_out.setdefault(taken, now)
        self._last_pool = waiting
        for kernel_id in list(self._kernels):
            if kernel_id in waiting or kernel_id in self._connected_once:
                continue
            reason = self.unconnected_reason(kernel_id, now)
            if reason:
                await self.shutdown_for(kernel_id, reason)
        for record in (self._started, self._handed_out, RequestInfoSocketHandler._cache):
            for gone in set(record) - set(self._kernels):
                record.pop(gone, None)
        self._connected_once &= set(self._kernels)

    def start_sweeping(self) -> None:
        """Start the periodic never-connected check (once, on the server's loop)."""
        if self._sweeper is None:
            self._sweeper = PeriodicCallback(self.sweep, 1000 * self.sweep_interval)
            self._sweeper.start()
