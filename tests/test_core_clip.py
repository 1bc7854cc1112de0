"""explorer.core.clip against torch's own clip_grad_norm_ / clip_grad_value_, timm's and optax's
AGC written from their definitions, the documented keras and optax formulas, Pascanu, Mikolov and
Bengio (2013), Algorithm 1, and the numbers of seed article 001 ("Exploding Gradient Problem")."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.core.clip import NonFiniteNormError, clip_gradients, clip_rows

F64 = torch.float64
DTYPES = (torch.float32, F64)
NORM_TYPES = (2.0, 1.0, math.inf, 3.0)
THRESHOLDS = (1e-2, 1.0, 30.0, 1e4)
SHAPES = ((3, 4), (5,), (2, 3, 2))
ARTICLE_G = [16.0, 12.0, -8.0]  # article 001, "Solution 1 — Gradient Clipping"


def _random_grads(seed: int, dtype: torch.dtype, special: str | None = None) -> list[torch.Tensor]:
    """Three tensors of the shapes above, each at its own scale in 1e-3..1e3; ``special`` puts an
    inf or a NaN into the second tensor."""
    gen = torch.Generator().manual_seed(seed)
    grads = []
    for shape in SHAPES:
        scale = 10.0 ** float(torch.empty(()).uniform_(-3.0, 3.0, generator=gen))
        grads.append((torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype))
    if special == "inf":
        grads[1][2] = -math.inf
    elif special == "nan":
        grads[1][2] = math.nan
    return grads


def _parameters(grads: list[torch.Tensor]) -> list[torch.nn.Parameter]:
    """Parameters whose .grad are copies of ``grads``, for torch's in-place clipping functions."""
    params = []
    for grad in grads:
        param = torch.nn.Parameter(torch.zeros_like(grad))
        param.grad = grad.clone()
        params.append(param)
    return params


def _assert_same(got: tuple[np.ndarray, ...], expected: list[torch.Tensor]) -> None:
    assert len(got) == len(expected)
    for array, tensor in zip(got, expected, strict=True):
        assert array.dtype == tensor.numpy().dtype
        assert array.shape == tuple(tensor.shape)
        assert np.array_equal(array, tensor.numpy(), equal_nan=True)


CASES = [
    (dtype, seed, special)
    for dtype in DTYPES
    for seed in range(3)
    for special in (None, "inf", "nan")
    if special is None or seed == 0
]


@pytest.mark.parametrize(("dtype", "seed", "special"), CASES)
def test_global_norm_equals_torch_clip_grad_norm(dtype, seed, special) -> None:
    """method global_norm, torch semantics: the grads torch.nn.utils.clip_grad_norm_ leaves in
    p.grad, bit for bit, and norm_before is the norm it returns. torch itself is the reference
    (an inf or NaN norm makes it multiply by 0 or NaN). The inputs are not modified."""
    for threshold in THRESHOLDS:
        for norm_type in NORM_TYPES:
            grads = _random_grads(seed, dtype, special)
            before = [grad.clone() for grad in grads]
            params = _parameters(grads)
            total = torch.nn.utils.clip_grad_norm_(params, threshold, norm_type=norm_type)
            result = clip_gradients(grads, "global_norm", threshold, "torch", norm_type=norm_type)
            _assert_same(result.grads, [param.grad for param in params])
            if math.isnan(float(total)):
                assert math.isnan(result.norm_before)
            else:
                assert result.norm_before == float(total)
            _assert_same(result.original, before)
            _assert_same(tuple(grad.numpy() for grad in grads), before)


@pytest.mark.parametrize(("dtype", "seed", "special"), CASES)
def test_norm_equals_clip_grad_norm_on_each_tensor(dtype, seed, special) -> None:
    """method norm, torch semantics: clip_grad_norm_ called on each parameter alone (torch)."""
    for threshold in THRESHOLDS:
        for norm_type in NORM_TYPES:
            grads = _random_grads(seed, dtype, special)
            before = [grad.clone() for grad in grads]
            params = _parameters(grads)
            for param in params:
                torch.nn.utils.clip_grad_norm_(param, threshold, norm_type=norm_type)
            result = clip_gradients(grads, "norm", threshold, "torch", norm_type=norm_type)
            _assert_same(result.grads, [param.grad for param in params])
            _assert_same(tuple(grad.numpy() for grad in grads), before)


