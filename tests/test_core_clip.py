"""explorer.core.clip against torch's own clip_grad_norm_ / clip_grad_value_ (also for norm types
below 1, half precision, mixed dtypes, empty lists and a threshold of 0), timm's AGC written from
its definition (timm is not installed), Pascanu, Mikolov and Bengio (2013), Algorithm 1, and the
numbers of seed article 001 ("Exploding Gradient Problem"). The keras and optax semantics are
checked against keras and optax themselves in test_clip_libraries.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.core.clip import NonFiniteNormError, clip_gradients, clip_in_place, clip_rows

F64 = torch.float64
DTYPES = (torch.float32, F64)
NORM_TYPES = (2.0, 1.0, math.inf, 3.0)
THRESHOLDS = (1e-2, 1.0, 30.0, 1e4)
SHAPES = ((3, 4), (5,), (2, 3, 2))
ARTICLE_G = [16.0, 12.0, -8.0]  # article 001, "Solution 1 — Gradient Clipping"


def _random_grads(seed: int, dtype: torch.dtype, special: str | None = None) -> list[torch.Tensor]:
    """Three tensors of the shapes above, each at its own scale in 1e-3..1e3; ``special`` puts an
    inf, a NaN or a zero into the second tensor."""
    gen = torch.Generator().manual_seed(seed)
    grads = []
    for shape in SHAPES:
        scale = 10.0 ** float(torch.empty(()).uniform_(-3.0, 3.0, generator=gen))
        grads.append((torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype))
    if special == "inf":
        grads[1][2] = -math.inf
    elif special == "nan":
        grads[1][2] = math.nan
    elif special == "zero":
        grads[1][2] = 0.0
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
    for method in ("global_norm", "norm"):
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
    25 / (5 + 1e-6) < 5; Pascanu: 5 >= 5 clips with a multiplier of exactly 1. (keras and optax
    at the threshold: test_clip_libraries.py, against the libraries.)"""
    g = np.array([3.0, 4.0])
    torch_ = clip_gradients([g], "global_norm", 5.0, "torch")
    assert torch_.norm_before == 5.0
    assert torch_.clipped
    assert torch_.norm_after < 5.0
    assert torch_.norm_after == pytest.approx(25.0 / (5.0 + 1e-6), rel=1e-15)
    np.testing.assert_allclose(torch_.grads[0], g * 5.0 / (5.0 + 1e-6), rtol=1e-15)

    pascanu = clip_gradients([g], "pascanu", 5.0)
    assert pascanu.clipped
    assert pascanu.coefficient == 1.0
    assert np.array_equal(pascanu.grads[0], g)


def test_below_the_threshold_torch_leaves_the_gradients_exact() -> None:
    """Below the threshold torch multiplies by a coefficient clamped to exactly 1.0, so both
    clip_grad_norm_ rows return the gradients bit for bit and say they did not clip. (keras'
    clipnorm, which can change the last bit there, and optax, which returns the gradients as they
    are: test_clip_libraries.py, against the libraries.)"""
    rng = np.random.default_rng(7)
    c = 3.7
    for _ in range(100):
        g = rng.standard_normal(3) * 0.1  # ||g|| well below c
        assert np.linalg.norm(g) < c
        for method in ("global_norm", "norm"):
            result = clip_gradients([g], method, c, "torch")
            assert np.array_equal(result.grads[0], g)
            assert not result.clipped


