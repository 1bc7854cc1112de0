"""Inspect any torch model at its initialisation: does its gradient vanish or explode?

``inspect_model(model, example_input)`` trains nothing. One forward pass with hooks finds the
model's layers (the modules that own parameters directly, the model itself included, in the
order their outputs are produced) and records each one's input and output. Then, for each layer:

- the spectral norm of its Jacobian J = d output / d input at the recorded input (the whole
  tensor, batch included, is the vector), by power iteration on J^T J with products J v and
  J^T u from ``torch.func`` (``explorer.core.power_iteration``); no Jacobian is ever formed;
- the norm of the gradient that reaches its output, d<g, y>/d output, from a unit output
  gradient g, as ``chain_gradients`` backpropagates a unit vector (Pascanu et al. 2013 write the
  same gradient as a product of layer Jacobians); and the norm of its parameters' gradient.

The ratio of the gradient at the first layer to the gradient at the last is judged with the
deep-network panel's words (``chain.gradient_trend``). The model is left as it was: parameters,
buffers, ``.grad``, training mode and torch's random state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from explorer.core._types import FloatArray
from explorer.core._validate import check_float, check_int, check_seed
from explorer.core.chain import gradient_trend
from explorer.core.power_iteration import jacobian_spectral_norm

MAX_ITERATIONS = 10_000


@dataclass(frozen=True)
class ModelInspection:
    """One model's layers at one input: Jacobian norms, gradient norms and the verdict.

    Arrays are float64 and indexed by layer, in the order the layers produced their outputs.
    """

    names: tuple[str, ...]  # qualified submodule names; "name (call k)" for a module's k-th call
    module_types: tuple[str, ...]  # class names, e.g. "Linear", "MultiheadAttention"
    jacobian_norms: FloatArray  # ||d output / d input||_2; NaN where not taken (see ``notes``)
    gradient_norms: FloatArray  # ||d<g, model output> / d layer output||, ||g|| = 1 by default
    param_grad_norms: FloatArray  # ||d<g, model output> / d (the layer's own parameters)||
    notes: tuple[str, ...]  # per layer: why a value is NaN, a fallback, no convergence; or ""
    ratio: float  # gradient_norms[0] / gradient_norms[-1]
    verdict: str  # the deep-network panel's words for ``ratio``
    nonfinite_output: bool  # the model's output holds inf or NaN
    first_nonfinite_layer: str | None  # the first layer whose output holds inf or NaN

    def table(self) -> str:
        """A plain-text table of the layers, then the ratio and the verdict."""
        width = max(len(name) for name in self.names)
        kinds = max(len(kind) for kind in self.module_types)
        header = f"{'layer':<{width}}  {'type':<{kinds}}  {'||J||':>10}  {'||dL/dy||':>10}"
        lines = [header + f"  {'||dL/dθ||':>10}  note"]
        for index, name in enumerate(self.names):
            lines.append(
                f"{name:<{width}}  {self.module_types[index]:<{kinds}}"
                f"  {self.jacobian_norms[index]:>10.4g}  {self.gradient_norms[index]:>10.4g}"
                f"  {self.param_grad_norms[index]:>10.4g}  {self.notes[index]}".rstrip()
            )
        lines.append(
            f"gradient at the first layer / at the last: {self.ratio:.4g} ({self.verdict})"
        )
        if self.nonfinite_output:
            lines.append(f"the output holds inf/NaN; first at layer {self.first_nonfinite_layer}")
        return "\n".join(lines)


@dataclass
class _Call:
    """One call of a layer, as recorded by the hooks."""

    name: str
    module: torch.nn.Module
    args: tuple[Any, ...]  # tensors detached and copied: the values the layer saw
    kwargs: dict[str, Any]
    args_alias: tuple[bool, ...] = ()  # which args are the main input (q = k = v in self-attention)
    kwargs_alias: dict[str, bool] = field(default_factory=dict)
    output: torch.Tensor | None = None  # the first tensor output, in the autograd graph


def _first_tensor(value: object) -> torch.Tensor | None:
    """The first tensor in ``value`` (a tensor, or nested tuples, lists and dicts), else None."""
    if isinstance(value, torch.Tensor):
        return value
    items: tuple[object, ...] = ()
    if isinstance(value, dict):
        items = tuple(value.values())
    elif isinstance(value, (tuple, list)):
        items = tuple(value)
    for item in items:
        found = _first_tensor(item)
        if found is not None:
            return found
    return None


def _copy(value: object) -> object:
    return value.detach().clone() if isinstance(value, torch.Tensor) else value


def _main_input(args: tuple[Any, ...], kwargs: dict[str, Any]) -> torch.Tensor | None:
    """The input a layer's Jacobian is taken with respect to: its first floating-point tensor."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return value
    return None


