"""Gradient clipping exactly as the libraries people train with do it.

``clip_gradients(grads, method, threshold, semantics)`` clips a list of gradient tensors and says
what happened: the norm before and after, the multiplier, whether it clipped, and the cosine
between the original and the clipped direction.

Each (method, semantics) pair reproduces one library call, written with the same torch operations
in the same order, so the torch rows equal torch's own functions bit for bit:

- torch: ``clip_grad_value_``; ``clip_grad_norm_`` over all tensors ("global_norm") or called on
  each tensor alone ("norm"). Like torch on CPU tensors these take the foreach path: the tensors
  are grouped by dtype, each group's norms come from ``torch._foreach_norm`` (each in its
  tensor's own dtype), and the total is ``vector_norm`` of the stacked norms, in the dtype
  ``torch.stack`` promotes them to (float64 if any gradient is float64, float32 for float32 or
  for float16 with bfloat16, else the one half dtype). ``norm_type`` is any p torch takes:
  p > 0, 0 (a count of nonzero entries: the total is then the number of tensors that have one),
  p < 0 and -inf (a tensor holding a zero has norm 0) and inf. The coefficient
  max_norm / (norm + 1e-6), in the total's dtype, is clamped to at most 1 and always multiplied
  in, so a norm exactly at the threshold is scaled by t / (t + 1e-6) < 1, and a threshold of 0
  scales by 0. The returned norm is the one before clipping. A total norm of inf
  gives the coefficient t / (inf + 1e-6) = 0: finite entries become 0 and inf entries NaN
  (inf * 0). A NaN total norm makes every entry NaN. For p <= 0 inf entries need not make the
  total infinite (for p < 0 they add 0 to the sum of |x|^p, -inf takes the smallest |x|, p = 0
  counts them) and for p = 0 NaN entries do not make it NaN: then the finite coefficient is
  applied, and inf and NaN entries stay as they are unless it is 0. ``error_if_nonfinite``
  raises instead of scaling by an inf or NaN total. An empty list gives torch's ``tensor(0.)``
  and clips nothing. torch has no AGC: the torch row is timm's ``adaptive_clip_grad``, whose
  units are the rows of a torch (out, in) weight.
- keras: the optimizer options ``clipvalue``, ``clipnorm`` (each variable on its own:
  g * c / max(norm, c), always applied) and ``global_clipnorm`` (scale c * min(1/norm, 1/c), plus
  norm - norm so that an inf or NaN norm makes every gradient NaN), as keras 3 computes them on
  its torch backend with its default floatx, float32. keras makes the Python float c a float32
  tensor, and its ``result_type`` of a float64 tensor and a float is float32 (keras follows jax
  without x64 and forces 64-bit results to 32 bits), so for float64 gradients keras rounds
  through float32: clipvalue clips to +-float64(float32(c)); clipnorm computes
  (g * float32(c)) / max(float32(norm), float32(c)), the float32 values widened to float64; and
  global_clipnorm's scale is the float32 product c * min(float32(1/norm), float32(1/c)), widened
  and multiplied in. The emulation does the same, with the same torch operations in the same
  dtypes, so that float64 (like float32) gradients get keras' own bits, not a more precise
  float64 answer keras never gives. Keras has no AGC.
- optax: ``clip``, ``clip_by_global_norm`` (no epsilon; a norm below the threshold leaves the
  gradients untouched, a norm at or above it, or NaN, gives (g / norm) * t) and
  ``adaptive_grad_clip``, whose units are those of optax's ``unitwise_norm`` (optax 0.2.7 and
  later): the whole array if it has at most one dimension of size > 1, else the norm is taken
  over axis 0 for 2-D and 3-D arrays (a column of an (in, out) weight), over axes (0, 1, 2) for
  4-D (HWIO convolution kernels) and (0, 1, 2, 3) for 5-D; other ranks are refused, as optax
  refuses them. Optax has no per-tensor norm clipping.
- "pascanu": Pascanu, Mikolov and Bengio 2013, Algorithm 1: if the global L2 norm >= t then
  g <- t * g / norm. It is the paper's rule whatever the semantics.

Inputs: torch semantics takes float16, bfloat16, float32 and float64 gradients, mixed in one
list as torch allows, an empty list (except for "value": torch's clip_grad_value_ refuses one)
and, for the methods torch (or timm) implements, a threshold of 0. Keras and optax semantics
take at least one tensor, all float32 or all float64, and a threshold > 0. Numpy has no
bfloat16: a bfloat16 tensor is clipped in bfloat16 and returned as a float32 array holding its
bfloat16 values exactly (``ClipResult.dtypes`` names the dtype each tensor was clipped in).

AGC (Brock et al. 2021) clips each unit's gradient to ``threshold`` times that unit's weight norm
(at least ``eps``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeAlias, cast

import numpy as np
import numpy.typing as npt
import torch
from torch.utils._foreach_utils import _group_tensors_by_device_and_dtype

from explorer.core._types import AnyFloatArray, BoolArray, FloatArray
from explorer.core._validate import MAX_THRESHOLD, check_choice, check_float

METHODS = ("value", "norm", "global_norm", "agc", "pascanu")
# The methods whose threshold bounds a norm (of each tensor, or of all of them together); "value"
# bounds each entry and "agc" is a ratio to the weights' norm.
NORM_METHODS = ("norm", "global_norm", "pascanu")
SEMANTICS = ("torch", "keras", "optax")
TORCH_EPS = 1e-6  # clip_grad_norm_'s epsilon in max_norm / (norm + 1e-6)
AGC_DIV_EPS = 1e-6  # timm's and optax's guard against a zero gradient norm in AGC
TORCH_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
ONE_DTYPE = (torch.float32, torch.float64)  # keras and optax semantics: one of these for all
# keras' floatx (its default), and the dtype in which keras' torch backend combines a tensor with
# a Python float: keras.backend.result_type follows jax without x64, so float64 gives float32.
KERAS_DTYPE = torch.float32
# The methods torch's own functions (and timm's AGC) implement: they take a threshold of 0.
ZERO_THRESHOLD_METHODS = ("value", "norm", "global_norm", "agc")
# clip_grad_norm_ is the only call with error_if_nonfinite.
NONFINITE_METHODS = ("norm", "global_norm")
# optax's unitwise_norm: the axes it sums over, by rank, for arrays that are not vectors.
OPTAX_UNIT_AXES = {2: (0,), 3: (0,), 4: (0, 1, 2), 5: (0, 1, 2, 3)}

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

# What clip_gradients takes as gradients (and AGC's weights): a tensor, an array, or a sequence of
# them; a flat sequence of numbers is one vector.
Tensors: TypeAlias = torch.Tensor | npt.ArrayLike | Sequence[torch.Tensor | npt.ArrayLike]


class NonFiniteNormError(RuntimeError):
    """torch's ``error_if_nonfinite=True`` refusal: the total norm is inf or NaN."""


