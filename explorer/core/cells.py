"""The three recurrent cells run forward over a sequence, with their step Jacobians.

Each ``*_steps`` function runs one cell (plain, LSTM, GRU in torch's equations: torch.nn.RNNCell,
LSTMCell, GRUCell) over the inputs from a zero state, and returns the states, the step Jacobians
ds_t/ds_{t-1} written out by hand (checked against torch.func.jacrev in the tests), and a function
from the state deltas to the gradients of the pre-activations that the recurrent matrix feeds
(the immediate terms of dL/dW, Pascanu et al. 2013, eq. 4-5). ``explorer.core.rnn`` backpropagates
through them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core._types import FloatArray
from explorer.core.linalg import spectral_norms
from explorer.core.nets import ACTIVATION_FUNCTIONS


@dataclass(frozen=True)
class RNNNetwork:
    """The weights and inputs ``rnn_gradients`` differentiates, in torch's layout."""

    weight_hh: torch.Tensor  # (G n, n) recurrent matrix, G gate blocks (G = 1, 4, 3)
    weight_ih: torch.Tensor  # (G n, n) input matrix
    inputs: torch.Tensor  # (T, n) x_1 .. x_T
    bias: torch.Tensor  # (G n,) zero but for the LSTM's forget gate or the GRU's update gate


@dataclass(frozen=True)
class Steps:
    """A forward pass: states, step Jacobians, and how to get the gate gradients from deltas."""

    hidden: torch.Tensor  # (T+1, n) h_0 .. h_T
    states: torch.Tensor  # (T+1, S) the full state (h, or h and c)
    jacobians: torch.Tensor  # (T, S, S) ds_t/ds_{t-1}
    # (T, G n) dL/d(pre-activation) per step, from the (T+1, S) float64 deltas
    gate_gradients: Callable[[torch.Tensor], torch.Tensor]
    shared_jacobian: bool  # every step has the same Jacobian (linear plain cell)

    def jacobian_norms(self) -> FloatArray:
        stack = self.jacobians.to(torch.float64)
        if self.shared_jacobian:
            return np.repeat(spectral_norms(stack[:1]), stack.shape[0])
        return spectral_norms(stack)


def _plain_steps(network: RNNNetwork, activation: str) -> Steps:
    phi = ACTIVATION_FUNCTIONS[activation]
    weight = network.weight_hh
    drive = network.inputs @ network.weight_ih.mT  # (T, n): U x_t
    h = torch.zeros(weight.shape[1], dtype=weight.dtype)
    hidden, pre = [h], []
    for u in drive:
        z = weight @ h + u
        h = phi.forward(z)
        pre.append(z)
        hidden.append(h)
    hidden_t = torch.stack(hidden)
    slopes = phi.derivative(torch.stack(pre), hidden_t[1:])  # (T, n)

    def gate_gradients(deltas: torch.Tensor) -> torch.Tensor:
        return slopes.to(torch.float64) * deltas[1:]

    return Steps(
        hidden=hidden_t,
        states=hidden_t,
        jacobians=slopes.unsqueeze(-1) * weight,
        gate_gradients=gate_gradients,
        shared_jacobian=activation == "linear",
    )


