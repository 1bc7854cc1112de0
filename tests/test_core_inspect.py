"""explorer.core.inspect_model against chain_gradients, dense torch Jacobians and autograd.

References: ``chain_gradients`` forms each layer Jacobian explicitly and multiplies matrices
(checked against torch autograd in test_core_chain.py), so it is independent of the hooks, the
autograd pass and the power iteration here; dense Jacobians come from
``torch.autograd.functional.jacobian`` and their norms from ``torch.linalg.matrix_norm(·, 2)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch.autograd.function import once_differentiable

from explorer.core import ModelInspection, chain_gradients, inspect_model
from explorer.core.chain import chain_network, gradient_trend

EXACT = {"iterations": 3000, "tol": 1e-15}  # power iteration run to float64's rounding


def _chain_model(
    depth: int, width: int, scale: float, init: str, *, tanh: bool = False, bias: float = 0.0
) -> torch.nn.Sequential:
    """chain_gradients' float64 network (seed 3) as nn.Linear modules, with nn.Tanh after each
    one when ``tanh``."""
    weights, biases = chain_network(depth, width, scale, init, bias, "float64", 3)
    modules: list[torch.nn.Module] = []
    for weight, b in zip(weights, biases, strict=True):
        linear = torch.nn.Linear(width, width, bias=bias > 0, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(weight)
            if linear.bias is not None:
                linear.bias.copy_(b)
        modules += [linear, torch.nn.Tanh()] if tanh else [linear]
    return torch.nn.Sequential(*modules)


def _unit(width: int) -> torch.Tensor:
    """chain_gradients' input a_0 and output gradient g: (1/sqrt n)(1, ..., 1)."""
    return torch.full((width,), 1 / math.sqrt(width), dtype=torch.float64)


@pytest.mark.parametrize("init", ["gaussian", "orthogonal", "xavier", "he"])
def test_linear_network_matches_chain_gradients(init: str) -> None:
    """A linear network: layer l's Jacobian is W_l and the gradient reaching its output is
    delta_l = dL/da_l, so the Jacobian norms, gradient norms, weight-gradient norms and the ratio
    equal chain_gradients' with the same unit output gradient."""
    depth, width = 6, 16
    chain = chain_gradients(depth, width, 1.3, init, "linear", 0.0, "float64", 3)
    model = _chain_model(depth, width, 1.3, init)
    result = inspect_model(model, _unit(width), output_gradient=_unit(width), **EXACT)
    assert result.names == tuple(str(l) for l in range(depth))
    assert result.module_types == ("Linear",) * depth
    np.testing.assert_allclose(result.jacobian_norms, chain.jacobian_norms, rtol=1e-9)
    np.testing.assert_allclose(result.gradient_norms, chain.delta_norms, rtol=1e-12)
    np.testing.assert_allclose(result.param_grad_norms, chain.weight_grad_norms, rtol=1e-12)
    assert result.ratio == pytest.approx(chain.growth_ratio, rel=1e-12)
    assert result.notes == ("",) * depth
    assert not result.nonfinite_output
    assert result.first_nonfinite_layer is None


def test_tanh_network_layers_are_the_linear_modules() -> None:
    """Linear, Tanh, Linear, Tanh, ...: nn.Tanh owns no parameters, so the layers are the Linear
    modules and each one's map is z_l = W_l a_(l-1) + b_l, whose Jacobian is W_l alone (not
    chain's diag(phi'(z_l)) W_l). Its output z_l receives dL/dz_l = phi'(z_l) * delta_l, and
    chain's rank-one weight gradient gives ||dL/dz_l|| = ||dL/dW_l|| / ||a_(l-1)||; the bias
    gradient is dL/dz_l itself, so ||dL/d(W_l, b_l)||^2 = ||dL/dW_l||^2 + ||dL/dz_l||^2."""
    depth, width = 5, 12
    chain = chain_gradients(depth, width, 1.4, "gaussian", "tanh", 0.3, "float64", 3)
    model = _chain_model(depth, width, 1.4, "gaussian", tanh=True, bias=0.3)
    result = inspect_model(model, _unit(width), output_gradient=_unit(width), **EXACT)
    assert result.names == tuple(str(2 * l) for l in range(depth))
    linears = [model[2 * l] for l in range(depth)]
    spectral = [float(torch.linalg.matrix_norm(m.weight.detach(), 2)) for m in linears]
    np.testing.assert_allclose(result.jacobian_norms, spectral, rtol=1e-9)
    at_z = chain.weight_grad_norms / chain.activation_norms[:-1]
    np.testing.assert_allclose(result.gradient_norms, at_z, rtol=1e-12)
    np.testing.assert_allclose(
        result.param_grad_norms, np.hypot(chain.weight_grad_norms, at_z), rtol=1e-12
    )