@dataclass(frozen=True)
class ClipResult:
    """One clipping of a list of gradient tensors, and what a student asks about it.

    ``grads`` and ``original`` keep the shapes and dtypes given, except bfloat16, which numpy
    lacks: those arrays are float32 holding the bfloat16 values exactly (``dtypes`` names the
    dtype each tensor was clipped in). Norms are the semantics' own global norm (torch: the norm
    of the per-tensor norms, of order ``norm_type``, as clip_grad_norm_ returns it; keras and
    optax: the L2 norm of everything), as float. Where a method does not scale whole tensors
    (value, agc) the multipliers are NaN. An empty list (torch) gives empty tuples and arrays.
    """

    method: str
    semantics: str
    threshold: float
    norm_type: float
    library_call: str
    original: tuple[AnyFloatArray, ...]
    grads: tuple[AnyFloatArray, ...]  # the clipped gradients
    norm_before: float  # what torch's clip_grad_norm_ returns, for the torch semantics
    norm_after: float
    tensor_norms_before: FloatArray  # (tensors,)
    tensor_norms_after: FloatArray
    coefficients: FloatArray  # (tensors,) the multiplier applied to each tensor, NaN if none
    clipped_tensors: BoolArray  # (tensors,) bool: the rule chose to clip (or NaN forced it)
    cosine: float  # between the original and clipped gradients, all tensors flattened together
    dtypes: tuple[str, ...] = ()  # (tensors,) the torch dtype of each, e.g. "bfloat16"

    @property
    def coefficient(self) -> float:
        """The one multiplier applied to every tensor (global_norm, pascanu), NaN otherwise."""
        if not len(self.coefficients):
            return math.nan
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
    grads: Tensors,
    method: str = "global_norm",
    threshold: float = 1.0,
    semantics: str = "torch",
    params: Tensors | None = None,
    *,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    eps: float = 1e-3,
) -> ClipResult:
    """Clip ``grads`` (a tensor, an array, or a sequence of them) as ``semantics`` would.

    ``threshold`` is the max norm (norm methods), the max absolute value ("value") or the clip
    factor relative to the weight norm ("agc", which needs the weights as ``params``, one per
    grad, of the same shape; each is taken in its grad's dtype). It may be 0 for the torch
    semantics' value, norm, global_norm and agc, as torch and timm accept it. ``norm_type``
    (torch only; keras and optax require 2) is the p of the p-norm: any real number or +-inf, as
    torch's clip_grad_norm_ takes it. ``error_if_nonfinite`` (clip_grad_norm_'s option: methods
    norm and global_norm, torch semantics) raises ``NonFiniteNormError`` where torch raises.
    ``eps`` is AGC's floor on a weight norm. The tensors given are not modified.
    """
    method = check_choice("method", method, METHODS)
    semantics = check_choice("semantics", semantics, SEMANTICS)
    if (method, semantics) not in LIBRARY_CALLS:
        offered = [name for name in SEMANTICS if (method, name) in LIBRARY_CALLS]
        raise ValueError(
            f"semantics for method={method!r} must be one of {', '.join(map(repr, offered))}:"
            f" {semantics} has no such clipping, got {semantics!r}"
        )
    threshold = _check_threshold(threshold, method, semantics)
    norm_type = _check_norm_type(norm_type, semantics)
    _check_error_if_nonfinite(error_if_nonfinite, method, semantics)
    tensors = _as_tensors("grads", grads, semantics)
    _check_value_not_empty(tensors, method)
    weights = None
    if method == "agc":
        if params is None:
            raise ValueError("params must be given for method='agc': the weights, one per grad")
        weights = _as_tensors("params", params, semantics, like=tensors)
        eps = check_float("eps", eps, 0.0, MAX_THRESHOLD)
        if semantics == "optax":
            _check_optax_units(tensors)
    norm_before, tensor_norms_before = _global_norm(tensors, semantics, norm_type)
    clipped = [tensor.clone() for tensor in tensors]
    rule = _RULES[method, semantics]
    coefficients, clipped_tensors = rule(
        clipped,
        threshold,
        norm_type=norm_type,
        weights=weights,
        eps=eps,
        error_if_nonfinite=error_if_nonfinite,
    )
    norm_after, tensor_norms_after = _global_norm(clipped, semantics, norm_type)
    return ClipResult(
        method=method,
        semantics=semantics,
        threshold=threshold,
        norm_type=norm_type,
        library_call=LIBRARY_CALLS[method, semantics],
        original=tuple(_to_numpy(tensor) for tensor in tensors),
        grads=tuple(_to_numpy(tensor) for tensor in clipped),
        norm_before=norm_before,
        norm_after=norm_after,
        tensor_norms_before=tensor_norms_before,
        tensor_norms_after=tensor_norms_after,
        coefficients=np.asarray(coefficients, dtype=np.float64),
        clipped_tensors=np.asarray(clipped_tensors, dtype=bool),
        cosine=_cosine(tensors, clipped),
        dtypes=tuple(str(tensor.dtype).removeprefix("torch.") for tensor in tensors),
    )