def test_nonfinite_gradients_pascanu_and_torch() -> None:
    """inf and NaN: Pascanu with a NaN norm: NaN >= t is false, gradients unchanged (under every
    semantics). torch: coefficient t / (inf + 1e-6) = 0 multiplied in, 0 for the finite entries
    and NaN for inf (checked against torch itself). (keras and optax with inf and NaN:
    test_clip_libraries.py, against the libraries.)"""
    with_inf = [np.array([math.inf, 1.0]), np.array([2.0])]
    with_nan = [np.array([math.nan, 1.0]), np.array([2.0])]

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
        ({"semantics": "keras", "norm_type": 0.5}, "norm_type"),
        ({"norm_type": math.nan}, "norm_type"),
        ({"norm_type": True}, "norm_type"),
        ({"norm_type": "2"}, "norm_type"),
        ({"semantics": "optax", "error_if_nonfinite": True}, "error_if_nonfinite"),
        ({"semantics": "keras", "error_if_nonfinite": True}, "error_if_nonfinite"),
        ({"semantics": "optax", "threshold": 0.0}, "threshold"),
        ({"semantics": "keras", "threshold": 0.0}, "threshold"),
        ({"method": "pascanu", "threshold": 0.0}, "threshold"),
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
    """Integer or complex torch tensors and complex arrays are refused under every semantics;
    keras and optax semantics also refuse no tensors, a mix of float32 and float64, and float16
    or bfloat16 (torch takes those: see the tests against torch below). Each names grads."""
    bad = [
        [torch.tensor([1, 2])],
        [np.array([1.0 + 2.0j])],
        [torch.tensor([1.0 + 2.0j])],
    ]
    for grads in bad:
        for semantics in ("torch", "keras", "optax"):
            with pytest.raises(ValueError, match="grads"):
                clip_gradients(grads, "global_norm", 1.0, semantics)
    not_keras_or_optax = [
        [],
        [torch.zeros(2, dtype=torch.float32), torch.zeros(2, dtype=torch.float64)],
        [np.zeros(2, dtype=np.float32), np.zeros(2)],
        [torch.zeros(2, dtype=torch.float16)],
        [torch.zeros(2, dtype=torch.bfloat16)],
    ]
    for grads in not_keras_or_optax:
        for semantics in ("keras", "optax"):
            with pytest.raises(ValueError, match="grads"):
                clip_gradients(grads, "global_norm", 1.0, semantics)


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
    """Weight units [3, 4] and [0, 0.001] (norms 5 and 0.001, the latter at the eps floor 1e-3),
    gradient units [10, 0] and [0, 0.0005], clip factor 0.01. Unit 1: max norm 0.01 * 5 = 0.05 <
    10, clipped to [10 * 0.05 / 10, 0] = [0.05, 0]. Unit 2: max norm 0.01 * 1e-3 = 1e-5 < 5e-4,
    clipped to [0, 1e-5]. The units are rows of a torch (out, in) weight for timm (torch
    semantics) and columns of an (in, out) weight for optax, so optax is given the transposes
    and gives the transposed answer."""
    weight = torch.tensor([[3.0, 4.0], [0.0, 0.001]], dtype=torch.float64)
    grad = torch.tensor([[10.0, 0.0], [0.0, 0.0005]], dtype=torch.float64)
    expected = np.array([[0.05, 0.0], [0.0, 1e-5]])
    for semantics, layout in (("torch", lambda x: x), ("optax", lambda x: x.T)):
        result = clip_gradients([layout(grad)], "agc", 0.01, semantics, params=[layout(weight)])
        np.testing.assert_allclose(layout(result.grads[0]), expected, rtol=1e-13)
        np.testing.assert_allclose(layout(result.grads[0]), expected, rtol=0, atol=1e-15)
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


# Inputs torch takes beyond float32/float64 and p >= 1. The reference is torch itself (its
# foreach path, the one it takes for CPU tensors), compared bit for bit.

SMALL_NORM_TYPES = (0.5, 0.0, -1.0, -2.0, math.inf, -math.inf)
HALF_DTYPES = (torch.float16, torch.bfloat16)
INT_OF = {torch.float16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}


def _bits(values: np.ndarray | torch.Tensor) -> torch.Tensor:
    """The bit patterns of an array or tensor (bfloat16 widened exactly to float32), so that
    equality is bit equality: signs of zeros and NaN included."""
    tensor = torch.from_numpy(values) if isinstance(values, np.ndarray) else values
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.view(INT_OF[tensor.dtype])


