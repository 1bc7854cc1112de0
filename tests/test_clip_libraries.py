"""explorer.core.clip's keras and optax semantics against keras and optax themselves.

Every expected value here is computed by the library on the same inputs: keras 3 on its torch
backend (``keras.optimizers.SGD`` with ``clipnorm``, ``global_clipnorm`` or ``clipvalue``, one
optimizer step) and optax on jax's CPU backend (``optax.clip``, ``optax.clip_by_global_norm``,
``optax.adaptive_grad_clip`` applied with ``.update(grads, state, params)`` as written, and
the same call under ``jax.jit``; ``optax.transforms.unitwise_norm`` for AGC's units). No
formula of either library is copied into this file. Both are installed by the project's
``test`` extra.

keras is reproduced bit for bit, float32 and float64 gradients alike. So is optax wherever it
keeps or wipes the gradients (a global norm below the threshold, inf and NaN entries) and on
optax's own AGC test case. Where optax scales them (clip_by_global_norm's clipping branch, AGC
on random arrays) there is no one bit-exact reference to meet: optax itself gives different
bits for the same inputs eagerly and under jax.jit (eagerly XLA computes g / norm as
g * (1 / norm); jitted it divides, and its fused reductions may sum the squares in another
order, so the norm can differ by an ulp). Those cases are compared with both, within
OPTAX_ULPS units in the last place, and test_optax_eager_and_jit_disagree shows an input on
which the two differ.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from types import ModuleType

import numpy as np
import pytest
import torch

from explorer.core.clip import clip_gradients


def _import_libraries() -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """keras on its torch backend, and optax with jax on the CPU.

    keras reads KERAS_BACKEND when it is first imported, and it imports jax when jax is
    installed, so both variables are set before that import, here rather than in a conftest,
    so that the module works whatever runs first. KERAS_HOME is a fresh directory: keras writes
    its keras.json there, not into ~/.keras, and no user's keras.json applies. If keras was
    imported earlier in the process with another backend, this fails rather than test that.
    """
    os.environ["KERAS_BACKEND"] = "torch"
    os.environ["KERAS_HOME"] = tempfile.mkdtemp(prefix="explorer-tests-keras-")
    os.environ["JAX_PLATFORMS"] = "cpu"  # no probing for accelerators: the CPU client only
    import jax
    import keras
    import optax
    import optax.transforms

    if keras.backend.backend() != "torch":
        raise RuntimeError(
            f"keras was imported with the {keras.backend.backend()!r} backend before this"
            " module: its keras semantics are checked on the torch backend"
        )
    return keras, jax, optax, optax.transforms


keras, jax, optax, optax_transforms = _import_libraries()

SHAPES = ((3, 4), (5,), (2, 3, 2))
THRESHOLDS = (1e-2, 1.0, 30.0, 1e4)
DTYPES = (np.float32, np.float64)
KERAS_OPTIONS = {"norm": "clipnorm", "global_norm": "global_clipnorm", "value": "clipvalue"}
# Where optax scales gradients, clip.py's bits may differ from optax's (eager or jitted, which
# differ from each other) by this many units in the last place of optax's value: a norm an ulp
# apart (another summation order), the reciprocal eager optax rounds and the division and product
# each side rounds. The largest seen, over 4000 global-norm and 1300 AGC cases of each dtype
# (units of up to 1000 entries), each against eager and jitted optax, was 4 (global norm) and
# 6 (AGC, float32, jitted, shapes 3x3x16x32 and 64x128).
OPTAX_ULPS = 8


# -- the libraries' own calls -----------------------------------------------------------------


def _keras_sgd_step(grads: list[np.ndarray], **clipping: float) -> list[np.ndarray]:
    """The gradients keras.optimizers.SGD(learning_rate=1.0, **clipping) applies in one step.

    Variables of the gradients' dtype start at zero, so the step leaves 0 + (-1) * clipped in
    them, which is -clipped exactly (inf, NaN and all); negating that gives keras' clipped
    gradients. Only the sign of a zero is lost (0 + -0 is +0), which np.array_equal ignores.
    """
    variables = [keras.Variable(np.zeros_like(grad), dtype=grad.dtype.name) for grad in grads]
    optimizer = keras.optimizers.SGD(learning_rate=1.0, **clipping)
    optimizer.apply([torch.from_numpy(grad.copy()) for grad in grads], variables)
    return [-variable.value.detach().numpy() for variable in variables]


@contextlib.contextmanager
def _jax_x64(enabled: bool) -> Iterator[None]:
    """jax with 64-bit arrays for float64 inputs (without it jax would make them float32, with a
    warning), restored afterwards."""
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", enabled)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def _optax_update(
    transform: object,
    grads: list[np.ndarray],
    params: list[np.ndarray] | None = None,
    *,
    jit: bool = False,
) -> list[np.ndarray]:
    """transform.update(grads, transform.init(...), params), on jax arrays of the inputs' dtype,
    returned as numpy arrays; with ``jit`` the update runs under jax.jit."""
    with _jax_x64(any(grad.dtype == np.float64 for grad in grads)):
        updates = [jax.numpy.asarray(grad) for grad in grads]
        weights = None if params is None else [jax.numpy.asarray(param) for param in params]
        state = transform.init(updates if weights is None else weights)

        def update(updates: object, weights: object) -> object:
            return transform.update(updates, state, weights)[0]

        clipped = (jax.jit(update) if jit else update)(updates, weights)
        return [np.asarray(array) for array in clipped]


def _optax_both(
    transform: object, grads: list[np.ndarray], params: list[np.ndarray] | None = None
) -> dict[str, list[np.ndarray]]:
    """The transform's gradients eagerly and under jax.jit, by name."""
    return {
        "eager": _optax_update(transform, grads, params),
        "jit": _optax_update(transform, grads, params, jit=True),
    }