@pytest.mark.parametrize(("dtype", "seed", "special"), CASES)
def test_value_equals_clip_grad_value(dtype, seed, special) -> None:
    """method value, torch semantics: torch.nn.utils.clip_grad_value_ (inf is clamped to the
    threshold, NaN stays NaN), from numpy arrays as well as from tensors."""
    for threshold in THRESHOLDS:
        grads = _random_grads(seed, dtype, special)
        before = [grad.clone() for grad in grads]
        params = _parameters(grads)
        torch.nn.utils.clip_grad_value_(params, threshold)
        expected = [param.grad for param in params]
        _assert_same(clip_gradients(grads, "value", threshold, "torch").grads, expected)
        arrays = [grad.numpy().copy() for grad in grads]
        _assert_same(clip_gradients(arrays, "value", threshold, "torch").grads, expected)
        _assert_same(tuple(arrays), before)
        _assert_same(tuple(grad.numpy() for grad in grads), before)


def test_inputs_needing_grad_are_neither_modified_nor_attached() -> None:
    """Tensors that require grad (a model's parameters' .grad can) are read, not modified."""
    grads = [torch.tensor([30.0, 40.0], requires_grad=True)]
    result = clip_gradients(grads, "global_norm", 1.0)
    assert grads[0].detach().tolist() == [30.0, 40.0]
    assert result.grads[0][0] < 1


def test_error_if_nonfinite_raises_as_torch_does() -> None:
    """torch's clip_grad_norm_(error_if_nonfinite=True) raises RuntimeError on an inf or NaN
    total norm; clip_gradients raises NonFiniteNormError, a RuntimeError. With finite gradients
    the option changes nothing."""
    for bad in (math.inf, math.nan):
        grads = [torch.tensor([1.0, bad]), torch.tensor([2.0])]
        with pytest.raises(RuntimeError):
            torch.nn.utils.clip_grad_norm_(_parameters(grads), 1.0, error_if_nonfinite=True)
        with pytest.raises(NonFiniteNormError, match="norm"):
            clip_gradients(grads, "global_norm", 1.0, error_if_nonfinite=True)
    assert issubclass(NonFiniteNormError, RuntimeError)
    grads = _random_grads(1, torch.float64)
    for method in ("global_norm", "norm", "value"):
        plain = clip_gradients(grads, method, 0.5)
        checked = clip_gradients(grads, method, 0.5, error_if_nonfinite=True)
        _assert_same(checked.grads, [torch.from_numpy(array) for array in plain.grads])
        assert checked.norm_before == plain.norm_before


def test_article_example_16_12_minus_8() -> None:
    """Article 001: g = [16, 12, -8], threshold 5, ||g|| = sqrt(464) = 21.54; the article shows
    its code printing the clipped gradient g * 5 / sqrt(464) as [3.714 2.786 -1.857]. Running
    that code prints [3.714 2.785 -1.857] (12 * 5 / sqrt(464) = 2.78543), so we match the
    article's printout to 1e-3 and its code's rounding exactly. Its hand calculation rounds the
    factor to 0.232 and gets [3.72, 2.79, -1.86], which the exact value is not (off by 6e-3).
    Pascanu's rule is the article's rule; torch's adds 1e-6 to the norm, a relative difference
    of 1e-6 / (sqrt(464) + 1e-6)."""
    g = np.array(ARTICLE_G)
    norm = math.sqrt(464.0)
    pascanu = clip_gradients(ARTICLE_G, "pascanu", 5.0)
    assert pascanu.norm_before == pytest.approx(21.540659228538015, rel=1e-15)
    assert pascanu.norm_before == pytest.approx(norm, rel=1e-15)
    np.testing.assert_allclose(pascanu.grads[0], [3.714, 2.786, -1.857], atol=1e-3)
    assert np.round(pascanu.grads[0], 3).tolist() == [3.714, 2.785, -1.857]
    assert not np.allclose(pascanu.grads[0], [3.72, 2.79, -1.86], rtol=0, atol=1e-3)
    np.testing.assert_allclose(pascanu.grads[0], g * 5.0 / norm, rtol=1e-15)
    assert pascanu.coefficient == pytest.approx(5.0 / norm, rel=1e-15)
    assert pascanu.clipped
    assert pascanu.norm_after == pytest.approx(5.0, rel=1e-15)

    torch_ = clip_gradients(ARTICLE_G, "global_norm", 5.0, "torch")
    np.testing.assert_allclose(torch_.grads[0], g * 5.0 / (norm + 1e-6), rtol=1e-15)
    relative = 1.0 - torch_.grads[0] / pascanu.grads[0]
    np.testing.assert_allclose(relative, 1e-6 / (norm + 1e-6), rtol=1e-8)
    assert 4.6e-8 < relative[0] < 4.7e-8


