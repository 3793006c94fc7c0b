"""Sequence modules: a *layer* unrolls one step function of :mod:`gatedrnn.cells` over time; a *stack* composes
layers, each optionally bidirectional, with dropout between them in training mode.

:class:`RNN`, :class:`LSTM` and :class:`GRU` are drop-ins for their ``torch.nn`` namesakes: same constructor
arguments, parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), shapes, gate order, initialisation
(drawn in the same order from the same generator), ``state_dict``, forward signature and returns, optional initial
state and unbatched input. They use plain tensor operations only, never PyTorch's fused recurrent kernels, so every
intermediate state is an ordinary node of the autograd graph that the book can inspect (:meth:`RecurrentBase.unroll`).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn import validation
from gatedrnn.cells import gru_step, lstm_step, reset_uniform, rnn_step

State = Tensor | tuple[Tensor, Tensor]


class Unrolled(NamedTuple):
    """What :meth:`RecurrentBase.unroll` returns.

    ``output`` and ``final_state`` are exactly what ``forward`` returns; ``hidden_states`` lists the top layer's
    forward-direction ``h_t`` for t = 0 … T-1 as the tensors the graph was built from (batched [N, H] even for an unbatched input), so
    that ``torch.autograd.grad(loss, hidden_states)`` gives the total derivatives ∂L/∂h_t.
    """

    output: Tensor
    final_state: State
    hidden_states: list[Tensor]


class LayerParameters(NamedTuple):
    """The weights of one layer and direction, named as in the equations (None where the module has none)."""

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None
    weight_hr: Tensor | None


class RecurrentBase(nn.Module):
    """What the vanilla RNN, the LSTM and the GRU share: parameters, checks, and the unrolling over layers and time."""

    gates: int
    mode: str

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        validation.floating_dtype(dtype)
        self.input_size = validation.check_size("input_size", input_size)
        self.hidden_size = validation.check_size("hidden_size", hidden_size)
        self.num_layers = validation.check_size("num_layers", num_layers)
        self.bias = validation.check_flag("bias", bias)
        self.batch_first = validation.check_flag("batch_first", batch_first)
        self.dropout = validation.check_dropout(dropout)
        self.bidirectional = validation.check_flag("bidirectional", bidirectional)
        self.proj_size = validation.check_size("proj_size", proj_size, minimum=0)
        if proj_size and self.mode != "LSTM":
            raise ValueError(f"proj_size: only the LSTM has a projection, expected 0 for {type(self).__name__}, got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size: expected 0 or an int < hidden_size={hidden_size}, got {proj_size}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"dropout={dropout} acts between layers only, and num_layers=1: it has no effect", stacklevel=2
            )
        kw = {"device": device, "dtype": dtype}
        rows, out = self.gates * hidden_size, self.output_size
        for layer in range(num_layers):
            for suffix in self._suffixes():
                width = input_size if layer == 0 else out * self.num_directions
                self.register_parameter(f"weight_ih_l{layer}{suffix}", nn.Parameter(torch.empty(rows, width, **kw)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", nn.Parameter(torch.empty(rows, out, **kw)))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", nn.Parameter(torch.empty(rows, **kw)))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", nn.Parameter(torch.empty(rows, **kw)))
                if proj_size:
                    weight_hr = nn.Parameter(torch.empty(proj_size, hidden_size, **kw))
                    self.register_parameter(f"weight_hr_l{layer}{suffix}", weight_hr)
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        """2 when bidirectional, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features of ``h_t`` per direction: ``proj_size`` when set, else ``hidden_size``."""
        return self.proj_size or self.hidden_size

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H), as ``torch.nn`` does."""
        reset_uniform(self, self.hidden_size)

    def flatten_parameters(self) -> None:
        """Does nothing: kept so that code written for ``torch.nn`` (which packs weights for cuDNN here) runs."""

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"proj_size": 0, "num_layers": 1, "bias": True, "batch_first": False}
        defaults |= {"dropout": 0.0, "bidirectional": False}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """The parameters of each layer and direction, in ``torch.nn``'s order (as its ``all_weights``)."""
        return [
            [parameter for parameter in self.layer_parameters(layer, direction) if parameter is not None]
            for layer in range(self.num_layers)
            for direction in range(self.num_directions)
        ]

    def layer_parameters(self, layer: int, direction: int = 0) -> LayerParameters:
        """The weights of one layer and direction (``direction`` 1 is the reverse one), in ``torch.nn``'s order."""
        suffix = self._suffixes()[direction]
        return LayerParameters(*(getattr(self, f"{name}_l{layer}{suffix}", None) for name in LayerParameters._fields))

    # ---- the step, and the state it carries: specialised by each model ---------------------------------------
    def _step(self, u: Tensor, state: State, params: LayerParameters) -> State:
        raise NotImplementedError

    @staticmethod
    def _hidden(state: State) -> Tensor:
        return state

    def _check_state(self, hx: object, batch: int, batched: bool) -> list[State]:
        """``hx`` → one state per (layer, direction), each batched [N, ·]."""
        if hx is not None and not isinstance(hx, Tensor):
            raise TypeError(
                f"hx: expected a tensor (num_layers * num_directions, batch, hidden_size) or None for {type(self).__name__}, "
                f"got {type(hx).__name__}"
            )
        return list(self._state_tensor("hx", hx, batch, batched, self.hidden_size).unbind(0))

    def _state_tensor(self, name: str, value: Tensor | None, batch: int, batched: bool, size: int) -> Tensor:
        """Check one initial-state tensor [L·D, N, size] (or [L·D, size] unbatched); None → zeros. Returns 3-D."""
        layers = self.num_layers * self.num_directions
        reference = self.weight_hh_l0
        if value is None:
            return reference.new_zeros(layers, batch, size)
        validation.check_tensor_like(name, value, reference)
        if batched:
            validation.check_shape(name, value, (layers, batch, size), "(num_layers * num_directions, batch, size)")
            return value
        validation.check_shape(name, value, (layers, size), "(num_layers * num_directions, size) when unbatched")
        return value.unsqueeze(1)

    @staticmethod
    def _stack_states(states: list[State]) -> State:
        return torch.stack(states)

    # ---- unrolling ----------------------------------------------------------------------------------------------
    def _unroll_layer(self, inputs: Tensor, state: State, params: LayerParameters) -> tuple[list[Tensor], State]:
        """Run one layer over ``inputs`` [T, N, ·] from ``state``; return every ``h_t`` and the last state."""
        u = F.linear(inputs, params.weight_ih, params.bias_ih)  # u_t = W_ih x_t + b_ih for every t at once
        hidden = []
        for u_t in u.unbind(0):  # one backward node for all steps; u[t] would add a [T, N, G·H] zero gradient each
            state = self._step(u_t, state, params)
            hidden.append(self._hidden(state))
        return hidden, state

    def unroll(self, input: Tensor, hx: State | None = None) -> Unrolled:
        """Run the stack like ``forward``, also returning the top layer's hidden states as graph nodes."""
        batched = validation.check_input(
            input,
            self.weight_ih_l0,
            input_size=self.input_size,
            batched_rank=3,
            layout="(batch, seq_len, input_size)" if self.batch_first else "(seq_len, batch, input_size)",
        )
        x = input if batched else input.unsqueeze(0 if self.batch_first else 1)
        if self.batch_first:
            x = x.transpose(0, 1)
        validation.check_sequence_length(x, 0)
        states = self._check_state(hx, x.shape[1], batched)
        finals: list[State] = []
        top: list[Tensor] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                sequence = x if direction == 0 else x.flip(0)
                hidden, final = self._unroll_layer(sequence, states[index], self.layer_parameters(layer, direction))
                outputs.append(torch.stack(hidden if direction == 0 else hidden[::-1]))
                finals.append(final)
                if direction == 0:
                    top = hidden
            x = torch.cat(outputs, dim=-1)
            if layer < self.num_layers - 1 and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
        output = x.transpose(0, 1) if self.batch_first else x
        final_state = self._stack_states(finals)
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            final_state = self._unbatch(final_state)
        return Unrolled(output, final_state, top)

    @staticmethod
    def _unbatch(state: State) -> State:
        return state.squeeze(1)

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """``input`` [T, N, I] ([N, T, I] if batch_first, [T, I] unbatched) → ``(output, h_n)``, as ``torch.nn``."""
        output, final_state, _ = self.unroll(input, hx)
        return output, final_state


