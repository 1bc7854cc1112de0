"""Per-layer gradients of a deep fully connected network: why they explode or vanish with depth.

The network: a_0 = x, z_l = W_l a_{l-1} + b_l, a_l = phi(z_l) for
l = 1..L. The loss is L = g . a_L with a fixed unit vector g, so dL/da_L = g has norm 1 (the scalar
chain's "delta at the output is 1.0"). Backpropagation runs delta_{l-1} = J_l^T delta_l with the
layer Jacobian J_l = diag(phi'(z_l)) W_l. With width 1, identity init and a linear activation
this is the source articles' scalar chain: w = 2 over 5 layers gives deltas 16, 8, 4, 2, 1 from
layer 1 to 5,
and over 20 layers 2^19 = 524,288 at layer 1.

Forward and backward passes run in the chosen dtype, so float32 overflow happens where it would in a
real float32 network; norms of the values, the Jacobian spectrum and all products are then taken in
float64 (and in log space for the end-to-end product), so they are exact even when the dtype is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core._types import FloatArray
from explorer.core._validate import check_choice, check_float, check_int, check_seed
from explorer.core.linalg import (
    backpropagate,
    first_nonfinite_row,
    log10_product_singular_values,
    spectral_norms,
)
from explorer.core.nets import (
    ACTIVATION_FUNCTIONS,
    ACTIVATIONS,
    DTYPES,
    INITS,
    MAX_SCALE,
    Activation,
    init_weights,
)

MAX_DEPTH = 10_000
MAX_WIDTH = 1024


def gradient_trend(ratio: float) -> str:
    """The deep-network panel's words for ``ratio`` = ||gradient at the first layer|| / ||gradient
    at the last layer||: above 1 exploding, below 1 vanishing, exactly 1 keeps its size.

    ``inspect_model`` says the same words, so a model and the panel are judged alike. A ratio
    that is inf or NaN (an overflow, or 0/0) gives "not finite".
    """
    if not math.isfinite(ratio):
        return "not finite"
    if ratio > 1:
        return "grows toward the input: exploding"
    if ratio < 1:
        return "shrinks toward the input: vanishing"
    return "keeps its size"


@dataclass(frozen=True)
class ChainResult:
    """Everything one forward and backward pass through the deep network tells about its gradients.

    Arrays are float64 numpy arrays indexed by layer; layer l (1-based) is at index l - 1, except
    ``activation_norms``, which starts at the input a_0.
    """

    depth: int
    width: int
    weight_scale: float
    init: str
    activation: str
    bias_scale: float
    dtype: str
    seed: int
    delta_norms: FloatArray  # (L,) ||dL/da_l||; the last one is the unit output gradient
    activation_norms: FloatArray  # (L+1,) ||a_l|| for l = 0..L
    weight_grad_norms: FloatArray  # (L,) Frobenius norm of dL/dW_l
    jacobian_norms: FloatArray  # (L,) spectral norm of J_l = da_l/da_{l-1}
    # (width,) log10 singular values of J_L...J_1, largest first
    e2e_log10_singular_values: FloatArray
    overflow_layer: int | None  # first layer (1-based) holding inf/NaN in ``dtype``, else None
    overflow_pass: str | None  # "forward" or "backward": which pass overflowed first

    @property
    def e2e_log10_norm(self) -> float:
        """log10 of the spectral norm of the end-to-end Jacobian da_L/da_0 (exact, no overflow)."""
        return float(self.e2e_log10_singular_values[0])

    @property
    def log10_norm_product(self) -> float:
        """log10 of prod_l ||J_l||, the submultiplicative upper bound on the end-to-end norm."""
        with np.errstate(divide="ignore"):
            return float(np.sum(np.log10(self.jacobian_norms)))

    @property
    def log10_delta_bound(self) -> FloatArray:
        """(L,) log10 prod_{k>l} ||J_k||, a bound on ||delta_l|| (as ||g|| = 1)."""
        with np.errstate(divide="ignore"):
            logs = np.log10(self.jacobian_norms)
        tail = np.cumsum(logs[::-1])[::-1]  # sum over k >= l
        return np.append(tail[1:], 0.0)

    @property
    def log10_reference(self) -> FloatArray | None:
        """(L,) log10 |w|^(L-l): exact for identity or orthogonal weights, linear activation."""
        if self.activation != "linear" or self.init not in ("identity", "orthogonal"):
            return None
        powers = self.depth - np.arange(1, self.depth + 1)
        reference: FloatArray = powers * np.float64(math.log10(self.weight_scale))
        return reference

    @property
    def gradient_at_layer_1(self) -> float:
        """||dL/da_1||: what reaches the first layer from a unit gradient at the output."""
        return float(self.delta_norms[0])

    @property
    def growth_ratio(self) -> float:
        """||delta_1|| / ||delta_L||: how many times larger the gradient is at layer 1 than at L."""
        return float(self.delta_norms[0] / self.delta_norms[-1])


def chain_network(
    depth: int, width: int, weight_scale: float, init: str, bias_scale: float, dtype: str, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The weights (L, n, n) and biases (L, n) that ``chain_gradients`` differentiates.

    Arguments are as for ``chain_gradients`` (already validated there); exposed so that a test or
    a user can rebuild the very same network, for instance to check it against torch autograd.
    """
    rng = np.random.default_rng(seed)
    torch_dtype = DTYPES[dtype]
    weights = init_weights(init, depth, width, width, weight_scale, rng, torch_dtype)
    biases = (bias_scale * torch.from_numpy(rng.standard_normal((depth, width)))).to(torch_dtype)
    return weights, biases