def test_article_exercise_3_4_at_2() -> None:
    """Article 001, exercise 2: g = [3, 4], threshold 2: ||g|| = 5, factor 2/5 = 0.4,
    g_clipped = [1.2, 1.6] with norm 2 <= threshold; [3, 4] and [6, 8] clipped separately to 2
    point the same way (both become [1.2, 1.6])."""
    result = clip_gradients([3.0, 4.0], "pascanu", 2.0)
    assert result.norm_before == 5.0
    assert result.coefficient == pytest.approx(0.4, rel=1e-15)
    np.testing.assert_allclose(result.grads[0], [1.2, 1.6], rtol=1e-15)
    assert result.norm_after <= 2.0 * (1 + 1e-15)
    torch_ = clip_gradients([3.0, 4.0], "global_norm", 2.0)
    assert torch_.norm_after < 2.0  # t / (norm + 1e-6) < t / norm
    first = clip_gradients([3.0, 4.0], "global_norm", 2.0).grads[0]
    second = clip_gradients([6.0, 8.0], "global_norm", 2.0).grads[0]
    cosine = first @ second / (np.linalg.norm(first) * np.linalg.norm(second))
    assert cosine == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(first, [1.2, 1.6], rtol=1e-6)
    np.testing.assert_allclose(second, [1.2, 1.6], rtol=1e-6)


def test_article_exercise_global_versus_per_tensor() -> None:
    """Article 001, exercise 4: dL/dW1 = [100, 0], dL/dW2 = [0, 0.1], max_norm 1. The global norm
    is sqrt(10000.01); global clipping multiplies both by 1/sqrt(10000.01) (~0.01), so W2's
    gradient becomes ~[0, 1e-3]: 100 times smaller, though its own norm 0.1 was under the limit.
    Per-tensor clipping leaves [0, 0.1] untouched (coefficient 1 / (0.1 + 1e-6) clamps to 1) and
    maps [100, 0] to ~[1, 0]."""
    grads = [np.array([100.0, 0.0]), np.array([0.0, 0.1])]
    total = math.sqrt(10000.01)
    glob = clip_gradients(grads, "global_norm", 1.0)
    assert glob.norm_before == pytest.approx(total, rel=1e-15)
    np.testing.assert_allclose(glob.grads[1], [0.0, 0.1 / total], rtol=1e-7)
    np.testing.assert_allclose(glob.grads[1], [0.0, 1e-3], rtol=1e-6)
    np.testing.assert_allclose(glob.grads[0], [100.0 / total, 0.0], rtol=1e-7)
    assert glob.grads[1][1] / 0.1 == pytest.approx(0.01, rel=1e-6)
    per = clip_gradients(grads, "norm", 1.0)
    assert np.array_equal(per.grads[1], [0.0, 0.1])
    np.testing.assert_allclose(per.grads[0], [1.0, 0.0], rtol=1e-7)
    assert per.clipped_tensors.tolist() == [True, False]
    assert per.coefficients[1] == 1.0