class RNN(RecurrentBase):
    """Drop-in for ``torch.nn.RNN``: a stack of vanilla tanh (or ReLU) recurrent layers."""

    gates = 1
    mode = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ) -> None:
        nonlinearity = validation.check_nonlinearity(nonlinearity)
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device=device, dtype=dtype
        )
        self.nonlinearity = nonlinearity
        self.mode = f"RNN_{nonlinearity.upper()}"  # torch.nn.RNN's name for it

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity={self.nonlinearity!r}"

    def _step(self, u: Tensor, state: Tensor, params: LayerParameters) -> Tensor:
        return rnn_step(u, state, params.weight_hh, params.bias_hh, self.nonlinearity)


class GRU(RecurrentBase):
    """Drop-in for ``torch.nn.GRU``: a stack of gated recurrent layers (reset-after form, gate order r, z, n)."""

    gates = 3
    mode = "GRU"

    def _step(self, u: Tensor, state: Tensor, params: LayerParameters) -> Tensor:
        return gru_step(u, state, params.weight_hh, params.bias_hh)


class LSTM(RecurrentBase):
    """Drop-in for ``torch.nn.LSTM``: state ``(h, c)``, gate order i, f, g, o, optional projection ``proj_size``."""

    gates = 4
    mode = "LSTM"

    def _step(self, u: Tensor, state: tuple[Tensor, Tensor], params: LayerParameters) -> tuple[Tensor, Tensor]:
        h, c = state
        return lstm_step(u, h, c, params.weight_hh, params.bias_hh, params.weight_hr)

    @staticmethod
    def _hidden(state: tuple[Tensor, Tensor]) -> Tensor:
        return state[0]

    def _check_state(self, hx: object, batch: int, batched: bool) -> list[tuple[Tensor, Tensor]]:
        if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"hx: expected a tuple (h_0, c_0) of two tensors or None for LSTM, got {type(hx).__name__}")
        h0, c0 = hx if hx is not None else (None, None)
        h = self._state_tensor("hx[0]", h0, batch, batched, self.output_size)
        c = self._state_tensor("hx[1]", c0, batch, batched, self.hidden_size)
        return list(zip(h.unbind(0), c.unbind(0)))

    @staticmethod
    def _stack_states(states: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        return torch.stack([h for h, _ in states]), torch.stack([c for _, c in states])

    @staticmethod
    def _unbatch(state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        return state[0].squeeze(1), state[1].squeeze(1)
