"""explorer.core.mean_field_chi and phase_diagram against the known critical points of Poole et al.
(2016) and Schoenholz et al. (2017), and against 30-digit mpmath quadrature."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from explorer.core import mean_field_chi, phase_diagram

ROOT_2 = math.sqrt(2.0)


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """phase_diagram's matrices are small (a few hundred rows of 128-256): one thread is as fast
    alone and far faster when the two cores are busy with something else (oversubscription)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("weight_std", [0.1, 0.5, 0.9, 1.0])
def test_tanh_without_bias_is_linear_around_zero(weight_std: float) -> None:
    """tanh, sigma_b = 0, sigma_w <= 1: q -> sigma_w^2 E[tanh(sqrt(q) z)^2] < q for q > 0, so
    q* = 0, where tanh'(0) = 1 and chi_1 = sigma_w^2: critical (chi_1 = 1) at sigma_w = 1
    (Poole et al. 2016; Schoenholz et al. 2017, Fig. 1)."""
    chi, q = mean_field_chi(weight_std, 0.0, "tanh")
    assert q == 0.0
    assert chi == pytest.approx(weight_std**2, rel=1e-15)


def test_tanh_without_bias_is_chaotic_above_one() -> None:
    """sigma_b = 0, sigma_w > 1: a positive fixed point appears and chi_1 > 1 (the chaotic side of
    the sigma_w = 1 transition), with chi_1 -> 1 as sigma_w -> 1 from above."""
    chis, qs = mean_field_chi(np.array([1.01, 1.1, 1.5, 3.0]), 0.0, "tanh")
    assert np.all(qs > 0)
    assert np.all(chis > 1)
    assert np.all(np.diff(chis) > 0)
    assert chis[0] < 1.01**2


@pytest.mark.parametrize("bias_std", [0.0, 0.05, 0.3, 1.0, 2.0])
def test_relu_is_critical_at_root_2_for_every_bias(bias_std: float) -> None:
    """ReLU: E[relu'(sqrt(q) z)^2] = 1/2 for every q > 0, so chi_1 = sigma_w^2 / 2, critical at
    sigma_w = sqrt(2) whatever the bias (He et al. 2015; Schoenholz et al. 2017). Below it the
    variance map q -> sigma_w^2 q / 2 + sigma_b^2 has the fixed point sigma_b^2 / (1 - sigma_w^2/2);
    above it q grows without bound (q* = inf)."""
    weight_stds = np.array([0.5, 1.0, 1.3, ROOT_2, 1.5, 3.0])
    chis, qs = mean_field_chi(weight_stds, bias_std, "relu")
    np.testing.assert_allclose(chis, weight_stds**2 / 2, rtol=1e-15)
    assert mean_field_chi(ROOT_2, bias_std, "relu")[0] == pytest.approx(1.0, rel=1e-15)
    below = weight_stds**2 / 2 < 1
    np.testing.assert_allclose(
        qs[below], bias_std**2 / (1 - weight_stds[below] ** 2 / 2), rtol=1e-14
    )
    assert np.all(np.isinf(qs[weight_stds > ROOT_2]))


@pytest.mark.parametrize("bias_std", [0.0, 0.5])
def test_linear_chi_is_the_weight_variance(bias_std: float) -> None:
    """phi(x) = x: chi_1 = sigma_w^2 (phi' = 1); q* = sigma_b^2 / (1 - sigma_w^2) below 1."""
    weight_stds = np.array([0.25, 0.8, 1.0, 2.0])
    chis, qs = mean_field_chi(weight_stds, bias_std, "linear")
    np.testing.assert_allclose(chis, weight_stds**2, rtol=1e-15)
    np.testing.assert_allclose(qs[:2], bias_std**2 / (1 - weight_stds[:2] ** 2), rtol=1e-14)
    assert np.all(np.isinf(qs[3:]))


MP_PHI = {
    "tanh": (mpmath.tanh, lambda x: mpmath.sech(x) ** 2),
    "sigmoid": (
        lambda x: 1 / (1 + mpmath.exp(-x)),
        lambda x: mpmath.exp(-x) / (1 + mpmath.exp(-x)) ** 2,
    ),
}


def _mp_gaussian_mean(f, q):
    """E[f(sqrt(q) z)], z ~ N(0, 1), by mpmath's tanh-sinh quadrature (folded onto z >= 0)."""
    root = mpmath.sqrt(q)
    integral = mpmath.quad(
        lambda z: (f(root * z) + f(-root * z)) * mpmath.exp(-z * z / 2), [0, mpmath.inf]
    )
    return integral / mpmath.sqrt(2 * mpmath.pi)


def _mp_chi_and_q(activation: str, weight_std: float, bias_std: float) -> tuple[float, float]:
    """(chi_1, q*) at 30 digits: q* the root of sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2 - q by
    mpmath.findroot from sigma_w^2 + sigma_b^2, chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]."""
    phi, slope = MP_PHI[activation]
    with mpmath.workdps(30):
        weight_var, bias_var = mpmath.mpf(weight_std) ** 2, mpmath.mpf(bias_std) ** 2
        q = mpmath.findroot(
            lambda q: weight_var * _mp_gaussian_mean(lambda x: phi(x) ** 2, q) + bias_var - q,
            weight_var + bias_var,
        )
        chi = weight_var * _mp_gaussian_mean(lambda x: slope(x) ** 2, q)
        return float(chi), float(q)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
