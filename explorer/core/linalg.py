"""Linear algebra for Jacobians: spectral norms, and products of many Jacobians without overflow.

A product of L matrices whose norms are all 2 has norm up to 2^L: at L = 1100 that overflows even
float64. Two ways of keeping it are here:

- ``log10_product_singular_values``: the running product, rescaled now and then, its scale kept as
  a sum of base-10 logarithms. One matrix product per step: cheap, and exact for the largest
  singular values, but those more than about 1e15 times smaller than the largest sit at float64's
  noise floor of that product, not at their true size.
- ``log10_product_spectrum``: every singular value to float64's relative accuracy, however far
  apart they are (a gaussian product 1000 layers deep spreads them over a thousand decades). The
  product is carried as Q diag(d) U (Q orthogonal, log d kept sorted, U with unit rows), advanced
  by one QR factorisation per step as in the Benettin/Lyapunov-exponent algorithm, and finished by
  one-sided Jacobi (Demmel and Veselic 1992), which is accurate for such row-scaled matrices. The
  scales stay in logarithms throughout, so nothing overflows or underflows.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import torch

from explorer.core._types import FloatArray, IndexArray

# rescale at least this often, and whenever the Frobenius bound says the product may have grown
# by more than 10^_MAX_LOG10_GROWTH since the last rescaling (float64 holds up to ~10^308)
_RESCALE_EVERY = 8
_MAX_LOG10_GROWTH = 100.0
_JACOBI_TOLERANCE = 1e-15  # columns count as orthogonal when their cosine is below this
_JACOBI_MAX_SWEEPS = 60


def first_nonfinite_row(rows: torch.Tensor) -> int | None:
    """Index of the first row of a (L, n) tensor holding inf or NaN, else None."""
    bad = ~torch.isfinite(rows).all(dim=1)
    return int(torch.nonzero(bad)[0, 0]) if bool(bad.any()) else None


def spectral_norms(jacobians: torch.Tensor) -> FloatArray:
    """Spectral norm (largest singular value) of each matrix in a float64 stack; NaN where a
    matrix holds inf or NaN."""
    finite = torch.isfinite(jacobians).flatten(1).all(dim=1)
    norms = torch.full((jacobians.shape[0],), math.nan, dtype=torch.float64)
    if bool(finite.any()):
        # sqrt of the largest eigenvalue of J J^T: 25-35 % faster here than a full SVD, and as
        # accurate for the largest singular value (error ~eps ||J||^2 on ||J||^2). Each J is
        # scaled by its largest entry first, so J J^T cannot overflow.
        stack = jacobians[finite]
        scale = stack.abs().amax(dim=(1, 2))
        scale = torch.where(scale > 0, scale, 1.0)
        unit = stack / scale[:, None, None]
        largest = torch.linalg.eigvalsh(unit @ unit.mT)[:, -1]
        norms[finite] = torch.sqrt(largest.clamp(min=0.0)) * scale
    return norms.numpy()


def backpropagate(jacobians: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """Gradients (L+1, n) from ``last`` at the end of J_L..J_1: delta_{l-1} = J_l^T delta_l.

    Row l is the gradient with respect to the input of J_(l+1) (row L is ``last`` itself).
    """
    deltas = [last]
    for jacobian in jacobians.flip(0):
        deltas.append(jacobian.mT @ deltas[-1])
    return torch.stack(deltas[::-1])


def log10_product_singular_values(jacobians: torch.Tensor) -> FloatArray:
    """log10 singular values, largest first, of J[-1] @ ... @ J[0] for stacked ``jacobians``.

    ``jacobians`` has shape (L, n, n) and is ordered first-applied first (J_1 .. J_L). A product
    holding inf or NaN gives NaN results; an exactly singular one gives -inf: data for the caller.
    The cheap method: see the module docstring for the accuracy of the small singular values.
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
        log10_singular: FloatArray = np.log10(singular) + log10_scale
    return log10_singular


def log10_product_spectrum(jacobians: torch.Tensor) -> FloatArray:
    """log10 of every singular value of J[-1] @ ... @ J[0], largest first, each to float64's
    relative accuracy (checked against 400-digit arithmetic in the tests).

    ``jacobians`` has shape (L, n, n), first-applied first, or (B, L, n, n) for B products at once
    (one pass over the L steps serves them all). inf or NaN in a product gives NaN; a direction the
    product maps to zero gives -inf.
    """
    stack = jacobians.to(torch.float64).numpy()
    batch = stack if stack.ndim == 4 else stack[None]
    log_d, rows = _qr_product(batch)
    spectra = np.stack(
        [
            _jacobi_log_singular_values(*_graded_triangle(d, u)) / math.log(10.0)
            for d, u in zip(log_d, rows, strict=True)
        ]
    )
    # Exact zeros: a factor with k zero rows (or columns) has rank <= n - k, so the product's k
    # smallest singular values are 0. Rounding in the QR steps would leave them at ~1e-16 of
    # their neighbours instead, so they are set here (ReLU Jacobians have such rows).
    for spectrum, lost in zip(spectra, _structural_rank_loss(batch), strict=True):
        if lost:
            spectrum[-lost:] = -np.inf
    spectra[~np.isfinite(batch).all(axis=(1, 2, 3))] = np.nan
    return spectra if stack.ndim == 4 else spectra[0]


def _structural_rank_loss(stacks: FloatArray) -> IndexArray:
    """(B,) the most zero rows or zero columns any one factor of each product has."""
    zero_rows = (stacks == 0).all(axis=3).sum(axis=2)  # (B, L)
    zero_columns = (stacks == 0).all(axis=2).sum(axis=2)
    lost: IndexArray = np.maximum(zero_rows, zero_columns).max(axis=1, initial=0)
    return lost