def test_norm_exactly_at_the_threshold() -> None:
    """||[3, 4]|| = 5 exactly in float64, threshold 5 (module docstring, derived):
    torch: coefficient min(5 / (5 + 1e-6), 1) < 1 is multiplied in, so it clips, to a norm of
    25 / (5 + 1e-6) < 5; optax: 5 < 5 is false, so it applies (g / 5) * 5; Pascanu: 5 >= 5 clips
    with a multiplier of exactly 1; keras global_clipnorm: scale 5 * min(1/5, 1/5) + (5 - 5)."""
    g = np.array([3.0, 4.0])
    torch_ = clip_gradients([g], "global_norm", 5.0, "torch")
    assert torch_.norm_before == 5.0
    assert torch_.clipped
    assert torch_.norm_after < 5.0
    assert torch_.norm_after == pytest.approx(25.0 / (5.0 + 1e-6), rel=1e-15)
    np.testing.assert_allclose(torch_.grads[0], g * 5.0 / (5.0 + 1e-6), rtol=1e-15)

    optax = clip_gradients([g], "global_norm", 5.0, "optax")
    assert optax.clipped
    assert np.array_equal(optax.grads[0], (g / 5.0) * 5.0)

    pascanu = clip_gradients([g], "pascanu", 5.0)
    assert pascanu.clipped
    assert pascanu.coefficient == 1.0
    assert np.array_equal(pascanu.grads[0], g)

    keras = clip_gradients([g], "global_norm", 5.0, "keras")
    assert not keras.clipped  # norm <= threshold
    scale = 5.0 * min(1.0 / 5.0, 1.0 / 5.0) + (5.0 - 5.0)
    assert keras.coefficient == scale
    assert np.array_equal(keras.grads[0], g * scale)


def test_below_the_threshold_keras_clipnorm_may_change_the_last_bit() -> None:
    """Below the threshold optax returns the gradients as they are and torch multiplies by 1.0,
    both exact; keras' clipnorm always computes g * c / max(||g||, c) = (g * c) / c, which can
    differ from g in the last bit. The example is searched for here, not copied."""
    rng = np.random.default_rng(7)
    c = 3.7
    for _ in range(1000):
        g = rng.standard_normal(3) * 0.1  # ||g|| well below c
        if not np.array_equal((g * c) / c, g):
            break
    else:
        pytest.fail("no float64 example where (g * c) / c != g")
    assert np.linalg.norm(g) < c
    keras = clip_gradients([g], "norm", c, "keras")
    assert np.array_equal(keras.grads[0], (g * c) / c)
    assert not np.array_equal(keras.grads[0], g)
    assert not keras.clipped
    for method, semantics in (
        ("global_norm", "optax"),
        ("norm", "torch"),
        ("global_norm", "torch"),
    ):
        result = clip_gradients([g], method, c, semantics)
        assert np.array_equal(result.grads[0], g)
        assert not result.clipped


def test_keras_clipnorm_above_the_threshold() -> None:
    """keras clipnorm on [3, 4] with c = 2: (g * 2) / max(5, 2) = [1.2, 1.6], computed as keras
    writes it; each variable is clipped on its own."""
    result = clip_gradients([np.array([3.0, 4.0]), np.array([0.5])], "norm", 2.0, "keras")
    assert np.array_equal(result.grads[0], (np.array([3.0, 4.0]) * 2.0) / 5.0)
    assert np.array_equal(result.grads[1], (np.array([0.5]) * 2.0) / 2.0)
    assert result.clipped_tensors.tolist() == [True, False]


