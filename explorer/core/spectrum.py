"""The singular values of the end-to-end Jacobian: why initialisation fixes or breaks training.

The norm of a product of Jacobians says how the largest direction grows; the whole spectrum says
how every direction does. Orthogonal weights keep every singular value of a linear network at
scale^L (Saxe, McClelland and Ganguli 2013), and near it for tanh networks at the edge of chaos
(dynamical isometry, Pennington, Schoenholz and Ganguli 2017); gaussian weights at the same scale
spread them over many orders of magnitude as the depth grows. Every singular value here is exact to
float64's relative accuracy however far they spread (``explorer.core.linalg``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core import chain, rnn
from explorer.core._types import FloatArray
from explorer.core._validate import check_choice, check_float, check_int, check_seed
from explorer.core.linalg import log10_product_spectrum
from explorer.core.nets import ACTIVATIONS, MAX_SCALE

NETWORKS = ("deep", "recurrent")
SPECTRUM_INITS = ("identity", "gaussian", "orthogonal")
MAX_LENGTH = 10_000
MAX_WIDTH = 256


@dataclass(frozen=True)
class SpectrumResult:
    """log10 singular values of the end-to-end Jacobian da_L/da_0 (or dh_T/dh_0)."""

    network: str
    length: int  # depth L or sequence length T
    width: int
    weight_scale: float
    init: str
    activation: str
    seed: int
    log10_singular_values: FloatArray  # (width,) largest first; -inf for a lost direction

    @property
    def log10_reference(self) -> float:
        """log10 scale^L: every singular value of an orthogonal linear network sits here."""
        return self.length * math.log10(self.weight_scale)

    @property
    def lost_directions(self) -> int:
        """How many singular values are exactly 0 (directions the product maps to 0)."""
        return int(np.sum(self.log10_singular_values == -np.inf))

    @property
    def log10_smallest_nonzero(self) -> float:
        """log10 of the smallest singular value that is not exactly 0 (NaN if there is none)."""
        values = self.log10_singular_values
        kept = values[values > -np.inf]
        return float(kept[-1]) if kept.size else math.nan

    @property
    def log10_spread(self) -> float:
        """Decades between the largest and the smallest nonzero singular value (the log10
        condition number when none is lost); NaN when they are not finite."""
        return float(self.log10_singular_values[0]) - self.log10_smallest_nonzero

    def fraction_within(self, decades: float = 1.0) -> float:
        """Share of singular values within ``decades`` of the reference scale^L."""
        values = self.log10_singular_values
        return float(np.mean(np.abs(values - self.log10_reference) <= decades))


def jacobian_spectrum(
    network: str = "deep",
    length: int = 50,
    width: int = 32,
    weight_scale: float = 1.0,
    init: str = "orthogonal",
    activation: str = "linear",
    seed: int = 0,
) -> SpectrumResult:
    """Every singular value of the end-to-end Jacobian of a deep or a recurrent network.

    network: deep (``chain_gradients``'s network, no bias) or recurrent (``rnn_gradients``'s plain
    cell, unit input drive); length: depth or sequence length in [1, 10000]; width: units in
    [1, 256]; weight_scale in (0, 1e6]; init: identity, gaussian or orthogonal; activation:
    linear, tanh, relu or sigmoid; seed: in [0, 2^32 - 1].
    """
    (result,) = jacobian_spectra(network, length, width, weight_scale, (init,), activation, seed)
    return result


def jacobian_spectra(
    network: str = "deep",
    length: int = 50,
    width: int = 32,
    weight_scale: float = 1.0,
    inits: tuple[str, ...] = ("gaussian", "orthogonal"),
    activation: str = "linear",
    seed: int = 0,
) -> tuple[SpectrumResult, ...]:
    """``jacobian_spectrum`` for several inits at the same settings, side by side, computed in one
    pass over the steps (about half the time of separate calls)."""
    network = check_choice("network", network, NETWORKS)
    length = check_int("length", length, 1, MAX_LENGTH)
    width = check_int("width", width, 1, MAX_WIDTH)
    weight_scale = check_float("weight_scale", weight_scale, 0.0, MAX_SCALE, low_open=True)
    inits = tuple(check_choice("init", init, SPECTRUM_INITS) for init in inits)
    activation = check_choice("activation", activation, ACTIVATIONS)
    seed = check_seed(seed)
    stacks = [
        _jacobians(network, length, width, weight_scale, init, activation, seed) for init in inits
    ]
    spectra = log10_product_spectrum(torch.stack(stacks))
    return tuple(
        SpectrumResult(
            network=network,
            length=length,
            width=width,
            weight_scale=weight_scale,
            init=init,
            activation=activation,
            seed=seed,
            log10_singular_values=spectrum,
        )
        for init, spectrum in zip(inits, spectra, strict=True)
    )


def _jacobians(
    network: str, length: int, width: int, scale: float, init: str, activation: str, seed: int
) -> torch.Tensor:
    if network == "deep":
        return chain.chain_jacobians(length, width, scale, init, activation, 0.0, seed)
    return rnn.rnn_jacobians(length, width, scale, init, activation, "rnn", 1.0, seed)