def _lstm_steps(network: RNNNetwork, activation: str) -> Steps:
    del activation  # the LSTM's own sigmoid gates and tanh
    w = network.weight_hh
    n = w.shape[1]
    drive = network.inputs @ network.weight_ih.mT + network.bias  # (T, 4n)
    h = torch.zeros(n, dtype=w.dtype)
    c = torch.zeros(n, dtype=w.dtype)
    hidden, cells, gates = [h], [c], []
    for u in drive:
        a = w @ h + u
        i, f, o = torch.sigmoid(a[:n]), torch.sigmoid(a[n : 2 * n]), torch.sigmoid(a[3 * n :])
        g = torch.tanh(a[2 * n : 3 * n])
        c = f * c + i * g
        h = o * torch.tanh(c)
        gates.append(torch.stack([i, f, g, o]))
        hidden.append(h)
        cells.append(c)
    hidden_t, cells_t = torch.stack(hidden), torch.stack(cells)
    i, f, g, o = torch.stack(gates).unbind(1)  # each (T, n)
    c_prev, c_now = cells_t[:-1], cells_t[1:]
    tanh_c = torch.tanh(c_now)
    w_i, w_f, w_g, w_o = w.reshape(4, n, n).unbind(0)

    def rows(scale: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
        return scale.unsqueeze(-1) * block  # diag(scale_t) block, for every t

    dc_dh = (
        rows(c_prev * f * (1 - f), w_f) + rows(g * i * (1 - i), w_i) + rows(i * (1 - g * g), w_g)
    )
    through_c = o * (1 - tanh_c * tanh_c)  # dh_t/dc_t
    dh_dh = rows(tanh_c * o * (1 - o), w_o) + through_c.unsqueeze(-1) * dc_dh
    dh_dc = torch.diag_embed(through_c * f)
    dc_dc = torch.diag_embed(f)
    jacobians = torch.cat(
        [torch.cat([dh_dh, dh_dc], dim=2), torch.cat([dc_dh, dc_dc], dim=2)], dim=1
    )
    as64 = [x.to(torch.float64) for x in (i, f, g, o, c_prev, tanh_c, through_c)]

    def gate_gradients(deltas: torch.Tensor) -> torch.Tensor:
        i, f, g, o, c_prev, tanh_c, through_c = as64
        delta_h, delta_c = deltas[1:, :n], deltas[1:, n:]
        delta_cell = delta_c + delta_h * through_c  # dL/dc_t, through h_t as well
        return torch.cat(
            [
                delta_cell * g * i * (1 - i),
                delta_cell * c_prev * f * (1 - f),
                delta_cell * i * (1 - g * g),
                delta_h * tanh_c * o * (1 - o),
            ],
            dim=1,
        )

    return Steps(
        hidden=hidden_t,
        states=torch.cat([hidden_t, cells_t], dim=1),
        jacobians=jacobians,
        gate_gradients=gate_gradients,
        shared_jacobian=False,
    )


def _gru_steps(network: RNNNetwork, activation: str) -> Steps:
    del activation  # the GRU's own sigmoid gates and tanh
    w = network.weight_hh
    n = w.shape[1]
    drive = network.inputs @ network.weight_ih.mT + network.bias  # (T, 3n)
    h = torch.zeros(n, dtype=w.dtype)
    hidden, gates = [h], []
    for u in drive:
        a = w @ h
        r = torch.sigmoid(u[:n] + a[:n])
        z = torch.sigmoid(u[n : 2 * n] + a[n : 2 * n])
        candidate = torch.tanh(u[2 * n :] + r * a[2 * n :])
        gates.append(torch.stack([r, z, candidate, a[2 * n :]]))
        h = (1 - z) * candidate + z * h
        hidden.append(h)
    hidden_t = torch.stack(hidden)
    r, z, candidate, recurrent_n = torch.stack(gates).unbind(1)  # each (T, n)
    h_prev = hidden_t[:-1]
    w_r, w_z, w_n = w.reshape(3, n, n).unbind(0)
    dn_pre = 1 - candidate * candidate  # tanh'
    dr = (r * (1 - r)).unsqueeze(-1) * w_r  # dr/dh_{t-1}
    dn = dn_pre.unsqueeze(-1) * (r.unsqueeze(-1) * w_n + recurrent_n.unsqueeze(-1) * dr)
    dz = (z * (1 - z)).unsqueeze(-1) * w_z
    jacobians = (
        (1 - z).unsqueeze(-1) * dn + torch.diag_embed(z) + (h_prev - candidate).unsqueeze(-1) * dz
    )
    as64 = [x.to(torch.float64) for x in (r, z, candidate, recurrent_n, h_prev)]

    def gate_gradients(deltas: torch.Tensor) -> torch.Tensor:
        r, z, candidate, recurrent_n, h_prev = as64
        delta = deltas[1:]
        d_n_pre = delta * (1 - z) * (1 - candidate * candidate)
        d_r_pre = d_n_pre * recurrent_n * r * (1 - r)
        d_z_pre = delta * (h_prev - candidate) * z * (1 - z)
        return torch.cat([d_r_pre, d_z_pre, d_n_pre * r], dim=1)  # W_hr, W_hz, W_hn rows

    return Steps(
        hidden=hidden_t,
        states=hidden_t,
        jacobians=jacobians,
        gate_gradients=gate_gradients,
        shared_jacobian=False,
    )


STEPS = {"rnn": _plain_steps, "lstm": _lstm_steps, "gru": _gru_steps}