def _optax_unitwise_norm(array: np.ndarray) -> np.ndarray:
    """optax.transforms.unitwise_norm(array) with axis=None (the rule by rank)."""
    with _jax_x64(array.dtype == np.float64):
        return np.asarray(optax_transforms.unitwise_norm(jax.numpy.asarray(array)))


# -- comparisons --------------------------------------------------------------------------------


def _assert_same_layout(got: tuple[np.ndarray, ...], expected: list[np.ndarray]) -> None:
    """The same count of arrays, with the same dtypes and shapes, and NaN in the same places."""
    assert len(got) == len(expected)
    for array, want in zip(got, expected, strict=True):
        assert array.dtype == want.dtype
        assert array.shape == want.shape
        assert np.array_equal(np.isnan(array), np.isnan(want))


def _assert_library_equal(
    got: tuple[np.ndarray, ...], expected: list[np.ndarray], context: object = ""
) -> None:
    """The library's gradients, bit for bit: dtypes, shapes and np.array_equal (NaN in the same
    places; the sign of a zero aside, see _keras_sgd_step)."""
    _assert_same_layout(got, expected)
    for array, want in zip(got, expected, strict=True):
        assert np.array_equal(array, want, equal_nan=True), (
            f"clip.py gave {array.tolist()}, the library {want.tolist()} {context}"
        )


def _assert_within_ulps(
    got: tuple[np.ndarray, ...], expected: list[np.ndarray], context: object = ""
) -> None:
    """The library's gradients to OPTAX_ULPS units in the last place of each expected entry:
    same dtypes and shapes, NaN in the same places, inf equal to inf of its sign, and every
    finite entry within OPTAX_ULPS * spacing(|expected|) (in the arrays' dtype)."""
    _assert_same_layout(got, expected)
    for array, want in zip(got, expected, strict=True):
        finite = np.isfinite(want)
        infinite = np.isinf(want)
        assert np.array_equal(array[infinite], want[infinite])
        spacing = np.spacing(np.abs(want[finite])).astype(np.float64)
        error = np.abs(array[finite].astype(np.float64) - want[finite].astype(np.float64))
        worst = float(np.max(error / spacing)) if error.size else 0.0
        assert np.all(error <= OPTAX_ULPS * spacing), (
            f"clip.py is {worst} ulps from the library (at most {OPTAX_ULPS}) {context}"
        )


