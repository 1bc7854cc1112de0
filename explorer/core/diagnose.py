"""Where a recorded run went wrong: which tensor spiked first, which went non-finite first, and
the tensors in an order and in groups that a person can read at hundreds of tensors.

``spike_onsets(values, detector)`` gives, for each column of a (steps, tensors) array of norms,
the first step that ``detector`` (a ``SpikeDetection``) calls a spike, exactly as running the
policy on that column would (``run_policy``), in one vectorised pass: before a column's first
spike every norm was added to the detector's window, so the window is the last ``window`` norms
and the last accepted norm is the previous one. ``order_tensors`` sorts the tensors within module
groups (``module_groups``) by one of ``SORTS``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from explorer.core._types import FloatArray
from explorer.core._validate import check_choice, check_int
from explorer.core.monitor import GradientHistory
from explorer.core.policies import SpikeDetection

SORTS = ("model order", "largest norm", "first spike", "first non-finite")
MAX_GROUP_DEPTH = 8
IntArray = npt.NDArray[np.int64]


def spike_onsets(values: npt.ArrayLike, detector: SpikeDetection) -> IntArray:
    """(tensors,) the first step each column's norms spike under ``detector``, -1 if never.

    ``detector`` must have ``finite_only=True`` (with False, a non-finite norm is left out of the
    window and the window is no longer the last norms). Equal to the first "skip" of
    ``run_policy(detector, column)``."""
    if not isinstance(detector, SpikeDetection) or not detector.finite_only:
        raise ValueError("detector must be a SpikeDetection with finite_only=True")
    norms = np.asarray(values, dtype=np.float64)
    if norms.ndim != 2:
        raise ValueError(f"values must be a (steps, tensors) array, got shape {norms.shape}")
    steps, window = norms.shape[0], detector.window
    if steps == 0:
        return np.full(norms.shape[1], -1, dtype=np.int64)
    # window slots before step i: norms i-window .. i-1; a slot before step 0 holds weight 0
    padded = np.concatenate([np.full((window, norms.shape[1]), np.nan), norms])
    slots = np.lib.stride_tricks.sliding_window_view(padded[:-1], window, axis=0)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        weight = np.count_nonzero(~np.isnan(slots), axis=-1)
        mean = np.nansum(slots, axis=-1) / np.where(weight == 0, np.nan, weight)
        last = np.concatenate([np.zeros((1, norms.shape[1])), norms[:-1]])  # 0.0 before any
        gap = np.abs(norms - mean)
        rose = ~(norms - last <= 0.0)  # as Lightning: not an improvement (NaN counts as a rise)
        atol_ok = True if detector.atol is None else gap >= abs(detector.atol)
        rtol_ok = True if detector.rtol is None else gap >= np.abs(detector.rtol * mean)
        spike = ~np.isfinite(norms) | (rose & atol_ok & rtol_ok)
    spike[: detector.warmup] = False
    first = np.where(spike.any(axis=0), np.argmax(spike, axis=0), -1)
    return first.astype(np.int64)


def first_nonfinite_steps(values: npt.ArrayLike) -> IntArray:
    """(tensors,) the first step each column is inf or NaN, -1 if never."""
    bad = ~np.isfinite(np.asarray(values, dtype=np.float64))
    return np.where(bad.any(axis=0), np.argmax(bad, axis=0), -1).astype(np.int64)


def largest_norms(values: npt.ArrayLike) -> FloatArray:
    """(tensors,) each column's largest finite norm (NaN if none is finite)."""
    norms = np.asarray(values, dtype=np.float64)
    finite = np.where(np.isfinite(norms), norms, -np.inf)
    largest = finite.max(axis=0, initial=-np.inf)
    return np.where(np.isneginf(largest), np.nan, largest)


def group_name(module: str, depth: int) -> str:
    """The first ``depth`` parts of a qualified module name ("" is the root: "(model)");
    depth 0 keeps the whole name."""
    parts = module.split(".") if module else []
    kept = parts if depth == 0 else parts[:depth]
    return ".".join(kept) or "(model)"


def auto_group_depth(modules: Sequence[str], most: int = 30) -> int:
    """The deepest grouping (1 .. MAX_GROUP_DEPTH) with at most ``most`` groups (at least 1)."""
    best = 1
    for depth in range(1, MAX_GROUP_DEPTH + 1):
        if len({group_name(m, depth) for m in modules}) > most:
            break
        best = depth
    return best


@dataclass(frozen=True)
class TensorOrder:
    """The tensors' display order: ``rows[i]`` is the tensor shown in row i (top first)."""

    rows: IntArray
    groups: tuple[tuple[str, int, int], ...]  # (name, first row, row after the last), in order
    depth: int  # the module-name depth grouped by


def order_tensors(
    history: GradientHistory,
    sort: str = "model order",
    depth: int | None = None,
    detector: SpikeDetection | None = None,
) -> TensorOrder:
    """The tensors grouped by module (names cut at ``depth`` parts; None: ``auto_group_depth``)
    and sorted by ``sort`` within and across groups: a group takes its most telling tensor's key
    (the largest norm, the earliest spike or non-finite step; never last). Model order keeps the
    recording's order."""
    sort = check_choice("sort", sort, SORTS)
    modules = list(history.modules) or [""] * len(history.names)
    depth = auto_group_depth(modules) if depth is None else check_int("depth", depth, 0, 8)
    names = [group_name(module, depth) for module in modules]
    keys = _sort_keys(history, sort, detector or SpikeDetection())
    first_seen = {name: index for index, name in reversed(list(enumerate(names)))}
    group_key = {
        name: min(keys[i] for i in range(len(names)) if names[i] == name) for name in first_seen
    }
    rows = sorted(
        range(len(names)), key=lambda i: (group_key[names[i]], first_seen[names[i]], keys[i], i)
    )
    groups: list[tuple[str, int, int]] = []
    for row, tensor in enumerate(rows):
        if groups and groups[-1][0] == names[tensor]:
            groups[-1] = (names[tensor], groups[-1][1], row + 1)
        else:
            groups.append((names[tensor], row, row + 1))
    return TensorOrder(np.array(rows, dtype=np.int64), tuple(groups), depth)


def _sort_keys(history: GradientHistory, sort: str, detector: SpikeDetection) -> list[float]:
    """Each tensor's key, smallest first shown: 0 for model order."""
    norms = history.param_grad_norms
    if sort == "model order":
        return [0.0] * norms.shape[1]
    if sort == "largest norm":
        return [-x if math.isfinite(x) else math.inf for x in largest_norms(norms).tolist()]
    steps = spike_onsets(norms, detector) if sort == "first spike" else first_nonfinite_steps(norms)
    return [float(step) if step >= 0 else math.inf for step in steps.tolist()]
