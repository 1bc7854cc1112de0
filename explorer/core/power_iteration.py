"""The spectral norm of a function's Jacobian at a point, without forming the Jacobian.

Power iteration on J^T J (von Mises; Golub and Van Loan, Matrix Computations, section 8.2) needs
only the products v -> J v and u -> J^T u. Three ways of getting them are tried in turn:

1. ``torch.func.vjp`` once: u -> J^T u reuses the recorded forward pass, and J v is the vjp of
   that linear map, J v = d<J^T u, v>/du (the "double-vjp" trick), which reuses it too;
2. ``torch.func.jvp`` (forward mode) for J v, with the recorded vjp for J^T u, where a module
   has no double backward;
3. ``torch.autograd.functional.jvp`` and ``vjp``, which re-run the function for each product,
   where torch.func refuses the function (a buffer updated in place, as BatchNorm's running
   statistics in training mode) or has no formula.

A method that raises, or whose J v is not the transpose of its J^T u (the adjoint test
<J v, u> = <v, J^T u>: a backward that is not itself differentiable, such as an
autograd.Function marked once_differentiable, makes the double-vjp J v silently 0), gives way to
the next. On nn.Linear(256, 1024) at a (8, 64, 256) input the first took about a quarter of the
second's time per iteration (one thread, this machine).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

Function = Callable[[torch.Tensor], torch.Tensor]
Products = tuple[Function, Function]  # v -> J v, u -> J^T u


def _pullback(function: Function, x: torch.Tensor) -> tuple[torch.Tensor, Function]:
    """The function's value at x and u -> J^T u, from one recorded ``torch.func.vjp``."""
    recorded = torch.func.vjp(function, x)
    output: torch.Tensor = recorded[0]

    def transposed(u: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = recorded[1](u)[0]
        return result  # not detached: _vjp_products differentiates it

    return output, transposed


def _vjp_products(function: Function, x: torch.Tensor) -> Products:
    """u -> J^T u by one recorded vjp; v -> J v as the vjp of that linear map."""
    output, transposed = _pullback(function, x)
    pushforward = torch.func.vjp(transposed, torch.zeros_like(output))[1]

    def forward(v: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = pushforward(v)[0]
        return result.detach()

    return forward, lambda u: transposed(u).detach()


def _jvp_products(function: Function, x: torch.Tensor) -> Products:
    """v -> J v by forward mode (``torch.func.jvp``), u -> J^T u by one recorded vjp."""

    def forward(v: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = torch.func.jvp(function, (x,), (v,))[1]
        return result.detach()

    transposed = _pullback(function, x)[1]
    return forward, lambda u: transposed(u).detach()


def _autograd_products(function: Function, x: torch.Tensor) -> Products:
    """The same products with torch.autograd.functional (J v by the double-backward trick)."""
    functional = torch.autograd.functional

    def forward(v: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = functional.jvp(function, x, v)[1]  # type: ignore[no-untyped-call]
        return result.detach()

    def backward(u: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = functional.vjp(function, x, u)[1]  # type: ignore[no-untyped-call]
        return result.detach()

    return forward, backward


METHODS: tuple[tuple[str, Callable[[Function, torch.Tensor], Products]], ...] = (
    ("torch.func.vjp", _vjp_products),
    ("torch.func.jvp", _jvp_products),
    ("torch.autograd.functional", _autograd_products),
)


def _norm(tensor: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(tensor, dtype=torch.float64))


def power_iteration(
    products: Products, start: torch.Tensor, iterations: int, tol: float
) -> tuple[float, bool]:
    """Largest singular value of J from v -> J v and u -> J^T u, and whether it converged.

    v <- J^T J v / ||J^T J v|| from ``start``; sigma = ||J v|| at the current unit v, which is at
    most the norm and rises to it. Stops when sigma changes by at most ``tol`` times itself.
    """
    forward, backward = products
    v = start / _norm(start)
    previous = math.nan
    for _ in range(iterations):
        u = forward(v)
        sigma = _norm(u)
        if sigma == 0.0 or not math.isfinite(sigma):
            return sigma, sigma == 0.0
        if abs(sigma - previous) <= tol * sigma:
            return sigma, True
        w = backward(u / sigma)
        size = _norm(w)
        if size == 0.0 or not math.isfinite(size):
            return sigma, False
        v, previous = w / size, sigma
    return previous, False


def adjoint_mismatch(products: Products, start: torch.Tensor) -> float:
    """|<J v, u> - <v, J^T u>| / ||J^T u|| for a fixed pseudo-random u and v = J^T u / ||J^T u||
    (0 when J^T u = 0): about the rounding error when the two products are each other's
    transpose, 1 when J v comes out as 0 (a backward that is itself not differentiable, such as
    an autograd.Function marked once_differentiable, makes the double-vjp J v silently 0)."""
    forward, backward = products
    shape = forward(start).shape
    generator = torch.Generator().manual_seed(0)
    u = torch.randn(shape, generator=generator, dtype=torch.float64).to(start.dtype)
    b = backward(u.to(start.device))
    size = _norm(b)
    if size == 0.0 or not math.isfinite(size):
        return 0.0
    a = forward(b / size)
    inner = float(torch.sum(a.to(torch.float64) * u.to(a.device, torch.float64)))
    return abs(inner - size) / size


def adjoint_tolerance(dtype: torch.dtype) -> float:
    """The largest adjoint mismatch taken as rounding: 100 ulps of ``dtype``, at least 1e-3 (float32
    products over ~1e5 entries agree to ~1e-6) and at most 0.5 (a wrong J v is off by 1)."""
    return min(0.5, max(1e-3, 100 * torch.finfo(dtype).eps))


def jacobian_spectral_norm(
    function: Function, x: torch.Tensor, start: torch.Tensor, iterations: int, tol: float
) -> tuple[float, str]:
    """||d function / dx||_2 at x by power iteration, and a note: which method when not the
    first, no convergence, or why there is no value (then NaN). A method whose two products fail
    the adjoint test is skipped like one that raises."""
    tolerance = adjoint_tolerance(x.dtype)
    failures: list[str] = []
    for method, build in METHODS:
        try:
            products = build(function, x)
            if adjoint_mismatch(products, start) > tolerance:
                failures.append(f"{method}: J v is not the transpose of J^T u")
                continue
            sigma, converged = power_iteration(products, start, iterations, tol)
        except (RuntimeError, NotImplementedError) as error:
            failures.append(f"{method}: {type(error).__name__}")
            continue
        note = f"by {method} ({'; '.join(failures)})" if failures else ""
        if not converged:
            note = "; ".join(filter(None, (note, f"not converged in {iterations} iterations")))
        return sigma, note
    return math.nan, "no Jacobian: " + "; ".join(failures)