def test_nonfinite_gradients_per_semantics() -> None:
    """inf and NaN, derived from each library's formula: keras global_clipnorm with an inf
    entry: norm inf, scale c * min(0, 1/c) + (inf - inf) = NaN, all gradients NaN. optax with an
    inf entry: inf < t is false, (g / inf) * t gives 0 for finite entries and NaN for inf; with
    a NaN entry (g / NaN) * t is all NaN. Pascanu with a NaN norm: NaN >= t is false, gradients
    unchanged. torch: coefficient t / (inf + 1e-6) = 0 multiplied in, 0 for the finite entries
    and NaN for inf (checked against torch itself)."""
    with_inf = [np.array([math.inf, 1.0]), np.array([2.0])]
    with_nan = [np.array([math.nan, 1.0]), np.array([2.0])]

    keras = clip_gradients(with_inf, "global_norm", 1.0, "keras")
    assert all(np.isnan(grad).all() for grad in keras.grads)

    optax = clip_gradients(with_inf, "global_norm", 1.0, "optax")
    assert np.array_equal(optax.grads[0], [math.nan, 0.0], equal_nan=True)
    assert np.array_equal(optax.grads[1], [0.0])
    optax = clip_gradients(with_nan, "global_norm", 1.0, "optax")
    assert all(np.isnan(grad).all() for grad in optax.grads)
    assert optax.clipped

    for semantics in ("torch", "keras", "optax"):
        pascanu = clip_gradients(with_nan, "pascanu", 1.0, semantics)
        assert math.isnan(pascanu.norm_before)
        assert not pascanu.clipped
        _assert_same(pascanu.grads, [torch.from_numpy(grad) for grad in with_nan])

    params = _parameters([torch.from_numpy(grad) for grad in with_inf])
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    torch_ = clip_gradients(with_inf, "global_norm", 1.0, "torch")
    _assert_same(torch_.grads, [param.grad for param in params])
    assert np.array_equal(torch_.grads[0], [math.nan, 0.0], equal_nan=True)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"method": "agc", "semantics": "keras", "params": [[1.0, 1.0]]}, "semantics"),
        ({"method": "norm", "semantics": "optax"}, "semantics"),
        ({"semantics": "bogus"}, "semantics"),
        ({"method": "bogus"}, "method"),
        ({"semantics": "keras", "norm_type": 1.0}, "norm_type"),
        ({"semantics": "optax", "norm_type": math.inf}, "norm_type"),
        ({"norm_type": 0.5}, "norm_type"),
        ({"norm_type": math.nan}, "norm_type"),
        ({"norm_type": True}, "norm_type"),
        ({"semantics": "optax", "error_if_nonfinite": True}, "error_if_nonfinite"),
        ({"semantics": "keras", "error_if_nonfinite": True}, "error_if_nonfinite"),
        ({"threshold": 0.0}, "threshold"),
        ({"threshold": -1.0}, "threshold"),
        ({"threshold": math.inf}, "threshold"),
        ({"threshold": math.nan}, "threshold"),
        ({"threshold": "1"}, "threshold"),
        ({"method": "agc"}, "params"),
        ({"method": "agc", "params": [[1.0, 2.0, 3.0]]}, "params"),
        ({"method": "agc", "params": [[1.0, 2.0], [3.0]]}, "params"),
        ({"method": "agc", "params": [[1.0, 2.0]], "eps": -1.0}, "eps"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, argument) -> None:
    """Invalid combinations raise ValueError naming the argument (the core's convention)."""
    with pytest.raises(ValueError, match=argument):
        clip_gradients([[1.0, 2.0]], **kwargs)


def test_bad_gradients_name_the_argument() -> None:
    """No tensors, a mix of float32 and float64, integer or complex torch tensors, and complex
    arrays are refused, naming grads."""
    bad = [
        [],
        [torch.zeros(2, dtype=torch.float32), torch.zeros(2, dtype=torch.float64)],
        [np.zeros(2, dtype=np.float32), np.zeros(2)],
        [torch.tensor([1, 2])],
        [np.array([1.0 + 2.0j])],
        [torch.tensor([1.0 + 2.0j])],
    ]
    for grads in bad:
        with pytest.raises(ValueError, match="grads"):
            clip_gradients(grads, "global_norm", 1.0)


def test_integer_arrays_and_lists_become_float64() -> None:
    """Integer numpy arrays and Python lists of ints are taken as float64 (the module converts
    array kinds i, u, b); the clipping is then the float64 one of the same values."""
    as_float = clip_gradients([np.array([3.0, 4.0])], "global_norm", 2.0)
    for grads in ([np.array([3, 4])], [[3, 4]], [3, 4], np.array([3, 4], dtype=np.uint8)):
        result = clip_gradients(grads, "global_norm", 2.0)
        assert result.grads[0].dtype == np.float64
        assert np.array_equal(result.grads[0], as_float.grads[0])


