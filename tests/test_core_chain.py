"""explorer.core.chain_gradients against the source articles' numbers and torch autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.core import ACTIVATIONS, INITS, chain_gradients
from explorer.core.chain import chain_network

SCALAR = {"width": 1, "init": "identity", "activation": "linear"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scalar_chain_matches_article_001(dtype: str) -> None:
    """Article 001: w = 2, five layers, x = 1, delta_5 = 1 -> deltas 16, 8, 4, 2, 1 and
    activations 2, 4, 8, 16, 32; dL/dW_1 = delta_1 * x = 16."""
    result = chain_gradients(5, weight_scale=2.0, dtype=dtype, **SCALAR)
    np.testing.assert_array_equal(result.delta_norms, [16, 8, 4, 2, 1])
    np.testing.assert_array_equal(result.activation_norms, [1, 2, 4, 8, 16, 32])
    assert result.weight_grad_norms[0] == 16.0
    assert result.gradient_at_layer_1 == 16.0
    np.testing.assert_array_equal(result.jacobian_norms, [2, 2, 2, 2, 2])
    assert result.overflow_layer is None


def test_twenty_layer_extrapolation_of_article_001() -> None:
    """Article 001: 20 layers at w = 2 give 2^19 = 524,288 at layer 1."""
    result = chain_gradients(20, weight_scale=2.0, **SCALAR)
    assert result.gradient_at_layer_1 == 524_288.0 == 2.0**19
    assert result.growth_ratio == 2.0**19


@pytest.mark.parametrize(
    ("weight", "expected"),
    [(3.0, 81.0), (0.9, 0.9**4), (1.0, 1.0), (0.5, 0.0625)],
)
def test_exercise_1_of_article_001(weight: float, expected: float) -> None:
    """Exercise 1: five layers at w = 3, 0.9 and 1; delta_1 = w^4 with delta_5 = 1 (the article's
    convention in its worked example), so 81, 0.6561 and 1 (w = 1 keeps the gradient constant)."""
    result = chain_gradients(5, weight_scale=weight, dtype="float64", **SCALAR)
    assert result.gradient_at_layer_1 == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(result.delta_norms, weight ** np.arange(4, -1, -1), rtol=1e-15)


def test_reference_curve_is_the_scalar_chain() -> None:
    """|w|^(L-l) is drawn for identity/orthogonal linear nets, where it is exact."""
    result = chain_gradients(7, weight_scale=2.0, **SCALAR)
    np.testing.assert_allclose(10.0**result.log10_reference, result.delta_norms, rtol=1e-12)
    assert chain_gradients(7, activation="tanh").log10_reference is None


def _autograd(depth: int, width: int, scale: float, init: str, activation: str, bias: float):
    """The same network through torch autograd: delta_l via retain_grad, dL/dW_l via .grad."""
    weights, biases = chain_network(depth, width, scale, init, bias, "float64", seed=3)
    weights = [w.clone().requires_grad_(True) for w in weights]
    phi = {"linear": lambda z: z, "tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[
        activation
    ]
    unit = torch.full((width,), 1 / math.sqrt(width), dtype=torch.float64)
    a = unit
    activations = []
    for weight, b in zip(weights, biases, strict=True):
        a = phi(weight @ a + b)
        a.retain_grad()
        activations.append(a)
    loss = unit @ a  # dL/da_L = the unit vector g
    loss.backward()
    deltas = [float(x.grad.norm()) for x in activations]
    weight_grads = [float(w.grad.norm()) for w in weights]

    def layer_map(l: int, x: torch.Tensor) -> torch.Tensor:
        return phi(weights[l].detach() @ x + biases[l])

    inputs = [unit] + [x.detach() for x in activations[:-1]]
    jacobians = [
        torch.autograd.functional.jacobian(lambda x, l=l: layer_map(l, x), inputs[l])
        for l in range(depth)
    ]
    spectral = [float(torch.linalg.matrix_norm(j, ord=2)) for j in jacobians]

    def network(x: torch.Tensor) -> torch.Tensor:
        for l in range(depth):
            x = layer_map(l, x)
        return x

    e2e = torch.linalg.svdvals(torch.autograd.functional.jacobian(network, unit))
    return deltas, weight_grads, spectral, e2e.numpy()


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_matches_torch_autograd_in_float64(init: str, activation: str) -> None:
    """Every init and activation: delta_l, dL/dW_l, ||J_l|| and the end-to-end singular values
    equal what torch autograd computes on the same network, to 1e-10 relative."""
    depth, width, scale, bias = 6, 7, 1.3, 0.4
    result = chain_gradients(
        depth,
        width=width,
        weight_scale=scale,
        init=init,
        activation=activation,
        bias_scale=bias,
        dtype="float64",
        seed=3,
    )
    deltas, weight_grads, spectral, e2e = _autograd(depth, width, scale, init, activation, bias)
    np.testing.assert_allclose(result.delta_norms, deltas, rtol=1e-10)
    np.testing.assert_allclose(result.weight_grad_norms, weight_grads, rtol=1e-10)
    np.testing.assert_allclose(result.jacobian_norms, spectral, rtol=1e-10)
    significant = e2e > e2e[0] * 1e-8  # below that, both SVDs see rounding noise
    np.testing.assert_allclose(
        result.e2e_log10_singular_values[significant], np.log10(e2e[significant]), atol=1e-9
    )


def test_delta_norms_respect_the_jacobian_bounds() -> None:
    """||delta_l|| <= prod_{k>l} ||J_k|| (submultiplicativity, ||g|| = 1), and the end-to-end
    norm is at most the product of the per-layer norms."""
    result = chain_gradients(
        40, width=16, weight_scale=1.7, activation="tanh", bias_scale=0.3, dtype="float64", seed=5
    )
    assert np.all(np.log10(result.delta_norms) <= result.log10_delta_bound + 1e-9)
    assert result.e2e_log10_norm <= result.log10_norm_product + 1e-9


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.5])
def test_orthogonal_weights_have_spectral_norm_equal_to_scale(scale: float) -> None:
    """Orthogonal W = scale * Q: every layer Jacobian (linear) has norm scale, and every singular
    value of the end-to-end Jacobian is scale^L (Saxe et al. 2013)."""
    depth = 30
    result = chain_gradients(
        depth,
        width=24,
        weight_scale=scale,
        init="orthogonal",
        activation="linear",
        dtype="float64",
        seed=1,
    )
    np.testing.assert_allclose(result.jacobian_norms, scale, rtol=1e-12)
    np.testing.assert_allclose(
        result.e2e_log10_singular_values, depth * math.log10(scale), atol=1e-10
    )


def test_end_to_end_spectrum_does_not_overflow_where_the_dtype_does() -> None:
    """Orthogonal scale 2 over 2000 layers: the forward pass overflows float64 at layer 1025
    (2^1024 > max float64) but log10 of every end-to-end singular value is 2000 log10 2."""
    result = chain_gradients(
        2000, width=4, weight_scale=2.0, init="orthogonal", activation="linear", dtype="float64"
    )
    assert result.overflow_layer == 1025
    assert result.overflow_pass == "forward"
    np.testing.assert_allclose(result.e2e_log10_singular_values, 2000 * math.log10(2.0), atol=1e-9)


def test_float32_forward_overflow_layer() -> None:
    """Scalar chain at w = 10 in float32: a_l = 10^l, and 10^39 > 3.4e38 (float32's max), so the
    first non-finite layer is 39; in float64 the same net is finite."""
    result = chain_gradients(45, weight_scale=10.0, dtype="float32", **SCALAR)
    assert result.overflow_layer == 39
    assert result.overflow_pass == "forward"
    assert math.isinf(result.activation_norms[39])
    assert math.isfinite(result.activation_norms[38])
    assert chain_gradients(45, weight_scale=10.0, dtype="float64", **SCALAR).overflow_layer is None


def test_float32_backward_overflow_layer() -> None:
    """tanh at weight std 10 is chaotic (Poole et al. 2016): activations stay in [-1, 1] while
    gradients grow until float32 holds inf. The reference is torch autograd in float32 on the
    same network: its first inf gradient (going down from the output) is at the same layer, give
    or take one for a different summation order."""
    depth, width = 400, 32
    f32 = chain_gradients(
        depth,
        width=width,
        weight_scale=10.0,
        init="gaussian",
        activation="tanh",
        dtype="float32",
        seed=0,
    )
    assert f32.overflow_pass == "backward"
    assert np.all(np.isfinite(f32.activation_norms))
    layer = f32.overflow_layer
    assert layer is not None
    assert math.isinf(f32.delta_norms[layer - 1])
    assert np.all(np.isfinite(f32.delta_norms[layer:]))

    weights, biases = chain_network(depth, width, 10.0, "gaussian", 0.0, "float32", seed=0)
    unit = torch.full((width,), 1 / math.sqrt(width), dtype=torch.float32)
    a = unit.clone().requires_grad_(True)
    activations = []
    for weight, b in zip(weights, biases, strict=True):
        a = torch.tanh(weight @ a + b)
        a.retain_grad()
        activations.append(a)
    (unit @ a).backward()
    finite = [bool(torch.isfinite(x.grad).all()) for x in activations]
    torch_layer = max(l + 1 for l, ok in enumerate(finite) if not ok)
    assert abs(torch_layer - layer) <= 1


def test_float32_overflow_between_depth_200_and_250_at_scale_15() -> None:
    """Gaussian weights N(0, 1.5^2 / n), linear: the gradient grows about 1.5 per layer, and
    1.5^200 = 1.6e35 fits float32 (max 3.4e38) while 1.5^250 = 1.0e44 does not. (the prototype saw
    inf at depth 200 with a prototype whose weights were not scaled by 1/sqrt(n).) The exact
    end-to-end norm stays finite either way."""
    kwargs = {"width": 32, "weight_scale": 1.5, "activation": "linear", "dtype": "float32"}
    assert chain_gradients(200, **kwargs).overflow_layer is None
    result = chain_gradients(250, **kwargs)
    assert result.overflow_layer is not None
    assert not math.isfinite(result.gradient_at_layer_1)
    assert 40 < result.e2e_log10_norm < 50


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"depth": 0}, "depth"),
        ({"depth": 2.5}, "depth"),
        ({"depth": True}, "depth"),
        ({"depth": 10_001}, "depth"),
        ({"depth": 3, "width": 0}, "width"),
        ({"depth": 3, "weight_scale": 0.0}, "weight_scale"),
        ({"depth": 3, "weight_scale": float("nan")}, "weight_scale"),
        ({"depth": 3, "weight_scale": float("inf")}, "weight_scale"),
        ({"depth": 3, "init": "xavierr"}, "init"),
        ({"depth": 3, "activation": "gelu"}, "activation"),
        ({"depth": 3, "bias_scale": -1.0}, "bias_scale"),
        ({"depth": 3, "dtype": "float16"}, "dtype"),
        ({"depth": 3, "seed": -1}, "seed"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        chain_gradients(**kwargs)


def test_same_seed_same_result_other_seed_other_result() -> None:
    a = chain_gradients(10, seed=7)
    b = chain_gradients(10, seed=7)
    c = chain_gradients(10, seed=8)
    np.testing.assert_array_equal(a.delta_norms, b.delta_norms)
    assert not np.array_equal(a.delta_norms, c.delta_norms)
