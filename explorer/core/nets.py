"""Building blocks shared by the networks the explorer differentiates: activations and weight inits.

Activations carry their derivative and the bound gamma on |phi'| used by Pascanu et al. (2013,
section 2.1): 1 for tanh and for linear/ReLU, 1/4 for the logistic sigmoid.

Inits: identity (scale * I), gaussian N(0, scale^2 / fan_in), orthogonal
(scale * Q with Q Haar-distributed, Saxe et al. 2013), Xavier normal (Glorot and Bengio 2010,
std = scale * sqrt(2 / (fan_in + fan_out))) and He normal (He et al. 2015,
std = scale * sqrt(2 / fan_in)); the weight scale is the gain.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

INITS = ("identity", "gaussian", "orthogonal", "xavier", "he")
ACTIVATIONS = ("linear", "tanh", "relu", "sigmoid")
DTYPES = {"float32": torch.float32, "float64": torch.float64}
MAX_SCALE = 1e6  # the largest weight scale (the inits' gain), and input or bias scale


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity with its derivative written out (no autograd needed)."""

    name: str
    forward: Callable[[torch.Tensor], torch.Tensor]
    # derivative phi'(z) given z (pre-activation) and a = phi(z), whichever is cheaper to use
    derivative: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    gamma: float  # sup |phi'|, the bound in Pascanu et al. (2013) eq. 7


def _sigmoid_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    del z
    return a * (1 - a)


def _relu_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    del a
    # NaN stays NaN (an overflowed pre-activation must not turn into a slope of 0)
    return torch.where(torch.isnan(z), z, (z > 0).to(z.dtype))


def _tanh_derivative(z: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    del z
    return 1 - a * a


ACTIVATION_FUNCTIONS: dict[str, Activation] = {
    "linear": Activation("linear", lambda z: z, lambda z, a: torch.ones_like(z), 1.0),
    "tanh": Activation("tanh", torch.tanh, _tanh_derivative, 1.0),
    "relu": Activation("relu", torch.relu, _relu_derivative, 1.0),
    "sigmoid": Activation("sigmoid", torch.sigmoid, _sigmoid_derivative, 0.25),
}


def init_weights(
    init: str,
    count: int,
    fan_out: int,
    fan_in: int,
    scale: float,
    rng: np.random.Generator,
    dtype: torch.dtype,
) -> torch.Tensor:
    """Return ``count`` weight matrices of shape (fan_out, fan_in) drawn by ``init``, stacked.

    Random matrices are drawn in float64 by numpy's generator (about four times faster than
    torch.randn here) and then cast, so float32 and float64 runs with the same seed use the same
    weights up to rounding.
    """
    shape = (count, fan_out, fan_in)
    if init == "identity":
        eye = torch.eye(fan_out, fan_in, dtype=torch.float64)
        weights = scale * eye.expand(shape).clone()
    elif init == "orthogonal":
        gaussian = torch.from_numpy(
            rng.standard_normal((count, max(fan_out, fan_in), min(fan_out, fan_in)))
        )
        q, r = torch.linalg.qr(gaussian)
        # sign fix makes Q Haar-distributed (Mezzadri 2007)
        q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
        weights = scale * (q if fan_out >= fan_in else q.mT)
    else:
        std = {
            "gaussian": scale / math.sqrt(fan_in),
            "xavier": scale * math.sqrt(2.0 / (fan_in + fan_out)),
            "he": scale * math.sqrt(2.0 / fan_in),
        }[init]
        weights = std * torch.from_numpy(rng.standard_normal(shape))
    return weights.to(dtype)