def _timm_adaptive_clip_grad(params, grads, clip_factor, eps=1e-3, norm_type=2.0):
    """timm.utils.agc.adaptive_clip_grad written from its definition (timm is not installed):
    unitwise_norm is the whole-tensor norm for ndim <= 1, else the norm over dims 1.. (keepdim);
    max_norm = clamp(p_norm, min=eps) * clip_factor; clipped = g * (max_norm / clamp(g_norm,
    min=1e-6)); where(g_norm < max_norm, g, clipped)."""

    def unitwise_norm(x):
        if x.ndim <= 1:
            return x.norm(norm_type)
        return x.norm(norm_type, dim=tuple(range(1, x.ndim)), keepdim=True)

    out = []
    for p, g in zip(params, grads, strict=True):
        max_norm = unitwise_norm(p).clamp_(min=eps).mul_(clip_factor)
        grad_norm = unitwise_norm(g)
        clipped_grad = g * (max_norm / grad_norm.clamp(min=1e-6))
        out.append(torch.where(grad_norm < max_norm, g, clipped_grad))
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_agc_torch_equals_timm(dtype) -> None:
    """method agc, torch semantics: timm's adaptive_clip_grad bit for bit, on a (out, in) weight
    and a bias, at clip factors that clip none, some and all of the units."""
    gen = torch.Generator().manual_seed(3)
    weight = torch.randn(6, 4, generator=gen, dtype=torch.float64).to(dtype)
    weight[2] = 0.0  # a dead unit: its norm is floored at eps
    bias = (torch.randn(6, generator=gen, dtype=torch.float64) * 0.1).to(dtype)
    grad_w = (torch.randn(6, 4, generator=gen, dtype=torch.float64) * 0.05).to(dtype)
    grad_b = (torch.randn(6, generator=gen, dtype=torch.float64) * 0.01).to(dtype)
    counts = set()
    for factor in (1e-4, 0.01, 0.05, 1000.0):
        expected = _timm_adaptive_clip_grad([weight, bias], [grad_w, grad_b], factor)
        result = clip_gradients([grad_w, grad_b], "agc", factor, "torch", params=[weight, bias])
        _assert_same(result.grads, expected)
        changed = int((result.grads[0] != grad_w.numpy()).any(axis=1).sum())
        counts.add(changed)
        assert math.isnan(result.coefficient)
    assert {0, 6} <= counts
    assert len(counts) >= 3  # some factor clips some rows but not others


def test_agc_by_hand() -> None:
    """Weight rows [3, 4] and [0, 0.001] (norms 5 and 0.001, the latter at the eps floor 1e-3),
    gradient rows [10, 0] and [0, 0.0005], clip factor 0.01. Row 1: max norm 0.01 * 5 = 0.05 <
    10, clipped to [10 * 0.05 / 10, 0] = [0.05, 0]. Row 2: max norm 0.01 * 1e-3 = 1e-5 < 5e-4,
    clipped to [0, 1e-5]. optax's formula gives the same to 1e-15."""
    weight = torch.tensor([[3.0, 4.0], [0.0, 0.001]], dtype=torch.float64)
    grad = torch.tensor([[10.0, 0.0], [0.0, 0.0005]], dtype=torch.float64)
    for semantics in ("torch", "optax"):
        result = clip_gradients([grad], "agc", 0.01, semantics, params=[weight])
        np.testing.assert_allclose(result.grads[0], [[0.05, 0.0], [0.0, 1e-5]], rtol=1e-13)
        np.testing.assert_allclose(result.grads[0], [[0.05, 0.0], [0.0, 1e-5]], rtol=0, atol=1e-15)
        assert result.clipped
    # a gradient under both limits is untouched
    small = torch.tensor([[0.01, 0.0], [0.0, 1e-6]], dtype=torch.float64)
    result = clip_gradients([small], "agc", 0.01, params=[weight])
    assert np.array_equal(result.grads[0], small.numpy())
    assert not result.clipped