def _random_grads(seed: int, dtype: type, special: str | None = None) -> list[np.ndarray]:
    """Three arrays of SHAPES, each at its own scale in 1e-3..1e3; ``special`` puts -inf or NaN
    into the second, or makes the second all zeros."""
    rng = np.random.default_rng(seed)
    grads = [rng.standard_normal(shape) * 10.0 ** rng.uniform(-3.0, 3.0) for shape in SHAPES]
    grads = [grad.astype(dtype) for grad in grads]
    if special == "inf":
        grads[1][2] = -math.inf
    elif special == "nan":
        grads[1][2] = math.nan
    elif special == "zero":
        grads[1][:] = 0.0
    return grads


def _thresholds(grads: list[np.ndarray], semantics: str) -> list[float]:
    """THRESHOLDS, and thresholds exactly at the semantics' own global norm of the gradients, at
    each array's own norm (keras clipnorm's) and at the largest |entry| (clipvalue's), where
    those are finite and positive."""
    at = [
        clip_gradients(grads, "global_norm", 1.0, semantics).norm_before,
        *(clip_gradients([grad], "global_norm", 1.0, semantics).norm_before for grad in grads),
        float(max(np.max(np.abs(grad)) for grad in grads)),
    ]
    return [*THRESHOLDS, *(value for value in at if math.isfinite(value) and value > 0)]


# -- keras ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", list(KERAS_OPTIONS))
def test_keras_equals_the_keras_optimizer(method, dtype) -> None:
    """The gradients keras.optimizers.SGD applies with clipnorm (each variable alone),
    global_clipnorm or clipvalue, bit for bit, for float32 gradients (keras' floatx) and float64
    ones (which keras clips through float32: its result_type of float64 and a Python float is
    float32), below, at and above the threshold (at the global norm, at each variable's norm, at
    the largest entry), with -inf, NaN or an all-zero variable; three seeds. Expected values:
    keras itself (torch backend)."""
    flags = set()
    for seed in range(3):
        for special in (None, "inf", "nan", "zero"):
            grads = _random_grads(seed, dtype, special)
            for threshold in _thresholds(grads, "keras"):
                expected = _keras_sgd_step(grads, **{KERAS_OPTIONS[method]: threshold})
                result = clip_gradients(grads, method, threshold, "keras")
                _assert_library_equal(result.grads, expected, (seed, special, threshold))
                flags.add(result.clipped)
    assert flags == {False, True}  # some cases below the threshold, some clipped


@pytest.mark.parametrize("method", list(KERAS_OPTIONS))
def test_keras_float64_rounds_the_threshold_through_float32(method) -> None:
    """keras clips float64 gradients through float32, and clip_gradients does too: with
    c = 0.1 (not a float32 number; float32(0.1) = 0.100000001490116...), clipvalue clips 1.0 to
    float64(float32(0.1)), not to 0.1; clipnorm gives 3 * float32(0.1) / float32(5) for the 3 of
    [3, 4] (norm 5); global_clipnorm multiplies by float32(0.1) * float32(1 / 5) (a float32
    product), widened. Expected values: keras' SGD itself, bit for bit, and these closed forms."""
    c = 0.1
    c32 = float(np.float32(c))
    scale32 = float(np.float32(c32) * np.float32(1.0 / 5.0))  # a float32 product
    grads = [np.array([1.0, -1.0])] if method == "value" else [np.array([3.0, 4.0])]
    closed = {
        "value": ([c32, -c32], [c, -c]),
        "norm": ([3.0 * c32 / 5.0, 4.0 * c32 / 5.0], [3.0 * c / 5.0, 4.0 * c / 5.0]),
        "global_norm": ([3.0 * scale32, 4.0 * scale32], [3.0 * (c / 5.0), 4.0 * (c / 5.0)]),
    }
    keras_rounding, float64_only = closed[method]
    result = clip_gradients(grads, method, c, "keras")
    expected = _keras_sgd_step(grads, **{KERAS_OPTIONS[method]: c})
    _assert_library_equal(result.grads, expected)
    assert result.grads[0].tolist() == keras_rounding
    assert result.grads[0].tolist() != float64_only  # what clipping in float64 alone would give


