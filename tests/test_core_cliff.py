"""explorer.core.cliff against torch autograd on the scalar recursion of Pascanu, Mikolov and
Bengio (2013), section 2.3 and Fig. 6, a T = 1 derivation, the fixed-point analysis of the wall,
and explorer.core.clip.clip_gradients for every clipped step."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

import explorer.core.cliff as cliff_module
from explorer.core.cliff import (
    CLIFF_METHODS,
    CliffDescent,
    cliff_descent,
    cliff_descents,
    cliff_loss,
    cliff_surface,
)
from explorer.core.clip import clip_gradients

POINTS = [(1.0, -1.0), (5.0, -2.5), (-1.0, 0.3), (8.0, -4.3), (3.0, -1.2)]  # away from the wall
SEQ_LENS = (1, 5, 50, 100)


def _autograd(w: float, b: float, seq_len: int) -> tuple[float, float, float]:
    """The paper's net in torch autograd, float64: x_0 = 0.5, x_t = w sigmoid(x_{t-1}) + b,
    loss (sigmoid(x_T) - 0.7)^2; returns (loss, dL/dw, dL/db)."""
    weight = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    bias = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    x = torch.tensor(0.5, dtype=torch.float64)
    for _ in range(seq_len):
        x = weight * torch.sigmoid(x) + bias
    loss = (torch.sigmoid(x) - 0.7) ** 2
    loss.backward()
    return float(loss.detach()), float(weight.grad), float(bias.grad)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Spy:
    """Counts the calls of one of cliff's two evaluation paths."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.calls = 0
        original = getattr(cliff_module, name)

        def spy(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(cliff_module, name, spy)


@pytest.mark.parametrize("seq_len", SEQ_LENS)
def test_small_batch_matches_autograd(seq_len: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch of 5 points (< 4096, the numpy backpropagation path) equals torch autograd on the
    scalar recursion to 1e-11 relative."""
    spy = _Spy(monkeypatch, "_loss_backprop")
    w, b = np.array(POINTS).T
    loss, grad_w, grad_b = cliff_loss(w, b, seq_len)
    assert spy.calls == 1
    expected = np.array([_autograd(*point, seq_len) for point in POINTS])
    np.testing.assert_allclose(loss, expected[:, 0], rtol=1e-11)
    np.testing.assert_allclose(grad_w, expected[:, 1], rtol=1e-11)
    np.testing.assert_allclose(grad_b, expected[:, 2], rtol=1e-11)
    assert (np.abs(expected[:, 1:]) > 1e-8).all()  # not a comparison of zeros


@pytest.mark.parametrize("seq_len", SEQ_LENS)
def test_large_grid_matches_autograd(seq_len: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same points embedded in a 64 x 64 grid (4096 points, the torch forward-derivative
    path) equal autograd to 1e-11 relative, wherever they sit in the grid."""
    spy = _Spy(monkeypatch, "_loss_forward_derivatives")
    rng = np.random.default_rng(5)
    w = rng.uniform(-2.0, 10.0, size=(64, 64))
    b = rng.uniform(-8.0, 3.0, size=(64, 64))
    places = [(0, 0), (17, 40), (33, 2), (63, 63), (50, 9)]
    for (i, j), (wp, bp) in zip(places, POINTS, strict=True):
        w[i, j], b[i, j] = wp, bp
    loss, grad_w, grad_b = cliff_loss(w, b, seq_len)
    assert spy.calls == 1
    assert loss.shape == grad_w.shape == grad_b.shape == (64, 64)
    for (i, j), point in zip(places, POINTS, strict=True):
        expected = _autograd(*point, seq_len)
        got = (loss[i, j], grad_w[i, j], grad_b[i, j])
        np.testing.assert_allclose(got, expected, rtol=1e-11)


def test_the_two_paths_agree_on_a_grid() -> None:
    """The numpy path (a row at a time) and the torch path (the whole grid) agree, 1e-10
    relative, away from the wall where both are well conditioned."""
    w = np.linspace(-2.0, 3.5, 64)  # w < 4: one fixed point, no wall
    b = np.linspace(-8.0, 3.0, 64)
    whole = cliff_loss(w[None, :], b[:, None], 20)
    rows = [cliff_loss(w, b_i, 20) for b_i in b]
    for k in range(3):
        np.testing.assert_allclose(whole[k], np.array([row[k] for row in rows]), rtol=1e-10)


def test_one_step_closed_form() -> None:
    """T = 1 (derivation): x_1 = w sigmoid(0.5) + b, s_1 = sigmoid(x_1), loss (s_1 - 0.7)^2,
    dL/dx_1 = 2 (s_1 - 0.7) s_1 (1 - s_1), dL/dw = dL/dx_1 sigmoid(0.5), dL/db = dL/dx_1."""
    for w, b in POINTS:
        s1 = _sigmoid(w * _sigmoid(0.5) + b)
        dloss = 2.0 * (s1 - 0.7) * s1 * (1.0 - s1)
        loss, grad_w, grad_b = cliff_loss(w, b, 1)
        assert float(loss) == pytest.approx((s1 - 0.7) ** 2, rel=1e-13)
        assert float(grad_w) == pytest.approx(dloss * _sigmoid(0.5), rel=1e-12)
        assert float(grad_b) == pytest.approx(dloss, rel=1e-12)


def test_broadcasting_and_scalars() -> None:
    """w (1, 5) with b (3, 1) gives (3, 5) arrays, each entry its own point; scalars give 0-d
    float64 arrays."""
    w = np.linspace(-1.0, 8.0, 5)[None, :]
    b = np.array([-4.0, -1.0, 0.5])[:, None]
    outputs = cliff_loss(w, b, 10)
    for array in outputs:
        assert array.shape == (3, 5)
        assert array.dtype == np.float64
    for i, j in ((0, 0), (1, 3), (2, 4)):
        single = cliff_loss(w[0, j], b[i, 0], 10)
        for array, value in zip(outputs, single, strict=True):
            assert array[i, j] == pytest.approx(float(value), rel=1e-14, abs=1e-300)
    for array in cliff_loss(6.0, -3.0):
        assert array.shape == ()
        assert array.dtype == np.float64


def _wall(w: float, seq_len: int, low: float = -5.0, high: float = -1.0) -> float:
    """b on the vertical line w where the loss steps between the plateaus, by bisection to
    adjacent floats: below it x_T goes to the lower stable fixed point (sigmoid ~ 0, loss ~0.49),
    above it to the upper one (loss < 0.1)."""
    assert float(cliff_loss(w, low, seq_len)[0]) > 0.25 > float(cliff_loss(w, high, seq_len)[0])
    while True:
        middle = 0.5 * (low + high)
        if middle in (low, high):
            return low
        if float(cliff_loss(w, middle, seq_len)[0]) > 0.25:
            low = middle
        else:
            high = middle


def _unstable_fixed_point(w: float, b: float) -> float:
    """x* = w sigmoid(x*) + b between the two stable fixed points, by Newton from x_0 = 0.5."""
    x = 0.5
    for _ in range(100):
        s = _sigmoid(x)
        x -= (w * s + b - x) / (w * s * (1.0 - s) - 1.0)
    return x


def _max_grad_near(w: float, b: float, seq_len: int) -> float:
    offsets = np.logspace(-16.0, -1.0, 300)
    bs = b + np.concatenate([-offsets, [0.0], offsets])
    _, grad_w, grad_b = cliff_loss(w, bs, seq_len)
    return float(np.hypot(grad_w, grad_b).max())


def test_wall_gradient_grows_like_the_fixed_point_rate() -> None:
    """Near the wall x_t lingers at the unstable fixed point x*, where each step multiplies the
    gradient by w sigmoid'(x*) > 1 (Pascanu et al. 2013, section 2.3), so the largest gradient
    near the wall grows like (w sigmoid'(x*))^T: log10 of it has slope ~ log10(w sigmoid'(x*))
    in T (here within 30 %), and it grows by orders of magnitude from T = 10 to 40."""
    w = 6.0
    seq_lens = (10, 20, 40)
    walls = [_wall(w, seq_len) for seq_len in seq_lens]
    peaks = [_max_grad_near(w, b, seq_len) for b, seq_len in zip(walls, seq_lens, strict=True)]
    assert peaks[0] < peaks[1] < peaks[2]
    assert peaks[2] / peaks[0] > 1e4
    x_star = _unstable_fixed_point(w, walls[-1])
    assert x_star == pytest.approx(0.5, abs=1e-3)  # the wall is where x_0 = 0.5 is x*
    rate = w * _sigmoid(x_star) * (1.0 - _sigmoid(x_star))
    assert rate > 1.0
    slope = np.polyfit(seq_lens, np.log10(peaks), 1)[0]
    assert slope == pytest.approx(math.log10(rate), rel=0.3)
    # the loss steps from one plateau to the other across the wall
    loss, _, _ = cliff_loss(w, np.array([walls[-1] - 0.1, walls[-1] + 0.1]), 40)
    assert loss[0] > 0.4
    assert loss[1] < 0.1


def test_one_step_at_the_wall_unclipped_versus_clipped() -> None:
    """From a point on the wall (w = 6, T = 50), lr 0.5: the unclipped step moves lr * ||g||
    (> 10); the step clipped by torch's global norm rule at 1 moves lr * ||g|| * c with
    c = 1 / (||g|| + 1e-6), i.e. 0.5 ||g|| / (||g|| + 1e-6) <= 0.5 (derivation)."""
    start = (6.0, _wall(6.0, 50))
    _, grad_w, grad_b = cliff_loss(*start, 50)
    norm = math.hypot(float(grad_w), float(grad_b))
    assert norm > 100.0
    unclipped = cliff_descent(start, 0.5, 1, seq_len=50)
    assert unclipped.step_lengths[0, 0] == pytest.approx(0.5 * norm, rel=1e-12)
    assert unclipped.step_lengths[0, 0] > 10.0
    assert unclipped.grad_norms[0, 0] == pytest.approx(norm, rel=1e-14)
    clipped = cliff_descent(start, 0.5, 1, clip_threshold=1.0, method="global_norm", seq_len=50)
    step = clipped.step_lengths[0, 0]
    assert step == pytest.approx(0.5 * norm / (norm + 1e-6), rel=1e-12)
    assert step <= 0.5
    assert clipped.clipped[0, 0]
    assert not unclipped.clipped[0, 0]


def test_pascanu_figure_6() -> None:
    """Pascanu et al. (2013), Fig. 6: from (6, -3), lr 0.5, 200 steps, T = 50. Descent without
    clipping reaches the wall and is thrown onto the upper plateau (a step longer than 1, ending
    at a loss above 0.05); clipped at 1 (global norm) every step is at most lr * 1 = 0.5 and
    the run ends below 0.01."""
    unclipped, clipped = cliff_descents((6.0, -3.0), 0.5, 200, 1.0, seq_len=50)
    assert unclipped.step_lengths.shape == clipped.step_lengths.shape == (1, 200)
    assert unclipped.step_lengths.max() > 1.0
    assert unclipped.losses[0, -1] > 0.05
    assert (clipped.step_lengths <= 0.5 + 1e-12).all()
    assert clipped.losses[0, -1] < 0.01
    assert clipped.clipped.any()
    assert not unclipped.clipped.any()


STARTS = np.array([[6.0, -3.0], [5.0, -2.5], [8.0, -4.3]])


@pytest.mark.parametrize("clip_threshold", [None, 1.0])
def test_a_batch_equals_single_runs(clip_threshold: float | None) -> None:
    """Runs are independent: a batch of 3 starts equals 3 single-start runs exactly (the sums
    over time are taken in time order whatever the batch width)."""
    batch = cliff_descent(STARTS, 0.5, 40, clip_threshold, seq_len=50)
    assert batch.trajectories.shape == (3, 41, 2)
    assert batch.losses.shape == batch.grad_norms.shape == (3, 41)
    assert batch.clipped.shape == batch.step_lengths.shape == (3, 40)
    for r, start in enumerate(STARTS):
        single = cliff_descent(start, 0.5, 40, clip_threshold, seq_len=50)
        assert np.array_equal(single.trajectories[0], batch.trajectories[r])
        assert np.array_equal(single.losses[0], batch.losses[r])
        assert np.array_equal(single.grad_norms[0], batch.grad_norms[r])
        assert np.array_equal(single.clipped[0], batch.clipped[r])


@pytest.mark.parametrize(
    ("method", "starts"),
    [(method, STARTS) for method in CLIFF_METHODS]
    + [(method, (6.0, -3.0)) for method in ("global_norm", "pascanu")],
)
def test_cliff_descents_equals_two_descents(method: str, starts) -> None:
    """cliff_descents runs both in one batch; it equals cliff_descent without and with the
    threshold, exactly, also from one start (the panel's case: 2 runs batched against 1)."""
    unclipped, clipped = cliff_descents(starts, 0.5, 200, 0.3, method, seq_len=50)
    alone = cliff_descent(starts, 0.5, 200, None, method, seq_len=50)
    with_clip = cliff_descent(starts, 0.5, 200, 0.3, method, seq_len=50)
    for pair, reference in ((unclipped, alone), (clipped, with_clip)):
        assert pair.clip_threshold == reference.clip_threshold
        for name in ("trajectories", "losses", "grad_norms", "clipped"):
            assert np.array_equal(getattr(pair, name), getattr(reference, name)), name
    assert clipped.clipped.any()
    assert not unclipped.clipped.any()


@pytest.mark.parametrize("method", CLIFF_METHODS)
def test_each_step_is_the_clipped_gradient_step(method: str) -> None:
    """Step k: trajectories[:, k + 1] = trajectories[:, k] - lr * clip(g), where g = (dL/dw,
    dL/db) from cliff_loss at trajectories[:, k] and clip is clip_gradients on two float64 0-d
    tensors (torch semantics), computed here independently; losses and grad_norms (torch's
    vector_norm of g) are those of the step's starting point."""
    starts = np.array([[6.0, _wall(6.0, 50) + 1e-9], [6.0, -3.0]])
    lr, threshold, steps = 0.5, 0.05, 6
    run = cliff_descent(starts, lr, steps, threshold, method, seq_len=50)
    seen_clipped = False
    for k in range(steps):
        losses, grads_w, grads_b = cliff_loss(*run.trajectories[:, k].T, 50)
        for r in range(len(starts)):
            point = run.trajectories[r, k]
            grad = [torch.tensor(g[r], dtype=torch.float64) for g in (grads_w, grads_b)]
            result = clip_gradients(grad, method, threshold)
            assert result.grads[0].dtype == np.float64
            expected = point - lr * np.array(result.grads)
            assert np.array_equal(run.trajectories[r, k + 1], expected), (r, k)
            assert run.losses[r, k] == losses[r]
            norm = torch.linalg.vector_norm(torch.tensor([grads_w[r], grads_b[r]]))
            assert run.grad_norms[r, k] == float(norm)
            assert run.clipped[r, k] == result.clipped
            seen_clipped |= result.clipped
    assert seen_clipped


def test_thrown_and_step_lengths() -> None:
    """thrown() flags a run that leaves the (w, b) box at any step, or overflows (NaN is outside
    every box); step_lengths are the Euclidean lengths of the steps, (runs, steps)."""
    unclipped, clipped = cliff_descents((6.0, -3.0), 0.5, 200, 1.0, seq_len=50)
    box = ((3.0, 7.0), (-4.0, -1.0))
    assert unclipped.trajectories[0, :, 1].max() > -1.0  # thrown above the box
    assert unclipped.thrown(*box).tolist() == [True]
    assert clipped.thrown(*box).tolist() == [False]
    assert unclipped.thrown((-1e6, 1e6), (-1e6, 1e6)).tolist() == [False]
    steps = np.diff(unclipped.trajectories[0], axis=0)
    np.testing.assert_allclose(
        unclipped.step_lengths[0], np.sqrt((steps**2).sum(axis=1)), rtol=1e-15
    )
    trajectories = np.zeros((2, 3, 2))
    trajectories[1, 2] = (math.nan, 0.0)
    made = CliffDescent(
        50, 0.5, None, "global_norm", trajectories, np.zeros((2, 3)), np.zeros((2, 3)),
        np.zeros((2, 2), dtype=bool),
    )  # fmt: skip
    assert made.thrown((-1.0, 1.0), (-1.0, 1.0)).tolist() == [False, True]
    assert made.step_lengths.shape == (2, 2)


def test_surface_grid_layout() -> None:
    """cliff_surface's [i, j] is (b[i], w[j]): loss and grad_norm = hypot(dL/dw, dL/db) there
    match autograd."""
    surface = cliff_surface((-2.0, 10.0), (-8.0, 3.0), 64, 20)
    assert surface.loss.shape == surface.grad_norm.shape == (64, 64)
    assert surface.w[0] == -2.0
    assert surface.w[-1] == 10.0
    assert surface.b[0] == -8.0
    assert surface.b[-1] == 3.0
    for i, j in ((0, 0), (10, 50), (63, 20)):
        loss, grad_w, grad_b = _autograd(surface.w[j], surface.b[i], 20)
        assert surface.loss[i, j] == pytest.approx(loss, rel=1e-11)
        assert surface.grad_norm[i, j] == pytest.approx(math.hypot(grad_w, grad_b), rel=1e-11)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda: cliff_loss(1.0, 0.0, 0), "seq_len"),
        (lambda: cliff_loss(1.0, 0.0, 1001), "seq_len"),
        (lambda: cliff_loss(1.0, 0.0, 2.5), "seq_len"),
        (lambda: cliff_loss("a", 0.0), "w"),
        (lambda: cliff_loss(1.0, [0.0, "b"]), "b"),
        (lambda: cliff_descent((1.0, 2.0, 3.0), 0.5, 1), "start"),
        (lambda: cliff_descent(np.zeros((2, 3)), 0.5, 1), "start"),
        (lambda: cliff_descent(np.zeros((2, 2, 2)), 0.5, 1), "start"),
        (lambda: cliff_descent((math.nan, 0.0), 0.5, 1), "start"),
        (lambda: cliff_descent((math.inf, 0.0), 0.5, 1), "start"),
        (lambda: cliff_descent((2e6, 0.0), 0.5, 1), "start"),
        (lambda: cliff_descent((6.0, -3.0), 0.0, 1), "lr"),
        (lambda: cliff_descent((6.0, -3.0), -1.0, 1), "lr"),
        (lambda: cliff_descent((6.0, -3.0), math.nan, 1), "lr"),
        (lambda: cliff_descent((6.0, -3.0), 0.5, -1), "steps"),
        (lambda: cliff_descent((6.0, -3.0), 0.5, 1.5), "steps"),
        (lambda: cliff_descent((6.0, -3.0), 0.5, 1, 0.0), "clip_threshold"),
        (lambda: cliff_descent((6.0, -3.0), 0.5, 1, -1.0), "clip_threshold"),
        (lambda: cliff_descent((6.0, -3.0), 0.5, 1, 1.0, "agc"), "method"),
        (lambda: cliff_descent((6.0, -3.0), 0.5, 1, seq_len=0), "seq_len"),
        (lambda: cliff_descents((6.0, -3.0), 0.5, 1, None), "clip_threshold"),
        (lambda: cliff_descents((6.0, -3.0), 0.5, 1, 0.0), "clip_threshold"),
        (lambda: cliff_descents((6.0, -3.0), 0.5, 1, 1.0, "bogus"), "method"),
        (lambda: cliff_surface(resolution=1), "resolution"),
        (lambda: cliff_surface(w_range=(3.0, 1.0)), "w_range"),
        (lambda: cliff_surface(w_range=(1.0, 1.0)), "w_range"),
        (lambda: cliff_surface(b_range=(0.0, math.inf)), "b_range"),
        (lambda: cliff_surface(seq_len=0, resolution=2), "seq_len"),
    ],
)
def test_bad_arguments_name_the_argument(call, argument) -> None:
    """Bad arguments raise ValueError whose message names the argument (the core's rule)."""
    with pytest.raises(ValueError, match=argument):
        call()


