"""The cliff: Pascanu, Mikolov and Bengio 2013's one-unit recurrent net, and descent across it.

x_t = w sigmoid(x_{t-1}) + b for t = 1..T from x_0 = 0.5, loss (sigmoid(x_T) - 0.7)^2 (their
section 2.3 and Fig. 6). Only for w > 4 (the sigmoid's slope is at most 1/4) can the map have
two stable fixed points, as it has for b near -w/2; which one x_T ends near depends on which side
of the unstable one x_0 starts. Along that boundary in (w, b) the loss steps from one plateau to
the other, a wall whose gradient grows like (w sigmoid'(x*))^T. Gradient descent that touches it
is thrown far away; clipped descent climbs it with a bounded step.

``cliff_loss`` evaluates the loss and its gradient for whole grids at once. Two evaluations serve
the two shapes of work, both tested against torch autograd on the scalar recursion:

- a large grid runs the recursion in torch with the derivatives carried forward
  (d x_t / d(w, b)), 9 element-wise operations per step and no stored history;
- a small batch (the runs of a descent) runs it in numpy on h = x / 2, u = tanh(h)
  (sigmoid(x) = (1 + u) / 2), three operations per step, and then backpropagates through the
  stored history with one cumulative product: per-call overhead, not arithmetic, is its cost.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from explorer.core._types import BoolArray, FloatArray
from explorer.core._validate import MAX_THRESHOLD, check_choice, check_float, check_int
from explorer.core.clip import clip_rows

X0 = 0.5  # the initial state
TARGET = 0.7  # sigmoid(x_T) is pulled toward this
MAX_SEQ_LEN = 1000
MAX_PARAMETER = 1e6  # |w|, |b| of a start
MAX_LR = 1e6
MAX_STEPS = 100_000
CLIFF_METHODS = ("global_norm", "norm", "value", "pascanu")  # clip_rows, torch semantics
_TORCH_PATH_SIZE = 4096  # grids at least this large take the torch, forward-derivative path


def cliff_loss(
    w: npt.ArrayLike, b: npt.ArrayLike, seq_len: int = 50
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Loss, dL/dw and dL/db of the one-unit net, with the broadcast shape of ``w`` and ``b``.

    Values are float64. Where the gradient overflows it is inf or NaN, as data.
    """
    seq_len = check_int("seq_len", seq_len, 1, MAX_SEQ_LEN)
    weight, bias = np.broadcast_arrays(_real_array("w", w), _real_array("b", b))
    if weight.size >= _TORCH_PATH_SIZE:
        return _loss_forward_derivatives(weight, bias, seq_len)
    with np.errstate(all="ignore"):
        loss, gradient = _loss_backprop(weight.reshape(-1), bias.reshape(-1), seq_len)
    shape = weight.shape
    return loss.reshape(shape), gradient[:, 0].reshape(shape), gradient[:, 1].reshape(shape)


@dataclass(frozen=True)
class CliffSurface:
    """The loss and gradient norm over a (w, b) grid: index [i, j] is (b[i], w[j])."""

    seq_len: int
    w: FloatArray  # (nw,)
    b: FloatArray  # (nb,)
    loss: FloatArray  # (nb, nw)
    grad_norm: FloatArray  # (nb, nw), the L2 norm of (dL/dw, dL/db)


def cliff_surface(
    w_range: tuple[float, float] = (-2.0, 10.0),
    b_range: tuple[float, float] = (-8.0, 3.0),
    resolution: int = 300,
    seq_len: int = 50,
) -> CliffSurface:
    """The surface on a ``resolution`` x ``resolution`` grid over the two ranges."""
    resolution = check_int("resolution", resolution, 2, 2000)
    w = np.linspace(*_check_range("w_range", w_range), resolution)
    b = np.linspace(*_check_range("b_range", b_range), resolution)
    loss, grad_w, grad_b = cliff_loss(w[None, :], b[:, None], seq_len)
    return CliffSurface(seq_len, w, b, loss, np.hypot(grad_w, grad_b))


@dataclass(frozen=True)
class CliffDescent:
    """Gradient descent runs on the cliff loss; run r, step k is ``trajectories[r, k]`` = (w, b).

    Step k's loss and (pre-clipping) gradient norm are at the point the step started from; the
    last entry is the end point's. A run that overflowed carries inf or NaN from then on.
    """

    seq_len: int
    lr: float
    clip_threshold: float | None
    method: str
    trajectories: FloatArray  # (runs, steps + 1, 2)
    losses: FloatArray  # (runs, steps + 1)
    grad_norms: FloatArray  # (runs, steps + 1), L2 norm before clipping (torch's total norm)
    clipped: BoolArray  # (runs, steps) bool: step k was clipped

    @property
    def step_lengths(self) -> FloatArray:
        """(runs, steps): how far each step moved in (w, b)."""
        lengths: FloatArray = np.hypot(*np.moveaxis(np.diff(self.trajectories, axis=1), -1, 0))
        return lengths

    def thrown(self, w_range: tuple[float, float], b_range: tuple[float, float]) -> BoolArray:
        """(runs,) bool: the run left the (w, b) box, or overflowed, at some step."""
        w, b = np.moveaxis(self.trajectories, -1, 0)
        inside = (w >= w_range[0]) & (w <= w_range[1]) & (b >= b_range[0]) & (b <= b_range[1])
        left: BoolArray = ~inside.all(axis=1)
        return left