def _assert_bit_equal(got: tuple[np.ndarray, ...], expected: list[torch.Tensor]) -> None:
    """Same count, NaN in the same places, and the same bits everywhere."""
    assert len(got) == len(expected)
    for array, tensor in zip(got, expected, strict=True):
        assert array.shape == tuple(tensor.shape)
        assert torch.equal(torch.from_numpy(array).isnan(), tensor.isnan())
        assert torch.equal(_bits(array), _bits(tensor))


def _same_float(got: float, expected: torch.Tensor) -> bool:
    """``got`` is the value of the 0-d tensor ``expected``, bit for bit (NaN included)."""
    return bool(_bits(np.array(got)) == _bits(np.array(float(expected))))


def _torch_clip_norm(grads, threshold, norm_type, per_tensor, **kwargs):
    """torch's clip_grad_norm_ on parameters holding copies of ``grads`` (on each one alone if
    ``per_tensor``): the grads it leaves and the total norm it returns (the last one if per
    tensor)."""
    params = _parameters(grads)
    calls = [[param] for param in params] if per_tensor else [params]
    for call in calls:
        total = torch.nn.utils.clip_grad_norm_(call, threshold, norm_type=norm_type, **kwargs)
    return [param.grad for param in params], total


@pytest.mark.parametrize("norm_type", SMALL_NORM_TYPES)
@pytest.mark.parametrize("special", [None, "inf", "nan", "zero"])
def test_any_norm_type_equals_torch_clip_grad_norm(norm_type, special) -> None:
    """norm_type 0.5, 0, -1, -2, inf and -inf (also as the strings torch takes): the grads
    clip_grad_norm_ leaves, called on all tensors (global_norm) and on each alone (norm), and
    the total norm it returns, bit for bit, with inf, NaN or a zero entry in the second tensor.
    Expected values: torch itself."""
    names = {math.inf: "inf", -math.inf: "-inf"}
    for dtype in DTYPES:
        for threshold in THRESHOLDS:
            grads = _random_grads(0, dtype, special)
            given = names.get(norm_type, norm_type)
            expected, total = _torch_clip_norm(grads, threshold, norm_type, per_tensor=False)
            result = clip_gradients(grads, "global_norm", threshold, norm_type=given)
            _assert_bit_equal(result.grads, expected)
            assert _same_float(result.norm_before, total)
            assert result.norm_type == norm_type
            expected, _ = _torch_clip_norm(grads, threshold, norm_type, per_tensor=True)
            result = clip_gradients(grads, "norm", threshold, norm_type=given)
            _assert_bit_equal(result.grads, expected)


@pytest.mark.parametrize("dtype", HALF_DTYPES)
def test_half_precision_equals_torch(dtype) -> None:
    """float16 and bfloat16 gradients: torch computes the norms and the coefficient in the
    gradients' dtype (the total norm is a float16 or bfloat16 value, inf where it overflows).
    The grads clip_grad_norm_ (global_norm, norm) and clip_grad_value_ (value) leave and the
    norm clip_grad_norm_ returns, bit for bit, for every norm type. float16 comes back as
    float16 arrays; bfloat16, which numpy lacks, as float32 arrays holding exactly the bfloat16
    values, with dtypes naming bfloat16. Expected values: torch itself."""
    array_dtype = np.float16 if dtype == torch.float16 else np.float32
    for seed, special in ((0, None), (1, None), (2, None), (0, "inf"), (0, "nan")):
        for threshold in (1e-2, 1.0, 30.0):
            grads = _random_grads(seed, dtype, special)
            for norm_type in (*NORM_TYPES, *SMALL_NORM_TYPES):
                expected, total = _torch_clip_norm(grads, threshold, norm_type, per_tensor=False)
                result = clip_gradients(grads, "global_norm", threshold, norm_type=norm_type)
                _assert_bit_equal(result.grads, expected)
                _assert_bit_equal(result.original, grads)
                assert _same_float(result.norm_before, total)
                assert total.dtype == dtype
                assert result.dtypes == (str(dtype).removeprefix("torch."),) * 3
                assert all(array.dtype == array_dtype for array in result.grads)
                expected, _ = _torch_clip_norm(grads, threshold, norm_type, per_tensor=True)
                result = clip_gradients(grads, "norm", threshold, norm_type=norm_type)
                _assert_bit_equal(result.grads, expected)
            params = _parameters(grads)
            torch.nn.utils.clip_grad_value_(params, threshold)
            result = clip_gradients(grads, "value", threshold)
            _assert_bit_equal(result.grads, [param.grad for param in params])