def test_overflow_is_data_not_an_error() -> None:
    """Huge weights and exact floating-point fixed points give finite, inf or NaN values, never
    an exception or a warning. At w = 1e6 the sigmoid saturates (gradient 0). Where x_0 = 0.5 is
    exactly a fixed point in floating point (b = 0.5 - w sigmoid(0.5), searched here per path),
    each step multiplies the gradient by w sigmoid'(0.5) > 1 and at T = 1000 it overflows to inf
    (w = 20: 4.7^1000; w = 16: 3.8^1000). A descent from there carries inf/NaN as data and is
    counted as thrown."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for w in (1e6, -1e6):
            for size in (1, 4096):
                outputs = cliff_loss(np.full(size, w), np.full(size, -3.0), 100)
                assert all(array.shape == (size,) for array in outputs)

        # the numpy path runs on h = x/2 with u = tanh(h): a fixed point has h_1 == 0.25
        w = 20.0
        u0 = math.tanh(0.25)
        b0 = 0.5 - w * _sigmoid(0.5)
        candidates = [b0 + k * math.ulp(b0) for k in range(-50, 51)]
        fixed = [b for b in candidates if (w / 4.0) * u0 + (w / 4.0 + b / 2.0) == 0.25]
        assert fixed
        _, grad_w, grad_b = cliff_loss(w, fixed[0], 1000)
        assert np.isinf(grad_w)
        assert np.isinf(grad_b)
        run = cliff_descent((w, fixed[0]), 0.5, 3, seq_len=1000)
        assert not np.isfinite(run.trajectories[0, 1:]).all()
        assert run.thrown((-1e6, 1e6), (-1e6, 1e6)).tolist() == [True]
        clipped = cliff_descent((w, fixed[0]), 0.5, 3, clip_threshold=1.0, seq_len=1000)
        assert np.isinf(clipped.grad_norms[0, 0])

        # the torch path runs on x with x = b + w * sigmoid(x): a fixed point has x_1 == 0.5
        w = 16.0
        s = torch.sigmoid(torch.tensor(0.5, dtype=torch.float64))
        b0 = 0.5 - w * float(s)
        candidates = [b0 + k * math.ulp(b0) for k in range(-50, 51)]
        fixed = [
            b
            for b in candidates
            if float(torch.addcmul(torch.tensor(b, dtype=torch.float64), torch.tensor(w), s)) == 0.5
        ]
        assert fixed
        _, grad_w, grad_b = cliff_loss(np.full(4096, w), np.full(4096, fixed[0]), 1000)
        assert np.isinf(grad_w).all()
        assert np.isinf(grad_b).all()
        surface = cliff_surface((-1e6, 1e6), (-1e6, 1e6), 64, 1000)
        assert surface.grad_norm.shape == (64, 64)
