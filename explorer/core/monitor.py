"""Gradient monitoring for any torch training loop: the diagnostics the articles recommend.

The articles tell a practitioner to watch the global gradient norm per batch (a norm that climbs
from about 1 to about 1000 means exploding gradients), the norm of each layer's gradient, the
weights' own size, and when clipping fires. ``GradientRecorder`` does that for a model it did not
build: call ``record(loss)`` after ``loss.backward()`` and before ``optimizer.step()``. Given a clip
method it also clips, in place and with torch's semantics, so it can replace a loop's
``clip_grad_norm_`` line; the norm it returns is the one ``clip_grad_norm_`` returns.

    recorder = GradientRecorder(model, clip_method="global_norm", clip_threshold=1.0)
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        recorder.record(loss)
        optimizer.step()
    history = recorder.history()  # draw with explorer.plots.CurvesView and run_curves
    recorder.save("run.npz")      # GradientHistory.load("run.npz") reads it back

Norms are taken in one batched pass, as ``clip_grad_norm_`` takes them: the tensors are grouped by
device and dtype and each group's norms come from ``torch._foreach_norm``; the global norm is the
norm of the stacked per-tensor norms, in torch's group order, so it equals what
``clip_grad_norm_`` returns to the bit.

Given ``optimizer=``, the recorder also measures each tensor's update norm ||θ_after − θ_before||
around the ``optimizer.step()`` that follows a ``record()`` (optimizer step hooks; the difference
is taken in each parameter's dtype). Memory: one copy of the watched parameters, made at the first
step and reused (``close()`` frees it and removes the hooks). ``first_nonfinite`` names the first
tensor whose gradient held an inf or NaN: the step, the parameter, and its module.

Given ``policy=`` (a policy of ``explorer.core.policies``: spike detection, ZClip, AutoClip, a
skip limit, a fixed threshold) instead of a clip method, the recorder runs that policy live on
each step's global norm: a "clip" multiplies every gradient by the policy's multiplier, and a
"skip" sets every gradient to None, so that a torch optimizer's ``step()`` leaves the weights and
its own state (momentum, Adam's moments and step count) as they were: torch's optimizers pass over
a parameter without a gradient. ``recorder.decision`` is the last step's ``Decision``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, SupportsFloat, TypeAlias, cast

import numpy as np
import torch
from torch.utils._foreach_utils import _group_tensors_by_device_and_dtype
from torch.utils.hooks import RemovableHandle

from explorer.core._types import BoolArray, FloatArray
from explorer.core._validate import MAX_THRESHOLD, check_choice, check_float
from explorer.core.clip import METHODS, TORCH_EPS, clip_in_place
from explorer.core.policies import Decision, Policy, PolicyState

# What GradientRecorder watches: a module (its parameters that require grad), one tensor, or
# tensors, named or not (named ones as ``model.named_parameters()`` gives them).
Parameters: TypeAlias = (
    torch.nn.Module | torch.Tensor | Iterable[torch.Tensor] | Iterable[tuple[str, torch.Tensor]]
)


@dataclass(frozen=True)
class NonfiniteGradient:
    """The first tensor whose gradient held an inf or NaN: where a blow-up shows first.

    Within that step, the first such tensor in parameter order (``names`` lists them all)."""

    step: int
    name: str  # the parameter's name, as named_parameters() gives it
    module: str  # the qualified name of the submodule that owns it ("" for the root module)
    module_type: str  # that submodule's class name ("" when the recorder was not given a module)
    names: tuple[str, ...]  # every tensor whose gradient was non-finite at that step


@dataclass(frozen=True)
class GradientHistory:
    """What was recorded at each step (rows) for each parameter tensor (columns).

    Norms are L2. ``grad_norms`` is the global norm before clipping, as ``clip_grad_norm_``
    returns it; ``grad_norms_after`` the same after clipping (equal when nothing clips).
    ``param_norms`` are the weights' norms when the gradient was taken. ``clip_coefficients`` is
    the multiplier clipping applied to each tensor (1 when not clipping; NaN for "value" and
    "agc", which do not scale whole tensors). ``update_norms`` is each tensor's update norm
    ||Δθ|| made by the optimizer step after the record (NaN where it was not measured: no
    ``optimizer=`` given, or no step taken). ``skipped`` marks the steps whose update a live
    ``policy`` (its label) skipped: their gradients were dropped. ``shapes``, ``modules`` (each
    tensor's owning submodule, "" for the root) and ``module_types`` (its class name, "" when
    unknown) describe the tensors; ``first_nonfinite`` is the first tensor whose gradient held
    an inf or NaN. ``save(path)`` and ``GradientHistory.load(path)`` write and read it as a
    portable .npz file (explorer.core.recording describes the format).
    """

    names: tuple[str, ...]
    losses: FloatArray  # (steps,) NaN where no loss was given
    loss_given: BoolArray  # (steps,) bool
    grad_norms: FloatArray  # (steps,)
    grad_norms_after: FloatArray  # (steps,)
    param_grad_norms: FloatArray  # (steps, tensors) before clipping
    param_norms: FloatArray  # (steps, tensors)
    clip_coefficients: FloatArray  # (steps, tensors)
    clipped: BoolArray  # (steps,) bool: clipping changed the gradient at this step
    clip_method: str | None
    clip_threshold: float | None
    update_norms: FloatArray = field(default_factory=lambda: np.empty((0, 0)))  # (steps, tensors)
    skipped: BoolArray = field(default_factory=lambda: np.empty(0, dtype=bool))  # (steps,) bool
    policy: str | None = None  # the label of the policy run live (clip_method is then None)
    shapes: tuple[tuple[int, ...], ...] = ()
    modules: tuple[str, ...] = ()
    module_types: tuple[str, ...] = ()
    first_nonfinite: NonfiniteGradient | None = None

    def __post_init__(self) -> None:
        """Update norms that were not given are unknown (NaN, one per step and tensor); skips
        that were not given did not happen."""
        # object.__setattr__ is the frozen dataclass's own way to fill a field in
        if self.update_norms.size == 0 and self.param_grad_norms.size != 0:
            unknown = np.full(self.param_grad_norms.shape, np.nan)
            object.__setattr__(self, "update_norms", unknown)
        if self.skipped.size == 0 and self.grad_norms.size != 0:
            object.__setattr__(self, "skipped", np.zeros(self.grad_norms.shape, dtype=bool))

    def save(self, path: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write this history to ``path`` (a file name or a binary file) as a .npz recording."""
        from explorer.core.recording import save_history

        save_history(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str] | IO[bytes]) -> GradientHistory:
        """Read a recording that ``save`` wrote; a file that is not one raises ValueError."""
        from explorer.core.recording import load_history

        return load_history(path)

    @property
    def steps(self) -> int:
        """How many steps were recorded."""
        return len(self.grad_norms)

    @property
    def first_nonfinite_step(self) -> int | None:
        """The first step whose loss or gradient norm is inf or NaN (None: all finite).

        A loss that was not given (NaN by default) does not count."""
        bad = ~np.isfinite(self.grad_norms) | (~np.isfinite(self.losses) & self.loss_given)
        return int(np.argmax(bad)) if bad.any() else None

    @property
    def clip_count(self) -> int:
        """On how many steps clipping changed the gradient."""
        return int(self.clipped.sum())

    @property
    def largest_grad_norm(self) -> float:
        """The largest finite gradient norm before clipping (NaN if none was finite)."""
        finite = self.grad_norms[np.isfinite(self.grad_norms)]
        return float(finite.max()) if finite.size else math.nan