def _qr_product(stacks: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Each product of (B, L, n, n) ``stacks`` as Q diag(exp(log_d)) U; returns log_d (B, n) and
    U (B, n, n). Q is dropped: it does not change the singular values."""
    batch, _, size, _ = stacks.shape
    q = np.broadcast_to(np.eye(size), (batch, size, size)).copy()
    log_d = np.zeros((batch, size))  # natural logs, kept sorted largest first
    rows = q.copy()  # U: unit rows
    upper = np.triu(np.ones((size, size), dtype=bool))
    index = np.arange(batch)[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for step in range(stacks.shape[1]):
            q, r = np.linalg.qr(stacks[:, step] @ q)
            # R diag(d) U = diag(d) X with X_i = sum_j R_ij (d_j / d_i) U_j; d_j <= d_i for j > i
            ratio = np.exp(np.minimum(log_d[:, None, :] - log_d[:, :, None], 0.0))
            ratio = np.where(upper & ~np.isnan(ratio), ratio, 0.0)
            mixed = (r * ratio) @ rows
            norms = np.linalg.norm(mixed, axis=2)
            log_d = log_d + np.log(norms)  # a zero row: -inf, that direction is gone
            rows = mixed / np.where(norms > 0, norms, 1.0)[:, :, None]
            if (np.diff(log_d, axis=1) > 0).any():  # keep d sorted largest first
                order = np.argsort(-log_d, axis=1, kind="stable")
                log_d, rows = log_d[index, order], rows[index, order]
                q = np.take_along_axis(q, order[:, None, :], axis=2)
    return log_d, rows


def _graded_triangle(log_d: FloatArray, rows: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The same singular values as diag(d) U, as the rows of a graded triangle (log scales and
    unit rows): with U^T = Q R, diag(d) U = (R diag(d))^T Q^T, and row i of R diag(d) is
    d_i (R_ij d_j / d_i)_j with d_j / d_i <= 1. Rows of a strongly graded triangle are nearly
    orthogonal, so the Jacobi sweeps that follow converge in a few sweeps (Drmac and Veselic
    2008, preconditioned one-sided Jacobi)."""
    _, r = np.linalg.qr(rows.T)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.exp(np.minimum(log_d[None, :] - log_d[:, None], 0.0))
        ratio = np.where(np.isnan(ratio), 0.0, ratio)
        graded = np.triu(r * ratio)
        norms = np.linalg.norm(graded, axis=1)
        scales = log_d + np.log(norms)
    return scales, graded / np.where(norms > 0, norms, 1.0)[:, None]


@cache
def _round_robin(size: int) -> tuple[tuple[IndexArray, IndexArray], ...]:
    """Pairs (i, j) of 0..size-1 in size-1 rounds of disjoint pairs: every pair once per sweep."""
    players = list(range(size + size % 2))
    count = len(players)
    rounds = []
    for _ in range(count - 1):
        pairs = [(players[k], players[count - 1 - k]) for k in range(count // 2)]
        pairs = [(a, b) for a, b in pairs if a < size and b < size]
        rounds.append((np.array([a for a, _ in pairs]), np.array([b for _, b in pairs])))
        players = [players[0], players[-1], *players[1:-1]]
    return tuple(rounds)


def _jacobi_log_singular_values(log_d: FloatArray, rows: FloatArray) -> FloatArray:
    """Natural-log singular values, largest first, of diag(exp(log_d)) @ rows.

    One-sided Jacobi on the columns exp(log_d_j) v_j of rows^T diag(d): each column is kept as a
    unit vector v_j and a log scale s_j; a rotation of a pair makes the two columns orthogonal, and
    the singular values are the column norms once all pairs are orthogonal.
    """
    v = rows.T.copy()
    s = log_d.copy()
    if v.shape[0] < 2:
        return np.sort(s)[::-1]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(_JACOBI_MAX_SWEEPS):
            largest_cosine = 0.0
            for first, second in _round_robin(v.shape[0]):
                swap = s[first] < s[second]  # orient each pair so that s_i >= s_j
                i = np.where(swap, second, first)
                j = np.where(swap, first, second)
                cosine = np.einsum("ki,ki->i", v[:, i], v[:, j])
                cosine = np.where(np.isfinite(s[j]), cosine, 0.0)  # a zero column stays zero
                largest_cosine = max(largest_cosine, float(np.abs(cosine).max(initial=0.0)))
                active = np.abs(cosine) > _JACOBI_TOLERANCE
                if not active.any():
                    continue
                i, j, cosine = i[active], j[active], cosine[active]
                r = np.exp(s[j] - s[i])  # column j's size relative to column i's, <= 1
                # the Jacobi rotation of the pair's Gram matrix [[1, r c], [r c, r^2]],
                # with t = tan(angle) carried as t / r so it stays finite as r -> 0
                r_zeta = (r * r - 1.0) / (2.0 * cosine)
                t_over_r = np.where(r_zeta >= 0, 1.0, -1.0) / (
                    np.abs(r_zeta) + np.sqrt(r * r + r_zeta * r_zeta)
                )
                cos = 1.0 / np.sqrt(1.0 + (t_over_r * r) ** 2)
                new_i = cos * v[:, i] - cos * t_over_r * r * r * v[:, j]
                new_j = cos * t_over_r * v[:, i] + cos * v[:, j]
                norm_i = np.linalg.norm(new_i, axis=0)
                norm_j = np.linalg.norm(new_j, axis=0)
                v[:, i], v[:, j] = new_i / norm_i, new_j / norm_j
                s[i] += np.log(norm_i)
                s[j] += np.log(norm_j)
            if largest_cosine <= _JACOBI_TOLERANCE:
                break
    return np.sort(s)[::-1]
