"""Gradient clipping exactly as the libraries people train with do it.

``clip_gradients(grads, method, threshold, semantics)`` clips a list of gradient tensors and says
what happened: the norm before and after, the multiplier, whether it clipped, and the cosine
between the original and the clipped direction (DESIGN.md, "Clipping").

Each (method, semantics) pair reproduces one library call, written with the same torch operations
in the same order, so the torch rows equal torch's own functions bit for bit:

- torch: ``clip_grad_value_``; ``clip_grad_norm_`` over all tensors ("global_norm") or called on
  each tensor alone ("norm"). The coefficient max_norm / (norm + 1e-6) is clamped to at most 1 and
  always multiplied in, so a norm exactly at the threshold is scaled by t / (t + 1e-6) < 1. The
  returned norm is the one before clipping; an inf or NaN norm turns the gradients to NaN (or
  raises, with ``error_if_nonfinite``). torch has no AGC: the torch row is timm's
  ``adaptive_clip_grad``.
- keras: the optimizer options ``clipvalue``, ``clipnorm`` (each variable on its own:
  g * c / max(norm, c), always applied) and ``global_clipnorm`` (scale c * min(1/norm, 1/c), plus
  norm - norm so that an inf or NaN norm makes every gradient NaN). Keras has no AGC.
- optax: ``clip``, ``clip_by_global_norm`` (no epsilon; a norm below the threshold leaves the
  gradients untouched, a norm at or above it, or NaN, gives (g / norm) * t) and
  ``adaptive_grad_clip``. Optax has no per-tensor norm clipping.
- "pascanu": Pascanu, Mikolov and Bengio 2013, Algorithm 1: if the global L2 norm >= t then
  g <- t * g / norm. It is the paper's rule whatever the semantics.

AGC (Brock et al. 2021) clips each unit's gradient to ``threshold`` times that unit's weight norm
(at least ``eps``). A unit is an output unit: a row of a torch (out, in) weight, or a whole vector.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from explorer.core._validate import check_choice, check_float

METHODS = ("value", "norm", "global_norm", "agc", "pascanu")
SEMANTICS = ("torch", "keras", "optax")
MAX_THRESHOLD = 1e30
TORCH_EPS = 1e-6  # clip_grad_norm_'s epsilon in max_norm / (norm + 1e-6)
AGC_DIV_EPS = 1e-6  # timm's and optax's guard against a zero gradient norm in AGC

# What each (method, semantics) pair reproduces; a pair not listed does not exist in that library.
LIBRARY_CALLS = {
    ("value", "torch"): "torch.nn.utils.clip_grad_value_",
    ("value", "keras"): "keras optimizer clipvalue",
    ("value", "optax"): "optax.clip",
    ("norm", "torch"): "torch.nn.utils.clip_grad_norm_ on each tensor",
    ("norm", "keras"): "keras optimizer clipnorm",
    ("global_norm", "torch"): "torch.nn.utils.clip_grad_norm_",
    ("global_norm", "keras"): "keras optimizer global_clipnorm",
    ("global_norm", "optax"): "optax.clip_by_global_norm",
    ("agc", "torch"): "timm.utils.adaptive_clip_grad",
    ("agc", "optax"): "optax.adaptive_grad_clip",
    **{("pascanu", name): "Pascanu et al. 2013, Algorithm 1" for name in SEMANTICS},
}


class NonFiniteNormError(RuntimeError):
    """torch's ``error_if_nonfinite=True`` refusal: the total norm is inf or NaN."""


@dataclass(frozen=True)
class ClipResult:
    """One clipping of a list of gradient tensors, and what a student asks about it.

    ``grads`` and ``original`` keep the shapes and dtype given. Norms are the semantics' own
    global norm (torch: the norm of the per-tensor norms, of order ``norm_type``; keras and optax:
    the L2 norm of everything). Where a method does not scale whole tensors (value, agc) the
    multipliers are NaN.
    """

    method: str
    semantics: str
    threshold: float
    norm_type: float
    library_call: str
    original: tuple[np.ndarray, ...]
    grads: tuple[np.ndarray, ...]  # the clipped gradients
    norm_before: float  # what torch's clip_grad_norm_ returns, for the torch semantics
    norm_after: float
    tensor_norms_before: np.ndarray  # (tensors,)
    tensor_norms_after: np.ndarray
    coefficients: np.ndarray  # (tensors,) the multiplier applied to each tensor, NaN if none
    clipped_tensors: np.ndarray  # (tensors,) bool: the rule chose to clip (or NaN forced it)
    cosine: float  # between the original and clipped gradients, all tensors flattened together

    @property
    def coefficient(self) -> float:
        """The one multiplier applied to every tensor (global_norm, pascanu), NaN otherwise."""
        first = self.coefficients[0]
        same = np.all(self.coefficients == first) or np.all(np.isnan(self.coefficients))
        return float(first) if same and self.method in ("global_norm", "pascanu") else math.nan

    @property
    def clipped(self) -> bool:
        """Whether the rule clipped anything."""
        return bool(self.clipped_tensors.any())

    @property
    def shrink(self) -> float:
        """norm_after / norm_before: how much the whole gradient shrank."""
        return self.norm_after / self.norm_before if self.norm_before else math.nan