def _named_parameters(source: object) -> list[tuple[str, torch.Tensor]]:
    """(name, tensor) pairs from a module, a tensor, or an iterable of tensors or (name, tensor)."""
    if isinstance(source, torch.Tensor):  # as clip_grad_norm_ takes a lone tensor
        source = [source]
    if isinstance(source, torch.nn.Module):
        pairs: list[object] = [
            (name, p) for name, p in source.named_parameters() if p.requires_grad
        ]
    else:
        items = list(source) if isinstance(source, Iterable) else []
        pairs = [
            item if isinstance(item, tuple) else (f"param{index}", item)
            for index, item in enumerate(items)
        ]
    refused = ValueError(
        "parameters must be a torch module or an iterable of tensors or (name, tensor) pairs,"
        " with at least one tensor"
    )
    named: list[tuple[str, torch.Tensor]] = []
    for pair in pairs:
        match pair:
            case (str() as name, torch.Tensor() as tensor):
                named.append((name, tensor))
            case _:
                raise refused
    if not named:
        raise refused
    return named


# Tensors grouped as clip_grad_norm_ groups them: (device, dtype) -> (tensors, their positions)
Groups: TypeAlias = dict[tuple[torch.device, torch.dtype], tuple[list[torch.Tensor], list[int]]]


