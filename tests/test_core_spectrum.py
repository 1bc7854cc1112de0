"""explorer.core.jacobian_spectrum and log10_product_spectrum against 400-digit mpmath arithmetic,
Saxe et al. (2013) and the exact Lyapunov exponents of products of gaussian matrices."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from explorer.core import NETWORKS, jacobian_spectrum
from explorer.core.linalg import (
    log10_product_singular_values,
    log10_product_spectrum,
    spectral_norms,
)
from explorer.core.rnn import rnn_jacobians, rnn_network


def _mp_log10_singular_values(stack: np.ndarray, dps: int = 400) -> np.ndarray:
    """log10 singular values, largest first, of stack[-1] @ ... @ stack[0] in dps-digit
    arithmetic (float64 entries convert to mpf exactly): the reference, exact to far below 1e-11
    for spreads of a few hundred decades."""
    with mpmath.workdps(dps):
        product = mpmath.eye(stack.shape[-1])
        for factor in stack:
            product = mpmath.matrix(factor.tolist()) * product
        singular = mpmath.svd_r(product, compute_uv=False)
        logs = [float(mpmath.log10(s)) if s > 0 else -math.inf for s in singular]
    return np.sort(np.array(logs))[::-1]


def _naive_log10_singular_values(stack: np.ndarray) -> np.ndarray:
    """The plain float64 product and numpy's SVD: what the careful method is there to beat."""
    product = np.eye(stack.shape[-1])
    for factor in stack:
        product = factor @ product
    with np.errstate(divide="ignore"):
        return np.log10(np.linalg.svd(product, compute_uv=False))


def _ours(stack: np.ndarray) -> np.ndarray:
    return log10_product_spectrum(torch.from_numpy(stack))