def clip_in_place(
    grads: Sequence[torch.Tensor],
    method: str,
    threshold: float,
    params: Sequence[torch.Tensor] | None = None,
    *,
    norm_type: float = 2.0,
    eps: float = 1e-3,
) -> tuple[FloatArray, BoolArray]:
    """Clip the tensors ``grads`` in place with torch's semantics, as a training step does.

    The same rules and checks as ``clip_gradients(..., semantics="torch")`` (equal to
    ``clip_grad_norm_`` / ``clip_grad_value_`` to the bit, for any dtypes and norm_type torch
    takes) without copies. Returns the multiplier applied to each tensor (NaN for "value" and
    "agc", which do not scale whole tensors) and whether each was clipped. "agc" needs the
    weights as ``params``.
    """
    method = check_choice("method", method, METHODS)
    threshold = _check_threshold(threshold, method, "torch")
    norm_type = _check_norm_type(norm_type, "torch")
    if method == "agc" and params is None:
        raise ValueError("params must be given for method='agc': the weights, one per grad")
    _check_value_not_empty(grads, method)
    coefficients, clipped = _RULES[method, "torch"](
        list(grads),
        threshold,
        norm_type=norm_type,
        weights=None if params is None else [p.detach() for p in params],
        eps=eps,
        error_if_nonfinite=False,
    )
    return np.asarray(coefficients, dtype=np.float64), np.asarray(clipped, dtype=bool)