@pytest.mark.parametrize(
    ("scale", "init", "words", "ratio"),
    [
        (1.5, "orthogonal", "grows toward the input: exploding", 1.5**9),
        (0.5, "orthogonal", "shrinks toward the input: vanishing", 0.5**9),
        (1.0, "identity", "keeps its size", 1.0),
    ],
)
def test_verdict_uses_the_deep_network_panels_words(
    scale: float, init: str, words: str, ratio: float
) -> None:
    """Ten orthogonal (or identity) linear layers at scale s: the gradient at layer 1 is s^9
    times the unit output gradient (closed form, Saxe et al. 2013). The verdict is the deep-network
    panel's words for that ratio, and the panel writes the same words for chain_gradients."""
    from explorer.panels.chain import readout_html

    chain = chain_gradients(10, 8, scale, init, "linear", 0.0, "float64", 3)
    model = _chain_model(10, 8, scale, init)
    result = inspect_model(model, _unit(8), output_gradient=_unit(8), iterations=5)
    assert result.ratio == pytest.approx(ratio, rel=1e-12)
    assert result.verdict == words
    assert f"({words})" in readout_html(chain)


def test_gradient_trend_words() -> None:
    """The panel's words, as written in its readout before they moved to the core."""
    assert gradient_trend(2.0) == "grows toward the input: exploding"
    assert gradient_trend(0.5) == "shrinks toward the input: vanishing"
    assert gradient_trend(0.0) == "shrinks toward the input: vanishing"
    assert gradient_trend(1.0) == "keeps its size"
    assert gradient_trend(math.inf) == "not finite"
    assert gradient_trend(math.nan) == "not finite"


def test_default_output_gradient_has_unit_norm() -> None:
    """The last Linear's output is the model's output, so the gradient reaching it is g itself,
    drawn with norm 1; the same seed gives the same result."""
    model = _chain_model(3, 6, 1.0, "gaussian")
    result = inspect_model(model, _unit(6), seed=7)
    assert result.gradient_norms[-1] == pytest.approx(1.0, rel=1e-15)
    again = inspect_model(model, _unit(6), seed=7)
    np.testing.assert_array_equal(result.jacobian_norms, again.jacobian_norms)
    np.testing.assert_array_equal(result.gradient_norms, again.gradient_norms)


