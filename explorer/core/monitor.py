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

What is kept between steps, so that ``record()`` costs little more than ``clip_grad_norm_``: the
grouping (a ``_Plan``: which gradient and weight positions fall in which device/dtype group, in
torch's order, and how to put the measured norms back in parameter order). Each step reads every
gradient's and weight's device and dtype (None for a missing gradient) and compares them with
the plan's key; the plan is made again when any differs: a gradient missing or back (a frozen
layer, a branch not taken, a policy's skip), or a parameter converted, as ``module.half()``
replaces its data. The gradient tensors themselves are new at each step and never kept. Right
after ``backward()`` the tensors are out of the CPU's caches and every torch call costs several
times what it costs in a warm loop, so record() makes few of them: the key check costs less than
grouping anew, each norm is read with one ``float()`` (measured cheaper than stacking them for
one ``tolist()``), and a step's row is a plain list.

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
import numpy.typing as npt
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

    @classmethod
    def from_norms(
        cls,
        param_grad_norms: npt.ArrayLike,
        names: Sequence[str],
        *,
        losses: npt.ArrayLike | None = None,
        update_norms: npt.ArrayLike | None = None,
        modules: Sequence[str] = (),
        module_types: Sequence[str] = (),
        shapes: Sequence[tuple[int, ...]] = (),
    ) -> GradientHistory:
        """An unclipped run's history from per-step, per-tensor gradient norms logged elsewhere
        (another tool's per-layer norms, a made-up run), so that ``replay_clipping``, ``diagnose``
        and the Your run tab can read it. ``param_grad_norms`` is (steps, tensors), one column per
        name; the global norm is their L2 norm, as ``clip_grad_norm_`` totals the tensors' norms
        (in float64 here). What was not given is unknown: losses and update norms NaN, weight
        norms NaN. A shape that does not fit raises ValueError naming the argument."""
        norms = np.array(param_grad_norms, dtype=np.float64)
        if norms.ndim != 2 or norms.shape[1] != len(names):
            raise ValueError(
                f"param_grad_norms must be (steps, {len(names)}) for {len(names)} names; "
                f"got shape {norms.shape}"
            )
        steps = norms.shape[0]
        given = {"modules": modules, "module_types": module_types, "shapes": shapes}
        for argument, values in given.items():
            if values and len(values) != len(names):
                raise ValueError(f"{argument} must name each of the {len(names)} tensors")
        loss = np.full(steps, np.nan) if losses is None else np.array(losses, dtype=np.float64)
        if loss.shape != (steps,):
            raise ValueError(f"losses must hold one value per step ({steps}); got {loss.shape}")
        updates = np.empty((0, 0)) if update_norms is None else np.array(update_norms, float)
        if update_norms is not None and updates.shape != norms.shape:
            raise ValueError(f"update_norms must be {norms.shape}; got {updates.shape}")
        total = global_norms(norms)
        return cls(
            names=tuple(names),
            losses=loss,
            loss_given=np.full(steps, losses is not None),
            grad_norms=total,
            grad_norms_after=total.copy(),
            param_grad_norms=norms,
            param_norms=np.full(norms.shape, np.nan),
            clip_coefficients=np.ones_like(norms),
            clipped=np.zeros(steps, dtype=bool),
            clip_method=None,
            clip_threshold=None,
            update_norms=updates,
            shapes=tuple(tuple(shape) for shape in shapes),
            modules=tuple(modules),
            module_types=tuple(module_types),
        )

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


def global_norms(per_tensor: FloatArray) -> FloatArray:
    """The global 2-norm of each row of per-tensor norms (inf on overflow, NaN if any entry is
    NaN), in float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        norms: FloatArray = np.sqrt(np.sum(np.square(per_tensor), axis=1))
    return norms


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

# Each gradient's and each weight's (device, dtype), None for a missing gradient: what a _Plan
# depends on, read afresh at every step (reading it costs less than grouping the tensors again)
PlanKey: TypeAlias = tuple[tuple[torch.device, torch.dtype] | None, ...]

# One device's gradients, as clipping multiplies them group by group
GradGroup: TypeAlias = tuple[torch.device, list[torch.Tensor]]


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


def _plan_key(grads: Sequence[torch.Tensor | None], weights: Sequence[torch.Tensor]) -> PlanKey:
    """The gradients' and the weights' devices and dtypes (None for a missing gradient)."""
    return (
        *(None if grad is None else (grad.device, grad.dtype) for grad in grads),
        *((weight.device, weight.dtype) for weight in weights),
    )


@dataclass(frozen=True)
class _Group:
    """The tensors of one device and dtype: where its gradients are, and its weights."""

    device: torch.device
    grad_places: list[int]  # parameter positions of this group's present gradients
    weights: list[torch.Tensor]  # this group's weights (the same tensor objects at every step)


@dataclass(frozen=True)
class _Plan:
    """How to measure a step's gradients and weights, worked out from their devices and dtypes.

    ``_measure`` takes one ``torch._foreach_norm`` per group, as ``clip_grad_norm_`` does for
    the gradients. The plan holds for every step with the same ``key``."""

    key: PlanKey
    groups: tuple[_Group, ...]  # torch's group order of the gradients, then weight-only groups
    grad_groups: int  # how many groups hold gradients (the leading ones)
    # for each column of a row (gradient norms, then weight norms, in parameter order), the
    # position of its norm among the measured ones (-1: a missing gradient, norm 0);
    # None when they are measured in that order already
    order: list[int] | None


def _plan(grads: Sequence[torch.Tensor | None], weights: Sequence[torch.Tensor]) -> _Plan:
    """Group the present gradients and the weights by device and dtype, as torch would."""
    present = [index for index, grad in enumerate(grads) if grad is not None]
    by_grad = _groups([grad for grad in grads if grad is not None])
    by_weight = _groups(weights)
    groups: list[_Group] = []
    columns: list[int] = []  # the row column of each norm, in measuring order
    for device, dtype in [*by_grad, *(key for key in by_weight if key not in by_grad)]:
        _, grad_positions = by_grad.get((device, dtype), ([], []))
        group_weights, weight_places = by_weight.get((device, dtype), ([], []))
        grad_places = [present[position] for position in grad_positions]
        groups.append(_Group(device, grad_places, group_weights))
        columns.extend(grad_places)
        columns.extend(len(grads) + place for place in weight_places)
    order = [-1] * (len(grads) + len(weights))
    for position, column in enumerate(columns):
        order[column] = position
    return _Plan(
        key=_plan_key(grads, weights),
        groups=tuple(groups),
        grad_groups=len(by_grad),
        order=None if order == list(range(len(order))) else order,
    )


def _measure(
    plan: _Plan, grads: Sequence[torch.Tensor | None]
) -> tuple[list[float], torch.Tensor, list[GradGroup]]:
    """Every gradient's and weight's norm, clip_grad_norm_'s global norm, the gradients grouped.

    The norms come in a row's column order (the gradients' in parameter order, 0 for a missing
    one, then the weights'). The global norm is the 2-norm of the stacked gradient norms in
    torch's group order (tensor(0.) without any), as ``clip_grad_norm_`` takes it."""
    grouped: list[GradGroup] = []
    grad_norms: list[torch.Tensor] = []
    values: list[float] = []
    for group in plan.groups:
        group_grads = [grad for index in group.grad_places if (grad := grads[index]) is not None]
        measured = torch._foreach_norm([*group_grads, *group.weights], 2.0)
        if group_grads:
            grouped.append((group.device, group_grads))
        grad_norms.extend(measured[: len(group_grads)])
        # on the CPU one float() per norm costs less than stacking them for one tolist(); on an
        # accelerator each float() would wait for the device, so its group is read in one go
        if group.device.type == "cpu":
            values.extend(float(norm) for norm in measured)
        else:
            values.extend(torch.stack(list(measured)).tolist())
    total = _total(grad_norms, plan.grad_groups > 1)
    if plan.order is not None:
        values = [values[position] if position >= 0 else 0.0 for position in plan.order]
    return values, total, grouped


def _total(norms: list[torch.Tensor], devices: bool = True) -> torch.Tensor:
    """torch's total: vector_norm of the stacked norms, moved to the first one's device (only
    needed when there are several groups)."""
    if not norms:
        return torch.tensor(0.0)
    if devices:
        norms = [norm.to(norms[0].device) for norm in norms]
    total: torch.Tensor = torch.linalg.vector_norm(torch.stack(norms), 2.0)
    return total


def _grad_total(grouped: list[GradGroup]) -> torch.Tensor:
    """The global norm of the grouped gradients, as clip_grad_norm_ computes it."""
    norms: list[torch.Tensor] = []
    for _, group in grouped:
        norms.extend(torch._foreach_norm(group, 2.0))
    return _total(norms, len(grouped) > 1)


def gradient_norms(tensors: Iterable[torch.Tensor]) -> tuple[float, FloatArray]:
    """(global L2 norm, norm of each tensor's gradient), as ``clip_grad_norm_`` measures them.

    A tensor whose ``.grad`` is None counts as a zero gradient (torch leaves it out)."""
    grads = [t.grad for t in tensors]
    if all(grad is None for grad in grads):
        return 0.0, np.zeros(len(grads))
    with torch.no_grad():
        values, total, _ = _measure(_plan(grads, []), grads)
    return float(total), np.array(values, dtype=np.float64)


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
        self._plan: _Plan | None = None  # how record() measures, kept while its key holds
        # per step: the loss, the global norm before and after clipping, each gradient's norm,
        # each weight's norm (history() makes them arrays)
        self._rows: list[list[float]] = []
        self._coefficients: list[list[float]] = []
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
            loss = loss.detach()  # torch warns when a tensor that requires grad becomes a float
        loss_value = math.nan if loss is None else float(loss)
        grads = [p.grad for p in self.parameters]
        with torch.no_grad():
            values, total, grouped = _measure(self._plan_for(grads), grads)
            before = float(total)
            if not math.isfinite(before) and self._first_nonfinite is None:
                self._find_nonfinite()
            if self._policy_state is None:
                coefficients, clipped = self._clip(grouped, total, grads)
            else:
                coefficients, clipped = self._follow_policy(grouped, before)
            skipped = self.decision is not None and self.decision.action == "skip"
            after = float(_grad_total(grouped)) if clipped and not skipped else before
            after = 0.0 if skipped else after
        self._rows.append([loss_value, before, after, *values])
        self._coefficients.append(coefficients)
        self._clipped.append(clipped)
        self._skipped.append(skipped)
        self._loss_given.append(loss is not None)
        self._updates.append(None)
        self._update_pending = True
        return before

    def _plan_for(self, grads: Sequence[torch.Tensor | None]) -> _Plan:
        """The measuring plan for these gradients and the weights: the last one while every
        tensor's device and dtype and the set of present gradients stay the same."""
        if self._plan is None or self._plan.key != _plan_key(grads, self.parameters):
            self._plan = _plan(grads, self.parameters)
        return self._plan

    def _clip(
        self, grouped: list[GradGroup], total: torch.Tensor, grads: Sequence[torch.Tensor | None]
    ) -> tuple[list[float], bool]:
        """Clip the gradients in place; return each tensor's multiplier and whether any changed.

        Global-norm clipping reuses the norm just measured and multiplies as clip_grad_norm_
        does (coefficient t / (norm + 1e-6) clamped to 1, always applied); the other methods
        go through ``clip_in_place``."""
        coefficients = [1.0] * len(self.parameters)
        if self._clipping is None or not grouped:
            return coefficients, False
        method, threshold = self._clipping
        if method == "global_norm":
            coefficient = torch.clamp(threshold / (total + TORCH_EPS), max=1.0)
            for device, group in grouped:
                torch._foreach_mul_(group, coefficient.to(device))
            value = float(coefficient)
            return [1.0 if grad is None else value for grad in grads], value != 1.0
        present = [index for index, grad in enumerate(grads) if grad is not None]
        applied, clipped = clip_in_place(
            [grad for grad in grads if grad is not None],
            method,
            threshold,
            [self.parameters[index] for index in present],
        )
        for index, multiplier in zip(present, applied.tolist(), strict=True):
            coefficients[index] = multiplier
        return coefficients, bool(clipped.any())

    def _follow_policy(self, grouped: list[GradGroup], norm: float) -> tuple[list[float], bool]:
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
            for _, group in grouped:
                torch._foreach_mul_(group, decision.multiplier)
        return [decision.multiplier] * len(self.parameters), decision.action != "none"

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