def _groups(tensors: Sequence[torch.Tensor]) -> Groups:
    """The tensors grouped by device and dtype, in torch's group order, with their positions."""
    if not tensors:
        return {}
    grouped = _group_tensors_by_device_and_dtype([list(tensors)], with_indices=True)
    # torch types the groups as lists of Optional[Tensor]; given only tensors it returns tensors
    return {
        key: (cast(list[torch.Tensor], group), indices)
        for key, ((group,), indices) in grouped.items()
    }


def _norms(grads: Groups, weights: Groups) -> tuple[list[torch.Tensor], list[int], torch.Tensor]:
    """Every gradient's and weight's norm, and clip_grad_norm_'s global norm.

    One ``torch._foreach_norm`` call per device and dtype measures that group's gradients and
    weights together. Returns the norms in group order, where each belongs (gradient i at i,
    weight i at ``len(gradients) + i``, positions as listed when grouped) and the global norm: the
    2-norm of the stacked gradient norms in torch's group order (tensor(0.) without any)."""
    offset = sum(len(group) for group, _ in grads.values())
    norms: list[torch.Tensor] = []
    places: list[int] = []
    of_grads: list[torch.Tensor] = []
    for key in [*grads, *(key for key in weights if key not in grads)]:
        grad_group, grad_places = grads.get(key, ([], []))
        weight_group, weight_places = weights.get(key, ([], []))
        measured = torch._foreach_norm([*grad_group, *weight_group], 2.0)
        norms.extend(measured)
        of_grads.extend(measured[: len(grad_group)])
        places.extend(grad_places)
        places.extend(offset + place for place in weight_places)
    return norms, places, _total(of_grads, len(grads) > 1)


def _total(norms: list[torch.Tensor], devices: bool = True) -> torch.Tensor:
    """torch's total: vector_norm of the stacked norms, moved to the first one's device (only
    needed when there are several groups)."""
    if not norms:
        return torch.tensor(0.0)
    if devices:
        norms = [norm.to(norms[0].device) for norm in norms]
    total: torch.Tensor = torch.linalg.vector_norm(torch.stack(norms), 2.0)
    return total


def _grad_total(grads: Groups) -> torch.Tensor:
    """The global norm of the grouped gradients, as clip_grad_norm_ computes it."""
    norms: list[torch.Tensor] = []
    for group, _ in grads.values():
        norms.extend(torch._foreach_norm(group, 2.0))
    return _total(norms, len(grads) > 1)


def gradient_norms(tensors: Iterable[torch.Tensor]) -> tuple[float, FloatArray]:
    """(global L2 norm, norm of each tensor's gradient), as ``clip_grad_norm_`` measures them.

    A tensor whose ``.grad`` is None counts as a zero gradient (torch leaves it out)."""
    grads = [t.grad for t in tensors]
    present = [g.detach() for g in grads if g is not None]
    if not present:
        return 0.0, np.zeros(len(grads))
    with torch.no_grad():
        norms, places, total = _norms(_groups(present), {})
        values = torch.stack([*norms, total]).tolist()
    per_tensor = np.zeros(len(present))
    per_tensor[places] = values[:-1]
    full = np.zeros(len(grads))
    full[[g is not None for g in grads]] = per_tensor
    return values[-1], full