class _SelfAttention(torch.nn.Module):
    """nn.MultiheadAttention called as self-attention, q = k = v = x, as in
    TransformerEncoderLayer."""

    def __init__(self) -> None:
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(8, 2, batch_first=True, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


class _Recurrent(torch.nn.Module):
    """nn.LSTM returns (output, (h, c)); its layer map is the first tensor, the output."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4, batch_first=True, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lstm(x)[0]


def _conv() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1, dtype=torch.float64))


def _batchnorm() -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.BatchNorm1d(4, dtype=torch.float64)).train()


@pytest.mark.parametrize(
    ("build", "shape", "dense_map", "method"),
    [
        (_conv, (2, 2, 5, 5), lambda m: m[0], ""),
        # training mode: the batch statistics couple the samples; the running statistics are
        # updated in place, which torch.func refuses, so torch.autograd.functional is used
        (_batchnorm, (6, 4), lambda m: m[0], "torch.autograd.functional"),
        (_SelfAttention, (2, 3, 8), lambda m: m.forward, ""),
        (_Recurrent, (2, 3, 3), lambda m: m.forward, ""),
    ],
)
def test_power_iteration_equals_the_dense_jacobians_norm(
    build: Callable[[], torch.nn.Module],
    shape: tuple[int, ...],
    dense_map: Callable[[Any], Callable[[torch.Tensor], torch.Tensor]],
    method: str,
) -> None:
    """The whole input tensor (batch included) is the vector: the estimate equals
    torch.linalg.matrix_norm(J, 2) of the dense Jacobian from torch.autograd.functional. (Seed 1:
    the convolution's third singular value is 0.95 of its first; seed 0's 0.997 needs 3000
    iterations, as power iteration converges like (sigma_3 / sigma_1)^(2k).)"""
    torch.manual_seed(1)
    model = build()
    x = torch.randn(shape, dtype=torch.float64)
    result = inspect_model(model, x, **EXACT)
    assert len(result.names) == 1
    layer = dense_map(model)
    jacobian = torch.autograd.functional.jacobian(layer, x)
    output_size = jacobian.numel() // x.numel()
    expected = float(torch.linalg.matrix_norm(jacobian.reshape(output_size, x.numel()), 2))
    assert result.jacobian_norms[0] == pytest.approx(expected, rel=1e-8)
    assert method in result.notes[0]


class _Cube(torch.autograd.Function):
    """x -> x^3 with a backward that cannot itself be differentiated (once_differentiable) and a
    forward-mode formula."""

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        return x**3

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor], output: torch.Tensor) -> None:
        ctx.save_for_backward(inputs[0])
        ctx.save_for_forward(inputs[0])

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return 3 * x**2 * grad

    @staticmethod
    def jvp(ctx: Any, tangent: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return 3 * x**2 * tangent


class _Cubed(torch.nn.Module):
    """y = (w * x)^3 elementwise, w = 1: the model itself is the one layer."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(5, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = _Cube.apply(x * self.weight)
        return result


def test_a_backward_that_cannot_be_differentiated_falls_back_to_forward_mode() -> None:
    """J = diag(3 x^2), so ||J||_2 = 3 max x^2 = 3 at x = (-1, ..., 0.5) (closed form). Through a
    once_differentiable backward the double-vjp J v would be 0; the adjoint test catches it and
    torch.func.jvp gives the norm."""
    x = torch.linspace(-1.0, 0.5, 5, dtype=torch.float64)
    result = inspect_model(_Cubed(), x, **EXACT)
    assert result.names == ("(model)",)
    assert result.jacobian_norms[0] == pytest.approx(3.0, rel=1e-12)
    assert result.notes[0].startswith("by torch.func.jvp (torch.func.vjp: J v is not the transpose")


def test_transformer_encoder_layer_order() -> None:
    """TransformerEncoderLayer (post-norm): x = norm1(x + self_attn(x)), then
    x = norm2(x + linear2(relu(linear1(x)))); the layers come in the order they produce outputs.
    MultiheadAttention owns its input projection, so it is a layer; its out_proj is applied
    through its weight, never called, so it is not listed."""
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    result = inspect_model(layer, torch.randn(2, 3, 8), iterations=3)
    assert result.names == ("self_attn", "norm1", "linear1", "linear2", "norm2")
    assert result.module_types == (
        "MultiheadAttention",
        "LayerNorm",
        "Linear",
        "Linear",
        "LayerNorm",
    )
    assert np.all(np.isfinite(result.jacobian_norms))


def test_a_module_called_twice_is_two_layers() -> None:
    """y = W (W x): the gradient at the second call's output is g, at the first call's W^T g, and
    both calls report W's whole gradient g (W x)^T + (W^T g) x^T (torch autograd)."""
    torch.manual_seed(0)

    class Twice(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(5, 5, bias=False, dtype=torch.float64)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(self.linear(x))

    model = Twice()
    x, g = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float64)
    result = inspect_model(model, x, output_gradient=g)
    assert result.names == ("linear", "linear (call 2)")
    weight = model.linear.weight.detach()
    assert result.gradient_norms[0] == pytest.approx(float((weight.T @ g).norm()), rel=1e-12)
    assert result.gradient_norms[1] == pytest.approx(float(g.norm()), rel=1e-12)
    (expected,) = torch.autograd.grad(model(x), model.linear.weight, g)
    np.testing.assert_allclose(result.param_grad_norms, float(expected.norm()), rtol=1e-12)


def test_an_in_place_op_after_a_layer_does_not_change_its_gradient() -> None:
    """Conv, ReLU(inplace=True), Conv: the ReLU overwrites the first convolution's output. The
    gradient reaching that output is still relu'(z_1) * (conv_2^T g), computed here by torch
    autograd on the same convolutions with an out-of-place ReLU."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, dtype=torch.float64),
        torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(3, 2, 3, dtype=torch.float64),
    )
    x = torch.randn(1, 2, 7, 7, dtype=torch.float64)
    g = torch.randn(1, 2, 3, 3, dtype=torch.float64)
    result = inspect_model(model, x, output_gradient=g)
    z1 = model[0](x)
    (expected,) = torch.autograd.grad(model[2](torch.relu(z1)), z1, g)
    assert result.names == ("0", "2")
    assert result.gradient_norms[0] == pytest.approx(float(expected.norm()), rel=1e-12)
    assert result.gradient_norms[1] == pytest.approx(float(g.norm()), rel=1e-12)


def test_token_ids_give_no_jacobian_but_a_gradient() -> None:
    """nn.Embedding takes integer ids: no Jacobian (NaN, said in the note); the gradient at its
    output is W_head^T g per row (torch autograd)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Linear(4, 2))
    ids = torch.tensor([[1, 2, 3]])
    g = torch.randn(1, 3, 2)
    result = inspect_model(model, ids, output_gradient=g)
    assert math.isnan(result.jacobian_norms[0])
    assert "token ids" in result.notes[0]
    expected = torch.linalg.vector_norm(g @ model[1].weight.detach())
    assert result.gradient_norms[0] == pytest.approx(float(expected), rel=1e-6)


