"""Backpropagation through time in a recurrent network: why a long sequence acts like depth.

The network: h_t = phi(W h_{t-1} + U x_t) for t = 1..T, from
h_0 = 0, with inputs x_t ~ N(0, I) and U ~ N(0, input_scale^2 / n). The loss is L = g . h_T with
a fixed unit vector g, so dL/dh_T has norm 1; delta_k = dL/dh_k for k = 0..T. The step Jacobian
is dh_t/dh_{t-1} = diag(phi'(.)) W (Pascanu, Mikolov and Bengio 2013, eq. 5), and the gradient of
the loss with respect to W is a sum over time steps of immediate terms (their eq. 4-5), one per
step k: (phi'(.) * delta_k) h_{k-1}^T. With lambda_1 the largest singular value of W and gamma the
bound on |phi'|, lambda_1 < 1/gamma is sufficient for the gradient to vanish, lambda_1 > 1/gamma
necessary for it to explode (their section 2.1). A 1-unit linear network with weight w gives
delta_0 = w^T exactly: 1.01^100 = 2.7048 and 0.99^100 = 0.3660, the answers to the source
article's exercise.

LSTM and GRU cells follow torch's equations (torch.nn.LSTMCell, torch.nn.GRUCell; gate order
i, f, g, o and r, z, n), so the tests can check them against torch's own cells. Their biases are
zero except ``gate_bias`` on the LSTM's forget gate or the GRU's update gate.
The LSTM's state is (h, c): its step Jacobian is d(h_t, c_t)/d(h_{t-1}, c_{t-1}), of size 2n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core._types import FloatArray
from explorer.core._validate import check_choice, check_float, check_int, check_seed
from explorer.core.cells import STEPS, RNNNetwork
from explorer.core.linalg import backpropagate, first_nonfinite_row
from explorer.core.nets import ACTIVATION_FUNCTIONS, ACTIVATIONS, DTYPES, MAX_SCALE, init_weights

CELLS = ("rnn", "lstm", "gru")
RNN_INITS = ("identity", "gaussian", "orthogonal")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # blocks of n rows in the recurrent matrix
MAX_SEQ_LEN = 10_000
MAX_HIDDEN = 1024
MAX_GATE_BIAS = 100.0
# relative rounding of lambda_1 in each dtype: a few ulps times sqrt(n) for n up to 1024
_PASCANU_RTOL = {"float32": 1e-5, "float64": 1e-13}


@dataclass(frozen=True)
class RNNResult:
    """What one forward and backward pass through time tells about the recurrent gradients.

    Arrays are float64 numpy arrays. Index k of a (T+1,) array is time step k = 0..T; index t - 1
    of a (T,) array is step t = 1..T.
    """

    seq_len: int
    hidden_size: int
    weight_scale: float
    init: str
    activation: str  # the plain cell's; LSTM and GRU use their own sigmoid and tanh
    cell: str
    dtype: str
    input_scale: float
    seed: int
    gate_bias: float
    delta_norms: FloatArray  # (T+1,) ||dL/dh_k||; the last is the unit loss gradient
    cell_delta_norms: FloatArray | None  # (T+1,) LSTM: ||dL/dc_k|| with h_k held fixed
    hidden_norms: FloatArray  # (T+1,) ||h_k||
    jacobian_norms: FloatArray  # (T,) spectral norm of the step Jacobian ds_t/ds_{t-1}
    weight_grad_contributions: FloatArray  # (T,) Frobenius norm of step t's term of dL/dW
    weight_grad_norm: float  # Frobenius norm of dL/dW, the sum of those terms
    largest_singular_value: float | None  # plain cell: lambda_1 of W
    pascanu_threshold: float | None  # plain cell: 1 / gamma for the activation
    overflow_step: int | None  # first step holding inf/NaN in ``dtype``, else None
    overflow_pass: str | None  # "forward" or "backward": which pass overflowed first
    gradient_overflow_step: int | None  # largest k whose delta_k is inf/NaN, else None

    @property
    def gradient_at_step_0(self) -> float:
        """||dL/dh_0||: what reaches the initial state from a unit gradient at step T."""
        return float(self.delta_norms[0])

    @property
    def growth_ratio(self) -> float:
        """||delta_0|| / ||delta_T||: how many times larger the gradient is at step 0 than at T."""
        return float(self.delta_norms[0] / self.delta_norms[-1])

    @property
    def log10_reference(self) -> FloatArray | None:
        """(T+1,) log10 |w|^(T-k): exact for a plain linear cell with identity or orthogonal W."""
        if self.cell != "rnn" or self.activation != "linear" or self.init == "gaussian":
            return None
        reference: FloatArray = (self.seq_len - np.arange(self.seq_len + 1)) * np.log10(
            self.weight_scale
        )
        return reference

    @property
    def vanishing_guaranteed(self) -> bool | None:
        """Plain cell: lambda_1 < 1/gamma, sufficient for the gradient to vanish."""
        side = self._pascanu_side()
        return None if side is None else side < 0

    @property
    def exploding_possible(self) -> bool | None:
        """Plain cell: lambda_1 > 1/gamma, necessary (not sufficient) for exploding."""
        side = self._pascanu_side()
        return None if side is None else side > 0

    def _pascanu_side(self) -> int | None:
        """-1, 0 or +1: lambda_1 below, at or above 1/gamma. "At" allows for the rounding of W
        in ``dtype`` (an orthogonal W at scale 1 has lambda_1 = 1 + 2e-16 in float64)."""
        if self.largest_singular_value is None or self.pascanu_threshold is None:
            return None
        tolerance = _PASCANU_RTOL[self.dtype] * self.pascanu_threshold
        difference = self.largest_singular_value - self.pascanu_threshold
        return 0 if abs(difference) <= tolerance else (1 if difference > 0 else -1)

    @property
    def dominant_step(self) -> int:
        """The step t whose term contributes most to dL/dW (1-based; an infinite term counts as
        the largest); 0 when every term is 0 or NaN."""
        terms = np.nan_to_num(self.weight_grad_contributions, nan=-1.0, posinf=np.inf)
        return int(np.argmax(terms)) + 1 if terms.max(initial=-1.0) > 0 else 0


def rnn_network(
    seq_len: int,
    hidden_size: int,
    weight_scale: float,
    init: str,
    cell: str,
    dtype: str,
    input_scale: float,
    seed: int,
    gate_bias: float = 0.0,
) -> RNNNetwork:
    """The network ``rnn_gradients`` runs (arguments validated there); exposed so that a test or
    a user can rebuild it, for instance in torch.nn.LSTMCell."""
    rng = np.random.default_rng(seed)
    torch_dtype = DTYPES[dtype]
    gates, n = GATES[cell], hidden_size
    weight_hh = init_weights(init, gates, n, n, weight_scale, rng, torch_dtype).reshape(
        gates * n, n
    )
    weight_ih = init_weights("gaussian", gates, n, n, input_scale, rng, torch_dtype).reshape(
        gates * n, n
    )
    inputs = torch.from_numpy(rng.standard_normal((seq_len, n))).to(torch_dtype)
    bias = torch.zeros(gates * n, dtype=torch_dtype)
    gated = {"lstm": slice(n, 2 * n), "gru": slice(n, 2 * n)}.get(cell)  # f of i,f,g,o; z of r,z,n
    if gated is not None:
        bias[gated] = gate_bias
    return RNNNetwork(weight_hh, weight_ih, inputs, bias)


def rnn_gradients(
    seq_len: int,
    hidden_size: int = 32,
    weight_scale: float = 1.0,
    init: str = "gaussian",
    activation: str = "tanh",
    cell: str = "rnn",
    dtype: str = "float32",
    input_scale: float = 1.0,
    seed: int = 0,
    gate_bias: float = 0.0,
) -> RNNResult:
    """Run a recurrent network forward over ``seq_len`` steps and backpropagate through time.

    seq_len: T in [1, 10000]; hidden_size: n in [1, 1024]; weight_scale: the scale of the
    recurrent matrix's ``init`` in (0, 1e6]; init: identity, gaussian or orthogonal (per gate
    block for LSTM and GRU); activation: linear, tanh, relu or sigmoid (plain cell only); cell:
    rnn, lstm or gru; dtype: float32 or float64 (for the passes); input_scale: std of each unit's
    input drive in [0, 1e6]; seed: in [0, 2^32 - 1]; gate_bias: bias of the LSTM's forget gate
    or the GRU's update gate in [-100, 100] (a large one keeps the state, and its gradient, from
    step to step; Gers et al. 2000, Jozefowicz et al. 2015), ignored by the plain cell.
    """
    seq_len = check_int("seq_len", seq_len, 1, MAX_SEQ_LEN)
    hidden_size = check_int("hidden_size", hidden_size, 1, MAX_HIDDEN)
    weight_scale = check_float("weight_scale", weight_scale, 0.0, MAX_SCALE, low_open=True)
    init = check_choice("init", init, RNN_INITS)
    activation = check_choice("activation", activation, ACTIVATIONS)
    cell = check_choice("cell", cell, CELLS)
    dtype = check_choice("dtype", dtype, tuple(DTYPES))
    input_scale = check_float("input_scale", input_scale, 0.0, MAX_SCALE)
    seed = check_seed(seed)

    gate_bias = check_float("gate_bias", gate_bias, -MAX_GATE_BIAS, MAX_GATE_BIAS)
    network = rnn_network(
        seq_len, hidden_size, weight_scale, init, cell, dtype, input_scale, seed, gate_bias
    )
    with np.errstate(all="ignore"):
        steps = STEPS[cell](network, activation)
        deltas = _backward(steps.jacobians, hidden_size)  # (T+1, S)
    n = hidden_size
    deltas64 = deltas.to(torch.float64)
    gate_grads = steps.gate_gradients(deltas64)  # (T, G n): dL/d(pre-activations) of W's rows
    previous = steps.hidden[:-1].to(torch.float64)  # h_{t-1} for t = 1..T
    contributions = torch.linalg.vector_norm(gate_grads, dim=1) * torch.linalg.vector_norm(
        previous, dim=1
    )
    weight_grad = gate_grads.mT @ previous  # sum over t of the outer products

    if cell == "rnn":
        lambda_1 = float(torch.linalg.matrix_norm(network.weight_hh.to(torch.float64), ord=2))
        threshold = 1.0 / ACTIVATION_FUNCTIONS[activation].gamma
    else:
        lambda_1, threshold = None, None
    bad_gradient = first_nonfinite_row(deltas.flip(0))  # counted back from k = T
    gradient_overflow = None if bad_gradient is None else seq_len - bad_gradient
    bad_state = first_nonfinite_row(steps.states[1:])
    if bad_state is not None:
        overflow_step, overflow_pass = bad_state + 1, "forward"
    elif gradient_overflow is not None:
        overflow_step, overflow_pass = gradient_overflow, "backward"
    else:
        overflow_step, overflow_pass = None, None
    return RNNResult(
        seq_len=seq_len,
        hidden_size=hidden_size,
        weight_scale=weight_scale,
        init=init,
        activation=activation,
        cell=cell,
        dtype=dtype,
        input_scale=input_scale,
        seed=seed,
        gate_bias=gate_bias,
        delta_norms=torch.linalg.vector_norm(deltas64[:, :n], dim=1).numpy(),
        cell_delta_norms=(
            torch.linalg.vector_norm(deltas64[:, n:], dim=1).numpy() if cell == "lstm" else None
        ),
        hidden_norms=torch.linalg.vector_norm(steps.hidden.to(torch.float64), dim=1).numpy(),
        jacobian_norms=steps.jacobian_norms(),
        weight_grad_contributions=contributions.numpy(),
        weight_grad_norm=float(torch.linalg.matrix_norm(weight_grad)),
        largest_singular_value=lambda_1,
        pascanu_threshold=threshold,
        overflow_step=overflow_step,
        overflow_pass=overflow_pass,
        gradient_overflow_step=gradient_overflow,
    )


def rnn_jacobians(
    seq_len: int,
    hidden_size: int = 32,
    weight_scale: float = 1.0,
    init: str = "gaussian",
    activation: str = "tanh",
    cell: str = "rnn",
    input_scale: float = 1.0,
    seed: int = 0,
    gate_bias: float = 0.0,
) -> torch.Tensor:
    """The step Jacobians ds_t/ds_{t-1}, t = 1..T, of the float64 network (T, S, S); arguments
    as for ``rnn_gradients``, validated by the caller."""
    network = rnn_network(
        seq_len, hidden_size, weight_scale, init, cell, "float64", input_scale, seed, gate_bias
    )
    with np.errstate(all="ignore"):
        return STEPS[cell](network, activation).jacobians


def _backward(jacobians: torch.Tensor, hidden_size: int) -> torch.Tensor:
    """State deltas (T+1, S) from a unit gradient at h_T (and none at c_T)."""
    last = torch.zeros(jacobians.shape[-1], dtype=jacobians.dtype)
    last[:hidden_size] = 1.0 / math.sqrt(hidden_size)
    return backpropagate(jacobians, last)