@pytest.mark.parametrize(("weight_std", "bias_std"), [(3.0, 0.05), (4.0, 1.0), (1.5, 0.3)])
def test_matches_mpmath_quadrature(activation: str, weight_std: float, bias_std: float) -> None:
    """chi_1 and q* within 1e-12 relative of the 30-digit mpmath reference."""
    chi_ref, q_ref = _mp_chi_and_q(activation, weight_std, bias_std)
    chi, q = mean_field_chi(weight_std, bias_std, activation)
    assert chi == pytest.approx(chi_ref, rel=1e-12)
    assert q == pytest.approx(q_ref, rel=1e-12)


def test_arrays_broadcast_and_scalars_give_floats() -> None:
    """weight_std (W,) against bias_std (B, 1) gives (B, W) arrays, element by element what the
    scalar calls give; scalars give Python floats."""
    weight_stds = np.array([0.5, 1.0, 2.0, 3.0])
    bias_stds = np.array([[0.0], [0.3], [1.0]])
    for activation in ("tanh", "relu", "sigmoid", "linear"):
        chis, qs = mean_field_chi(weight_stds, bias_stds, activation)
        assert chis.shape == qs.shape == (3, 4)
        for row, bias_std in enumerate(bias_stds[:, 0]):
            for column, weight_std in enumerate(weight_stds):
                chi, q = mean_field_chi(float(weight_std), float(bias_std), activation)
                assert type(chi) is float
                assert type(q) is float
                assert chis[row, column] == pytest.approx(chi, rel=1e-13)
                # q* is NaN where every q is fixed (chi_1 = 1, no bias: linear at sigma_w = 1)
                assert qs[row, column] == pytest.approx(q, rel=1e-13, nan_ok=True)


def _tanh_critical_weight_std(bias_std: float) -> float:
    """sigma_w with chi_1 = 1 at this sigma_b, by bisection on mean_field_chi over [1, 4]."""
    low, high = 1.0, 4.0
    assert mean_field_chi(low, bias_std, "tanh")[0] < 1 < mean_field_chi(high, bias_std, "tanh")[0]
    for _ in range(42):  # 3 / 2^42 < 1e-12
        middle = 0.5 * (low + high)
        if mean_field_chi(middle, bias_std, "tanh")[0] < 1:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def test_tanh_critical_line_moves_right_with_the_bias() -> None:
    """Schoenholz et al. (2017), Fig. 1: for sigma_b > 0 the order-to-chaos line of tanh is at
    sigma_w > 1 and moves to larger sigma_w as sigma_b grows. The bisection's endpoint is
    checked against the 30-digit reference: chi_1 = 1 there."""
    bias_stds = [0.05, 0.2, 0.5, 1.0]
    critical = [_tanh_critical_weight_std(b) for b in bias_stds]
    assert all(c > 1 for c in critical)
    assert critical == sorted(critical)
    assert critical[0] < critical[-1] - 0.5
    chi_ref, _ = _mp_chi_and_q("tanh", critical[2], 0.5)
    assert chi_ref == pytest.approx(1.0, rel=1e-10)


# Small grids: 16 sigma_w values in [0.25, 4] (step 0.25) by 6 sigma_b values in [0, 1].
WEIGHT_GRID = np.linspace(0.25, 4.0, 16)
BIAS_GRID = np.linspace(0.0, 1.0, 6)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_measured_growth_has_the_sign_of_the_theory(activation: str) -> None:
    """Where the theory is clearly ordered or chaotic (|log10(chi_1) / 2| > 0.02 decades per
    layer), the measured per-layer growth has the same sign. The margin is for finite-width
    fluctuations: at width 128 the mean over 20 layers varies by about 0.01 decades."""
    result = phase_diagram(activation, WEIGHT_GRID, BIAS_GRID, depth=40, width=128, seed=0)
    assert result.log10_growth.shape == result.chi_1.shape == (BIAS_GRID.size, WEIGHT_GRID.size)
    theory = 0.5 * np.log10(result.chi_1)
    np.testing.assert_array_equal(result.theory_log10_growth, theory)
    clear = np.abs(theory) > 0.02
    assert clear.sum() > 0.8 * clear.size
    np.testing.assert_array_equal(np.sign(result.log10_growth[clear]), np.sign(theory[clear]))