def test_model_is_left_as_it_was() -> None:
    """Parameters, buffers (BatchNorm's running statistics), .grad (set or None), requires_grad,
    each module's training flag and torch's global random state (Dropout draws from it) are the
    same after the call, and no hook is left behind."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.5),
        torch.nn.Linear(8, 3),
    ).train()
    model[4].eval()
    model[4].bias.requires_grad_(False)
    model[0].weight.grad = torch.full_like(model[0].weight, 0.25)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    grads = {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    modes = [m.training for m in model.modules()]
    rng = torch.get_rng_state()

    result = inspect_model(model, torch.randn(6, 4, generator=torch.Generator().manual_seed(1)))

    assert len(result.names) == 3
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    for name, param in model.named_parameters():
        if grads[name] is None:
            assert param.grad is None, name
        else:
            assert torch.equal(param.grad, grads[name]), name
        assert param.requires_grad == flags[name], name
    assert [m.training for m in model.modules()] == modes
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_inf_in_the_output_is_reported() -> None:
    """float32, every weight 1e20: layer 0 gives 4e20 (finite), layer 1 gives 1.6e41 = inf, and
    LayerNorm of inf is NaN, so the gradient below it is NaN. ||1e20 * ones(4, 4)||_2 = 4e20."""
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 4, bias=False), torch.nn.Linear(4, 4, bias=False), torch.nn.LayerNorm(4)
    )
    with torch.no_grad():
        model[0].weight.fill_(1e20)
        model[1].weight.fill_(1e20)
    result = inspect_model(model, torch.ones(4))
    assert result.nonfinite_output
    assert result.first_nonfinite_layer == "1"
    assert result.jacobian_norms[0] == pytest.approx(4e20, rel=1e-5)
    assert math.isnan(result.jacobian_norms[1])
    assert "inf/NaN" in result.notes[1]
    assert math.isnan(result.ratio)
    assert result.verdict == "not finite"
    assert "inf/NaN" in result.table()


@pytest.mark.parametrize(
    ("arguments", "name"),
    [
        ({"model": "not a module"}, "model"),
        ({"example_input": [1.0, 2.0]}, "example_input"),
        ({"example_input": ()}, "example_input"),
        ({"example_input": np.ones(3)}, "example_input"),
        ({"iterations": 0}, "iterations"),
        ({"iterations": 1.5}, "iterations"),
        ({"iterations": True}, "iterations"),
        ({"iterations": 10_001}, "iterations"),
        ({"tol": -1e-3}, "tol"),
        ({"tol": math.nan}, "tol"),
        ({"tol": 2.0}, "tol"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**32}, "seed"),
        ({"output_gradient": torch.ones(5)}, "output_gradient"),
        ({"output_gradient": [1.0, 1.0, 1.0]}, "output_gradient"),
        ({"output_gradient": torch.tensor([1.0, math.inf, 1.0])}, "output_gradient"),
        ({"model": torch.nn.ReLU()}, "model"),
    ],
)
def test_bad_arguments_name_the_argument(arguments: dict[str, object], name: str) -> None:
    call: dict[str, object] = {
        "model": torch.nn.Linear(3, 3),
        "example_input": torch.ones(3),
        **arguments,
    }
    with pytest.raises(ValueError, match=rf"^{name} must"):
        inspect_model(**call)  # type: ignore[arg-type]


def test_table_names_every_layer_and_the_verdict() -> None:
    model = _chain_model(3, 4, 2.0, "orthogonal")
    result = inspect_model(model, _unit(4))
    assert isinstance(result, ModelInspection)
    lines = result.table().splitlines()
    assert len(lines) == 1 + 3 + 1
    assert [line.split()[0] for line in lines[1:4]] == ["0", "1", "2"]
    assert lines[-1].endswith("(grows toward the input: exploding)")
