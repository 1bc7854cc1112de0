"""explorer.core.rnn_gradients against torch autograd on torch's own cells, Pascanu, Mikolov and
Bengio (2013) and the source articles' numbers."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch.func import functional_call, jacrev

from explorer.core import ACTIVATIONS, RNN_INITS, mean_field_chi, rnn_gradients
from explorer.core.rnn import rnn_network

SCALAR = {"hidden_size": 1, "init": "identity", "activation": "linear", "cell": "rnn"}
# every plain-cell activation with every init, then the gated cells (which ignore the activation)
CASES = [("rnn", activation, init) for activation in ACTIVATIONS for init in RNN_INITS] + [
    (cell, "tanh", init) for cell in ("lstm", "gru") for init in RNN_INITS
]
HAND_WRITTEN = {"linear": lambda z: z, "sigmoid": torch.sigmoid}  # torch.nn.RNNCell lacks these

Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, object], object]


def _step(cell: str, activation: str, n: int) -> Step:
    """One time step (weight_hh, weight_ih, x_t, state) -> next state, no bias, in torch's own
    cells where torch has one (the state is (h, c) for the LSTM, h otherwise)."""
    if cell == "lstm":
        module = torch.nn.LSTMCell(n, n, bias=False, dtype=torch.float64)
    elif cell == "gru":
        module = torch.nn.GRUCell(n, n, bias=False, dtype=torch.float64)
    elif activation in ("tanh", "relu"):
        module = torch.nn.RNNCell(n, n, bias=False, nonlinearity=activation, dtype=torch.float64)
    else:
        phi = HAND_WRITTEN[activation]

        def plain(w_hh, w_ih, x, h):
            return phi(x @ w_ih.mT + h @ w_hh.mT)

        return plain

    def cell_step(w_hh, w_ih, x, state):
        return functional_call(module, {"weight_hh": w_hh, "weight_ih": w_ih}, (x, state))

    return cell_step


def _autograd(cell: str, activation: str, init: str, seq_len: int, n: int, scale: float, seed: int):
    """The same network unrolled through torch autograd. Each step uses its own clone of W_hh
    (retain_grad), so the clone's .grad is that step's immediate term of dL/dW_hh (Pascanu et al.
    2013, eq. 4-5) while W_hh's own .grad is their sum, the full gradient."""
    net = rnn_network(seq_len, n, scale, init, cell, "float64", 1.0, seed)
    step = _step(cell, activation, n)
    weight_hh = net.weight_hh.clone().requires_grad_(True)
    h = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    hidden, cells, step_weights = [h], [c], []
    for x in net.inputs:
        w_t = weight_hh.clone()
        w_t.retain_grad()
        step_weights.append(w_t)
        if cell == "lstm":
            h, c = step(w_t, net.weight_ih, x, (h, c))
            c.retain_grad()
            cells.append(c)
        else:
            h = step(w_t, net.weight_ih, x, h)
        h.retain_grad()
        hidden.append(h)
    g = torch.full((n,), 1.0 / math.sqrt(n), dtype=torch.float64)
    (g @ h).backward()

    cell_deltas = None
    if cell == "lstm":
        # torch's LSTMCell is one fused op whose outputs h_k and c_k are siblings: h_k is not
        # computed from the returned c_k, so c_k.grad already holds h_k fixed (the state-space
        # gradient), and c_T, which the loss reaches only through h_T, gets no gradient at all
        cell_deltas = [0.0 if x.grad is None else float(x.grad.norm()) for x in cells]
    return {
        "deltas": np.array([float(x.grad.norm()) for x in hidden]),
        "cell_deltas": cell_deltas,
        "hidden": np.array([float(x.detach().norm()) for x in hidden]),
        "weight_grad": float(torch.linalg.matrix_norm(weight_hh.grad)),
        "step_terms": np.array([float(torch.linalg.matrix_norm(w.grad)) for w in step_weights]),
        "step_sum": sum(w.grad for w in step_weights),
        "weight_grad_tensor": weight_hh.grad,
    }


