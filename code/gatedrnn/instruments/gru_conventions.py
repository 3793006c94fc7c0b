"""The three ways the GRU is written (chapter 7), as step functions with the same signature as
:func:`gatedrnn.nn.cells.gru_step` and the same weights (blocks r, z, n):

* ``"cho"``, Cho et al. (2014): the reset gate applied *before* the product, ``W_hn (r ⊙ h_{t-1})``, and
  ``h_t = z ⊙ h_{t-1} + (1 - z) ⊙ ñ_t``: z keeps the old state.
* ``"chung"``, Chung et al. (2014): reset before the product, and ``h_t = (1 - z) ⊙ h_{t-1} + z ⊙ ñ_t``: z lets the
  candidate in.
* ``"pytorch"``: reset *after* the product, ``r ⊙ (W_hn h_{t-1} + b_hn)``, and z keeps the old state
  (:func:`gatedrnn.nn.cells.gru_step`, the form of ``torch.nn.GRU``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gatedrnn.nn.cells import gru_step
from gatedrnn.nn.layers import GRU, unroll


def _reset_before(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """Update gate z and the candidate ñ with the reset gate inside the product, eqs. (gru-cho-gates, gru-cho-candidate)."""
    H = h.shape[-1]
    u_r, u_z, u_n = u.chunk(3, dim=-1)
    W_hr, W_hz, W_hn = weight_hh.split(H)
    b_hr, b_hz, b_hn = bias_hh.split(H) if bias_hh is not None else (None, None, None)
    r = torch.sigmoid(u_r + F.linear(h, W_hr, b_hr))  # eq. (gru-cho-gates)
    z = torch.sigmoid(u_z + F.linear(h, W_hz, b_hz))  # eq. (gru-cho-gates)
    n = torch.tanh(u_n + F.linear(r * h, W_hn, b_hn))  # eq. (gru-cho-candidate)
    return z, n


def gru_step_cho(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """Cho et al. (2014): reset before the product; z keeps the old state."""
    z, n = _reset_before(u, h, weight_hh, bias_hh)
    return z * h + (1 - z) * n  # eq. (gru-cho-hidden)


def gru_step_chung(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """Chung et al. (2014): reset before the product; z lets the candidate in."""
    z, n = _reset_before(u, h, weight_hh, bias_hh)
    return (1 - z) * h + z * n  # eq. (gru-chung-hidden)


STEPS = {"cho": gru_step_cho, "chung": gru_step_chung, "pytorch": gru_step}


def run_convention(convention: str, gru: GRU, inputs: Tensor) -> Tensor:
    """Every hidden state [T, N, H] of the GRU written as ``convention``, with the weights of the one-layer,
    unidirectional ``gru``, from the zero state over ``inputs`` [T, N, I]."""
    if convention not in STEPS:
        raise ValueError(f"convention: expected one of {tuple(STEPS)}, got {convention!r}")
    if not isinstance(gru, GRU):
        raise TypeError(f"gru: expected a gatedrnn.GRU, got {type(gru).__name__}")
    if gru.num_layers != 1 or gru.bidirectional or gru.batch_first:
        raise ValueError("gru: expected one layer, one direction and batch_first=False, got "
                         f"num_layers={gru.num_layers}, bidirectional={gru.bidirectional}, batch_first={gru.batch_first}")
    if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[-1] != gru.input_size:
        raise ValueError(f"inputs: expected a tensor [T, N, {gru.input_size}], got {getattr(inputs, 'shape', inputs)}")
    cell, params = STEPS[convention], gru.layer_parameters(0)

    def step(u_t: Tensor, state: tuple[Tensor]) -> tuple[tuple[Tensor], Tensor]:
        """One step of the convention, emitting ``h_t``."""
        h = cell(u_t, state[0], params.weight_hh, params.bias_hh)
        return (h,), h

    u = F.linear(inputs, params.weight_ih, params.bias_ih)
    hidden, _ = unroll(step, u, (u.new_zeros(inputs.shape[1], gru.hidden_size),))
    return torch.stack(hidden)


def negate_update_gate_(gru: GRU) -> None:
    """Negate the update gate's rows of every weight and bias of ``gru`` in place. Since σ(-a) = 1 - σ(a), this turns
    every z_t into 1 - z_t: a Cho GRU with these weights computes exactly what a Chung GRU computed before."""
    if not isinstance(gru, GRU):
        raise TypeError(f"gru: expected a gatedrnn.GRU, got {type(gru).__name__}")
    H = gru.hidden_size
    with torch.no_grad():
        for parameter in gru.parameters():
            parameter[H : 2 * H].neg_()