def _layer_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The modules that own parameters directly; the model itself is named "(model)"."""
    return [
        (name or "(model)", module)
        for name, module in model.named_modules()
        if next(module.parameters(recurse=False), None) is not None
    ]


@contextmanager
def _recording(model: torch.nn.Module, calls: list[_Call]) -> Iterator[None]:
    """Hooks that append a ``_Call`` to ``calls`` each time a layer returns."""
    pending: dict[int, list[_Call]] = {}
    counts: dict[int, int] = {}

    def before(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        main = _main_input(args, kwargs)
        counts[id(module)] = counts.get(id(module), 0) + 1
        call = _Call(
            name=names[id(module)]
            + (f" (call {counts[id(module)]})" if counts[id(module)] > 1 else ""),
            module=module,
            args=tuple(_copy(value) for value in args),
            kwargs={key: _copy(value) for key, value in kwargs.items()},
            args_alias=tuple(main is not None and value is main for value in args),
            kwargs_alias={key: main is not None and value is main for key, value in kwargs.items()},
        )
        pending.setdefault(id(module), []).append(call)

    def after(
        module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> Any:
        del args, kwargs
        call = pending[id(module)].pop()
        call.output = _first_tensor(output)
        calls.append(call)
        # downstream code gets a copy, so an in-place op there cannot change the recorded output
        if isinstance(output, torch.Tensor):
            return output.clone()
        if type(output) is tuple and output and isinstance(output[0], torch.Tensor):
            return (output[0].clone(), *output[1:])
        return None

    layers = _layer_modules(model)
    names = {id(module): name for name, module in layers}
    handles = []
    try:
        for _, module in layers:
            handles.append(module.register_forward_pre_hook(before, with_kwargs=True))
            handles.append(module.register_forward_hook(after, with_kwargs=True))
        yield
    finally:
        for handle in handles:
            handle.remove()


def _layer_map(call: _Call, seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """x -> the layer's first output with x in place of its main input, other inputs fixed.

    The random state is reset before each call, so dropout inside a layer in training mode draws
    the same mask every time and the map is one fixed function.
    """

    def layer(x: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(seed)
        args = [
            x if alias else value for value, alias in zip(call.args, call.args_alias, strict=True)
        ]
        kwargs = {k: x if call.kwargs_alias[k] else v for k, v in call.kwargs.items()}
        output = _first_tensor(call.module(*args, **kwargs))
        if output is None:
            raise ValueError("the layer returned no tensor")
        return output

    return layer


def _jacobian_norm(
    call: _Call, start: torch.Tensor, iterations: int, tol: float, seed: int
) -> tuple[float, str]:
    """The layer's Jacobian spectral norm and a note (empty when nothing needs saying)."""
    x = _main_input(call.args, call.kwargs)
    if x is None:
        return math.nan, "no floating-point tensor input (e.g. token ids): no Jacobian"
    if call.output is None:
        return math.nan, "no tensor output: no Jacobian"
    if not bool(torch.isfinite(x).all() and torch.isfinite(call.output).all()):
        return math.nan, "input or output holds inf/NaN: no Jacobian"
    return jacobian_spectral_norm(_layer_map(call, seed), x, start, iterations, tol)


@contextmanager
def _model_kept(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> Iterator[None]:
    """Restore the model's buffers (BatchNorm's running statistics) and torch's random state."""
    buffers = [(buffer, buffer.detach().clone()) for buffer in model.buffers()]
    tensors = [*inputs, *model.parameters()]
    devices = sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})
    try:
        with torch.random.fork_rng(devices=devices), warnings.catch_warnings():
            # torch.func's first jvp scripts its decompositions with the deprecated torch.jit.script
            warnings.filterwarnings(
                "ignore", "`torch.jit.script` is deprecated", DeprecationWarning
            )
            yield
    finally:
        with torch.no_grad():
            for buffer, saved in buffers:
                buffer.copy_(saved)


def _checked_inputs(example_input: object) -> tuple[torch.Tensor, ...]:
    inputs = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    if not inputs or not all(isinstance(value, torch.Tensor) for value in inputs):
        raise ValueError(
            "example_input must be a tensor or a non-empty tuple of tensors,"
            f" got {type(example_input).__name__}"
        )
    return tuple(inputs)


def _checked_gradient(output_gradient: object, output: torch.Tensor, seed: int) -> torch.Tensor:
    """The output gradient g: the one given, or a random unit direction drawn from ``seed``."""
    if output_gradient is None:
        generator = torch.Generator().manual_seed(seed)
        g = torch.randn(output.shape, generator=generator, dtype=torch.float64)
        unit: torch.Tensor = g / torch.linalg.vector_norm(g)
        return unit.to(output.dtype).to(output.device)
    if not isinstance(output_gradient, torch.Tensor) or output_gradient.shape != output.shape:
        raise ValueError(
            f"output_gradient must be None or a tensor of the output's shape {tuple(output.shape)},"
            f" got {getattr(output_gradient, 'shape', type(output_gradient).__name__)}"
        )
    if not bool(torch.isfinite(output_gradient).all()):
        raise ValueError("output_gradient must be finite, got inf or NaN")
    return output_gradient.detach().to(output.dtype).to(output.device)