MIXES = [
    (torch.float32, torch.float64, torch.float32),
    (torch.float64, torch.float32, torch.float32),
    (torch.bfloat16, torch.float16, torch.float32),
    (torch.float16, torch.bfloat16, torch.float64),
]


@pytest.mark.parametrize("mix", MIXES)
def test_mixed_dtypes_equal_torch(mix) -> None:
    """A list mixing dtypes: torch groups the tensors by device and dtype, takes each group's
    norms in its own dtype and their norm in the dtype torch.stack promotes them to (float64 if
    a float64 is present, else float32 here), and multiplies each tensor in its own dtype by
    that coefficient. The grads (which keep their dtypes), the norm returned, and the
    clip_grad_value_ result, bit for bit. Expected values: torch itself."""
    promoted = torch.float64 if torch.float64 in mix else torch.float32
    for special in (None, "inf", "nan"):
        for threshold in THRESHOLDS:
            grads = [
                grad.to(dtype)
                for grad, dtype in zip(_random_grads(1, F64, special), mix, strict=True)
            ]
            for norm_type in (*NORM_TYPES, *SMALL_NORM_TYPES):
                expected, total = _torch_clip_norm(grads, threshold, norm_type, per_tensor=False)
                assert total.dtype == promoted
                result = clip_gradients(grads, "global_norm", threshold, norm_type=norm_type)
                _assert_bit_equal(result.grads, expected)
                assert _same_float(result.norm_before, total)
                assert result.dtypes == tuple(str(dtype).removeprefix("torch.") for dtype in mix)
                expected, _ = _torch_clip_norm(grads, threshold, norm_type, per_tensor=True)
                result = clip_gradients(grads, "norm", threshold, norm_type=norm_type)
                _assert_bit_equal(result.grads, expected)
            params = _parameters(grads)
            torch.nn.utils.clip_grad_value_(params, threshold)
            _assert_bit_equal(
                clip_gradients(grads, "value", threshold).grads, [param.grad for param in params]
            )


def test_empty_list_equals_torch() -> None:
    """An empty list: clip_grad_norm_ returns tensor(0.) and changes nothing, while
    clip_grad_value_ raises RuntimeError (expected behaviour: torch itself). So method value
    refuses it with a ValueError naming grads, and the other methods of the torch semantics
    (per-tensor norm: no tensor to call clip_grad_norm_ on; timm's AGC: no unit; Pascanu: norm
    0) give an empty result with norm 0, nothing clipped, no coefficient and no cosine;
    clip_in_place does the same. (Keras and optax semantics refuse an empty list:
    test_bad_gradients_name_the_argument.)"""
    total = torch.nn.utils.clip_grad_norm_([], 1.0)
    assert torch.equal(total, torch.tensor(0.0))
    with pytest.raises(RuntimeError):
        torch.nn.utils.clip_grad_value_([], 1.0)
    with pytest.raises(ValueError, match="grads"):
        clip_gradients([], "value", 1.0)
    with pytest.raises(ValueError, match="grads"):
        clip_in_place([], "value", 1.0)
    for method in ("global_norm", "norm", "agc", "pascanu"):
        result = clip_gradients([], method, 1.0, params=[])
        assert result.grads == ()
        assert result.original == ()
        assert result.norm_before == float(total)
        assert result.norm_after == 0.0
        assert result.tensor_norms_before.shape == (0,)
        assert result.coefficients.shape == (0,)
        assert not result.clipped
        assert math.isnan(result.coefficient)
        assert math.isnan(result.cosine)
        coefficients, clipped = clip_in_place([], method, 1.0, params=[])
        assert coefficients.shape == (0,)
        assert clipped.shape == (0,)