@pytest.mark.parametrize("dtype", DTYPES)
def test_below_the_threshold_keras_clipnorm_may_change_the_last_bit(dtype) -> None:
    """Below the threshold optax returns the gradients as they are (bit for bit), while keras'
    clipnorm always divides, g * c / max(||g||, c), which can change the last bit. The example
    is searched for with keras itself: a g with ||g|| < c whose keras-clipped value differs from
    g; clip_gradients gives keras' value (and says it did not clip) and optax's, which is g.
    c = 3.75 is a float32 number, so keras' rounding of a float threshold through float32 (see
    test_keras_float64_rounds_the_threshold_through_float32) plays no part here."""
    rng = np.random.default_rng(7)
    c = 3.75
    for _ in range(1000):
        g = (rng.standard_normal(3) * 0.1).astype(dtype)  # ||g|| well below c
        keras_grad = _keras_sgd_step([g], clipnorm=c)[0]
        if not np.array_equal(keras_grad, g):
            break
    else:
        pytest.fail(f"no {dtype.__name__} example where keras' clipnorm changes g below c")
    assert np.linalg.norm(g) < c
    keras_result = clip_gradients([g], "norm", c, "keras")
    _assert_library_equal(keras_result.grads, [keras_grad])
    assert not np.array_equal(keras_result.grads[0], g)
    assert not keras_result.clipped
    optax_grad = _optax_update(optax.clip_by_global_norm(c), [g])
    assert np.array_equal(optax_grad[0], g)
    optax_result = clip_gradients([g], "global_norm", c, "optax")
    _assert_library_equal(optax_result.grads, optax_grad)
    assert not optax_result.clipped


NORM_AT_THRESHOLD_CASES = [
    (semantics, method, dtype)
    for semantics, method in (("keras", "global_norm"), ("keras", "norm"), ("optax", "global_norm"))
    for dtype in DTYPES
]


@pytest.mark.parametrize(("semantics", "method", "dtype"), NORM_AT_THRESHOLD_CASES)
def test_norm_exactly_at_the_threshold(semantics, method, dtype) -> None:
    """||[3, 4]|| = 5 exactly, threshold 5. keras global_clipnorm multiplies by its scale, which
    is 1 here, and clipnorm divides by max(5, 5): neither counts as clipping (norm <= c); optax's
    clip_by_global_norm keeps the gradients only for norm < t, so at t it applies its
    clipping branch, (g / 5) * 5. Expected values: keras' SGD, bit for bit, and
    optax.clip_by_global_norm, eager and jitted, which differ from each other in float64
    (test_optax_eager_and_jit_disagree): clip.py's [3, 4] equals the jitted result and is within
    OPTAX_ULPS of both (the eager 3 is one ulp off)."""
    grads = [np.array([3.0, 4.0], dtype=dtype)]
    result = clip_gradients(grads, method, 5.0, semantics)
    assert result.norm_before == 5.0
    if semantics == "keras":
        expected = _keras_sgd_step(grads, **{KERAS_OPTIONS[method]: 5.0})
        assert not result.clipped
        if method == "global_norm":  # the one multiplier keras applied
            assert result.coefficient == float(expected[0][1] / grads[0][1])
        np.testing.assert_allclose(expected[0], [3.0, 4.0], rtol=1e-15)
        _assert_library_equal(result.grads, expected)
        return
    assert result.clipped
    assert result.grads[0].tolist() == [3.0, 4.0]
    for how, expected in _optax_both(optax.clip_by_global_norm(5.0), grads).items():
        np.testing.assert_allclose(expected[0], [3.0, 4.0], rtol=1e-15)
        _assert_within_ulps(result.grads, expected, how)