def clip_gradients(
    grads: Any,
    method: str = "global_norm",
    threshold: float = 1.0,
    semantics: str = "torch",
    params: Any = None,
    *,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    eps: float = 1e-3,
) -> ClipResult:
    """Clip ``grads`` (a tensor, an array, or a sequence of them) as ``semantics`` would.

    ``threshold`` is the max norm (norm methods), the max absolute value ("value") or the clip
    factor relative to the weight norm ("agc", which needs the weights as ``params``).
    ``norm_type`` (torch only) is the p of the p-norm, p >= 1 or inf. ``error_if_nonfinite``
    (torch only) raises ``NonFiniteNormError`` as torch does. ``eps`` is AGC's floor on a weight
    norm. The tensors given are not modified.
    """
    method = check_choice("method", method, METHODS)
    semantics = check_choice("semantics", semantics, SEMANTICS)
    if (method, semantics) not in LIBRARY_CALLS:
        offered = [name for name in SEMANTICS if (method, name) in LIBRARY_CALLS]
        raise ValueError(
            f"semantics for method={method!r} must be one of {', '.join(map(repr, offered))}:"
            f" {semantics} has no such clipping, got {semantics!r}"
        )
    threshold = check_float("threshold", threshold, 0.0, MAX_THRESHOLD, low_open=True)
    norm_type = _check_norm_type(norm_type, semantics)
    if error_if_nonfinite and semantics != "torch":
        raise ValueError(
            f"error_if_nonfinite must be False for semantics {semantics!r}: "
            "it is a torch option, got True"
        )
    tensors = _as_tensors("grads", grads)
    weights = None
    if method == "agc":
        if params is None:
            raise ValueError("params must be given for method='agc': the weights, one per grad")
        weights = _as_tensors("params", params, like=tensors)
        eps = check_float("eps", eps, 0.0, MAX_THRESHOLD)
    norm_before, tensor_norms_before = _global_norm(tensors, semantics, norm_type)
    if error_if_nonfinite and not math.isfinite(norm_before):
        raise NonFiniteNormError(
            f"the total norm of order {norm_type} of the gradients is {norm_before}, so torch's"
            " clip_grad_norm_(error_if_nonfinite=True) refuses to clip"
        )
    clipped = [tensor.clone() for tensor in tensors]
    rule = _RULES[method, semantics]
    coefficients, clipped_tensors = rule(
        clipped, threshold, norm_type=norm_type, weights=weights, eps=eps
    )
    norm_after, tensor_norms_after = _global_norm(clipped, semantics, norm_type)
    return ClipResult(
        method=method,
        semantics=semantics,
        threshold=threshold,
        norm_type=norm_type,
        library_call=LIBRARY_CALLS[method, semantics],
        original=tuple(tensor.numpy() for tensor in tensors),
        grads=tuple(tensor.numpy() for tensor in clipped),
        norm_before=norm_before,
        norm_after=norm_after,
        tensor_norms_before=tensor_norms_before,
        tensor_norms_after=tensor_norms_after,
        coefficients=np.asarray(coefficients, dtype=np.float64),
        clipped_tensors=np.asarray(clipped_tensors, dtype=bool),
        cosine=_cosine(tensors, clipped),
    )


