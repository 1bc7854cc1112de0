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
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import SupportsFloat, TypeAlias

import numpy as np
import torch

from explorer.core._types import BoolArray, FloatArray
from explorer.core._validate import MAX_THRESHOLD, check_choice, check_float
from explorer.core.clip import METHODS, clip_in_place

# What GradientRecorder watches: a module (its parameters that require grad), one tensor, or
# tensors, named or not (named ones as ``model.named_parameters()`` gives them).
Parameters: TypeAlias = (
    torch.nn.Module | torch.Tensor | Iterable[torch.Tensor] | Iterable[tuple[str, torch.Tensor]]
)


@dataclass(frozen=True)
class GradientHistory:
    """What was recorded at each step (rows) for each parameter tensor (columns).

    Norms are L2. ``grad_norms`` is the global norm before clipping, as ``clip_grad_norm_``
    returns it; ``grad_norms_after`` the same after clipping (equal when nothing clips).
    ``param_norms`` are the weights' norms when the gradient was taken. ``clip_coefficients`` is
    the multiplier clipping applied to each tensor (1 when not clipping; NaN for "value" and
    "agc", which do not scale whole tensors).
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


def gradient_norms(tensors: Iterable[torch.Tensor]) -> tuple[float, FloatArray]:
    """(global L2 norm, norm of each tensor's gradient), as ``clip_grad_norm_`` measures them.

    A tensor whose ``.grad`` is None counts as a zero gradient (torch leaves it out)."""
    grads = [t.grad for t in tensors]
    present = [g.detach() for g in grads if g is not None]
    if not present:
        return 0.0, np.zeros(len(grads))
    norms = [torch.linalg.vector_norm(g, 2.0) for g in present]
    values = torch.stack([*norms, torch.linalg.vector_norm(torch.stack(norms), 2.0)]).tolist()
    per_tensor = iter(values[:-1])
    return values[-1], np.array([next(per_tensor) if g is not None else 0.0 for g in grads])


class GradientRecorder:
    """Records gradient norms (and optionally clips) at each step of any torch training loop."""

    def __init__(
        self,
        parameters: Parameters,
        *,
        clip_method: str | None = None,
        clip_threshold: float | None = None,
    ) -> None:
        named = _named_parameters(parameters)
        self.names = tuple(name for name, _ in named)
        self.parameters = [p for _, p in named]
        # (method, threshold) when clipping: a method always comes with its checked threshold
        self._clipping: tuple[str, float] | None = None
        if clip_method is not None:
            self._clipping = (
                check_choice("clip_method", clip_method, METHODS),
                check_float("clip_threshold", clip_threshold, 0.0, MAX_THRESHOLD, low_open=True),
            )
        self._rows: list[list[float]] = []
        self._coefficients: list[FloatArray] = []
        self._clipped: list[bool] = []
        self._loss_given: list[bool] = []

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

    def record(self, loss: SupportsFloat | None = None) -> float:
        """Measure this step's gradients (after ``backward``), clip them in place if a clip method
        was given, and return the global norm before clipping."""
        if isinstance(loss, torch.Tensor):
            loss = loss.detach()
        loss_value = math.nan if loss is None else float(loss)
        before, per_tensor = gradient_norms(self.parameters)
        with torch.no_grad():
            weights = torch.stack([torch.linalg.vector_norm(p.detach()) for p in self.parameters])
        coefficients = np.ones(len(self.parameters))
        clipped = False
        after = before
        if self._clipping is not None:
            method, threshold = self._clipping
            grads = [p.grad for p in self.parameters if p.grad is not None]
            params = [p for p in self.parameters if p.grad is not None]
            if grads:
                applied, clipped_tensors = clip_in_place(grads, method, threshold, params)
                coefficients[[p.grad is not None for p in self.parameters]] = applied
                clipped = bool(clipped_tensors.any())
                after = gradient_norms(self.parameters)[0] if clipped else before
        self._rows.append([loss_value, before, after, *per_tensor, *weights.tolist()])
        self._coefficients.append(coefficients)
        self._clipped.append(clipped)
        self._loss_given.append(loss is not None)
        return before

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
            clip_method=self.clip_method,
            clip_threshold=self.clip_threshold,
        )