# -- optax ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("special", [None, "inf", "nan", "zero"])
def test_optax_clip_equals_optax(special, dtype) -> None:
    """method value, optax semantics: optax.clip(t).update(grads, state) bit for bit (inf
    clamped to -t, NaN kept), at every threshold of _thresholds. Expected values: optax."""
    for seed in range(3):
        grads = _random_grads(seed, dtype, special)
        for threshold in _thresholds(grads, "optax"):
            result = clip_gradients(grads, "value", threshold, "optax")
            for how, expected in _optax_both(optax.clip(threshold), grads).items():
                _assert_library_equal(result.grads, expected, (how, seed, threshold))


@pytest.mark.parametrize("dtype", DTYPES)
def test_optax_global_norm_unclipped_and_nonfinite_equal_optax(dtype) -> None:
    """method global_norm, optax semantics, where clip_by_global_norm keeps or wipes the
    gradients: a norm below the threshold (1% below and less: untouched, bit for bit; nearer,
    XLA's and torch's sums may round to either side) and an inf or NaN entry at
    every threshold (inf: finite entries 0, the inf NaN; NaN: all NaN). Expected values:
    optax.clip_by_global_norm(t).update(grads, state) itself, eager and jitted, bit for bit."""
    for seed in range(3):
        for special in (None, "zero"):
            grads = _random_grads(seed, dtype, special)
            norm = clip_gradients(grads, "global_norm", 1.0, "optax").norm_before
            for threshold in (1.01 * norm, 2.0 * norm, 1e30):
                result = clip_gradients(grads, "global_norm", threshold, "optax")
                for how, expected in _optax_both(
                    optax.clip_by_global_norm(threshold), grads
                ).items():
                    _assert_library_equal(result.grads, expected, (how, seed, threshold))
                    _assert_library_equal(tuple(expected), grads)
                assert not result.clipped
        for special in ("inf", "nan"):
            grads = _random_grads(seed, dtype, special)
            for threshold in THRESHOLDS:
                result = clip_gradients(grads, "global_norm", threshold, "optax")
                for how, expected in _optax_both(
                    optax.clip_by_global_norm(threshold), grads
                ).items():
                    _assert_library_equal(result.grads, expected, (how, seed, threshold))
                assert result.clipped


@pytest.mark.parametrize("dtype", DTYPES)
def test_optax_global_norm_clipping_equals_optax(dtype) -> None:
    """method global_norm, optax semantics, where clip_by_global_norm clips (norm >= t), at and
    below the global norm: within OPTAX_ULPS units in the last place of optax itself, eager and
    jitted. Not bit for bit, because there is no one bit-exact reference: eager optax on jax's
    CPU backend computes (g / norm) * t as (g * (1 / norm)) * t, jitted optax divides, and the
    jitted norm can differ from the eager one by an ulp (as both can from torch's sum, which
    clip.py uses, and whose order neither shares); eager and jitted results differ from each
    other in most of these cases."""
    for seed in range(3):
        for special in (None, "zero"):
            grads = _random_grads(seed, dtype, special)
            norm = clip_gradients(grads, "global_norm", 1.0, "optax").norm_before
            for threshold in (norm, 0.5 * norm, 1e-2 * norm):
                result = clip_gradients(grads, "global_norm", threshold, "optax")
                for how, expected in _optax_both(
                    optax.clip_by_global_norm(threshold), grads
                ).items():
                    _assert_within_ulps(result.grads, expected, (how, seed, special, threshold))
                assert result.clipped