def _check_threshold(threshold: object, method: str, semantics: str) -> float:
    """torch's own calls (and timm's AGC) take 0; keras, optax and Pascanu's rule need t > 0."""
    zero_ok = semantics == "torch" and method in ZERO_THRESHOLD_METHODS
    return check_float("threshold", threshold, 0.0, MAX_THRESHOLD, low_open=not zero_ok)


def _check_value_not_empty(grads: Sequence[torch.Tensor], method: str) -> None:
    """torch's clip_grad_value_ raises on an empty list (clip_grad_norm_ returns tensor(0.))."""
    if method == "value" and len(grads) == 0:
        raise ValueError(
            "grads must hold at least one tensor for method='value': torch's clip_grad_value_"
            " refuses an empty list, got none"
        )


def _check_norm_type(norm_type: object, semantics: str) -> float:
    """Any real p or +-inf (also the strings 'inf' and '-inf') for torch; 2 for keras and optax.

    torch would also take NaN (every norm NaN) and True (p = 1); neither is a norm's order, so
    both are refused here.
    """
    if isinstance(norm_type, str) and norm_type in ("inf", "-inf"):
        norm_type = float(norm_type)
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)):
        raise ValueError(f"norm_type must be a real number or +-inf, got {norm_type!r}")
    value = float(norm_type)
    if math.isnan(value):
        raise ValueError(f"norm_type must be a real number or +-inf, not NaN, got {norm_type!r}")
    if semantics != "torch" and value != 2:
        raise ValueError(f"norm_type must be 2 for semantics {semantics!r}, got {norm_type!r}")
    return value


def _check_error_if_nonfinite(error_if_nonfinite: bool, method: str, semantics: str) -> None:
    """Only torch's clip_grad_norm_ (norm, global_norm under torch semantics) has the option."""
    if error_if_nonfinite and (semantics != "torch" or method not in NONFINITE_METHODS):
        raise ValueError(
            "error_if_nonfinite must be False unless semantics='torch' and method is 'norm' or"
            f" 'global_norm' (it is an option of torch's clip_grad_norm_ only),"
            f" got {error_if_nonfinite!r} with method={method!r}, semantics={semantics!r}"
        )


def _as_tensors(
    name: str, values: object, semantics: str, like: Sequence[torch.Tensor] | None = None
) -> list[torch.Tensor]:
    """Detached CPU copies of floating tensors the semantics takes.

    torch: float16, bfloat16, float32 and float64, mixed, and an empty list. keras and optax:
    at least one tensor, all float32 or all float64. ``like`` (the grads) demands the same count
    and shapes and converts each tensor to its grad's dtype.
    """
    if isinstance(values, (torch.Tensor, np.ndarray)):
        items: list[object] = [values]
    elif isinstance(values, Iterable):
        items = list(values)
    else:
        raise ValueError(f"{name} must be a tensor, an array or a sequence of them, got {values!r}")
    if items and not isinstance(items[0], (torch.Tensor, np.ndarray, Sequence)):
        items = [values]  # a flat list of numbers is one vector
    if not items and semantics != "torch":
        raise ValueError(
            f"{name} must hold at least one tensor for semantics {semantics!r}"
            " (only torch's clip functions are checked on an empty list), got none"
        )
    tensors = [
        item.detach().clone().cpu() if isinstance(item, torch.Tensor) else _from_array(name, item)
        for item in items
    ]
    _check_dtypes(name, tensors, semantics)
    if like is not None:
        shapes = [tuple(tensor.shape) for tensor in like]
        if [tuple(tensor.shape) for tensor in tensors] != shapes:
            raise ValueError(f"{name} must match the grads one for one, shapes {shapes}")
        tensors = [tensor.to(grad.dtype) for tensor, grad in zip(tensors, like, strict=True)]
    return tensors


