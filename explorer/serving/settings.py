"""The serving settings voila.py applies, read from ``EXPLORER_*`` environment variables.

Every value has a default fit for a classroom on one machine; docs/SERVING.md lists them. A value
that cannot be read stops the server at start, naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from explorer.serving import capacity

# The largest websocket message the server takes. An upload travels as one message: room for the
# largest recording the Your run tab reads (MAX_UPLOAD_BYTES, 64 MiB, explorer/panels/run.py) and
# its envelope. tornado's own limit, 10 MiB, would close the page's connection on a larger file.
MAX_MESSAGE_BYTES = 65 * 2**20


@dataclass(frozen=True)
class ServingSettings:
    """What voila.py configures, in the units Voilà and jupyter_server take."""

    ip: str
    port: int
    max_kernels: int
    kernel_mib: int
    reserve_mib: int
    preheat: int
    retry_after: int
    disconnect_grace: float
    unconnected_timeout: float
    cull_idle: int
    cell_timeout: int
    iopub_timeout: int
    threads: str

    @property
    def page_deadline(self) -> float:
        """How long a page may take to prepare: a kernel start (60 s, Voilà's limit), the cell's
        own limit, the wait for its output, and a minute of slack."""
        return 60.0 + self.cell_timeout + self.iopub_timeout + 60.0

    @property
    def unconnected_limit(self) -> float:
        """How long a kernel may live without its page connecting, busy or not."""
        return self.page_deadline + self.unconnected_timeout


def number(env: Mapping[str, str], name: str, default: int, low: int = 0) -> int:
    """An integer variable, at least ``low``."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < low:
        raise ValueError(f"{name} must be at least {low}, got {value}")
    return value


def pool_size(env: Mapping[str, str], cap: int, cpus: int) -> int:
    """``EXPLORER_PREHEAT``: a number of preheated kernels, or ``auto`` (the default) to size the
    pool from the cap and the cores; never more than the cap (pooled kernels count in it)."""
    if env.get("EXPLORER_PREHEAT", "auto").strip().lower() == "auto":
        return capacity.auto_pool_size(cap, cpus)
    return min(number(env, "EXPLORER_PREHEAT", 0), cap)


def connect_address(ip: str) -> str:
    """An address a kernel on this machine reaches the server at, for a server bound to ``ip``
    (a wildcard bind is reached on loopback; an IPv6 literal needs brackets in a URL)."""
    if ip in ("", "0.0.0.0", "::"):
        return "127.0.0.1"
    return f"[{ip}]" if ":" in ip else ip


def from_environment(
    env: Mapping[str, str],
    *,
    available: int | None = None,
    total: int | None = None,
    cpus: int | None = None,
) -> ServingSettings:
    """The settings for this machine: memory and cores are measured unless given (tests)."""
    available = capacity.memory_available() if available is None else available
    total = capacity.memory_total() if total is None else total
    cpus = capacity.cpu_count() if cpus is None else cpus
    kernel_mib = number(env, "EXPLORER_KERNEL_MIB", capacity.KERNEL_MIB, low=1)
    reserve_mib = number(env, "EXPLORER_RESERVE_MIB", capacity.default_reserve_mib(total))
    cap = capacity.kernel_cap(available, reserve_mib, kernel_mib)
    max_kernels = number(env, "EXPLORER_MAX_KERNELS", cap, low=1)
    return ServingSettings(
        ip=env.get("EXPLORER_IP", "127.0.0.1"),
        port=number(env, "EXPLORER_PORT", 8866, low=1),
        max_kernels=max_kernels,
        kernel_mib=kernel_mib,
        reserve_mib=reserve_mib,
        preheat=pool_size(env, max_kernels, cpus),
        retry_after=number(env, "EXPLORER_RETRY_AFTER", 15, low=1),
        disconnect_grace=float(number(env, "EXPLORER_DISCONNECT_GRACE", 10)),
        unconnected_timeout=float(number(env, "EXPLORER_UNCONNECTED", 30, low=1)),
        cull_idle=number(env, "EXPLORER_CULL_IDLE", 90, low=1),
        cell_timeout=number(env, "EXPLORER_CELL_TIMEOUT", 120, low=1),
        iopub_timeout=30,
        threads=env.get("EXPLORER_THREADS", "1"),
    )