def test_optax_eager_and_jit_disagree() -> None:
    """Why the optax clipping tests have a tolerance: optax.clip_by_global_norm(5) on the float64
    [3, 4] (norm 5, so it clips) gives [3.0000000000000004, 4.0] eagerly (3 * (1 / 5) * 5) and
    [3.0, 4.0] under jax.jit ((3 / 5) * 5); no emulation can equal both. clip_gradients gives
    [3.0, 4.0]. Expected values: optax itself."""
    grads = [np.array([3.0, 4.0])]
    outputs = _optax_both(optax.clip_by_global_norm(5.0), grads)
    assert outputs["eager"][0].tolist() == [3.0000000000000004, 4.0]
    assert outputs["jit"][0].tolist() == [3.0, 4.0]
    assert clip_gradients(grads, "global_norm", 5.0, "optax").grads[0].tolist() == [3.0, 4.0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite_gradients_equal_keras_and_optax(dtype) -> None:
    """inf and NaN entries, every keras and optax call clip.py reproduces, bit for bit.
    Expected values: the libraries. With [inf, 1], [2] and a threshold of 1: keras
    global_clipnorm's scale is NaN (all NaN), clipnorm gives [NaN, 0] and [1], clipvalue clamps
    inf to 1; optax's global norm is inf, so (g / inf) * t: 0 for finite entries, NaN for inf;
    AGC (unit weights) makes the unit holding inf [NaN, 0]. A NaN entry makes keras' global scale
    and optax's global norm NaN (every gradient NaN) and the unit holding it NaN. optax eager and
    jitted alike."""
    with_inf = [np.array([math.inf, 1.0], dtype=dtype), np.array([2.0], dtype=dtype)]
    with_nan = [np.array([math.nan, 1.0], dtype=dtype), np.array([2.0], dtype=dtype)]
    for grads in (with_inf, with_nan):
        for method, option in KERAS_OPTIONS.items():
            result = clip_gradients(grads, method, 1.0, "keras")
            _assert_library_equal(result.grads, _keras_sgd_step(grads, **{option: 1.0}))
        calls = {
            "global_norm": optax.clip_by_global_norm(1.0),
            "value": optax.clip(1.0),
            "agc": optax.adaptive_grad_clip(1.0),
        }
        weights = [np.ones_like(grad) for grad in grads]
        for method, transform in calls.items():
            result = clip_gradients(grads, method, 1.0, "optax", params=weights)
            for how, expected in _optax_both(transform, grads, weights).items():
                _assert_library_equal(result.grads, expected, (how, method))
        assert clip_gradients(grads, "global_norm", 1.0, "optax").clipped  # inf or NaN >= t


@pytest.mark.parametrize("dtype", DTYPES)
def test_agc_optax_equals_optax_test_case(dtype) -> None:
    """optax's own case (test_adaptive_grad_clip in optax/transforms/_clipping_test.py, "simple
    2D tensor case"): grads [[1, 2], [3, 4]], params ones_like, clipping 1.0; optax asserts the
    clipped unitwise norms are at most 1.0 times the params' + 1e-6. The units are the columns
    of this (in, out) array: param norms sqrt(2), grad norms sqrt(10) and sqrt(20), both above,
    so column j becomes g_j * sqrt(2) / ||g_j||. Expected values: optax.adaptive_grad_clip
    itself, eager and jitted (bit for bit), the closed forms, and optax's check with optax's
    unitwise_norm. timm's rule (torch semantics), on rows, differs."""
    grads = [np.array([[1.0, 2.0], [3.0, 4.0]], dtype=dtype)]
    params = [np.ones_like(grads[0])]
    result = clip_gradients(grads, "agc", 1.0, "optax", params=params)
    for how, expected in _optax_both(optax.adaptive_grad_clip(1.0), grads, params).items():
        _assert_library_equal(result.grads, expected, how)
    columns = np.array([math.sqrt(2.0 / 10.0), math.sqrt(2.0 / 20.0)])
    rtol = 1e-6 if dtype == np.float32 else 1e-15
    np.testing.assert_allclose(result.grads[0], grads[0] * columns, rtol=rtol)
    clipped_norm = _optax_unitwise_norm(result.grads[0])
    assert np.all(clipped_norm <= 1.0 * _optax_unitwise_norm(params[0]) + 1e-6)  # optax's check
    assert result.clipped
    rows = clip_gradients(grads, "agc", 1.0, "torch", params=params)
    assert not np.allclose(rows.grads[0], result.grads[0])


OPTAX_SHAPES = [
    (),
    (5,),
    (1, 5),
    (5, 1),
    (4, 3),
    (2, 3, 4),
    (3, 1, 1, 4),
    (3, 3, 2, 4),
    (2, 2, 2, 3, 4),
    (1, 1, 1, 1, 1, 1, 3),
    (3, 3, 16, 32),  # a convolution kernel's size: many terms in each unit's sum
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", OPTAX_SHAPES)
def test_agc_optax_units_follow_optax_unitwise_norm(shape, dtype) -> None:
    """optax's units by rank, 0-D to 5-D: the whole array for 0-d, 1-d and arrays with at most
    one dimension of size > 1 (even of rank 7), axis 0 for 2-D and 3-D, axes (0, 1, 2) for 4-D,
    (0, 1, 2, 3) for 5-D. Random gradients, weights with one dead unit (zeros: its norm is
    floored at eps = 1e-3), clip factors that clip none, some and all units. Expected values:
    optax.adaptive_grad_clip itself, eager and jitted, same dtype and shape; values within
    OPTAX_ULPS units in the last place, not bit for bit: XLA sums each unit's squares in its own
    order, which is not torch's and which differs between eager and jitted optax (so their
    results differ from each other too), and a unit's norm an ulp apart moves its clipped
    entries by a few ulps. Also the bound clipping * max(p_norm, eps) on optax's unitwise_norm
    of the result."""
    rng = np.random.default_rng(5)
    grad = rng.standard_normal(shape).astype(dtype)
    weight = rng.standard_normal(shape) * rng.uniform(0.1, 10.0, size=shape[-1:])
    weight = np.asarray(weight, dtype=dtype)
    if weight.ndim >= 2 and np.squeeze(weight).ndim >= 2:
        weight[..., 0] = 0.0
    for factor in (1e-4, 0.3, 1.0, 3.0, 1e4):
        result = clip_gradients([grad], "agc", factor, "optax", params=[weight])
        transform = optax.adaptive_grad_clip(factor)
        for how, expected in _optax_both(transform, [grad], [weight]).items():
            _assert_within_ulps(result.grads, expected, (how, factor))
        bound = factor * np.maximum(_optax_unitwise_norm(weight), 1e-3)
        slack = 1 + OPTAX_ULPS * float(np.finfo(dtype).eps)
        assert np.all(_optax_unitwise_norm(result.grads[0]) <= bound * slack)


@pytest.mark.parametrize("shape", [(2, 2, 2, 2, 2, 2), (1, 2, 1, 2, 1, 2, 2)])
def test_agc_optax_refuses_the_ranks_optax_refuses(shape) -> None:
    """optax's unitwise_norm raises ValueError for an array with more than one dimension of
    size > 1 and a rank other than 2 to 5 (optax 0.2.7 and later take rank 5, Conv3D kernels),
    and so does adaptive_grad_clip's update. clip_gradients raises ValueError naming grads and
    params; timm's AGC (torch semantics) takes any rank. Expected: optax itself raises."""
    grad = np.ones(shape)
    with pytest.raises(ValueError, match="shape"):
        _optax_unitwise_norm(grad)
    with pytest.raises(ValueError, match="shape"):
        _optax_update(optax.adaptive_grad_clip(1.0), [grad], [grad])
    with pytest.raises(ValueError, match="grads and params"):
        clip_gradients([grad], "agc", 1.0, "optax", params=[grad])
    assert clip_gradients([grad], "agc", 1.0, "torch", params=[grad]).grads[0].shape == shape