def cliff_descent(
    start: npt.ArrayLike,
    lr: float,
    steps: int,
    clip_threshold: float | None = None,
    method: str = "global_norm",
    seq_len: int = 50,
) -> CliffDescent:
    """Gradient descent from ``start``, one (w, b) pair or an array of pairs, all runs at once.

    Without ``clip_threshold`` the steps are not clipped; with it each run's gradient (dL/dw,
    dL/db) is clipped as torch would clip two scalar parameters (``method`` from
    ``CLIFF_METHODS``, see ``explorer.core.clip``).
    """
    starts, lr, steps, method, seq_len = _check_descent(start, lr, steps, method, seq_len)
    if clip_threshold is not None:
        clip_threshold = _check_threshold(clip_threshold)
    clip = np.full(len(starts), clip_threshold is not None)
    arrays = _descend(starts, lr, steps, clip, clip_threshold or 1.0, method, seq_len)
    return CliffDescent(seq_len, lr, clip_threshold, method, *arrays)


def cliff_descents(
    start: npt.ArrayLike,
    lr: float,
    steps: int,
    clip_threshold: float,
    method: str = "global_norm",
    seq_len: int = 50,
) -> tuple[CliffDescent, CliffDescent]:
    """(unclipped, clipped) descent from the same starts, run together in one batch."""
    starts, lr, steps, method, seq_len = _check_descent(start, lr, steps, method, seq_len)
    clip_threshold = _check_threshold(clip_threshold)
    runs = len(starts)
    clip = np.arange(2 * runs) >= runs
    trajectories, losses, grad_norms, clipped_steps = _descend(
        np.concatenate([starts, starts]), lr, steps, clip, clip_threshold, method, seq_len
    )

    def rows(part: slice, threshold: float | None) -> CliffDescent:
        return CliffDescent(
            seq_len,
            lr,
            threshold,
            method,
            trajectories[part],
            losses[part],
            grad_norms[part],
            clipped_steps[part],
        )

    return rows(slice(None, runs), None), rows(slice(runs, None), clip_threshold)


def _check_descent(
    start: npt.ArrayLike, lr: float, steps: int, method: str, seq_len: int
) -> tuple[FloatArray, float, int, str, int]:
    starts = _real_array("start", start)
    if starts.shape[-1:] != (2,) or starts.ndim > 2:
        raise ValueError(
            f"start must be a (w, b) pair or an array of shape (runs, 2), got shape {starts.shape}"
        )
    starts = starts.reshape(-1, 2)
    if len(starts) == 0:
        raise ValueError("start must hold at least one (w, b) pair, got none")
    if not np.isfinite(starts).all() or np.abs(starts).max() > MAX_PARAMETER:
        raise ValueError(
            f"start must hold finite values in [-{MAX_PARAMETER:g}, {MAX_PARAMETER:g}]"
        )
    return (
        starts,
        check_float("lr", lr, 0.0, MAX_LR, low_open=True),
        check_int("steps", steps, 0, MAX_STEPS),
        check_choice("method", method, CLIFF_METHODS),
        check_int("seq_len", seq_len, 1, MAX_SEQ_LEN),
    )


def _check_threshold(clip_threshold: float) -> float:
    return check_float("clip_threshold", clip_threshold, 0.0, MAX_THRESHOLD, low_open=True)


