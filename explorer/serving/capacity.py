"""How many kernels the machine can hold, from its memory.

Every page runs in its own kernel. A served explorer kernel was measured at 297 MiB resident
(201 MiB proportional: torch's libraries are shared between kernels) once the notebook had run,
and it grows a little with use, so ``KERNEL_MIB`` budgets 300 MiB per kernel. A reserve is kept
for the server, the system and whatever else runs on the machine.
"""

from __future__ import annotations

import os

import psutil  # type: ignore[import-untyped]

MIB = 2**20
KERNEL_MIB = 300
RESERVE_FLOOR_MIB = 1024
RESERVE_SHARE = 0.10
# a preheated pool never grows past this: each pooled kernel holds memory with no student on it
MAX_AUTO_POOL = 4


def default_reserve_mib(total_bytes: int) -> int:
    """The memory kept free: 10 % of the machine, and at least 1 GiB."""
    return max(RESERVE_FLOOR_MIB, round(RESERVE_SHARE * total_bytes / MIB))


def kernel_cap(available_bytes: int, reserve_mib: int, kernel_mib: int) -> int:
    """The kernels that fit in the memory available now, after the reserve; at least one, so a
    small machine still serves a page (and says the class is full to the second visitor)."""
    spare = available_bytes - reserve_mib * MIB
    return max(1, spare // (kernel_mib * MIB))


def auto_pool_size(cap: int, cpus: int) -> int:
    """Preheated kernels for ``EXPLORER_PREHEAT=auto``: one per core (a pool is refilled in
    parallel, so more would fight the students' kernels for CPU), at most ``MAX_AUTO_POOL``, and
    at most a quarter of the cap, so the pool never takes a class's room."""
    return max(0, min(cpus, MAX_AUTO_POOL, cap // 4))


def has_room(available_bytes: int, reserve_mib: int, kernel_mib: int) -> bool:
    """Whether one more kernel fits now without eating into the reserve."""
    return available_bytes >= (reserve_mib + kernel_mib) * MIB


def memory_available() -> int:
    """Bytes the kernel can allocate now without swapping (``MemAvailable`` on Linux)."""
    return int(psutil.virtual_memory().available)


def memory_total() -> int:
    """The machine's memory in bytes."""
    return int(psutil.virtual_memory().total)


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