@pytest.mark.parametrize("special", [None, "inf", "nan"])
def test_zero_threshold_equals_torch(special) -> None:
    """threshold 0, which torch accepts: clip_grad_norm_'s coefficient 0 / (norm + 1e-6) is 0
    (NaN for a NaN norm), so finite entries become zeros keeping their sign and inf entries
    NaN; clip_grad_value_ clamps to [-0.0, 0.0]; timm's AGC with clip factor 0 zeroes every
    unit. Expected values: torch itself (timm's rule as transcribed above)."""
    for dtype in (*DTYPES, *HALF_DTYPES):
        grads = _random_grads(2, dtype, special)
        for norm_type in (2.0, *SMALL_NORM_TYPES):
            expected, total = _torch_clip_norm(grads, 0.0, norm_type, per_tensor=False)
            result = clip_gradients(grads, "global_norm", 0.0, norm_type=norm_type)
            _assert_bit_equal(result.grads, expected)
            assert _same_float(result.norm_before, total)
            expected, _ = _torch_clip_norm(grads, 0.0, norm_type, per_tensor=True)
            _assert_bit_equal(
                clip_gradients(grads, "norm", 0.0, norm_type=norm_type).grads, expected
            )
        params = _parameters(grads)
        torch.nn.utils.clip_grad_value_(params, 0.0)
        _assert_bit_equal(clip_gradients(grads, "value", 0.0).grads, [p.grad for p in params])
        weights = [torch.ones_like(grad) for grad in grads]
        result = clip_gradients(grads, "agc", 0.0, params=weights)
        _assert_bit_equal(result.grads, _timm_adaptive_clip_grad(weights, grads, 0.0))
        if special is None:
            assert all(not array.any() for array in result.grads)


@pytest.mark.parametrize("norm_type", [*NORM_TYPES, *SMALL_NORM_TYPES])
def test_error_if_nonfinite_raises_where_torch_raises(norm_type) -> None:
    """error_if_nonfinite=True raises exactly where torch's clip_grad_norm_ raises: when the
    total norm is inf or NaN, which an inf or NaN entry need not cause for p <= 0 (p < 0: an
    inf entry adds 0 to the sum of |x|^p and -inf takes the smallest |x|; p = 0 counts inf and
    NaN as nonzero). Method norm checks each tensor's own norm, as clip_grad_norm_ called on
    each tensor does. Where torch does not raise, the grads are torch's, bit for bit.
    Expected values: torch itself; the expected raising is the rule just stated."""
    for special in (None, "inf", "nan"):
        expect_raise = special is not None and not (
            norm_type <= 0 and (special == "inf" or norm_type == 0)
        )
        for method, per_tensor in (("global_norm", False), ("norm", True)):
            grads = _random_grads(0, torch.float32, special)
            try:
                expected, _ = _torch_clip_norm(
                    grads, 1.0, norm_type, per_tensor, error_if_nonfinite=True
                )
            except RuntimeError:
                raised = True
            else:
                raised = False
            assert raised == expect_raise
            if raised:
                with pytest.raises(NonFiniteNormError, match="norm"):
                    clip_gradients(grads, method, 1.0, norm_type=norm_type, error_if_nonfinite=True)
            else:
                result = clip_gradients(
                    grads, method, 1.0, norm_type=norm_type, error_if_nonfinite=True
                )
                _assert_bit_equal(result.grads, expected)


