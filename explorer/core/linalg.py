"""Products of many Jacobians without overflow.

A product of L matrices whose norms are all 2 has norm up to 2^L: at L = 1100 that overflows even
float64. We keep the running product rescaled and carry the scale as a sum of base-10 logarithms,
so log10 of every singular value is exact up to float64 rounding of the *rescaled* product.
Singular values more than about 1e15 times smaller than the largest are below float64's resolution
of that product: they come out near the noise floor, not at their true size.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# rescale at least this often, and whenever the Frobenius bound says the product may have grown
# by more than 10^_MAX_LOG10_GROWTH since the last rescaling (float64 holds up to ~10^308)
_RESCALE_EVERY = 8
_MAX_LOG10_GROWTH = 100.0


def log10_product_singular_values(jacobians: torch.Tensor) -> np.ndarray:
    """log10 singular values, largest first, of J[-1] @ ... @ J[0] for stacked ``jacobians``.

    ``jacobians`` has shape (L, n, n) and is ordered first-applied first (J_1 .. J_L). A product
    holding inf or NaN gives NaN results; an exactly singular one gives -inf: data for the caller.
    """
    stack = jacobians.to(torch.float64)
    if not bool(torch.isfinite(stack).all()):
        return np.full(stack.shape[-1], np.nan)
    with np.errstate(divide="ignore"):
        growth_bounds = np.log10(
            torch.linalg.matrix_norm(stack).numpy()
        )  # ||J P|| <= ||J||_F ||P||
    product = torch.eye(stack.shape[-1], dtype=torch.float64)
    log10_scale = 0.0
    growth_since_rescale = 0.0
    for step, jacobian in enumerate(stack):
        product = jacobian @ product
        growth_since_rescale += growth_bounds[step]
        if step % _RESCALE_EVERY == _RESCALE_EVERY - 1 or growth_since_rescale > _MAX_LOG10_GROWTH:
            norm = float(torch.linalg.matrix_norm(product))
            if norm == 0.0:
                return np.full(stack.shape[-1], -np.inf)
            product = product / norm
            log10_scale += math.log10(norm)
            growth_since_rescale = 0.0
    singular = torch.linalg.svdvals(product).numpy()
    with np.errstate(divide="ignore"):
        return np.log10(singular) + log10_scale