def test_result_fields() -> None:
    """Norm methods keep the direction (cosine 1); value clipping of [16, 12, -8] at 5 gives
    [5, 5, -5] with cosine (16*5 + 12*5 + 8*5) / (sqrt(464) sqrt(75)) = 180 / sqrt(34800), norm
    after sqrt(75), shrink sqrt(75) / sqrt(464), and no single coefficient (NaN)."""
    for method in ("global_norm", "norm", "pascanu"):
        result = clip_gradients(ARTICLE_G, method, 5.0)
        assert result.cosine == pytest.approx(1.0, abs=1e-15)
        assert result.norm_after == pytest.approx(5.0, rel=1e-6)
        assert result.shrink == pytest.approx(5.0 / math.sqrt(464.0), rel=1e-6)
    value = clip_gradients(ARTICLE_G, "value", 5.0)
    assert np.array_equal(value.grads[0], [5.0, 5.0, -5.0])
    assert value.cosine == pytest.approx(180.0 / (math.sqrt(464.0) * math.sqrt(75.0)), rel=1e-15)
    assert value.cosine < 1.0
    assert value.norm_after == pytest.approx(math.sqrt(75.0), rel=1e-15)
    assert value.shrink == pytest.approx(math.sqrt(75.0) / math.sqrt(464.0), rel=1e-15)
    assert math.isnan(value.coefficient)
    assert value.clipped
    assert value.library_call == "torch.nn.utils.clip_grad_value_"
    glob = clip_gradients(ARTICLE_G, "global_norm", 5.0)
    assert glob.coefficient == pytest.approx(5.0 / (math.sqrt(464.0) + 1e-6), rel=1e-15)
    assert glob.tensor_norms_before.tolist() == [pytest.approx(math.sqrt(464.0), rel=1e-15)]
    # all zeros: no direction, no shrink
    zero = clip_gradients([0.0, 0.0], "global_norm", 1.0)
    assert math.isnan(zero.cosine)
    assert math.isnan(zero.shrink)
    assert not zero.clipped


def _special_rows(rng: np.random.Generator) -> np.ndarray:
    magnitudes = 10.0 ** rng.uniform(-8.0, 8.0, size=(1000, 2))
    signs = rng.choice([-1.0, 1.0], size=(1000, 2))
    special = [
        [0.0, 0.0],
        [math.inf, 1.0],
        [1.0, -math.inf],
        [math.nan, 1.0],
        [1e200, 1.0],
        [1.0, 1.0],
        [3.0, 4.0],
    ]
    return np.concatenate([magnitudes * signs, special])


@pytest.mark.parametrize("method", ["value", "norm", "global_norm", "pascanu"])
def test_clip_rows_equals_clip_gradients(method) -> None:
    """Each row of clip_rows(G, method, t) is clip_gradients on two 0-d float64 tensors (the
    two scalar parameters of the cliff), bit for bit, and so is the clipped flag; the rows'
    norms passed in give the same."""
    gradients = _special_rows(np.random.default_rng(11))
    for threshold in (1.0, 5.0):
        clipped, flags = clip_rows(gradients, method, threshold)
        norms = torch.linalg.vector_norm(torch.from_numpy(gradients), dim=1, keepdim=True)
        again, again_flags = clip_rows(gradients, method, threshold, norms.numpy())
        assert np.array_equal(again, clipped, equal_nan=True)
        assert np.array_equal(again_flags, flags)
        assert clipped.shape == gradients.shape
        assert flags.shape == (len(gradients),)
        for row, (first, second) in enumerate(gradients):
            result = clip_gradients(
                [torch.tensor(first, dtype=F64), torch.tensor(second, dtype=F64)], method, threshold
            )
            assert np.array_equal(clipped[row], np.array(result.grads), equal_nan=True), row
            assert flags[row] == result.clipped, row
        assert flags.any()
        assert not flags.all()


def test_clip_rows_bad_method() -> None:
    """agc has no meaning for rows of scalars: ValueError naming method."""
    with pytest.raises(ValueError, match="method"):
        clip_rows(np.ones((2, 2)), "agc", 1.0)