@pytest.mark.parametrize(("cell", "activation", "init"), CASES)
def test_matches_torch_autograd_in_float64(cell: str, activation: str, init: str) -> None:
    """delta_k = dL/dh_k for k = 0..T, ||h_k||, ||dL/dW_hh||_F and every step's immediate term
    equal torch autograd through torch.nn.RNNCell/LSTMCell/GRUCell (a hand-written plain cell for
    linear and sigmoid) on the same weights and inputs, to 1e-12 relative."""
    seq_len, n, scale, seed = 30, 6, 1.3, 11
    result = rnn_gradients(seq_len, n, scale, init, activation, cell, "float64", 1.0, seed)
    ref = _autograd(cell, activation, init, seq_len, n, scale, seed)

    assert result.delta_norms.shape == (seq_len + 1,)
    np.testing.assert_allclose(result.delta_norms, ref["deltas"], rtol=1e-12)
    np.testing.assert_allclose(result.hidden_norms, ref["hidden"], rtol=1e-12)
    assert result.weight_grad_norm == pytest.approx(ref["weight_grad"], rel=1e-12)
    # the per-step terms add up to autograd's full gradient (a check of the reference itself)
    torch.testing.assert_close(ref["step_sum"], ref["weight_grad_tensor"], rtol=1e-12, atol=1e-14)
    # step 1's term is zero (h_0 = 0): rtol alone would accept nothing else
    np.testing.assert_allclose(result.weight_grad_contributions, ref["step_terms"], rtol=1e-12)
    if cell == "lstm":
        # no loss on c_T: its state-space gradient is exactly 0
        np.testing.assert_allclose(result.cell_delta_norms, ref["cell_deltas"], rtol=1e-12)
        assert result.cell_delta_norms[-1] == 0.0
    else:
        assert result.cell_delta_norms is None


def _lstm_by_hand(w_hh, w_ih, x, state):
    """torch.nn.LSTMCell's equations (gate order i, f, g, o; no bias) written out, so that
    h = o tanh(c) is computed from c inside the autograd graph. Also returns o."""
    h, c = state
    n = h.shape[0]
    a = w_ih @ x + w_hh @ h
    i, f, o = torch.sigmoid(a[:n]), torch.sigmoid(a[n : 2 * n]), torch.sigmoid(a[3 * n :])
    c = f * c + i * torch.tanh(a[2 * n : 3 * n])
    return o * torch.tanh(c), c, o