def _descend(
    starts: FloatArray,
    lr: float,
    steps: int,
    clip: BoolArray,
    clip_threshold: float,
    method: str,
    seq_len: int,
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """The descent loop; runs where ``clip`` is True have their gradients clipped."""
    runs = len(starts)
    trajectories = np.empty((runs, steps + 1, 2))
    losses = np.empty((runs, steps + 1))
    grad_norms = np.empty((runs, steps + 1))
    clipped = np.zeros((runs, steps), dtype=bool)
    point = starts.copy()
    clip_all, clip_some = bool(clip.all()), bool(clip.any())
    with np.errstate(all="ignore"):  # overflow is recorded, not raised
        for k in range(steps + 1):
            trajectories[:, k] = point
            losses[:, k], gradient = _loss_backprop(point[:, 0], point[:, 1], seq_len)
            norm = torch.linalg.vector_norm(torch.from_numpy(gradient), dim=1, keepdim=True)
            grad_norms[:, k] = norm[:, 0]
            if k == steps:
                break
            if clip_all:
                gradient, clipped[:, k] = clip_rows(gradient, method, clip_threshold, norm.numpy())
            elif clip_some:
                limited, clipped[:, k] = clip_rows(gradient, method, clip_threshold, norm.numpy())
                clipped[:, k] &= clip
                gradient = np.where(clip[:, None], limited, gradient)
            point = point - lr * gradient
    return trajectories, losses, grad_norms, clipped


def _real_array(name: str, value: npt.ArrayLike) -> FloatArray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be real numbers, got {value!r}") from None
    return array


def _check_range(name: str, pair: tuple[float, float]) -> tuple[float, float]:
    low, high = (check_float(name, value, -MAX_PARAMETER, MAX_PARAMETER) for value in pair)
    if not low < high:
        raise ValueError(f"{name} must be (low, high) with low < high, got {pair!r}")
    return low, high


def _loss_forward_derivatives(
    weight: FloatArray, bias: FloatArray, seq_len: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Carry x_t and d x_t / d(w, b) forward, one step after another, for a large grid."""
    w = torch.from_numpy(np.ascontiguousarray(weight))
    b = torch.from_numpy(np.ascontiguousarray(bias))
    x = torch.full_like(w, X0)
    dx_dw, dx_db = torch.zeros_like(w), torch.zeros_like(w)
    s, a = torch.empty_like(w), torch.empty_like(w)
    for _ in range(seq_len):
        torch.sigmoid(x, out=s)
        torch.mul(s, s, out=a)
        torch.sub(s, a, out=a)
        a.mul_(w)  # a = dx_t/dx_{t-1} = w sigma'(x_{t-1})
        dx_dw.mul_(a).add_(s)
        dx_db.mul_(a).add_(1.0)
        torch.addcmul(b, w, s, out=x)
    return _loss_and_gradient(x, dx_dw, dx_db)


def _loss_and_gradient(
    x: torch.Tensor, dx_dw: torch.Tensor, dx_db: torch.Tensor
) -> tuple[FloatArray, FloatArray, FloatArray]:
    y = torch.sigmoid(x)
    error = y - TARGET
    dloss_dx = 2.0 * error * (y - y * y)
    return (error * error).numpy(), (dloss_dx * dx_dw).numpy(), (dloss_dx * dx_db).numpy()


def _loss_backprop(
    weight: FloatArray, bias: FloatArray, seq_len: int
) -> tuple[FloatArray, FloatArray]:
    """(runs,) arrays in: the loss (runs,) and the gradient (runs, 2) = (dL/dw, dL/db).

    The tanh recursion runs forward, then one cumulative product backward. Call it inside
    ``np.errstate(all="ignore")``: overflow is data.
    """
    quarter_w = weight / 4.0
    offset = quarter_w + bias / 2.0
    u = np.empty((seq_len + 1, len(weight)))  # u_t = tanh(x_t / 2), sigma(x_t) = (1 + u_t) / 2
    u[0] = math.tanh(X0 / 2.0)
    half_x = np.empty(len(weight))
    rows = list(u)  # row views made once: this loop's cost is numpy's per-call overhead
    multiply, add, tanh = np.multiply, np.add, np.tanh
    for previous, current in itertools.pairwise(rows):
        multiply(quarter_w, previous, out=half_x)  # x_t / 2 = (w/4) u_{t-1} + w/4 + b/2
        add(half_x, offset, out=half_x)
        tanh(half_x, out=current)
    u = u[::-1]  # row k is time T - k
    slope = (1.0 - u) * (1.0 + u) * 0.25  # sigma'(x) = sigma(x) sigma(-x) = (1 - u)(1 + u) / 4
    error = 0.5 + 0.5 * u[0] - TARGET
    # delta_T = dL/dx_T, delta_{t-1} = delta_t * w sigma'(x_{t-1}): a product from T down,
    # so row k of the cumulative product is delta_{T-k}, which meets sigma(x_{T-k-1})
    factors = slope[:-1] * weight
    factors[0] = 2.0 * error * slope[0]
    delta = torch.cumprod(torch.from_numpy(factors), dim=0).numpy()
    # sums over time taken in time order (cumsum), so a run's result does not depend on how
    # many runs share its batch (numpy sums a lone column pairwise, several columns row by row)
    gradient = np.empty((len(weight), 2))
    gradient[:, 1] = np.cumsum(delta, axis=0)[-1]  # dL/db = sum of delta_t
    # dL/dw = sum of delta_t sigma(x_{t-1}) = (dL/db + sum of delta_t u_{t-1}) / 2
    gradient[:, 0] = np.cumsum(delta * u[1:], axis=0)[-1]
    gradient[:, 0] += gradient[:, 1]
    gradient[:, 0] *= 0.5
    return error * error, gradient