def _owners(source: object, names: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Each parameter's owning submodule: its qualified name and class name ("" if unknown)."""
    modules = tuple(name.rpartition(".")[0] for name in names)
    if not isinstance(source, torch.nn.Module):
        return modules, ("",) * len(names)
    return modules, tuple(type(source.get_submodule(module)).__name__ for module in modules)


def _check_policy(policy: object, clip_method: str | None) -> Policy | None:
    """``policy`` if it is one (something with a ``start()`` and a ``label``) and no clip method
    was given too."""
    if policy is None:
        return None
    if not (
        callable(getattr(policy, "start", None)) and isinstance(getattr(policy, "label", None), str)
    ):
        raise ValueError(
            "policy must be None or a clipping policy of explorer.core.policies"
            " (GlobalNormClip, SpikeDetection, ZClip, AutoClip, SkipAboveThreshold),"
            f" got {policy!r}"
        )
    if clip_method is not None:
        raise ValueError("give clip_method or policy, not both: a policy makes its own clipping")
    return cast(Policy, policy)


class GradientRecorder:
    """Records gradient norms (and optionally clips) at each step of any torch training loop.

    ``optimizer``, if given, is the optimizer that steps these parameters: the recorder hooks
    its ``step()`` to measure each tensor's update norm (one copy of the parameters' memory).
    ``clip_method`` and ``clip_threshold`` clip as ``explorer.core.clip`` does; ``policy``
    instead runs a clipping policy live (see the module's docstring): give one or the other."""

    def __init__(
        self,
        parameters: Parameters,
        *,
        clip_method: str | None = None,
        clip_threshold: float | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        policy: Policy | None = None,
    ) -> None:
        named = _named_parameters(parameters)
        self.names = tuple(name for name, _ in named)
        self.parameters = [p for _, p in named]
        self.shapes = tuple(tuple(p.shape) for p in self.parameters)
        self.modules, self.module_types = _owners(parameters, self.names)
        # (method, threshold) when clipping: a method always comes with its checked threshold
        self._clipping: tuple[str, float] | None = None
        if clip_method is not None:
            self._clipping = (
                check_choice("clip_method", clip_method, METHODS),
                check_float("clip_threshold", clip_threshold, 0.0, MAX_THRESHOLD, low_open=True),
            )
        self.policy = _check_policy(policy, clip_method)
        self._policy_state: PolicyState | None = None if policy is None else policy.start()
        self.decision: Decision | None = None  # the last step's decision when running a policy
        if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
            raise ValueError(
                f"optimizer must be a torch.optim.Optimizer or None, got {type(optimizer).__name__}"
            )
        self._rows: list[FloatArray] = []
        self._coefficients: list[FloatArray] = []
        self._clipped: list[bool] = []
        self._skipped: list[bool] = []
        self._loss_given: list[bool] = []
        self._updates: list[list[float] | None] = []  # per step: update norms, None: not measured
        self._first_nonfinite: NonfiniteGradient | None = None
        self._snapshot: list[torch.Tensor] | None = None  # the weights before the step
        self._update_pending = False  # a record() whose optimizer step is not measured yet
        self._hooks: list[RemovableHandle] = []
        if optimizer is not None:
            self._hooks = [
                optimizer.register_step_pre_hook(self._before_step),
                optimizer.register_step_post_hook(self._after_step),
            ]

    @property
    def clip_method(self) -> str | None:
        """The clip method, None when not clipping."""
        return None if self._clipping is None else self._clipping[0]

    @property
    def clip_threshold(self) -> float | None:
        """The clip threshold, None when not clipping (a threshold given without a method)."""
        return None if self._clipping is None else self._clipping[1]

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def first_nonfinite(self) -> NonfiniteGradient | None:
        """The first tensor whose gradient held an inf or NaN (None: none so far)."""
        return self._first_nonfinite

    def record(self, loss: SupportsFloat | None = None) -> float:
        """Measure this step's gradients (after ``backward``), clip them in place if a clip method
        was given, and return the global norm before clipping."""
        if isinstance(loss, torch.Tensor):
            loss = loss.detach()
        loss_value = math.nan if loss is None else float(loss)
        grads = [p.grad for p in self.parameters]
        present = [index for index, grad in enumerate(grads) if grad is not None]
        count = len(self.parameters)
        with torch.no_grad():
            grouped = _groups([grad for grad in grads if grad is not None])
            norms, places, total = _norms(grouped, _groups(self.parameters))
            # one conversion for every number (stack widens mixed dtypes exactly)
            values = torch.stack([*norms, total]).tolist()
            before = float(values[-1])
            if not math.isfinite(before) and self._first_nonfinite is None:
                self._find_nonfinite()
            if self._policy_state is None:
                coefficients, clipped = self._clip(grouped, total, present)
            else:
                coefficients, clipped = self._follow_policy(grouped, before)
            skipped = self.decision is not None and self.decision.action == "skip"
            after = float(_grad_total(grouped)) if clipped and not skipped else before
            after = 0.0 if skipped else after
        measured = np.zeros(len(present) + count)  # gradients present, then every weight
        measured[places] = values[:-1]
        row = np.empty(3 + 2 * count)
        row[:3] = loss_value, before, after
        row[3 : 3 + count] = 0.0  # a gradient that is None counts as zero, as in torch
        row[3:][present] = measured[: len(present)]
        row[3 + count :] = measured[len(present) :]
        self._rows.append(row)
        self._coefficients.append(coefficients)
        self._clipped.append(clipped)
        self._skipped.append(skipped)
        self._loss_given.append(loss is not None)
        self._updates.append(None)
        self._update_pending = True
        return before

    def _clip(
        self, grads: Groups, total: torch.Tensor, present: list[int]
    ) -> tuple[FloatArray, bool]:
        """Clip the gradients in place; return each tensor's multiplier and whether any changed.

        Global-norm clipping reuses the norm just measured and multiplies as clip_grad_norm_
        does (coefficient t / (norm + 1e-6) clamped to 1, always applied); the other methods
        go through ``clip_in_place``."""
        coefficients = np.ones(len(self.parameters))
        if self._clipping is None or not grads:
            return coefficients, False
        method, threshold = self._clipping
        if method == "global_norm":
            coefficient = torch.clamp(threshold / (total + TORCH_EPS), max=1.0)
            for (device, _), (group, _) in grads.items():
                torch._foreach_mul_(group, coefficient.to(device))
            value = float(coefficient)
            coefficients[present] = value
            return coefficients, value != 1.0
        params = [self.parameters[index] for index in present]
        applied, clipped = clip_in_place(
            [p.grad for p in params if p.grad is not None], method, threshold, params
        )
        coefficients[present] = applied
        return coefficients, bool(clipped.any())

    def _follow_policy(self, grads: Groups, norm: float) -> tuple[FloatArray, bool]:
        """Run the policy on this step's global norm: scale the gradients by its multiplier, or
        drop them (set to None) when it skips. Returns each tensor's multiplier and whether the
        gradient changed."""
        assert self._policy_state is not None  # record() calls this only with a policy
        decision = self._policy_state.decide(norm)
        self.decision = decision
        if decision.action == "skip":
            for parameter in self.parameters:
                parameter.grad = None
        elif decision.action == "clip":
            for group, _ in grads.values():
                torch._foreach_mul_(group, decision.multiplier)
        coefficients = np.full(len(self.parameters), decision.multiplier)
        return coefficients, decision.action != "none"

    def _find_nonfinite(self) -> None:
        """Name the tensors whose gradient holds an inf or NaN at this step (before clipping)."""
        bad = [
            index
            for index, p in enumerate(self.parameters)
            if p.grad is not None and not bool(torch.isfinite(p.grad).all())
        ]
        if bad:  # else a finite gradient overflowed the norm: no tensor to name
            first = bad[0]
            self._first_nonfinite = NonfiniteGradient(
                step=len(self._rows),
                name=self.names[first],
                module=self.modules[first],
                module_type=self.module_types[first],
                names=tuple(self.names[index] for index in bad),
            )

    def _before_step(self, *_: object) -> None:
        """Optimizer pre-step hook: keep the weights a recorded step is about to change."""
        if not self._update_pending:
            return
        with torch.no_grad():
            if self._snapshot is None:
                self._snapshot = [p.detach().clone() for p in self.parameters]
            else:
                torch._foreach_copy_(self._snapshot, [p.detach() for p in self.parameters])

    def _after_step(self, *_: object) -> None:
        """Optimizer post-step hook: each tensor's update norm ||θ_before − θ_after||."""
        if not self._update_pending or self._snapshot is None:
            return
        self._update_pending = False
        with torch.no_grad():
            torch._foreach_sub_(self._snapshot, [p.detach() for p in self.parameters])
            norms = torch._foreach_norm(self._snapshot, 2.0)
            self._updates[-1] = torch.stack(list(norms)).tolist()

    def close(self) -> None:
        """Remove the optimizer hooks and free the weight copy (the records stay)."""
        for hook in self._hooks:
            hook.remove()
        self._hooks = []
        self._snapshot = None
        self._update_pending = False

    def save(self, path: str | os.PathLike[str] | IO[bytes]) -> None:
        """Write what was recorded so far to ``path`` as a .npz recording (GradientHistory.save)."""
        self.history().save(path)

    def history(self) -> GradientHistory:
        """What was recorded so far, as arrays."""
        count = len(self.names)
        rows = np.array(self._rows, dtype=np.float64).reshape(-1, 3 + 2 * count)
        return GradientHistory(
            names=self.names,
            losses=rows[:, 0],
            loss_given=np.array(self._loss_given, dtype=bool),
            grad_norms=rows[:, 1],
            grad_norms_after=rows[:, 2],
            param_grad_norms=rows[:, 3 : 3 + count],
            param_norms=rows[:, 3 + count :],
            clip_coefficients=np.array(self._coefficients, dtype=np.float64).reshape(-1, count),
            clipped=np.array(self._clipped, dtype=bool),
            skipped=np.array(self._skipped, dtype=bool),
            policy=None if self.policy is None else self.policy.label,
            clip_method=self.clip_method,
            clip_threshold=self.clip_threshold,
            update_norms=np.array(
                [[math.nan] * count if row is None else row for row in self._updates],
                dtype=np.float64,
            ).reshape(-1, count),
            shapes=self.shapes,
            modules=self.modules,
            module_types=self.module_types,
            first_nonfinite=self._first_nonfinite,
        )
