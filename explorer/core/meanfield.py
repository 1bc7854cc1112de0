"""Signal propagation in wide random networks: mean-field theory and the order-to-chaos diagram.

For a deep network with W_ij ~ N(0, sigma_w^2 / n) and b_i ~ N(0, sigma_b^2), each layer maps the
pre-activation variance q to sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 (z ~ N(0, 1)); its stable
fixed point is q*. A gradient's squared norm then changes by chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]
per layer: chi_1 < 1 is the ordered phase (gradients vanish), chi_1 > 1 the chaotic phase
(gradients explode), chi_1 = 1 the edge of chaos (Poole et al. 2016; Schoenholz et al. 2017).
Known points: tanh without bias is critical at sigma_w = 1 (q* = 0, chi_1 = sigma_w^2); ReLU at
sigma_w = sqrt(2) for every bias (chi_1 = sigma_w^2 / 2).

``phase_diagram`` measures the same thing: it runs random networks over a grid of (sigma_w,
sigma_b), all built from one draw of standard normal matrices (common random numbers, so the map is
smooth), and records the per-layer growth of the gradient norm beside the theory's chi_1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import overload

import numpy as np
import numpy.typing as npt
import torch

from explorer.core._types import FloatArray
from explorer.core._validate import check_choice, check_float, check_int, check_seed
from explorer.core.nets import ACTIVATION_FUNCTIONS, ACTIVATIONS

MAX_STD = 10.0  # q up to ~200: where the quadrature below is exact to float64
# Gaussian expectations by the trapezoid rule on [-10, 10]: for these analytic integrands its
# error falls like exp(-2 pi d / h), d = pi / (2 sqrt(q)) the strip where tanh(sqrt(q) z) stays
# analytic: below 1e-24 for q up to 200 (sigma_w, sigma_b <= 10), the range allowed.
_NODES = np.linspace(-10.0, 10.0, 1601)
_WEIGHTS = np.exp(-0.5 * _NODES**2)
_WEIGHTS /= _WEIGHTS.sum()  # so that E[1] = 1 to the last bit
_NEWTON_STEPS = 200


def _tanh_terms(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    t = np.tanh(x)
    d = 1.0 - t * t
    return t, d, -2.0 * t * d  # phi, phi', phi''


def _sigmoid_terms(x: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    s = 0.5 * (1.0 + np.tanh(0.5 * x))  # the logistic function without overflow
    d = s * (1.0 - s)
    return s, d, d * (1.0 - 2.0 * s)


_SMOOTH = {"tanh": _tanh_terms, "sigmoid": _sigmoid_terms}


def _expect(values: FloatArray) -> FloatArray:
    """E over z ~ N(0, 1), for values tabulated at the nodes along the last axis."""
    return values @ _WEIGHTS


def _q_star_smooth(activation: str, weight_var: FloatArray, bias_var: FloatArray) -> FloatArray:
    """The largest (stable) fixed point of the variance map, by Newton's method from above.

    The map q -> sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 is concave for tanh and sigmoid, so
    Newton from an upper bound (sup phi^2 = 1) falls monotonically onto the largest root; its
    derivative is sigma_w^2 E[phi'^2 + phi phi''] (Gaussian integration by parts).
    """
    terms = _SMOOTH[activation]
    weight_var, bias_var = (
        np.array(x, dtype=np.float64).reshape(-1) for x in (weight_var, bias_var)
    )
    q = weight_var + bias_var
    active = np.ones(q.shape, dtype=bool)
    if activation == "tanh":  # odd, so q* = 0 exactly when there is no bias and sigma_w <= 1
        settled = (bias_var == 0) & (weight_var <= 1.0)
        q[settled], active[settled] = 0.0, False
    for _ in range(_NEWTON_STEPS):
        if not active.any():
            break
        wv, bv, qa = weight_var[active], bias_var[active], q[active]
        phi, slope, curvature = terms(np.sqrt(qa)[:, None] * _NODES)
        g = wv * _expect(phi * phi) + bv - qa
        dg = wv * _expect(slope * slope + phi * curvature) - 1.0
        q_next = np.maximum(qa - np.where(dg < 0, g / dg, 0.0), 0.0)
        q[active] = q_next
        done = np.abs(q_next - qa) <= 1e-14 * q_next
        active[np.flatnonzero(active)[done]] = False
    return q


@overload
def mean_field_chi(
    weight_std: float, bias_std: float, activation: str = "tanh"
) -> tuple[float, float]: ...


@overload
def mean_field_chi(
    weight_std: npt.ArrayLike, bias_std: npt.ArrayLike, activation: str = "tanh"
) -> tuple[float | FloatArray, float | FloatArray]: ...


def mean_field_chi(
    weight_std: npt.ArrayLike, bias_std: npt.ArrayLike, activation: str = "tanh"
) -> tuple[float | FloatArray, float | FloatArray]:
    """(chi_1, q*) of the mean-field theory for a random deep network.

    weight_std: sigma_w in [0, 10]; bias_std: sigma_b in [0, 10] (scalars or arrays that
    broadcast); activation: linear, tanh, relu or sigmoid. Where the variance map has no finite
    fixed point (linear or ReLU networks whose activations grow without bound) q* is inf; for ReLU
    at sigma_w^2 = 2 without bias every q is fixed and q* is NaN. chi_1 for ReLU and linear does not
    depend on q*. Two scalars give two floats, arrays (or an array and a scalar) two arrays of
    their broadcast shape (floats if that shape is ()).
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    sigma_w = _check_stds("weight_std", weight_std)
    sigma_b = _check_stds("bias_std", bias_std)
    weight_var, bias_var = np.broadcast_arrays(sigma_w**2, sigma_b**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if activation in ("linear", "relu"):
            gain = 1.0 if activation == "linear" else 0.5  # E[phi(sqrt(q) z)^2] = gain * q
            chi = weight_var * gain
            q = np.where(chi < 1.0, bias_var / (1.0 - chi), np.inf)
            q = np.where((chi == 1.0) & (bias_var == 0), np.nan, q)
        else:
            q = _q_star_smooth(activation, weight_var, bias_var).reshape(weight_var.shape)
            slope = _SMOOTH[activation](np.sqrt(q)[..., None] * _NODES)[1]
            chi = weight_var * _expect(slope * slope)
    if np.ndim(chi) == 0:
        return float(chi), float(q)
    return chi, q


def _check_stds(name: str, value: npt.ArrayLike) -> FloatArray:
    if np.ndim(value) == 0:
        return np.asarray(check_float(name, value, 0.0, MAX_STD))
    array = np.asarray(value, dtype=np.float64)
    if not (np.isfinite(array).all() and (array >= 0).all() and (array <= MAX_STD).all()):
        raise ValueError(f"{name} must hold real numbers in [0, {MAX_STD:g}]")
    return array


@dataclass(frozen=True)
class PhaseResult:
    """Measured gradient growth over a grid of (sigma_w, sigma_b), with the theory beside it."""

    activation: str
    depth: int
    width: int
    seed: int
    weight_stds: FloatArray  # (W,) sigma_w, the grid's columns
    bias_stds: FloatArray  # (B,) sigma_b, the grid's rows
    log10_growth: FloatArray  # (B, W) measured mean per-layer log10 growth of ||dL/da_l||
    chi_1: FloatArray  # (B, W) mean-field chi_1
    q_star: FloatArray  # (B, W) mean-field q*

    @property
    def theory_log10_growth(self) -> FloatArray:
        """(B, W) the theory's per-layer log10 growth of the gradient norm: log10(chi_1) / 2."""
        with np.errstate(divide="ignore"):
            growth: FloatArray = 0.5 * np.log10(self.chi_1)
        return growth


MAX_PHASE_DEPTH = 500
MAX_PHASE_WIDTH = 1024
MAX_GRID = 200


def phase_diagram(
    activation: str = "tanh",
    weight_stds: npt.ArrayLike | None = None,
    bias_stds: npt.ArrayLike | None = None,
    depth: int = 50,
    width: int = 128,
    seed: int = 0,
) -> PhaseResult:
    """Measure per-layer gradient growth in random networks over a grid of (sigma_w, sigma_b).

    weight_stds, bias_stds: 1-D grids in [0, 10] with at most 200 points each (defaults: 36
    values of sigma_w in [0.25, 4] and 24 of sigma_b in [0, 1]); depth: layers in [4, 500]; width:
    units in [1, 1024]; seed: in [0, 2^32 - 1]. The growth is measured over the deeper half of the
    network, where the forward pass has settled near q*, from a unit output gradient.
    """
    activation = check_choice("activation", activation, ACTIVATIONS)
    depth = check_int("depth", depth, 4, MAX_PHASE_DEPTH)
    width = check_int("width", width, 1, MAX_PHASE_WIDTH)
    seed = check_seed(seed)
    sigma_w = _grid("weight_stds", weight_stds, np.linspace(0.25, 4.0, 36))
    sigma_b = _grid("bias_stds", bias_stds, np.linspace(0.0, 1.0, 24))

    chi, q = _theory(activation, tuple(sigma_w), tuple(sigma_b))
    growth = _measure_growth(activation, sigma_w, sigma_b, depth, width, seed)
    return PhaseResult(
        activation=activation,
        depth=depth,
        width=width,
        seed=seed,
        weight_stds=sigma_w,
        bias_stds=sigma_b,
        log10_growth=growth,
        chi_1=chi,
        q_star=q,
    )


@cache
def _theory(
    activation: str, sigma_w: tuple[float, ...], sigma_b: tuple[float, ...]
) -> tuple[FloatArray, FloatArray]:
    """(chi_1, q*) over the grid, kept: the same grid is asked for again as the panel's other
    settings change."""
    chi_1, q_star = mean_field_chi(
        np.array(sigma_w)[None, :], np.array(sigma_b)[:, None], activation
    )
    chi, q = np.asarray(chi_1), np.asarray(q_star)
    chi.flags.writeable = False
    q.flags.writeable = False
    return chi, q


def _grid(name: str, values: npt.ArrayLike | None, default: FloatArray) -> FloatArray:
    grid = default if values is None else _check_stds(name, values)
    if grid.ndim != 1 or not 1 <= grid.size <= MAX_GRID:
        raise ValueError(f"{name} must be a 1-D grid of 1 to {MAX_GRID} values")
    return grid.astype(np.float64)


@lru_cache(maxsize=2)  # a panel asks for the same draw as other settings change; keep few
def _standard_draws(
    depth: int, width: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One draw of the network's randomness: (L, n, n) and (L, n) standard normals, an input of
    q_0 = 1 and a unit output gradient; shared by every grid cell."""
    rng = np.random.default_rng(seed)
    matrices = torch.from_numpy(rng.standard_normal((depth, width, width)) / math.sqrt(width))
    biases = torch.from_numpy(rng.standard_normal((depth, width)))
    inputs = torch.from_numpy(rng.standard_normal(width))
    gradient = torch.from_numpy(rng.standard_normal(width))
    return matrices, biases, inputs, gradient / torch.linalg.vector_norm(gradient)


def _measure_growth(
    activation: str,
    sigma_w: FloatArray,
    sigma_b: FloatArray,
    depth: int,
    width: int,
    seed: int,
) -> FloatArray:
    """(B, W) mean log10 growth per layer of ||delta_l|| over layers depth/2 .. depth."""
    phi = ACTIVATION_FUNCTIONS[activation]
    matrices, biases, inputs, gradient = _standard_draws(depth, width, seed)
    w = torch.from_numpy(np.tile(sigma_w, sigma_b.size))[:, None]  # (G, 1), row-major (B, W)
    b = torch.from_numpy(np.repeat(sigma_b, sigma_w.size))[:, None]
    a = inputs.expand(w.shape[0], width)
    slopes = []
    start = depth // 2
    log10_growth = torch.zeros(w.shape[0], dtype=torch.float64)
    with np.errstate(all="ignore"):
        for layer in range(depth):
            z = w * (a @ matrices[layer].mT) + b * biases[layer]
            a = phi.forward(z)
            slopes.append(phi.derivative(z, a))
        delta = gradient.expand(w.shape[0], width)  # dL/da_L, a unit vector
        for layer in range(depth - 1, start - 1, -1):  # delta_(l-1) = W_l^T (phi'(z_l) delta_l)
            delta = w * ((slopes[layer] * delta) @ matrices[layer])
            norms = torch.linalg.vector_norm(delta, dim=1)
            log10_growth += torch.log10(norms)  # a gradient that is exactly 0: -inf, kept
            delta = delta / torch.where(norms > 0, norms, 1.0)[:, None]  # growth kept in logs
    return (log10_growth / (depth - start)).reshape(sigma_b.size, sigma_w.size).numpy()
