"""Recording what the gates do (chapters 6 to 8): the value of every gate at every step of a run, and how many of
those values sit near 0 or 1."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gatedrnn.nn.cells import gru_gates, gru_step, lstm_gates, lstm_step
from gatedrnn.nn.layers import GRU, LSTM, unroll

LSTM_GATES = ("i", "f", "g", "o")
GRU_GATES = ("r", "z", "n")


def record_gates(rnn: LSTM | GRU, inputs: Tensor) -> dict[str, Tensor]:
    """Run a one-layer, unidirectional ``rnn`` from the zero state over ``inputs`` [T, N, I] and return each gate's
    value at every step, [T, N, H] each: ``i, f, g, o`` and the cell ``c`` for an LSTM (eqs. lstm-gates, lstm-cell),
    ``r, z, n`` for a GRU (eqs. gru-gates, gru-candidate), and ``h`` for both. Nothing is differentiated."""
    if not isinstance(rnn, (LSTM, GRU)):
        raise TypeError(f"rnn: expected a gatedrnn.LSTM or GRU, got {type(rnn).__name__}")
    if rnn.num_layers != 1 or rnn.bidirectional or rnn.batch_first or rnn.proj_size:
        raise ValueError("rnn: expected one layer, one direction, batch_first=False and no projection, got "
                         f"num_layers={rnn.num_layers}, bidirectional={rnn.bidirectional}, "
                         f"batch_first={rnn.batch_first}, proj_size={rnn.proj_size}")
    weight = rnn.weight_ih_l0
    if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[-1] != rnn.input_size:
        raise ValueError(f"inputs: expected a tensor [T, N, {rnn.input_size}], got {getattr(inputs, 'shape', inputs)}")
    params = rnn.layer_parameters(0)
    lstm = isinstance(rnn, LSTM)
    names = LSTM_GATES + ("c", "h") if lstm else GRU_GATES + ("h",)

    def step(u_t: Tensor, state: tuple[Tensor, ...]) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        """One step that also emits its gates: ``(i, f, g, o, c_t, h_t)`` for the LSTM, ``(r, z, n, h_t)`` for the
        GRU."""
        if lstm:
            values = lstm_gates(u_t, state[0], params.weight_hh, params.bias_hh)
            h, c = lstm_step(u_t, *state, params.weight_hh, params.bias_hh)
            return (h, c), (*values, c, h)
        values = gru_gates(u_t, state[0], params.weight_hh, params.bias_hh)
        h = gru_step(u_t, state[0], params.weight_hh, params.bias_hh)
        return (h,), (*values, h)

    with torch.no_grad():
        u = F.linear(inputs.to(weight), params.weight_ih, params.bias_ih)
        zeros = u.new_zeros(inputs.shape[1], rnn.hidden_size)
        emitted, _ = unroll(step, u, (zeros, zeros) if lstm else (zeros,))
    return {name: torch.stack(values) for name, values in zip(names, zip(*emitted))}


def saturation(gate: Tensor, margin: float = 0.1) -> tuple[float, float]:
    """The fractions of a sigmoid gate's values below ``margin`` (nearly shut) and above ``1 - margin`` (nearly
    open)."""
    if not isinstance(gate, Tensor) or not gate.is_floating_point():
        raise TypeError(f"gate: expected a floating-point tensor, got {type(gate).__name__}")
    if not 0 < margin < 0.5:
        raise ValueError(f"margin: expected a number in (0, 0.5), got {margin!r}")
    if bool(((gate < 0) | (gate > 1)).any()):
        raise ValueError("gate: expected values in [0, 1] (a sigmoid gate), got values outside")
    return (gate < margin).double().mean().item(), (gate > 1 - margin).double().mean().item()
