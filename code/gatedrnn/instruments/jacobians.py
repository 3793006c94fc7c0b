"""Jacobians of one step of the LSTM and the GRU, in closed form (chapters 6 and 7).

Each function takes one sequence's step, unbatched: ``u`` = W_ih x_t + b_ih (the input's share of the
pre-activations, [G·H]), the previous state (``h`` [H], and ``c`` [H] for the LSTM) and the layer's ``weight_hh``
[G·H, H] and ``bias_hh`` [G·H] (or None). Matrices are H×H, row index the output unit, column the input unit.
The chapters check every formula here against ``torch.autograd`` in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gatedrnn.nn.cells import gru_gates, lstm_gates
from gatedrnn.validation import check_shape


class LSTMStepJacobian(NamedTuple):
    """The four blocks of ∂(h_t, c_t)/∂(h_{t-1}, c_{t-1}) for one LSTM step."""

    h_h: Tensor  # ∂h_t/∂h_{t-1}, eq. (lstm-jac-hh)
    h_c: Tensor  # ∂h_t/∂c_{t-1}, eq. (lstm-jac-hc)
    c_h: Tensor  # ∂c_t/∂h_{t-1}, eq. (lstm-jac-ch)
    c_c: Tensor  # ∂c_t/∂c_{t-1} = diag(f_t), eq. (lstm-jac-cc)


class GRUStepJacobian(NamedTuple):
    """∂h_t/∂h_{t-1} of one GRU step (PyTorch's reset-after form), split as in eq. (gru-jacobian)."""

    leak: Tensor  # diag(z_t): the state copied forward
    update: Tensor  # diag(h_{t-1} - n_t) ∂z_t/∂h_{t-1}: the update gate's own dependence on the state
    candidate: Tensor  # diag(1 - z_t) ∂n_t/∂h_{t-1}: the path through the candidate

    @property
    def total(self) -> Tensor:
        """The whole Jacobian, the sum of the three paths."""
        return self.leak + self.update + self.candidate


def _check_step(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, gates: int) -> int:
    for name, value in (("u", u), ("h", h), ("weight_hh", weight_hh)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name}: expected a tensor, got {type(value).__name__}")
    if h.dim() != 1:
        raise ValueError(f"h: expected one unbatched state [H], got shape {tuple(h.shape)}")
    H = h.shape[0]
    check_shape("u", u, (gates * H,), f"({gates}·H,) with H = {H} from h")
    check_shape("weight_hh", weight_hh, (gates * H, H), f"({gates}·H, H) with H = {H} from h")
    if bias_hh is not None:
        check_shape("bias_hh", bias_hh, (gates * H,), f"({gates}·H,) with H = {H} from h")
    return H


def lstm_step_jacobian(u: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> LSTMStepJacobian:
    """The closed-form blocks of one LSTM step's Jacobian (PyTorch's gate order i, f, g, o)."""
    H = _check_step(u, h, weight_hh, bias_hh, gates=4)
    check_shape("c", c, (H,), f"(H,) with H = {H} from h")
    i, f, g, o = lstm_gates(u, h, weight_hh, bias_hh)  # eq. (lstm-gates)
    W_hi, W_hf, W_hg, W_ho = weight_hh.split(H)
    tanh_c = torch.tanh(f * c + i * g)
    c_h = (c * f * (1 - f))[:, None] * W_hf + (g * i * (1 - i))[:, None] * W_hi + (i * (1 - g**2))[:, None] * W_hg  # eq. (lstm-jac-ch)
    d_tanh = o * (1 - tanh_c**2)  # ∂h_t/∂c_t, a diagonal
    h_h = (tanh_c * o * (1 - o))[:, None] * W_ho + d_tanh[:, None] * c_h  # eq. (lstm-jac-hh)
    h_c, c_c = torch.diag(d_tanh * f), torch.diag(f)  # eqs. (lstm-jac-hc), (lstm-jac-cc)
    return LSTMStepJacobian(h_h=h_h, h_c=h_c, c_h=c_h, c_c=c_c)


def gru_step_jacobian(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> GRUStepJacobian:
    """The closed-form ∂h_t/∂h_{t-1} of one GRU step (PyTorch's reset-after form, gate order r, z, n)."""
    H = _check_step(u, h, weight_hh, bias_hh, gates=3)
    r, z, n = gru_gates(u, h, weight_hh, bias_hh)  # eqs. (gru-gates), (gru-candidate)
    W_hr, W_hz, W_hn = weight_hh.split(H)
    v_n = F.linear(h, W_hn, None if bias_hh is None else bias_hh.chunk(3)[2])  # W_hn h_{t-1} + b_hn, what r scales
    dz = (z * (1 - z))[:, None] * W_hz  # ∂z_t/∂h_{t-1}
    dn = (1 - n**2)[:, None] * (r[:, None] * W_hn + (v_n * r * (1 - r))[:, None] * W_hr)  # ∂n_t/∂h_{t-1}
    return GRUStepJacobian(leak=torch.diag(z),  # eq. (gru-jacobian)
                            update=(h - n)[:, None] * dz, candidate=(1 - z)[:, None] * dn)