@pytest.mark.parametrize(("activation", "critical"), [("tanh", 1.0), ("relu", ROOT_2)])
def test_measured_boundary_without_bias(activation: str, critical: float) -> None:
    """Along sigma_b = 0 the measured growth changes sign once, within one grid step of the
    critical sigma_w: 1 for tanh, sqrt(2) for ReLU (Poole et al. 2016; Schoenholz et al. 2017)."""
    result = phase_diagram(activation, WEIGHT_GRID, np.array([0.0]), depth=40, width=128, seed=1)
    growth = result.log10_growth[0]
    changes = np.flatnonzero(np.diff(np.sign(growth)))
    assert changes.size == 1
    boundary = 0.5 * (WEIGHT_GRID[changes[0]] + WEIGHT_GRID[changes[0] + 1])
    step = WEIGHT_GRID[1] - WEIGHT_GRID[0]
    assert abs(boundary - critical) <= step
    assert growth[0] < 0 < growth[-1]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
def test_measured_growth_agrees_with_the_theory_away_from_the_boundary(activation: str) -> None:
    """Away from the boundary the measured per-layer growth is log10(chi_1) / 2 within 0.03
    decades. The tolerance is for finite width: at width 256 the mean over 40 layers fluctuates by
    about 0.005 decades (0.01 for tanh, whose slopes vary more from unit to unit), and
    E[log ||delta||] sits O(1/n) below log sqrt(E[||delta||^2])."""
    result = phase_diagram(activation, WEIGHT_GRID, BIAS_GRID, depth=80, width=256, seed=2)
    theory = result.theory_log10_growth
    away = np.abs(theory) > 0.02
    np.testing.assert_allclose(result.log10_growth[away], theory[away], rtol=0, atol=0.03)


def test_phase_result_records_its_grid_and_theory() -> None:
    """The result carries the grid it was given and mean_field_chi on it, rows along sigma_b."""
    result = phase_diagram("tanh", WEIGHT_GRID[:5], BIAS_GRID[:3], depth=8, width=16, seed=3)
    np.testing.assert_array_equal(result.weight_stds, WEIGHT_GRID[:5])
    np.testing.assert_array_equal(result.bias_stds, BIAS_GRID[:3])
    chis, qs = mean_field_chi(WEIGHT_GRID[:5][None, :], BIAS_GRID[:3][:, None], "tanh")
    np.testing.assert_array_equal(result.chi_1, chis)
    np.testing.assert_array_equal(result.q_star, qs)
    assert (result.depth, result.width, result.seed) == (8, 16, 3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"weight_std": 1.0, "bias_std": 0.0, "activation": "gelu"}, "activation"),
        ({"weight_std": -1.0, "bias_std": 0.0}, "weight_std"),
        ({"weight_std": np.array([1.0, -1.0]), "bias_std": 0.0}, "weight_std"),
        ({"weight_std": 101.0, "bias_std": 0.0}, "weight_std"),
        ({"weight_std": 1.0, "bias_std": math.nan}, "bias_std"),
        ({"weight_std": 1.0, "bias_std": np.array([0.0, math.inf])}, "bias_std"),
    ],
)
def test_mean_field_bad_arguments_raise_value_error_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        mean_field_chi(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"activation": "gelu"}, "activation"),
        ({"depth": 3}, "depth"),
        ({"depth": 501}, "depth"),
        ({"width": 0}, "width"),
        ({"seed": -1}, "seed"),
        ({"weight_stds": np.array([])}, "weight_stds"),
        ({"weight_stds": np.linspace(0.1, 4.0, 201)}, "weight_stds"),
        ({"weight_stds": np.ones((2, 3))}, "weight_stds"),
        ({"weight_stds": np.array([1.0, -0.5])}, "weight_stds"),
        ({"bias_stds": np.array([])}, "bias_stds"),
        ({"bias_stds": np.zeros(201)}, "bias_stds"),
        ({"bias_stds": np.zeros((3, 1))}, "bias_stds"),
        ({"bias_stds": np.array([math.nan])}, "bias_stds"),
    ],
)
def test_phase_diagram_bad_arguments_raise_value_error_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must"):
        phase_diagram(**{"depth": 8, "width": 8, **kwargs})


def test_std_beyond_the_accurate_range_is_refused() -> None:
    """The quadrature is exact to float64 for q up to ~200 (sigma <= 10); beyond it would be
    silently wrong (at sigma_w = sigma_b = 100 it was off by 36 %), so it is refused."""
    assert np.isfinite(mean_field_chi(10.0, 10.0, "tanh")[0])
    with pytest.raises(ValueError, match=r"weight_std must be a real number in \[0, 10\]"):
        mean_field_chi(10.5, 0.0, "tanh")
    with pytest.raises(ValueError, match="bias_stds"):
        phase_diagram("tanh", bias_stds=np.array([0.0, 11.0]))


def test_a_gradient_that_becomes_zero_grows_by_minus_infinity() -> None:
    """sigma_w = 0: every weight is 0, so the gradient below the output is exactly 0; the
    measured log growth is -inf (not NaN from 0/0), and chi_1 = 0."""
    result = phase_diagram("tanh", np.array([0.0, 1.0]), np.array([0.0, 0.5]), depth=10, width=8)
    assert np.isneginf(result.log10_growth[:, 0]).all()
    assert np.isfinite(result.log10_growth[:, 1]).all()
    assert (result.chi_1[:, 0] == 0).all()