def _forward(
    weights: torch.Tensor, biases: torch.Tensor, phi: Activation, unit: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Activations a_0..a_L (L+1, n), slopes phi'(z_l) (L, n) and Jacobians diag(phi') W_l."""
    activations = [unit]  # a_0 = x, a unit vector
    pre_activations = []
    for weight, bias in zip(weights, biases, strict=True):
        z = weight @ activations[-1] + bias
        pre_activations.append(z)
        activations.append(phi.forward(z))
    a = torch.stack(activations)
    slopes = phi.derivative(torch.stack(pre_activations), a[1:])
    return a, slopes, slopes.unsqueeze(-1) * weights


def chain_jacobians(
    depth: int,
    width: int = 32,
    weight_scale: float = 1.0,
    init: str = "gaussian",
    activation: str = "tanh",
    bias_scale: float = 0.0,
    seed: int = 0,
) -> torch.Tensor:
    """The layer Jacobians J_1..J_L (L, n, n) of the float64 network ``chain_gradients`` runs."""
    weights, biases = chain_network(depth, width, weight_scale, init, bias_scale, "float64", seed)
    unit = torch.full((width,), 1.0 / math.sqrt(width), dtype=torch.float64)
    with np.errstate(all="ignore"):
        return _forward(weights, biases, ACTIVATION_FUNCTIONS[activation], unit)[2]


def chain_gradients(
    depth: int,
    width: int = 32,
    weight_scale: float = 1.0,
    init: str = "gaussian",
    activation: str = "tanh",
    bias_scale: float = 0.0,
    dtype: str = "float32",
    seed: int = 0,
) -> ChainResult:
    """Run a deep network forward and backward and measure its gradients layer by layer.

    depth: layers L in [1, 10000]; width: units per layer in [1, 1024]; weight_scale: the scale or
    gain of ``init`` in (0, 1e6]; init: identity, gaussian, orthogonal, xavier or he; activation:
    linear, tanh, relu or sigmoid; bias_scale: std of the biases in [0, 1e6]; dtype: float32 or
    float64 (for the passes); seed: in [0, 2^32 - 1].
    """
    depth = check_int("depth", depth, 1, MAX_DEPTH)
    width = check_int("width", width, 1, MAX_WIDTH)
    weight_scale = check_float("weight_scale", weight_scale, 0.0, MAX_SCALE, low_open=True)
    init = check_choice("init", init, INITS)
    activation = check_choice("activation", activation, ACTIVATIONS)
    bias_scale = check_float("bias_scale", bias_scale, 0.0, MAX_SCALE)
    dtype = check_choice("dtype", dtype, tuple(DTYPES))
    seed = check_seed(seed)

    torch_dtype = DTYPES[dtype]
    phi = ACTIVATION_FUNCTIONS[activation]
    weights, biases = chain_network(depth, width, weight_scale, init, bias_scale, dtype, seed)
    unit = torch.full((width,), 1.0 / math.sqrt(width), dtype=torch_dtype)

    with np.errstate(all="ignore"):
        a, slopes, jacobians = _forward(weights, biases, phi, unit)
        delta = backpropagate(jacobians[1:], unit)  # (L, n): delta_1 .. delta_L, delta_L = g

    a64, delta64 = a.to(torch.float64), delta.to(torch.float64)
    jacobians64 = jacobians.to(torch.float64)  # cast once for the SVDs and the product
    local = slopes.to(torch.float64) * delta64  # dL/dz_l
    weight_grad_norms = torch.linalg.vector_norm(local, dim=1) * torch.linalg.vector_norm(
        a64[:-1], dim=1
    )

    forward_bad = first_nonfinite_row(a[1:])
    backward_bad = first_nonfinite_row(delta.flip(0))
    if forward_bad is not None:
        overflow_layer, overflow_pass = forward_bad + 1, "forward"
    elif backward_bad is not None:
        overflow_layer, overflow_pass = depth - backward_bad, "backward"
    else:
        overflow_layer, overflow_pass = None, None

    return ChainResult(
        depth=depth,
        width=width,
        weight_scale=weight_scale,
        init=init,
        activation=activation,
        bias_scale=bias_scale,
        dtype=dtype,
        seed=seed,
        delta_norms=torch.linalg.vector_norm(delta64, dim=1).numpy(),
        activation_norms=torch.linalg.vector_norm(a64, dim=1).numpy(),
        weight_grad_norms=weight_grad_norms.numpy(),
        jacobian_norms=spectral_norms(jacobians64),
        e2e_log10_singular_values=log10_product_singular_values(jacobians64),
        overflow_layer=overflow_layer,
        overflow_pass=overflow_pass,
    )