@pytest.mark.parametrize("init", RNN_INITS)
def test_lstm_cell_deltas_hold_h_fixed(init: str) -> None:
    """cell_delta_norms[k] = ||dL/dc_k|| with h_k held fixed. In a hand-written LSTM, where
    h_k = o_k tanh(c_k) is computed from c_k, autograd's c_k.grad also holds the path through
    h_k; taking it off, c_k.grad - h_k.grad * o_k * (1 - tanh(c_k)^2) for k >= 1 (c_0.grad for
    k = 0, as h_0 does not depend on c_0), gives the state-space gradient (derivation)."""
    seq_len, n, scale, seed = 30, 6, 1.3, 5
    result = rnn_gradients(seq_len, n, scale, init, "tanh", "lstm", "float64", 1.0, seed)
    net = rnn_network(seq_len, n, scale, init, "lstm", "float64", 1.0, seed)
    torch_cell = _step("lstm", "tanh", n)
    h = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    hidden, cells, outputs = [h], [c], [None]
    for x in net.inputs:
        with torch.no_grad():  # the hand-written cell is torch's cell
            torch_h, torch_c = torch_cell(net.weight_hh, net.weight_ih, x, (h, c))
        h, c, o = _lstm_by_hand(net.weight_hh, net.weight_ih, x, (h, c))
        torch.testing.assert_close(h, torch_h, rtol=1e-13, atol=1e-15)
        torch.testing.assert_close(c, torch_c, rtol=1e-13, atol=1e-15)
        h.retain_grad()
        c.retain_grad()
        hidden.append(h)
        cells.append(c)
        outputs.append(o.detach())
    (torch.full((n,), 1.0 / math.sqrt(n), dtype=torch.float64) @ h).backward()
    expected = [float(cells[0].grad.norm())] + [
        float((ck.grad - hk.grad * o * (1 - torch.tanh(ck.detach()) ** 2)).norm())
        for hk, ck, o in zip(hidden[1:], cells[1:], outputs[1:], strict=True)
    ]
    # at k = T the difference is 0 up to rounding: no loss on c_T
    np.testing.assert_allclose(result.cell_delta_norms, expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(
        result.delta_norms, [float(x.grad.norm()) for x in hidden], rtol=1e-12
    )


@pytest.mark.parametrize(("cell", "activation", "init"), CASES)
def test_jacobian_norms_match_jacrev_of_one_step(cell: str, activation: str, init: str) -> None:
    """jacobian_norms[t-1] is the spectral norm of ds_t/ds_{t-1} (s = h, or (h, c) for the LSTM),
    here from torch.func.jacrev of torch's own cell evaluated on the forward states."""
    seq_len, n, scale, seed = 8, 5, 1.3, 4
    result = rnn_gradients(seq_len, n, scale, init, activation, cell, "float64", 1.0, seed)
    net = rnn_network(seq_len, n, scale, init, cell, "float64", 1.0, seed)
    step = _step(cell, activation, n)

    def transition(x: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        if cell == "lstm":
            return lambda s: torch.cat(step(net.weight_hh, net.weight_ih, x, (s[:n], s[n:])))
        return lambda s: step(net.weight_hh, net.weight_ih, x, s)

    state = torch.zeros(2 * n if cell == "lstm" else n, dtype=torch.float64)
    expected = []
    with torch.no_grad():
        for x in net.inputs:
            jacobian = jacrev(transition(x))(state)
            assert jacobian.shape == (state.numel(), state.numel())
            expected.append(float(torch.linalg.matrix_norm(jacobian, ord=2)))
            state = transition(x)(state)
    np.testing.assert_allclose(result.jacobian_norms, expected, rtol=1e-10)


@pytest.mark.parametrize(("weight", "article"), [(1.01, 2.7048), (0.99, 0.3660)])
def test_scalar_network_matches_the_articles(weight: float, article: float) -> None:
    """The articles: a 1-unit linear RNN with weight w over 100 steps gives delta_0 = w^100,
    1.01^100 = 2.7048 and 0.99^100 = 0.3660. Backpropagation multiplies by w once per step from
    delta_T = 1, so delta_0 is exactly the left-to-right float64 product, and every delta_k is
    w^(T-k) (pow differs from the product only by rounding)."""
    seq_len = 100
    result = rnn_gradients(seq_len, weight_scale=weight, dtype="float64", **SCALAR)
    assert round(result.gradient_at_step_0, 4) == article
    assert result.gradient_at_step_0 == math.prod([weight] * seq_len)
    assert result.gradient_at_step_0 == pytest.approx(weight**seq_len, rel=1e-14)
    assert result.growth_ratio == result.gradient_at_step_0  # delta_T = 1
    powers = weight ** (seq_len - np.arange(seq_len + 1, dtype=np.float64))
    np.testing.assert_allclose(result.delta_norms, powers, rtol=1e-14)


@pytest.mark.parametrize(("weight", "article"), [(1.01, 2.7048), (0.99, 0.3660)])
def test_scalar_network_in_float32(weight: float, article: float) -> None:
    """In float32 the backward pass is 100 float32 multiplications by float32(w): exactly numpy's
    float32 left-to-right product, and within float32 rounding (1e-5) of w^100."""
    seq_len = 100
    result = rnn_gradients(seq_len, weight_scale=weight, dtype="float32", **SCALAR)
    product = np.float32(1.0)
    for _ in range(seq_len):
        product = product * np.float32(weight)
    assert result.gradient_at_step_0 == float(product)
    assert result.gradient_at_step_0 == pytest.approx(weight**seq_len, rel=1e-5)
    assert round(result.gradient_at_step_0, 4) == article


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("init", RNN_INITS)
def test_pascanu_quantities(activation: str, init: str) -> None:
    """Pascanu et al. (2013), section 2.1: lambda_1 is the spectral norm of W_hh (here from
    torch.linalg.matrix_norm on the rebuilt network), and the threshold is 1/gamma with gamma the
    bound on |phi'|: 1 for linear, tanh and ReLU, 1/4 for the sigmoid, so 1, 1, 1 and 4."""
    threshold = {"linear": 1.0, "tanh": 1.0, "relu": 1.0, "sigmoid": 4.0}[activation]
    scale, seq_len, n, seed = 1.1, 20, 7, 2
    result = rnn_gradients(seq_len, n, scale, init, activation, "rnn", "float64", 1.0, seed)
    net = rnn_network(seq_len, n, scale, init, "rnn", "float64", 1.0, seed)
    lambda_1 = float(torch.linalg.matrix_norm(net.weight_hh, ord=2))
    assert result.largest_singular_value == pytest.approx(lambda_1, rel=1e-12)
    assert result.pascanu_threshold == threshold
    assert result.vanishing_guaranteed == (lambda_1 < threshold)
    assert result.exploding_possible == (lambda_1 > threshold)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize(
    ("init", "fraction"), [("identity", 0.9), ("orthogonal", 0.9), ("gaussian", 0.3)]
)
def test_vanishing_condition_bounds_every_delta(
    activation: str, init: str, fraction: float
) -> None:
    """Pascanu et al. (2013), eq. 7: ||delta_k|| <= (gamma lambda_1)^(T-k) ||delta_T|| since every
    step Jacobian diag(phi') W has norm <= gamma lambda_1. With lambda_1 < 1/gamma (vanishing
    guaranteed, exploding not possible) the bound is below 1 and falls geometrically; the
    measured deltas obey it. (Gaussian W ~ N(0, s^2/n) has lambda_1 near 2s, hence 0.3.)"""
    threshold = {"linear": 1.0, "tanh": 1.0, "relu": 1.0, "sigmoid": 4.0}[activation]
    seq_len, n = 40, 8
    result = rnn_gradients(seq_len, n, fraction * threshold, init, activation, "rnn", "float64")
    assert result.vanishing_guaranteed is True
    assert result.exploding_possible is False
    lambda_1 = result.largest_singular_value
    bound = (lambda_1 / threshold) ** (seq_len - np.arange(seq_len + 1))
    assert np.all(result.delta_norms <= bound * (1 + 1e-12))
    assert result.gradient_at_step_0 < 1.0


def test_on_the_threshold_neither_condition_holds() -> None:
    """lambda_1 = 1/gamma exactly (identity W, linear): neither lambda_1 < 1 nor > 1, and the
    gradient keeps its norm, 1 at every step."""
    result = rnn_gradients(30, 4, 1.0, "identity", "linear", "rnn", "float64")
    assert result.largest_singular_value == 1.0
    assert result.vanishing_guaranteed is False
    assert result.exploding_possible is False
    np.testing.assert_array_equal(result.delta_norms, np.ones(31))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_have_no_pascanu_conditions(cell: str) -> None:
    """The conditions are stated for h_t = phi(W h_{t-1} + U x_t); LSTM and GRU report None."""
    result = rnn_gradients(10, 4, cell=cell, dtype="float64")
    assert result.largest_singular_value is None
    assert result.pascanu_threshold is None
    assert result.vanishing_guaranteed is None
    assert result.exploding_possible is None


@pytest.mark.parametrize("scale", [0.8, 1.0, 1.25])
def test_orthogonal_linear_network_keeps_norms(scale: float) -> None:
    """W = s Q with Q orthogonal, linear: every step Jacobian is W, with all singular values s,
    and delta_k = (W^T)^(T-k) g has norm exactly s^(T-k) (Q preserves norms; Saxe et al. 2013).
    At s = 1, lambda_1 = 1 = 1/gamma: the computed one may be 1 + 2^-52, which still counts as on
    the threshold (neither condition holds)."""
    seq_len = 35
    result = rnn_gradients(seq_len, 8, scale, "orthogonal", "linear", "rnn", "float64", seed=6)
    np.testing.assert_allclose(result.jacobian_norms, scale, rtol=1e-12)
    np.testing.assert_allclose(
        result.delta_norms, scale ** (seq_len - np.arange(seq_len + 1.0)), rtol=1e-12
    )
    assert result.exploding_possible == (scale > 1.0)
    assert result.vanishing_guaranteed == (scale < 1.0)


def test_float32_backward_overflow_step() -> None:
    """Hidden size 1, w = 1.5, no input (input_scale 0, so h stays 0 and the forward pass is
    finite): delta_k = 1.5^(T-k) and 1.5^250 > float32's max. The expected step is where numpy's
    float32 repeated multiplication by 1.5, counted back from delta_T = 1, first gives inf."""
    seq_len = 250
    result = rnn_gradients(seq_len, weight_scale=1.5, dtype="float32", input_scale=0.0, **SCALAR)
    expected, delta = seq_len, np.float32(1.0)
    with np.errstate(over="ignore"):
        while np.isfinite(delta):
            delta = delta * np.float32(1.5)
            expected -= 1
    assert expected == seq_len - math.ceil(math.log(np.finfo(np.float32).max) / math.log(1.5))
    assert result.overflow_pass == "backward"
    assert result.overflow_step == expected
    assert math.isinf(result.delta_norms[expected])
    assert np.all(np.isfinite(result.delta_norms[expected + 1 :]))
    assert np.all(result.hidden_norms == 0.0)
    # the same network in float64 is finite (1.5^250 = 1e44)
    assert rnn_gradients(seq_len, weight_scale=1.5, dtype="float64", **SCALAR).overflow_step is None


def test_float32_forward_overflow_step() -> None:
    """Linear, identity W = 10 I, unit input drive, float32: h_t grows like 10^t and overflows
    near t = 39. The expected step is the first non-finite h_t of an independent numpy float32
    recursion h_t = W h_{t-1} + U x_t on the rebuilt weights and inputs."""
    seq_len, n = 60, 4
    result = rnn_gradients(seq_len, n, 10.0, "identity", "linear", "rnn", "float32", 1.0, seed=0)
    net = rnn_network(seq_len, n, 10.0, "identity", "rnn", "float32", 1.0, 0)
    w, u, x = (t.numpy() for t in (net.weight_hh, net.weight_ih, net.inputs))
    assert w.dtype == np.float32
    h, expected = np.zeros(n, dtype=np.float32), None
    with np.errstate(all="ignore"):
        for t in range(1, seq_len + 1):
            h = w @ h + u @ x[t - 1]
            if not np.isfinite(h).all():
                expected = t
                break
    assert expected is not None
    assert result.overflow_pass == "forward"
    assert result.overflow_step == expected
    assert math.isfinite(result.hidden_norms[expected - 1])
    assert not math.isfinite(result.hidden_norms[expected])


def test_dominant_step_of_a_vanishing_network_is_late() -> None:
    """tanh, gaussian scale 0.5: step t's term is (phi' * delta_t) h_{t-1}^T, of norm at most
    ||delta_t|| sqrt(n) (|tanh| < 1, |tanh'| <= 1), and ||delta_t|| <= lambda_1^(T-t) (Pascanu
    et al. 2013, eq. 7). A step whose bound is below the last step's measured term cannot
    dominate, so the dominant step is at least T - log(sqrt(n) / term_T) / log(1 / lambda_1)."""
    seq_len, n = 100, 8
    result = rnn_gradients(seq_len, n, 0.5, "gaussian", "tanh", "rnn", "float64", seed=0)
    lambda_1 = result.largest_singular_value
    assert lambda_1 < 1.0
    contributions = result.weight_grad_contributions
    assert result.dominant_step == int(np.argmax(contributions)) + 1
    steps_back = math.log(math.sqrt(n) / contributions[-1]) / math.log(1.0 / lambda_1)
    assert result.dominant_step >= seq_len - steps_back
    assert result.dominant_step > seq_len - 10


def test_dominant_step_of_a_chaotic_network_is_early() -> None:
    """tanh, gaussian scale 3, small input (0.1): the mean-field theory (Poole et al. 2016) puts
    it in the chaotic phase, the gradient norm growing about sqrt(chi_1) per step back. Step t's
    term is at most sqrt(n) ||delta_t|| while h stays O(1), so the earliest steps (after h has
    left h_0 = 0) dominate."""
    seq_len, n = 100, 64
    result = rnn_gradients(seq_len, n, 3.0, "gaussian", "tanh", "rnn", "float64", 0.1, seed=0)
    chi_1, _ = mean_field_chi(3.0, 0.1, "tanh")
    assert chi_1 > 1.5
    # measured growth: at least half the decades the theory predicts over T steps
    assert math.log10(result.gradient_at_step_0) > 0.5 * 0.5 * math.log10(chi_1) * seq_len
    contributions = result.weight_grad_contributions
    assert result.dominant_step == int(np.argmax(contributions)) + 1
    assert result.dominant_step <= 10
    assert np.all(contributions <= math.sqrt(n) * result.delta_norms[1:] * (1 + 1e-12))


def test_orthogonal_linear_contributions_are_delta_times_state() -> None:
    """Linear, W = 1.2 Q: the gradient explodes backward (||delta_t|| = 1.2^(T-t) exactly), but
    step t's term is the rank-one (delta_t) h_{t-1}^T, of norm 1.2^(T-t) ||h_{t-1}||, and
    ||h_{t-1}|| grows like 1.2^(t-1): every step after the first few contributes about equally,
    1.2^(T-1) ||sum_s (1.2 Q)^(-s) U x_s||, a geometrically converging sum."""
    seq_len = 120
    result = rnn_gradients(seq_len, 8, 1.2, "orthogonal", "linear", "rnn", "float64", seed=1)
    t = np.arange(1, seq_len + 1)
    np.testing.assert_allclose(
        result.weight_grad_contributions,
        1.2 ** (seq_len - t) * result.hidden_norms[:-1],
        rtol=1e-12,
    )
    tail = result.weight_grad_contributions[60:] / result.weight_grad_contributions[-1]
    np.testing.assert_allclose(tail, 1.0, rtol=1e-4)  # the sum's remainder after 60 terms
    assert result.dominant_step == int(np.argmax(result.weight_grad_contributions)) + 1


def test_weight_gradient_norm_is_at_most_the_sum_of_the_step_terms() -> None:
    """The full gradient is the sum of the step terms (Pascanu et al. 2013, eq. 4), so by the
    triangle inequality its Frobenius norm is at most the sum of theirs."""
    result = rnn_gradients(50, 16, 1.4, "gaussian", "tanh", "rnn", "float64", seed=3)
    assert result.weight_grad_norm <= result.weight_grad_contributions.sum() * (1 + 1e-12)
    assert result.weight_grad_norm > 0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"seq_len": 0}, "seq_len"),
        ({"seq_len": 10_001}, "seq_len"),
        ({"seq_len": True}, "seq_len"),
        ({"seq_len": 2.0}, "seq_len"),
        ({"seq_len": 5, "hidden_size": 0}, "hidden_size"),
        ({"seq_len": 5, "weight_scale": 0.0}, "weight_scale"),
        ({"seq_len": 5, "weight_scale": -1.0}, "weight_scale"),
        ({"seq_len": 5, "weight_scale": math.inf}, "weight_scale"),
        ({"seq_len": 5, "weight_scale": math.nan}, "weight_scale"),
        ({"seq_len": 5, "init": "xavier"}, "init"),
        ({"seq_len": 5, "cell": "transformer"}, "cell"),
        ({"seq_len": 5, "activation": "gelu"}, "activation"),
        ({"seq_len": 5, "dtype": "float16"}, "dtype"),
        ({"seq_len": 5, "input_scale": -1.0}, "input_scale"),
        ({"seq_len": 5, "seed": -1}, "seed"),
        ({"seq_len": 5, "seed": 1.5}, "seed"),
    ],
)
def test_bad_arguments_raise_value_error_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name} must be"):
        rnn_gradients(**kwargs)