def _check_dtypes(name: str, tensors: Sequence[torch.Tensor], semantics: str) -> None:
    allowed = TORCH_DTYPES if semantics == "torch" else ONE_DTYPE
    for tensor in tensors:
        if tensor.dtype not in allowed:
            names = ", ".join(str(dtype).removeprefix("torch.") for dtype in allowed)
            raise ValueError(
                f"{name} must be {names} tensors for semantics {semantics!r}, got {tensor.dtype}"
            )
    if semantics != "torch" and len({tensor.dtype for tensor in tensors}) > 1:
        raise ValueError(
            f"{name} must all have one dtype (float32 or float64) for semantics {semantics!r},"
            " got a mix"
        )


def _from_array(name: str, item: object) -> torch.Tensor:
    array = np.asarray(item)
    if array.dtype.kind in "iub":
        array = array.astype(np.float64)
    if array.dtype.kind != "f":
        raise ValueError(f"{name} must hold real numbers, got dtype {array.dtype}")
    return torch.from_numpy(np.array(array, copy=True))


def _to_numpy(tensor: torch.Tensor) -> AnyFloatArray:
    """The tensor as an array; bfloat16, which numpy lacks, as float32 (exact)."""
    return (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).numpy()


def _check_optax_units(tensors: Sequence[torch.Tensor]) -> None:
    """optax's unitwise_norm refuses arrays that are not vectors and have over 5 dimensions."""
    for tensor in tensors:
        if tensor.squeeze().ndim > 1 and tensor.ndim not in OPTAX_UNIT_AXES:
            raise ValueError(
                "grads and params must have at most 5 dimensions (or one of size > 1) for"
                " optax's adaptive_grad_clip, whose unitwise_norm takes ranks 1 to 5,"
                f" got shape {tuple(tensor.shape)}"
            )