def _gradients(
    calls: list[_Call], output: torch.Tensor, g: torch.Tensor
) -> tuple[FloatArray, FloatArray]:
    """||d<g, output>/d layer output|| and ||d<g, output>/d layer parameters|| per call."""
    outputs = [c.output for c in calls if c.output is not None and c.output.requires_grad]
    unique = {id(p): p for c in calls for p in c.module.parameters(False) if p.requires_grad}
    params: list[torch.Tensor] = list(unique.values())
    found: dict[int, float] = {}
    if output.requires_grad and outputs + params:
        grads = torch.autograd.grad(output, outputs + params, g, allow_unused=True)
        for tensor, grad in zip(outputs + params, grads, strict=True):
            found[id(tensor)] = 0.0 if grad is None else float(grad.norm(dtype=torch.float64))
    gradient_norms = [found.get(id(c.output), math.nan) for c in calls]
    param_norms = []
    for call in calls:
        squares = [found[id(p)] ** 2 for p in call.module.parameters(False) if id(p) in found]
        param_norms.append(math.sqrt(sum(squares)) if squares else math.nan)
    return np.array(gradient_norms, dtype=np.float64), np.array(param_norms, dtype=np.float64)


def inspect_model(
    model: torch.nn.Module,
    example_input: torch.Tensor | tuple[torch.Tensor, ...],
    *,
    iterations: int = 50,
    tol: float = 1e-4,
    seed: int = 0,
    output_gradient: torch.Tensor | None = None,
) -> ModelInspection:
    """Each layer's Jacobian spectral norm and incoming gradient norm at ``example_input``.

    model: any torch.nn.Module, called as model(*example_input); example_input: a tensor or a
    tuple of tensors; iterations: power-iteration steps per layer in [1, 10000]; tol: relative
    change of the estimate at which it stops, in [0, 1]; seed: the start vectors' and the default
    output gradient's seed in [0, 2^32 - 1]; output_gradient: dL/d(output) for the model's first
    tensor output (default: a random direction of norm 1).
    """
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    inputs = _checked_inputs(example_input)
    iterations = check_int("iterations", iterations, 1, MAX_ITERATIONS)
    tol = check_float("tol", tol, 0.0, 1.0)
    seed = check_seed(seed)
    calls: list[_Call] = []
    with _model_kept(model, inputs):
        with _recording(model, calls):
            tracked = tuple(
                x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs
            )
            output = _first_tensor(model(*tracked))
        if output is None:
            raise ValueError("model must return a tensor (or a tuple or dict holding one)")
        if not calls:
            raise ValueError("model must have a submodule with parameters that runs on the input")
        g = _checked_gradient(output_gradient, output, seed)
        gradient_norms, param_grad_norms = _gradients(calls, output, g)
        nonfinite_output = not bool(torch.isfinite(output).all())
        bad = [c.name for c in calls if c.output is not None and not torch.isfinite(c.output).all()]
        del output
        for call in calls:  # the graph is no longer needed: free it before the Jacobians
            call.output = None if call.output is None else call.output.detach()
        jacobians = _jacobian_norms(calls, iterations, tol, seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = float(np.float64(gradient_norms[0]) / np.float64(gradient_norms[-1]))
    return ModelInspection(
        names=tuple(c.name for c in calls),
        module_types=tuple(type(c.module).__name__ for c in calls),
        jacobian_norms=np.array([sigma for sigma, _ in jacobians], dtype=np.float64),
        gradient_norms=gradient_norms,
        param_grad_norms=param_grad_norms,
        notes=tuple(note for _, note in jacobians),
        ratio=ratio,
        verdict=gradient_trend(ratio),
        nonfinite_output=nonfinite_output,
        first_nonfinite_layer=bad[0] if bad else None,
    )


def _jacobian_norms(
    calls: list[_Call], iterations: int, tol: float, seed: int
) -> list[tuple[float, str]]:
    """Power iteration for each call, with seeded start vectors, under the math attention kernel
    (the fused CPU attention kernel has neither a forward-mode nor a double-backward formula)."""
    generator = torch.Generator().manual_seed(seed)
    results = []
    with sdpa_kernel(SDPBackend.MATH):
        for call in calls:
            x = _main_input(call.args, call.kwargs)
            if x is None:
                results.append(_jacobian_norm(call, torch.empty(0), iterations, tol, seed))
                continue
            start = torch.randn(x.shape, generator=generator, dtype=torch.float64)
            start = start.to(x.dtype).to(x.device)
            results.append(_jacobian_norm(call, start, iterations, tol, seed))
    return results