def clip_in_place(
    grads: Sequence[torch.Tensor],
    method: str,
    threshold: float,
    params: Sequence[torch.Tensor] | None = None,
    *,
    norm_type: float = 2.0,
    eps: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Clip the tensors ``grads`` in place with torch's semantics, as a training step does.

    The same rules as ``clip_gradients(..., semantics="torch")`` (equal to ``clip_grad_norm_`` /
    ``clip_grad_value_`` to the bit) without copies. Returns the multiplier applied to each
    tensor (NaN for "value" and "agc", which do not scale whole tensors) and whether each was
    clipped. "agc" needs the weights as ``params``.
    """
    method = check_choice("method", method, METHODS)
    threshold = check_float("threshold", threshold, 0.0, MAX_THRESHOLD, low_open=True)
    norm_type = _check_norm_type(norm_type, "torch")
    if method == "agc" and params is None:
        raise ValueError("params must be given for method='agc': the weights, one per grad")
    coefficients, clipped = _RULES[method, "torch"](
        list(grads),
        threshold,
        norm_type=norm_type,
        weights=None if params is None else [p.detach() for p in params],
        eps=eps,
    )
    return np.asarray(coefficients, dtype=np.float64), np.asarray(clipped, dtype=bool)


def _check_norm_type(norm_type: object, semantics: str) -> float:
    if isinstance(norm_type, str) and norm_type == "inf":
        norm_type = math.inf
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)):
        raise ValueError(f"norm_type must be a real number >= 1 or inf, got {norm_type!r}")
    value = float(norm_type)
    if math.isnan(value) or value < 1:
        raise ValueError(f"norm_type must be a real number >= 1 or inf, got {norm_type!r}")
    if semantics != "torch" and value != 2:
        raise ValueError(f"norm_type must be 2 for semantics {semantics!r}, got {norm_type!r}")
    return value


def _as_tensors(
    name: str, values: Any, like: Sequence[torch.Tensor] | None = None
) -> list[torch.Tensor]:
    """Detached float32/float64 CPU tensors; ``like`` demands the same count, shapes and dtype."""
    items = [values] if isinstance(values, (torch.Tensor, np.ndarray)) else list(values)
    if items and not isinstance(items[0], (torch.Tensor, np.ndarray, Sequence)):
        items = [values]  # a flat list of numbers is one vector
    if not items:
        raise ValueError(f"{name} must hold at least one tensor, got none")
    tensors = []
    for item in items:
        tensor = (
            item.detach().clone() if isinstance(item, torch.Tensor) else _from_array(name, item)
        )
        if tensor.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"{name} must be float32 or float64 tensors, got {tensor.dtype}")
        tensors.append(tensor.cpu())
    if len({tensor.dtype for tensor in tensors}) > 1:
        raise ValueError(f"{name} must all have one dtype (float32 or float64), got a mix")
    if like is not None:
        shapes = [tuple(tensor.shape) for tensor in like]
        if [tuple(tensor.shape) for tensor in tensors] != shapes:
            raise ValueError(f"{name} must match the grads one for one, shapes {shapes}")
        tensors = [tensor.to(like[0].dtype) for tensor in tensors]
    return tensors


def _from_array(name: str, item: Any) -> torch.Tensor:
    array = np.asarray(item)
    if array.dtype.kind in "iub":
        array = array.astype(np.float64)
    if array.dtype.kind != "f":
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return torch.from_numpy(np.array(array, copy=True))


def _total_norm(tensors: Sequence[torch.Tensor], semantics: str, norm_type: float) -> torch.Tensor:
    """The semantics' global norm as a 0-d tensor of the gradients' dtype."""
    if semantics == "torch":  # the norm of the per-tensor norms (clip_grad_norm_)
        norms = [torch.linalg.vector_norm(tensor, norm_type) for tensor in tensors]
        return torch.linalg.vector_norm(torch.stack(norms), norm_type)
    squares = [torch.sum(tensor * tensor) for tensor in tensors]
    if semantics == "keras":  # sqrt(sum(stack(sum(square(g)))))
        return torch.sqrt(torch.sum(torch.stack(squares)))
    summed = squares[0]  # optax: sqrt of the leaves' sums of squares added one by one
    for square in squares[1:]:
        summed = summed + square
    return torch.sqrt(summed)


def _global_norm(
    tensors: Sequence[torch.Tensor], semantics: str, norm_type: float
) -> tuple[float, np.ndarray]:
    """The semantics' global norm and the per-tensor norms, as float64."""
    per_tensor = [float(torch.linalg.vector_norm(tensor, norm_type)) for tensor in tensors]
    return float(_total_norm(tensors, semantics, norm_type)), np.array(per_tensor)


def _cosine(original: Sequence[torch.Tensor], clipped: Sequence[torch.Tensor]) -> float:
    """Cosine between the two flattened gradients in float64; NaN if undefined."""
    first = torch.cat([tensor.reshape(-1) for tensor in original]).double()
    second = torch.cat([tensor.reshape(-1) for tensor in clipped]).double()
    scale = float(torch.linalg.vector_norm(first) * torch.linalg.vector_norm(second))
    if not math.isfinite(scale) or scale == 0:
        return math.nan
    return float(torch.dot(first, second)) / scale


# Each rule clips ``grads`` in place and returns (multiplier per tensor, clipped per tensor).
Rule = Callable[..., tuple[list[float], list[bool]]]


def _scalar(value: torch.Tensor) -> float:
    return float(value)


def _value_rule(grads: list[torch.Tensor], threshold: float, **_: Any) -> tuple[list, list]:
    """clip_grad_value_ / clipvalue / optax.clip: clamp to [-t, t]; NaN stays NaN."""
    clipped = [bool((grad.abs() > threshold).any()) for grad in grads]
    torch._foreach_clamp_min_(grads, -threshold)  # the calls torch's clip_grad_value_ makes
    torch._foreach_clamp_max_(grads, threshold)
    return [math.nan] * len(grads), clipped


def _torch_norm_rule(
    grads: list[torch.Tensor], threshold: float, *, norm_type: float, per_tensor: bool, **_: Any
) -> tuple[list, list]:
    """clip_grad_norm_: coefficient t / (norm + 1e-6), clamped to 1, always multiplied in."""
    groups = [[grad] for grad in grads] if per_tensor else [grads]
    coefficients, clipped = [], []
    for group in groups:
        total = _total_norm(group, "torch", norm_type)
        coefficient = torch.clamp(threshold / (total + TORCH_EPS), max=1.0)
        torch._foreach_mul_(group, coefficient)
        coefficients += [_scalar(coefficient)] * len(group)
        clipped += [not bool(coefficient == 1.0)] * len(group)
    return coefficients, clipped


def _keras_norm_rule(grads: list[torch.Tensor], threshold: float, **_: Any) -> tuple[list, list]:
    """keras clipnorm, per variable: g * c / max(norm, c), applied whether or not norm > c."""
    coefficients, clipped = [], []
    for grad in grads:
        squares = torch.sum(grad * grad)
        positive = squares > 0
        safe = torch.where(positive, squares, torch.ones_like(squares))
        norm = torch.where(positive, torch.sqrt(safe), squares)
        denominator = torch.maximum(norm, torch.tensor(threshold, dtype=grad.dtype))
        grad.copy_((grad * threshold) / denominator)
        coefficients.append(threshold / _scalar(denominator))
        clipped.append(not bool(norm <= threshold))
    return coefficients, clipped


def _keras_global_rule(grads: list[torch.Tensor], threshold: float, **_: Any) -> tuple[list, list]:
    """keras global_clipnorm: scale c * min(1/norm, 1/c) + (norm - norm), always multiplied."""
    norm = _total_norm(grads, "keras", 2.0)
    inverse = torch.tensor(1.0 / threshold, dtype=norm.dtype)
    scale = threshold * torch.minimum(1.0 / norm, inverse) + (norm - norm)
    for grad in grads:
        grad.mul_(scale)
    return [_scalar(scale)] * len(grads), [not bool(norm <= threshold)] * len(grads)


def _optax_global_rule(grads: list[torch.Tensor], threshold: float, **_: Any) -> tuple[list, list]:
    """optax.clip_by_global_norm: untouched if norm < t, else (g / norm) * t (NaN clips)."""
    norm = _total_norm(grads, "optax", 2.0)
    if bool(norm < threshold):
        return [1.0] * len(grads), [False] * len(grads)
    for grad in grads:
        grad.copy_((grad / norm) * threshold)
    return [threshold / _scalar(norm)] * len(grads), [True] * len(grads)


def _pascanu_rule(grads: list[torch.Tensor], threshold: float, **_: Any) -> tuple[list, list]:
    """Pascanu et al. 2013, Algorithm 1: if ||g|| >= t then g <- (t / ||g||) g."""
    norm = _total_norm(grads, "torch", 2.0)
    if not bool(norm >= threshold):  # NaN compares False: the paper's rule leaves g alone
        return [1.0] * len(grads), [False] * len(grads)
    multiplier = threshold / norm
    torch._foreach_mul_(grads, multiplier)
    return [_scalar(multiplier)] * len(grads), [True] * len(grads)


def _unitwise_norm(
    tensor: torch.Tensor, norm_type: float, squeeze_like_optax: bool
) -> torch.Tensor:
    """Norm of each output unit: the whole of a vector, each row (all but dim 0) otherwise."""
    vector = tensor.squeeze().ndim <= 1 if squeeze_like_optax else tensor.ndim <= 1
    if vector:
        return torch.linalg.vector_norm(tensor, norm_type)
    return torch.linalg.vector_norm(
        tensor, norm_type, dim=tuple(range(1, tensor.ndim)), keepdim=True
    )


def _agc_rule(
    grads: list[torch.Tensor],
    threshold: float,
    *,
    weights: list[torch.Tensor],
    eps: float,
    norm_type: float,
    optax: bool,
    **_: Any,
) -> tuple[list, list]:
    """AGC: a unit whose gradient norm is not below t * max(|w_unit|, eps) is scaled onto it."""
    clipped = []
    for grad, weight in zip(grads, weights, strict=True):
        weight_norm = _unitwise_norm(weight, norm_type, optax)
        grad_norm = _unitwise_norm(grad, norm_type, optax)
        if optax:  # clipping * max(p_norm, eps); g * (max_norm / max(g_norm, 1e-6))
            max_norm = threshold * torch.maximum(weight_norm, torch.tensor(eps, dtype=grad.dtype))
            scaled = grad * (
                max_norm / torch.maximum(grad_norm, torch.tensor(AGC_DIV_EPS, dtype=grad.dtype))
            )
        else:  # timm: p_norm.clamp_(min=eps).mul_(clip_factor); g * (max_norm / g_norm.clamp(1e-6))
            max_norm = weight_norm.clamp(min=eps).mul_(threshold)
            scaled = grad * (max_norm / grad_norm.clamp(min=AGC_DIV_EPS))
        keep = grad_norm < max_norm
        grad.copy_(torch.where(keep, grad, scaled))
        clipped.append(not bool(keep.all()))
    return [math.nan] * len(grads), clipped


_RULES: dict[tuple[str, str], Rule] = {
    **{("value", name): _value_rule for name in SEMANTICS},
    ("norm", "torch"): lambda grads, t, **kw: _torch_norm_rule(grads, t, per_tensor=True, **kw),
    ("norm", "keras"): _keras_norm_rule,
    ("global_norm", "torch"): lambda grads, t, **kw: _torch_norm_rule(
        grads, t, per_tensor=False, **kw
    ),
    ("global_norm", "keras"): _keras_global_rule,
    ("global_norm", "optax"): _optax_global_rule,
    ("agc", "torch"): lambda grads, t, **kw: _agc_rule(grads, t, optax=False, **kw),
    ("agc", "optax"): lambda grads, t, **kw: _agc_rule(grads, t, optax=True, **kw),
    **{("pascanu", name): _pascanu_rule for name in SEMANTICS},
}


def clip_rows(
    gradients: np.ndarray, method: str, threshold: float, norms: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Clip each row of a (runs, k) float64 array as torch clips k scalar parameters.

    Row r gives what ``clip_gradients(list(gradients[r]), method, threshold)`` gives (torch
    semantics; "pascanu" the paper's rule), for many runs at once; also returns whether each row
    was clipped. Methods: value, norm, global_norm, pascanu. ``norms`` (runs, 1), if given, are
    the rows' total norms as torch computes them, so they need not be computed twice.
    """
    magnitudes = np.abs(gradients)
    with np.errstate(all="ignore"):
        if method == "value":
            return np.clip(gradients, -threshold, threshold), (magnitudes > threshold).any(axis=1)
        # torch evaluates float / tensor as float * reciprocal(tensor): so do we, to the bit
        if method == "norm":  # each scalar is its own tensor: torch's coefficient per entry
            coefficient = np.minimum(threshold * (1.0 / (magnitudes + TORCH_EPS)), 1.0)
            return gradients * coefficient, ~(coefficient == 1.0).all(axis=1)
        # torch's 2-norm accumulates with fused multiply-adds; numpy has none, so ask torch
        if norms is None:
            norms = torch.linalg.vector_norm(torch.from_numpy(gradients), dim=1, keepdim=True)
        total = np.asarray(norms)
        if method == "global_norm":
            coefficient = np.minimum(threshold * (1.0 / (total + TORCH_EPS)), 1.0)
            return gradients * coefficient, ~(coefficient == 1.0)[:, 0]
        if method == "pascanu":
            triggered = total >= threshold
            scaled = gradients * (threshold * (1.0 / total))
            return np.where(triggered, scaled, gradients), triggered[:, 0]
    raise ValueError(
        f"method must be one of 'value', 'norm', 'global_norm', 'pascanu', got {method!r}"
    )