@pytest.mark.parametrize(
    ("method", "semantics"),
    [
        ("value", "torch"),
        ("agc", "torch"),
        ("pascanu", "torch"),
        ("value", "keras"),
        ("norm", "keras"),
        ("global_norm", "keras"),
        ("pascanu", "keras"),
        ("value", "optax"),
        ("global_norm", "optax"),
        ("agc", "optax"),
        ("pascanu", "optax"),
    ],
)
def test_error_if_nonfinite_only_for_clip_grad_norm(method, semantics) -> None:
    """error_if_nonfinite is an option of torch's clip_grad_norm_ only (methods norm and
    global_norm, torch semantics; torch's clip_grad_value_ has none): elsewhere a ValueError
    naming it, even with finite gradients."""
    with pytest.raises(ValueError, match="error_if_nonfinite"):
        clip_gradients(
            [[1.0, 2.0]], method, 1.0, semantics, params=[[1.0, 2.0]], error_if_nonfinite=True
        )


def test_nonfinite_norms_as_the_module_docstring_says() -> None:
    """The module docstring's account of non-finite norms, each on torch itself and on
    clip_gradients: an inf total norm gives the coefficient 1 / (inf + 1e-6) = 0, so finite
    entries become 0 and the inf entry NaN (inf * 0); a NaN total norm makes every entry NaN;
    with p = 0 a NaN entry leaves the norm finite (2 of the 2 tensors have a nonzero entry), so
    the NaN stays and the rest is scaled by 1 / (2 + 1e-6); with p = -1 an inf entry adds 0 to
    the sum, the norm 1 / (1 + 1 / 2) is finite and below 1, and nothing changes."""
    with_inf = [torch.tensor([math.inf, 1.0]), torch.tensor([2.0])]
    with_nan = [torch.tensor([math.nan, 1.0]), torch.tensor([2.0])]
    cases = [
        (with_inf, 2.0, [[math.nan, 0.0], [0.0]], math.inf),
        (with_nan, 2.0, [[math.nan] * 2, [math.nan]], math.nan),
        (with_nan, 0.0, [[math.nan, 1.0 / (2.0 + 1e-6)], [2.0 / (2.0 + 1e-6)]], 2.0),
        (with_inf, -1.0, [[math.inf, 1.0], [2.0]], 1.0 / 1.5),
    ]
    for grads, norm_type, expected, norm in cases:
        torch_grads, total = _torch_clip_norm(grads, 1.0, norm_type, per_tensor=False)
        result = clip_gradients(grads, "global_norm", 1.0, norm_type=norm_type)
        _assert_bit_equal(result.grads, torch_grads)
        for array, values in zip(result.grads, expected, strict=True):
            np.testing.assert_allclose(array, values, rtol=1e-6)
        np.testing.assert_allclose(result.norm_before, norm, rtol=1e-6)
        np.testing.assert_allclose(float(total), norm, rtol=1e-6)


def test_clip_in_place_equals_torch_for_the_new_inputs() -> None:
    """clip_in_place, as a training step calls it, on a list mixing float32, bfloat16 and
    float64 with norm types 0.5, 0 and -inf and thresholds 0 and 1: the tensors end as torch's
    clip_grad_norm_ leaves them, bit for bit. Expected values: torch itself."""
    mix = (torch.float32, torch.bfloat16, torch.float64)
    for norm_type in (0.5, 0.0, -math.inf):
        for threshold in (0.0, 1.0):
            grads = [grad.to(dtype) for grad, dtype in zip(_random_grads(0, F64), mix, strict=True)]
            expected, _ = _torch_clip_norm(grads, threshold, norm_type, per_tensor=False)
            clip_in_place(grads, "global_norm", threshold, norm_type=norm_type)
            for grad, want in zip(grads, expected, strict=True):
                assert torch.equal(_bits(grad), _bits(want))