def _dtype_groups(tensors: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
    """The tensors grouped by device and dtype, in torch's order (clip_grad_norm_ does this)."""
    grouped = _group_tensors_by_device_and_dtype([list(tensors)])
    # torch types the groups as lists of Optional[Tensor] (it also groups optional state such as
    # an optimizer's); given only tensors, as here, it returns only tensors
    return [cast(list[torch.Tensor], group) for (group,), _ in grouped.values()]


def _torch_total_norm(tensors: Sequence[torch.Tensor], norm_type: float) -> torch.Tensor:
    """torch's _get_total_norm on CPU: foreach norms per dtype group, then their norm."""
    if not tensors:
        return torch.tensor(0.0)
    norms: list[torch.Tensor] = []
    for group in _dtype_groups(tensors):
        norms.extend(torch._foreach_norm(group, norm_type))
    total: torch.Tensor = torch.linalg.vector_norm(torch.stack(norms), norm_type)
    return total


def _total_norm(tensors: Sequence[torch.Tensor], semantics: str, norm_type: float) -> torch.Tensor:
    """The semantics' global norm as a 0-d tensor."""
    if semantics == "torch":  # the norm of the per-tensor norms (clip_grad_norm_)
        return _torch_total_norm(tensors, norm_type)
    squares = [torch.sum(tensor * tensor) for tensor in tensors]
    if semantics == "keras":  # sqrt(sum(stack(sum(square(g)))))
        return torch.sqrt(torch.sum(torch.stack(squares)))
    summed = squares[0]  # optax: sqrt of the leaves' sums of squares added one by one
    for square in squares[1:]:
        summed = summed + square
    return torch.sqrt(summed)


def _global_norm(
    tensors: Sequence[torch.Tensor], semantics: str, norm_type: float
) -> tuple[float, FloatArray]:
    """The semantics' global norm and the per-tensor norms, as float64."""
    per_tensor = [float(torch.linalg.vector_norm(tensor, norm_type)) for tensor in tensors]
    total = float(_total_norm(tensors, semantics, norm_type))
    return total, np.array(per_tensor, dtype=np.float64)


def _cosine(original: Sequence[torch.Tensor], clipped: Sequence[torch.Tensor]) -> float:
    """Cosine between the two flattened gradients in float64; NaN if undefined."""
    if not original:
        return math.nan
    first = torch.cat([tensor.reshape(-1).double() for tensor in original])
    second = torch.cat([tensor.reshape(-1).double() for tensor in clipped])
    scale = float(torch.linalg.vector_norm(first) * torch.linalg.vector_norm(second))
    if not math.isfinite(scale) or scale == 0:
        return math.nan
    return float(torch.dot(first, second)) / scale


# What each rule returns: the multiplier applied to each tensor and whether each was clipped.
Clipping: TypeAlias = tuple[list[float], list[bool]]


class Rule(Protocol):
    """A rule clips ``grads`` in place; it takes every option and uses those it needs."""

    def __call__(
        self,
        grads: list[torch.Tensor],
        threshold: float,
        *,
        norm_type: float,
        weights: list[torch.Tensor] | None,
        eps: float,
        error_if_nonfinite: bool,
    ) -> Clipping: ...


def _scalar(value: torch.Tensor) -> float:
    return float(value)


def _value_rule(grads: list[torch.Tensor], threshold: float, **_: object) -> Clipping:
    """clip_grad_value_ / optax.clip: clamp to [-t, t]; NaN stays NaN."""
    clipped = [bool((grad.abs() > threshold).any()) for grad in grads]
    for group in _dtype_groups(grads):
        torch._foreach_clamp_min_(group, -threshold)  # the calls torch's clip_grad_value_ makes
        torch._foreach_clamp_max_(group, threshold)
    return [math.nan] * len(grads), clipped


def _torch_norm_rule(
    grads: list[torch.Tensor],
    threshold: float,
    *,
    norm_type: float,
    per_tensor: bool,
    error_if_nonfinite: bool = False,
    **_: object,
) -> Clipping:
    """clip_grad_norm_: coefficient t / (norm + 1e-6), clamped to 1, always multiplied in."""
    calls = [[grad] for grad in grads] if per_tensor else [grads] if grads else []
    coefficients: list[float] = []
    clipped: list[bool] = []
    for call in calls:
        total = _torch_total_norm(call, norm_type)
        if error_if_nonfinite and not bool(torch.isfinite(total)):
            raise NonFiniteNormError(
                f"the total norm of order {norm_type} of the gradients is {float(total)}, so"
                " torch's clip_grad_norm_(error_if_nonfinite=True) refuses to clip"
            )
        coefficient = torch.clamp(threshold / (total + TORCH_EPS), max=1.0)
        for group in _dtype_groups(call):
            torch._foreach_mul_(group, coefficient)
        coefficients += [_scalar(coefficient)] * len(call)
        clipped += [not bool(coefficient == 1.0)] * len(call)
    return coefficients, clipped


def _keras_float(value: float) -> torch.Tensor:
    """A Python float as keras' torch backend makes it a tensor: floatx, float32 by default."""
    return torch.tensor(value, dtype=KERAS_DTYPE)


def _keras_value_rule(grads: list[torch.Tensor], threshold: float, **_: object) -> Clipping:
    """keras clipvalue: ops.clip(g, -c, c), i.e. torch.clip(g, min=float32(-c), max=float32(c)).

    keras converts the Python bounds to float32 tensors (floatx) and torch widens them to the
    gradient's dtype: float64 gradients are clipped to +-float64(float32(c)), not to +-c.
    """
    low, high = _keras_float(-threshold), _keras_float(threshold)
    clipped = [bool((grad.abs() > high).any()) for grad in grads]
    for grad in grads:
        grad.copy_(torch.clip(grad, min=low, max=high))
    return [math.nan] * len(grads), clipped


def _keras_norm_rule(grads: list[torch.Tensor], threshold: float, **_: object) -> Clipping:
    """keras clipnorm, per variable: (g * c) / max(norm, c), applied whether or not norm > c.

    keras' _clip_by_norm with its torch backend's operations and dtypes: the sum of squares
    (with the two-tap where that keeps a zero gradient's norm 0), ``ops.multiply(g, c)`` with c
    a float32 tensor (g * float32(c), in g's dtype), and ``ops.maximum(norm, c)`` in
    ``result_type(norm, float)``, which is float32 even for a float64 norm (keras forces 64-bit
    results to 32 bits, as jax does without x64): max(float32(norm), float32(c)), by which
    the float64 product is divided. Clipped: keras' maximum chose the norm (or it is NaN).
    """
    coefficients: list[float] = []
    clipped: list[bool] = []
    limit = _keras_float(threshold)
    for grad in grads:
        squares = torch.sum(torch.square(grad))
        positive = squares > 0
        safe = torch.where(positive, squares, torch.ones_like(squares))
        norm = torch.where(positive, torch.sqrt(safe), squares).to(KERAS_DTYPE)
        denominator = torch.maximum(norm, limit)
        grad.copy_((grad * limit) / denominator)
        coefficients.append(_scalar(limit) / _scalar(denominator))
        clipped.append(not bool(norm <= limit))
    return coefficients, clipped


def _keras_global_rule(grads: list[torch.Tensor], threshold: float, **_: object) -> Clipping:
    """keras global_clipnorm: scale = c * minimum(1/norm, 1/c) + (norm - norm), multiplied in.

    keras' clip_by_global_norm with its torch backend's operations and dtypes: the norm is
    sqrt(sum(stack(sum(square(g))))) in the gradients' dtype and ``1.0 / norm`` too, but
    ``ops.minimum(1.0 / norm, 1.0 / c)`` works in ``result_type(norm, float)``, which is float32
    even for a float64 norm (keras forces 64-bit results to 32 bits, as jax does without x64):
    min(float32(1/norm), float32(1/c)), with 1/c divided in Python's float64. c times that is a
    float32 product, ``+ (norm - norm)`` widens it to the norm's dtype (and makes it NaN for an
    inf or NaN norm), and each gradient is multiplied by it. Clipped: keras' minimum chose
    1/norm (or it is NaN).
    """
    norm = _total_norm(grads, "keras", 2.0)
    inverse_norm = (1.0 / norm).to(KERAS_DTYPE)
    inverse_limit = _keras_float(1.0 / threshold)
    scale = threshold * torch.minimum(inverse_norm, inverse_limit) + (norm - norm)
    for grad in grads:
        grad.mul_(scale)
    clipped = not bool(inverse_limit <= inverse_norm)
    return [_scalar(scale)] * len(grads), [clipped] * len(grads)


def _optax_global_rule(grads: list[torch.Tensor], threshold: float, **_: object) -> Clipping:
    """optax.clip_by_global_norm: untouched if norm < t, else (g / norm) * t (NaN clips)."""
    norm = _total_norm(grads, "optax", 2.0)
    if bool(norm < threshold):
        return [1.0] * len(grads), [False] * len(grads)
    for grad in grads:
        grad.copy_((grad / norm) * threshold)
    return [threshold / _scalar(norm)] * len(grads), [True] * len(grads)


def _pascanu_rule(grads: list[torch.Tensor], threshold: float, **_: object) -> Clipping:
    """Pascanu et al. 2013, Algorithm 1: if ||g|| >= t then g <- (t / ||g||) g."""
    norm = _total_norm(grads, "torch", 2.0)
    if not grads or not bool(norm >= threshold):  # NaN compares False: g is left alone
        return [1.0] * len(grads), [False] * len(grads)
    multiplier = threshold / norm
    for group in _dtype_groups(grads):
        torch._foreach_mul_(group, multiplier)
    return [_scalar(multiplier)] * len(grads), [True] * len(grads)


def _agc_weights(weights: list[torch.Tensor] | None) -> list[torch.Tensor]:
    """AGC's weights (clip_gradients and clip_in_place refuse method 'agc' without them)."""
    if weights is None:
        raise ValueError("params must be given for method='agc': the weights, one per grad")
    return weights


def _timm_unitwise_norm(tensor: torch.Tensor, norm_type: float) -> torch.Tensor:
    """timm's unit norms: the whole of a tensor with ndim <= 1, else each row (all dims but 0)."""
    if tensor.ndim <= 1:
        whole: torch.Tensor = torch.linalg.vector_norm(tensor, norm_type)
        return whole
    rows: torch.Tensor = torch.linalg.vector_norm(
        tensor, norm_type, dim=tuple(range(1, tensor.ndim)), keepdim=True
    )
    return rows


def _optax_unitwise_norm(tensor: torch.Tensor) -> torch.Tensor:
    """optax's unitwise_norm: sqrt of the sum of squares over the unit's axes, broadcast back.

    The whole array if at most one dimension has size > 1; else the axes of OPTAX_UNIT_AXES for
    the rank (axis 0, the inputs, for an (in, out) weight). Other ranks are refused earlier.
    """
    squares = tensor * tensor
    if tensor.squeeze().ndim <= 1:
        summed = torch.sum(squares).reshape((1,) * tensor.ndim)
    else:
        summed = torch.sum(squares, dim=OPTAX_UNIT_AXES[tensor.ndim], keepdim=True)
    return torch.sqrt(summed).broadcast_to(tensor.shape)


def _timm_agc_rule(
    grads: list[torch.Tensor],
    threshold: float,
    *,
    weights: list[torch.Tensor] | None,
    eps: float,
    norm_type: float,
    **_: object,
) -> Clipping:
    """timm's adaptive_clip_grad: p_norm.clamp_(min=eps).mul_(clip_factor); a unit whose
    gradient norm is not below it becomes g * (max_norm / g_norm.clamp(min=1e-6))."""
    clipped: list[bool] = []
    for grad, weight in zip(grads, _agc_weights(weights), strict=True):
        max_norm = _timm_unitwise_norm(weight, norm_type).clamp_(min=eps).mul_(threshold)
        grad_norm = _timm_unitwise_norm(grad, norm_type)
        scaled = grad * (max_norm / grad_norm.clamp(min=AGC_DIV_EPS))
        keep = grad_norm < max_norm
        grad.copy_(torch.where(keep, grad, scaled))
        clipped.append(not bool(keep.all()))
    return [math.nan] * len(grads), clipped


def _optax_agc_rule(
    grads: list[torch.Tensor],
    threshold: float,
    *,
    weights: list[torch.Tensor] | None,
    eps: float,
    **_: object,
) -> Clipping:
    """optax.adaptive_grad_clip: max_norm = clipping * max(p_norm, eps); unitwise_clip keeps g
    where g_norm < max_norm, else g * (max_norm / max(g_norm, 1e-6))."""
    clipped: list[bool] = []
    for grad, weight in zip(grads, _agc_weights(weights), strict=True):
        floor = torch.tensor(eps, dtype=weight.dtype)
        max_norm = threshold * torch.maximum(_optax_unitwise_norm(weight), floor)
        grad_norm = _optax_unitwise_norm(grad)
        divisor = torch.maximum(grad_norm, torch.tensor(AGC_DIV_EPS, dtype=grad.dtype))
        keep = grad_norm < max_norm
        grad.copy_(torch.where(keep, grad, grad * (max_norm / divisor)))
        clipped.append(not bool(keep.all()))
    return [math.nan] * len(grads), clipped


_RULES: dict[tuple[str, str], Rule] = {
    ("value", "torch"): _value_rule,
    ("value", "keras"): _keras_value_rule,
    ("value", "optax"): _value_rule,
    ("norm", "torch"): partial(_torch_norm_rule, per_tensor=True),  # clip_grad_norm_ per tensor
    ("norm", "keras"): _keras_norm_rule,
    ("global_norm", "torch"): partial(_torch_norm_rule, per_tensor=False),  # on all of them
    ("global_norm", "keras"): _keras_global_rule,
    ("global_norm", "optax"): _optax_global_rule,
    ("agc", "torch"): _timm_agc_rule,
    ("agc", "optax"): _optax_agc_rule,
    **{("pascanu", name): _pascanu_rule for name in SEMANTICS},
}


def clip_rows(
    gradients: FloatArray, method: str, threshold: float, norms: FloatArray | None = None
) -> tuple[FloatArray, BoolArray]:
    """Clip each row of a (runs, k) float64 array as torch clips k scalar parameters.

    Row r gives what ``clip_gradients(list(gradients[r]), method, threshold)`` gives (torch
    semantics; "pascanu" the paper's rule), for many runs at once; also returns whether each row
    was clipped. Methods: value, norm, global_norm, pascanu. ``norms`` (runs, 1), if given, are
    the rows' total norms as torch computes them, so they need not be computed twice.
    """
    magnitudes = np.abs(gradients)
    with np.errstate(all="ignore"):
        if method == "value":
            # numpy types a reduction over an axis as a scalar or an array: (runs, k) gives (runs,)
            clipped = cast(BoolArray, (magnitudes > threshold).any(axis=1))
            return np.clip(gradients, -threshold, threshold), clipped
        # torch evaluates float / tensor as float * reciprocal(tensor): so do we, to the bit
        if method == "norm":  # each scalar is its own tensor: torch's coefficient per entry
            coefficient = np.minimum(threshold * (1.0 / (magnitudes + TORCH_EPS)), 1.0)
            return gradients * coefficient, ~(coefficient == 1.0).all(axis=1)
        # torch's 2-norm accumulates with fused multiply-adds; numpy has none, so ask torch
        if norms is None:
            rows = torch.from_numpy(gradients)
            total: FloatArray = torch.linalg.vector_norm(rows, dim=1, keepdim=True).numpy()
        else:
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