def _gaussian(count: int, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((count, n, n)) / math.sqrt(n)


@pytest.mark.parametrize(
    "stack",
    [
        pytest.param(_gaussian(60, 6, 1), id="gaussian-60x6"),
        pytest.param(np.tanh(1.5 * _gaussian(60, 6, 2) * math.sqrt(6)), id="tanh-squashed-60x6"),
        pytest.param(_gaussian(25, 8, 3) * 2.0, id="gaussian-scale2-25x8"),
    ],
)
def test_every_singular_value_matches_400_digit_arithmetic(stack: np.ndarray) -> None:
    """Every log10 singular value within 1e-11 of mpmath at 400 digits."""
    reference = _mp_log10_singular_values(stack)
    np.testing.assert_allclose(_ours(stack), reference, rtol=0, atol=1e-11)


def test_spread_beyond_float64_where_the_naive_product_fails() -> None:
    """200 gaussian 8x8 factors spread the singular values over more than 100 decades (about 0.7
    per factor, from the Lyapunov exponents below). A float64 product keeps only the ~16 decades
    below its largest singular value, so numpy's SVD of it gets the small ones wrong by tens of
    decades; the QR/Jacobi method gets every one to 1e-11 in log10."""
    stack = _gaussian(200, 8, 4)
    reference = _mp_log10_singular_values(stack)
    assert reference[0] - reference[-1] > 100
    naive = _naive_log10_singular_values(stack)
    assert abs(naive[0] - reference[0]) < 1e-10  # the largest is fine either way
    assert np.max(np.abs(naive - reference)) > 50  # the smallest are noise
    np.testing.assert_allclose(_ours(stack), reference, rtol=0, atol=1e-11)


@pytest.mark.parametrize("stack", [_gaussian(60, 6, 5), _gaussian(200, 8, 6)])
def test_cheap_method_gets_the_largest_singular_value(stack: np.ndarray) -> None:
    """log10_product_singular_values (running product, rescaled) is exact for the largest
    singular value: it agrees with mpmath and with log10_product_spectrum there."""
    reference = _mp_log10_singular_values(stack)
    cheap = log10_product_singular_values(torch.from_numpy(stack))
    assert cheap[0] == pytest.approx(reference[0], abs=1e-11)
    assert cheap[0] == pytest.approx(_ours(stack)[0], abs=1e-11)


def test_a_lost_direction_gives_minus_infinity() -> None:
    """A factor with a zero (last) row maps a direction to exactly zero: the product has rank
    n - 1, its smallest singular value is 0 (at 400 digits: hundreds of decades below the
    largest), and log10 gives -inf; the other singular values are unaffected."""
    stack = _gaussian(60, 6, 7)
    stack[30, -1, :] = 0.0
    reference = _mp_log10_singular_values(stack)
    assert reference[-1] < reference[0] - 300
    ours = _ours(stack)
    assert ours[-1] == -math.inf
    np.testing.assert_allclose(ours[:-1], reference[:-1], rtol=0, atol=1e-11)


@pytest.mark.parametrize("where", ["first row", "middle column"])
def test_a_zero_row_or_column_anywhere_gives_minus_infinity(where: str) -> None:
    """The docstring's promise ("a direction the product maps to zero gives -inf") for a 4x4
    factor with a zero row or column: rank 3, so the smallest singular value is exactly 0, and the
    other three are those of the product (checked with mpmath)."""
    stack = np.random.default_rng(0).standard_normal((3, 4, 4))
    if where == "first row":
        stack[1, 0, :] = 0.0
    else:
        stack[1, :, 2] = 0.0
    ours = _ours(stack)
    assert ours[-1] == -math.inf
    np.testing.assert_allclose(ours[:-1], _mp_log10_singular_values(stack)[:-1], atol=1e-11)


def test_relu_recurrent_spectrum_reports_exact_zeros() -> None:
    """A ReLU step Jacobian has zero rows where a unit is off (here up to 4 of 6 in one step):
    the product has that many zero singular values. At 300 digits mpmath puts them at 10^-300
    or below, i.e. zero; ours are -inf, and the nonzero ones agree to 1e-11."""
    result = jacobian_spectrum("recurrent", 12, 6, 1.5, "gaussian", "relu", 1)
    jacobians = rnn_jacobians(12, 6, 1.5, "gaussian", "relu", "rnn", 1.0, 1).numpy()
    reference = _mp_log10_singular_values(jacobians)
    zeros = reference < -250
    assert zeros.sum() == 4
    values = result.log10_singular_values
    np.testing.assert_array_equal(np.isneginf(values), zeros)
    np.testing.assert_allclose(values[~zeros], reference[~zeros], rtol=0, atol=1e-11)
    assert result.lost_directions == 4
    assert result.log10_spread == pytest.approx(reference[0] - reference[~zeros][-1], abs=1e-11)


def test_nonfinite_factor_gives_nan() -> None:
    """As documented: inf or NaN anywhere gives NaN for every singular value."""
    stack = _gaussian(5, 3, 8)
    stack[2, 1, 1] = math.inf
    assert np.isnan(_ours(stack)).all()


@pytest.mark.parametrize("network", NETWORKS)
@pytest.mark.parametrize("init", ["orthogonal", "identity"])
def test_orthogonal_and_identity_linear_networks_are_isometries_up_to_scale(
    network: str, init: str
) -> None:
    """W = s Q (Q orthogonal, or the identity), linear: the end-to-end Jacobian is s^L times an
    orthogonal matrix, so every singular value is s^L (Saxe, McClelland and Ganguli 2013).
    1.1^300 = 2.6e12, log10 = 300 log10(1.1) = 12.42."""
    length, scale = 300, 1.1
    result = jacobian_spectrum(network, length, 16, scale, init, "linear", seed=3)
    expected = length * math.log10(scale)
    assert result.log10_reference == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(result.log10_singular_values, expected, rtol=0, atol=1e-12)
    assert result.log10_spread < 1e-12
    assert result.fraction_within(1e-9) == 1.0


def _lyapunov(n: int, i: int) -> float:
    """Lyapunov exponent i (natural log per factor) of products of n x n matrices with N(0, 1/n)
    entries (Newman 1986; Cohen and Newman 1984): (ln(2/n) + digamma((n-i+1)/2)) / 2."""
    return 0.5 * (math.log(2.0 / n) + float(mpmath.digamma((n - i + 1) / 2)))


def _trigamma_std(n: int, i: int, length: int) -> float:
    """Standard deviation (log10) of ln sigma_i over ``length`` gaussian factors: in the QR
    picture ln sigma_i is a sum of independent ln R_ii with R_ii^2 ~ chi^2_(n-i+1) / n (rotation
    invariance), each of variance trigamma((n-i+1)/2) / 4."""
    return math.sqrt(length * float(mpmath.psi(1, (n - i + 1) / 2)) / 4) / math.log(10.0)


def test_gaussian_deep_network_spreads_as_the_lyapunov_exponents_say() -> None:
    """Independent gaussian W_l ~ N(0, 1/n), linear, L = 2000, n = 8: log10 sigma_i / L approaches
    lambda_i / ln 10 for every i. Tolerance: five standard deviations (above) plus 5 decades for
    the O(1) difference between ln sigma_i and the QR sum, both divided by L."""
    length, n = 2000, 8
    result = jacobian_spectrum("deep", length, n, 1.0, "gaussian", "linear", seed=1)
    for i in range(1, n + 1):
        expected = _lyapunov(n, i) / math.log(10.0)
        tolerance = (5 * _trigamma_std(n, i, length) + 5) / length
        measured = result.log10_singular_values[i - 1] / length
        assert measured == pytest.approx(expected, abs=tolerance), i


def test_gaussian_deep_network_at_the_orthogonal_scale_spreads_over_many_decades() -> None:
    """The same scale 1.1 and length 300 as the isometric networks, gaussian instead: the spread
    grows like L (lambda_1 - lambda_n) / ln 10, 0.70 decades per factor at n = 8, 210 decades
    over 300 factors; its standard deviation is about 9 decades, so 80% of it is a safe floor.
    The largest value sits near L (lambda_1 + ln s) / ln 10, below the s^L reference."""
    length, n, scale = 300, 8, 1.1
    result = jacobian_spectrum("deep", length, n, scale, "gaussian", "linear", seed=2)
    theory = length * (_lyapunov(n, 1) - _lyapunov(n, n)) / math.log(10.0)
    assert theory > 200
    assert result.log10_spread > 0.8 * theory
    values = result.log10_singular_values
    assert result.log10_spread == values[0] - values[-1]
    top = length * (_lyapunov(n, 1) + math.log(scale)) / math.log(10.0)
    assert values[0] == pytest.approx(top, abs=5 * _trigamma_std(n, 1, length))
    assert result.fraction_within(1.0) < 0.5


@pytest.mark.parametrize(("length", "scale"), [(300, 1.1), (2000, 1.0)])
def test_recurrent_network_follows_the_eigenvalues_of_w(length: int, scale: float) -> None:
    """A linear recurrent network applies the same W at every step, so the end-to-end Jacobian
    is W^T, not a product of independent factors. With W = V diag(mu) V^-1, sigma_i(W^T) lies
    within a factor cond(V) of |mu_i|^T (sigma_i(XYZ) <= ||X|| sigma_i(Y) ||Z||, both ways;
    Yamamoto 1967 for the limit). Eigenvalues from torch.linalg.eig of the rebuilt W."""
    n = 8
    result = jacobian_spectrum("recurrent", length, n, scale, "gaussian", "linear", seed=2)
    weight = rnn_network(length, n, scale, "gaussian", "rnn", "float64", 1.0, 2).weight_hh
    eigenvalues, vectors = torch.linalg.eig(weight)
    moduli = np.sort(np.abs(eigenvalues.numpy()))[::-1]
    slack = math.log10(float(torch.linalg.cond(vectors))) + 1e-9
    assert slack < 3  # a well-conditioned draw, so the check is tight
    deviation = result.log10_singular_values - length * np.log10(moduli)
    assert np.all(np.abs(deviation) <= slack)
    assert result.log10_spread > length * math.log10(moduli[0] / moduli[-1]) - 2 * slack


@pytest.mark.parametrize("decades", [0.5, 1.0, 5.0, 30.0])
def test_fraction_within_counts_values_near_the_reference(decades: float) -> None:
    """fraction_within(d): the share of singular values with |log10 sigma - L log10 s| <= d, and
    log10_reference = L log10 s, as documented; recounted here from the values."""
    result = jacobian_spectrum("deep", 40, 24, 1.3, "gaussian", "tanh", seed=4)
    reference = 40 * math.log10(1.3)
    assert result.log10_reference == pytest.approx(reference, rel=1e-15)
    values = result.log10_singular_values
    assert np.all(np.diff(values) <= 0)  # largest first
    expected = np.count_nonzero(np.abs(values - reference) <= decades) / values.size
    assert result.fraction_within(decades) == expected
    assert result.fraction_within() == result.fraction_within(1.0)


def test_fraction_within_is_between_all_and_none() -> None:
    """A gaussian linear net spreads around s^L: some values are within 5 decades and some not,
    and the share only grows with the window."""
    result = jacobian_spectrum("deep", 100, 16, 1.0, "gaussian", "linear", seed=5)
    shares = [result.fraction_within(d) for d in (0.1, 1.0, 5.0, 20.0, 1000.0)]
    assert shares == sorted(shares)
    assert 0.0 < result.fraction_within(5.0) < 1.0
    assert shares[-1] == 1.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"network": "cnn"}, "network"),
        ({"width": 0}, "width"),
        ({"width": 257}, "width"),
        ({"length": 0}, "length"),
        ({"length": 10_001}, "length"),
        ({"init": "he"}, "init"),
        ({"weight_scale": 0.0}, "weight_scale"),
        ({"weight_scale": math.nan}, "weight_scale"),
        ({"activation": "gelu"}, "activation"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        jacobian_spectrum(**kwargs)


@pytest.mark.parametrize("scale", [1e-200, 1.0, 1e200])
def test_spectral_norms_agree_with_torch_at_any_scale(scale: float) -> None:
    """spectral_norms (largest eigenvalue of J J^T, each J scaled by its largest entry first)
    equals torch.linalg.matrix_norm(J, 2) (a full SVD) to float64 rounding, from 1e-200 to 1e200
    where J J^T itself would underflow or overflow; a zero matrix has norm 0, inf gives NaN."""
    stack = torch.from_numpy(np.random.default_rng(8).standard_normal((6, 9, 9))) * scale
    expected = torch.linalg.matrix_norm(stack, ord=2).numpy()
    np.testing.assert_allclose(spectral_norms(stack), expected, rtol=1e-14)
    stack[0] = 0.0
    stack[1, 2, 3] = math.inf
    norms = spectral_norms(stack)
    assert norms[0] == 0.0
    assert math.isnan(norms[1])
