"""One time step of the vanilla RNN, the LSTM and the GRU, written from the book's equations.

Notation (chapter 2): ``x_t`` the input, ``h_t`` the hidden state, ``c_t`` the LSTM's cell state. Every step takes
``u_t = W_ih x_t + b_ih``, the input's share of the pre-activations, already computed: it does not depend on the
state, so a layer computes it for all steps in one matrix product before the loop (:mod:`gatedrnn.nn.layers`).
Each equation is one line, with the label it carries in the chapters in a comment. Gate order is PyTorch's:
LSTM (i, f, g, o), GRU (r, z, n).

The modules :class:`RNNCell`, :class:`LSTMCell` and :class:`GRUCell` are drop-ins for their ``torch.nn`` namesakes:
same constructor, parameter names and shapes, initialisation (drawn in the same order from the same generator),
forward signature, and unbatched inputs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn import validation

ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_step(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, nonlinearity: str = "tanh") -> Tensor:
    """Vanilla RNN: ``h_t = φ(u_t + W_hh h_{t-1} + b_hh)`` with φ = tanh or ReLU."""
    return ACTIVATIONS[nonlinearity](u + F.linear(h, weight_hh, bias_hh))  # eq. (rnn-hidden)


def lstm_gates(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The LSTM's input gate i, forget gate f, candidate g and output gate o at one step, eq. (lstm-gates)."""
    a_i, a_f, a_g, a_o = (u + F.linear(h, weight_hh, bias_hh)).chunk(4, dim=-1)  # pre-activations, blocks i, f, g, o
    return torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)


def lstm_step(
    u: Tensor,
    h: Tensor,
    c: Tensor,
    weight_hh: Tensor,
    bias_hh: Tensor | None,
    weight_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """LSTM: gates i, f, o, candidate g, cell ``c_t`` and hidden ``h_t`` (projected by ``W_hr`` when given)."""
    i, f, g, o = lstm_gates(u, h, weight_hh, bias_hh)  # eq. (lstm-gates)
    c = f * c + i * g  # eq. (lstm-cell)
    h = o * torch.tanh(c)  # eq. (lstm-hidden)
    if weight_hr is not None:
        h = F.linear(h, weight_hr)  # projection h_t ← W_hr h_t (PyTorch's proj_size)
    return h, c


def gru_gates(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """The GRU's reset gate r, update gate z and candidate n at one step, in PyTorch's reset-after form: the reset gate
    multiplies ``W_hn h_{t-1} + b_hn`` after the product."""
    u_r, u_z, u_n = u.chunk(3, dim=-1)
    v_r, v_z, v_n = F.linear(h, weight_hh, bias_hh).chunk(3, dim=-1)
    r = torch.sigmoid(u_r + v_r)  # reset gate, eq. (gru-gates)
    z = torch.sigmoid(u_z + v_z)  # update gate, eq. (gru-gates)
    n = torch.tanh(u_n + r * v_n)  # candidate, eq. (gru-candidate)
    return r, z, n


def gru_step(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """GRU in PyTorch's reset-after form: ``h_t = (1 - z_t) n_t + z_t h_{t-1}``."""
    _, z, n = gru_gates(u, h, weight_hh, bias_hh)  # eqs. (gru-gates), (gru-candidate)
    return (1 - z) * n + z * h  # eq. (gru-hidden)


def reset_uniform(module: nn.Module, hidden_size: int) -> None:
    """PyTorch's initialisation of recurrent weights: every parameter from U(-1/√H, 1/√H), in registration order."""
    bound = 1.0 / math.sqrt(hidden_size)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-bound, bound)


class _CellBase(nn.Module):
    """Parameters ``weight_ih [G·H, I]``, ``weight_hh [G·H, H]``, ``bias_ih``, ``bias_hh [G·H]`` of a G-gate cell."""

    gates: int

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        validation.floating_dtype(dtype)
        self.input_size = validation.check_size("input_size", input_size)
        self.hidden_size = validation.check_size("hidden_size", hidden_size)
        self.bias = validation.check_flag("bias", bias)
        kw = {"device": device, "dtype": dtype}
        rows = self.gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows, **kw))
            self.bias_hh = nn.Parameter(torch.empty(rows, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), as ``torch.nn`` does."""
        reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        return text if self.bias else text + ", bias=False"

    def _prepare(self, input: Tensor, states: tuple[object, ...], names: tuple[str, ...]) -> tuple[Tensor, ...]:
        """Check ``input`` [N, I] or [I] and the states [N, H] or [H] (None → zeros); return them batched."""
        batched = validation.check_input(
            input, self.weight_ih, input_size=self.input_size, batched_rank=2, layout="(batch, input_size)"
        )
        x = input if batched else input.unsqueeze(0)
        shape = (x.shape[0], self.hidden_size)
        meaning = "(batch, hidden_size)" if batched else "(hidden_size,) for an unbatched input"
        prepared = [x]
        for name, state in zip(names, states):
            if state is None:
                prepared.append(x.new_zeros(shape))
                continue
            validation.check_tensor_like(name, state, self.weight_hh)
            validation.check_shape(name, state, shape if batched else shape[1:], meaning)
            prepared.append(state if batched else state.unsqueeze(0))
        return tuple(prepared)

    def _input_share(self, x: Tensor) -> Tensor:
        """``u_t = W_ih x_t + b_ih``."""
        return F.linear(x, self.weight_ih, self.bias_ih)


class RNNCell(_CellBase):
    """Drop-in for ``torch.nn.RNNCell``: ``h' = φ(W_ih x + b_ih + W_hh h + b_hh)``."""

    gates = 1

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None, dtype=None
    ) -> None:
        nonlinearity = validation.check_nonlinearity(nonlinearity)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity={self.nonlinearity!r}"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """``input`` [N, I] or [I], ``hx`` [N, H] or [H] (default zeros) → ``h'`` of the shape of ``hx``."""
        if hx is not None and not isinstance(hx, Tensor):
            raise TypeError(f"hx: expected a tensor (batch, hidden_size) or None, got {type(hx).__name__}")
        x, h = self._prepare(input, (hx,), ("hx",))
        h = rnn_step(self._input_share(x), h, self.weight_hh, self.bias_hh, self.nonlinearity)
        return h if input.dim() == 2 else h.squeeze(0)


class LSTMCell(_CellBase):
    """Drop-in for ``torch.nn.LSTMCell``: returns ``(h', c')``."""

    gates = 4

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """``input`` [N, I] or [I], ``hx = (h, c)`` each [N, H] or [H] (default zeros) → ``(h', c')``."""
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"hx: expected a tuple (h_0, c_0) of two tensors or None, got {type(hx).__name__}")
        x, h, c = self._prepare(input, hx if hx is not None else (None, None), ("hx[0]", "hx[1]"))
        h, c = lstm_step(self._input_share(x), h, c, self.weight_hh, self.bias_hh)
        return (h, c) if input.dim() == 2 else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """Drop-in for ``torch.nn.GRUCell`` (reset-after form, gate order r, z, n)."""

    gates = 3

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """``input`` [N, I] or [I], ``hx`` [N, H] or [H] (default zeros) → ``h'`` of the shape of ``hx``."""
        if hx is not None and not isinstance(hx, Tensor):
            raise TypeError(f"hx: expected a tensor (batch, hidden_size) or None, got {type(hx).__name__}")
        x, h = self._prepare(input, (hx,), ("hx",))
        h = gru_step(self._input_share(x), h, self.weight_hh, self.bias_hh)
        return h if input.dim() == 2 else h.squeeze(0)