def test_same_seed_same_result_other_seed_other_result() -> None:
    a = rnn_gradients(20, 8, seed=7)
    b = rnn_gradients(20, 8, seed=7)
    c = rnn_gradients(20, 8, seed=8)
    np.testing.assert_array_equal(a.delta_norms, b.delta_norms)
    assert not np.array_equal(a.delta_norms, c.delta_norms)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gate_bias_matches_torch_cells_with_that_bias(cell: str) -> None:
    """gate_bias is the bias of the LSTM's forget gate (block f of i, f, g, o) or the GRU's
    update gate (block z of r, z, n): torch's own cell with bias_ih = the network's bias and
    bias_hh = 0 gives the same gradients, and a large bias keeps more of the gradient over time
    (the gate holds the state: Gers et al. 2000; Jozefowicz et al. 2015)."""
    seq_len, n, bias = 40, 6, 2.5
    net = rnn_network(seq_len, n, 1.0, "gaussian", cell, "float64", 1.0, 2, bias)
    block = net.bias.reshape(-1, n)
    assert (block[1] == bias).all()
    assert (block[[0, *range(2, block.shape[0])]] == 0).all()
    torch_cell = (torch.nn.LSTMCell if cell == "lstm" else torch.nn.GRUCell)(
        n, n, dtype=torch.float64
    )
    with torch.no_grad():
        torch_cell.weight_hh.copy_(net.weight_hh)
        torch_cell.weight_ih.copy_(net.weight_ih)
        torch_cell.bias_ih.copy_(net.bias)
        torch_cell.bias_hh.zero_()
    h = torch.zeros(1, n, dtype=torch.float64, requires_grad=True)
    c = torch.zeros(1, n, dtype=torch.float64)
    states = [h]
    for x in net.inputs:
        if cell == "lstm":
            h, c = torch_cell(x[None], (h, c))
        else:
            h = torch_cell(x[None], h)
        h.retain_grad()
        states.append(h)
    (h.sum() / math.sqrt(n)).backward()
    expected = np.array([float(state.grad.norm()) for state in states])
    result = rnn_gradients(seq_len, n, 1.0, "gaussian", "tanh", cell, "float64", 1.0, 2, bias)
    np.testing.assert_allclose(result.delta_norms, expected, rtol=1e-12)
    unbiased = rnn_gradients(seq_len, n, 1.0, "gaussian", "tanh", cell, "float64", 1.0, 2)
    assert result.growth_ratio > 100 * unbiased.growth_ratio
