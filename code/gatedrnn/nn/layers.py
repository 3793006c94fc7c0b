"""Sequence modules, built in three levels as PyTorch's fastrnns benchmark builds them:

* a *cell* is one step of :mod:`gatedrnn.nn.cells`, from ``u_t`` and the state ``s_{t-1}`` to ``s_t``, where the state
  is a tuple, ``(h,)`` for the RNN and the GRU, ``(h, c)`` for the LSTM;
* a *layer* unrolls a cell over time (:func:`unroll`): :func:`run_layer` computes ``u_t = W_ih x_t + b_ih`` for
  every t in one product and runs the cell forward in time, :func:`run_reversed` backwards; given each sequence's
  ``lengths`` (a padded batch of sequences of different lengths), a row keeps its state once its sequence has ended
  (:func:`keep_running`) and the reverse direction starts at each sequence's own last element
  (:func:`reverse_in_time`);
* a *stack* composes layers (:func:`run_stack`), each with one or two directions, with dropout between them in
  training mode.

:class:`RNN`, :class:`LSTM` and :class:`GRU` supply only their cell (:meth:`RecurrentBase.cell`) and the names of
their state tensors; :class:`RecurrentBase` turns ``torch.nn``'s ``hx`` and ``h_n`` (a tensor, or ``(h, c)`` for the
LSTM) into state tuples and back. The three are drop-ins for their ``torch.nn`` namesakes: same constructor
arguments, parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...), shapes, gate order, initialisation
(drawn in the same order from the same generator), ``state_dict``, forward signature and returns, optional initial
state, unbatched input and packed sequences (a ``PackedSequence`` in, a ``PackedSequence`` out, ``hx`` and ``h_n`` in
the original batch order). They use plain tensor operations only, never PyTorch's fused recurrent kernels, so every
intermediate state is an ordinary node of the autograd graph that the book can inspect (:meth:`RecurrentBase.unroll`).
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any, Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from gatedrnn import validation
from gatedrnn.nn.cells import gru_step, lstm_step, reset_uniform, rnn_step

State = Tensor | tuple[Tensor, Tensor]  # torch.nn's form of hx and h_n: a tensor, or (h, c) for the LSTM
Carry = tuple[Tensor, ...]  # the state a cell carries from one step to the next: (h,) or (h, c)


class Unrolled(NamedTuple):
    """What :meth:`RecurrentBase.unroll` returns.

    ``output`` and ``final_state`` are exactly what ``forward`` returns; ``hidden_states`` lists the top layer's
    forward-direction ``h_t`` for t = 0 … T-1 as the tensors the graph was built from (batched [N, H] even for an
    unbatched input), so that ``torch.autograd.grad(loss, hidden_states)`` gives the total derivatives ∂L/∂h_t. For
    a ``PackedSequence`` input, t runs over the longest sequence's steps, rows are in the input's original batch order
    (that of ``hx`` and ``h_n``), and a row past its sequence's end holds its final state.
    """

    output: Tensor | PackedSequence
    final_state: State
    hidden_states: list[Tensor]


class LayerParameters(NamedTuple):
    """The weights of one layer and direction, named as in the equations (None where the module has none)."""

    weight_ih: Tensor
    weight_hh: Tensor
    bias_ih: Tensor | None
    bias_hh: Tensor | None
    weight_hr: Tensor | None


Cell = Callable[[Tensor, Carry, LayerParameters], Carry]  # (u_t, s_{t-1}, weights) → s_t


def unroll(step: Callable[[Tensor, Carry], tuple[Carry, Any]], u: Tensor, state: Carry) -> tuple[list[Any], Carry]:
    """Apply ``step`` at every time step, ``state, e_t = step(u_t, state)`` for t = 0 … T-1, and return
    ``[e_0, …, e_{T-1}]`` and the final state.

    ``u`` [T, N, G·H] holds the input's share ``u_t = W_ih x_t + b_ih`` of every step, computed before the loop
    because it does not depend on the state; ``state`` is the tuple a step carries, ``(h,)`` or ``(h, c)``.
    ``step`` emits what the caller keeps: ``h_t`` for a layer (:func:`run_layer`), the gate values for
    :func:`gatedrnn.instruments.gates.record_gates`.
    """
    emitted = []
    for u_t in u.unbind(0):  # one backward node for all steps; each u[t] would add a [T, N, G·H] zero gradient: O(T²)
        state, value = step(u_t, state)
        emitted.append(value)
    return emitted, state


def keep_running(new: Carry, old: Carry, running: Tensor) -> Carry:
    """The ``new`` state in the rows whose sequence is still running (``running`` [N, 1] True), the ``old`` one in the
    rows whose sequence has ended: a sequence's state stays the one after its own last element, and the padding after
    that element influences nothing (in the backward pass too: ``torch.where`` sends no gradient to the other side)."""
    return tuple(torch.where(running, a, b) for a, b in zip(new, old))


def reverse_in_time(x: Tensor, lengths: Tensor | None = None) -> Tensor:
    """``x`` [T, N, ·] with each sequence reversed in time: entirely, or within its own length ``lengths[n]`` with the
    padding after it left in place, so that the reversed sequence starts at the sequence's own last element. Applied
    twice it gives ``x`` back."""
    if lengths is None:
        return x.flip(0)
    t = torch.arange(x.shape[0], device=x.device).unsqueeze(1)
    source = torch.where(t < lengths, lengths - 1 - t, t)  # [T, N]: the step that lands at t, per sequence
    return x.gather(0, source.unsqueeze(-1).expand_as(x))


def run_layer(
    cell: Cell, params: LayerParameters, x: Tensor, state: Carry, lengths: Tensor | None = None
) -> tuple[list[Tensor], Carry]:
    """One layer in one direction, forward in time: ``u_t = W_ih x_t + b_ih`` for every t of ``x`` [T, N, ·] in one
    product, then ``cell`` unrolled from ``state`` with the weights ``params``. Returns every ``h_t`` and the final
    state. With ``lengths`` [N] (``x`` padded beyond them), row n keeps its state from step ``lengths[n]`` on
    (:func:`keep_running`), so that its final state is the one after its own last element."""
    u = F.linear(x, params.weight_ih, params.bias_ih)  # u_t = W_ih x_t + b_ih for every t at once
    clock = itertools.count()  # step t reads t from it, to know which sequences still run

    def step(u_t: Tensor, state: Carry) -> tuple[Carry, Tensor]:
        new = cell(u_t, state, params)
        if lengths is not None:
            new = keep_running(new, state, (next(clock) < lengths).unsqueeze(1))
        return new, new[0]  # h_t, the layer's output at step t

    return unroll(step, u, state)


def run_reversed(
    cell: Cell, params: LayerParameters, x: Tensor, state: Carry, lengths: Tensor | None = None
) -> tuple[list[Tensor], Carry]:
    """One layer in one direction, backwards in time: :func:`run_layer` on the reversed sequence, its ``h_t`` reversed
    back, so that entry t holds the state after reading ``x_{T-1}, …, x_t`` (the reverse half of a bidirectional
    layer). The final state is the one after reading ``x_0``. With ``lengths`` [N], sequence n is reversed within its
    own length (:func:`reverse_in_time`): it starts at ``x_{lengths[n]-1}``, and the padding is never read."""
    hidden, final = run_layer(cell, params, reverse_in_time(x, lengths), state, lengths)
    if lengths is None:
        return hidden[::-1], final
    return list(reverse_in_time(torch.stack(hidden), lengths).unbind(0)), final


def run_stack(
    cell: Cell,
    params: Sequence[Sequence[LayerParameters]],
    x: Tensor,
    states: Sequence[Carry],
    dropout: float = 0.0,
    training: bool = False,
    lengths: Tensor | None = None,
) -> tuple[Tensor, list[Carry], list[Tensor]]:
    """Layers on top of each other: layer l reads the output of layer l - 1, through dropout with probability
    ``dropout`` in training mode.

    ``params[l]`` holds layer l's weights per direction, ``(forward,)`` or ``(forward, reverse)``; a layer's output
    [T, N, D·H] concatenates the ``h_t`` of its directions. ``states`` holds one initial state per layer and
    direction in ``torch.nn``'s order (layer by layer, forward first). Returns the top layer's output, the final
    states in the order of ``states``, and the top layer's forward ``h_t`` as the graph's own nodes. With ``lengths``
    [N], ``x`` is a padded batch and each sequence ends at its own length in every layer and direction; the output
    past a sequence's end is not meaningful (it repeats the final states).
    """
    remaining = iter(states)
    finals: list[Carry] = []
    for depth, directions in enumerate(params):
        if depth > 0 and dropout > 0:
            x = F.dropout(x, dropout, training)
        runs = [
            run(cell, weights, x, next(remaining), lengths)
            for run, weights in zip((run_layer, run_reversed), directions)
        ]
        x = torch.cat([torch.stack(hidden) for hidden, _ in runs], dim=-1)
        finals += [final for _, final in runs]
    return x, finals, runs[0][0]


def pack_like(padded: Tensor, lengths: Tensor, like: PackedSequence) -> PackedSequence:
    """``padded`` [T, N, ·], rows in the original batch order with their ``lengths`` (on the CPU), packed with the
    batch sizes and batch orders of ``like``: the inverse of ``pad_packed_sequence(like)``."""
    if like.sorted_indices is not None:  # the rows by decreasing length, the order packing wants
        padded, lengths = padded.index_select(1, like.sorted_indices), lengths[like.sorted_indices.cpu()]
    data = pack_padded_sequence(padded, lengths).data
    return PackedSequence(data, like.batch_sizes, like.sorted_indices, like.unsorted_indices)


class RecurrentBase(nn.Module):
    """What the vanilla RNN, the LSTM and the GRU share: parameters, checks, and ``torch.nn``'s state conventions
    around :func:`run_stack`. A model supplies its :meth:`cell` and the names of its state tensors."""

    gates: int
    mode: str
    state_names: tuple[str, ...] = ("h",)

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
            raise ValueError(
                f"proj_size: only the LSTM has a projection, expected 0 for {type(self).__name__}, got {proj_size}"
            )
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

    def cell(self, u: Tensor, state: Carry, params: LayerParameters) -> Carry:
        """One step of the model, ``s_t`` from ``u_t`` and ``s_{t-1}`` with the weights ``params``: each model's own."""
        raise NotImplementedError

    # ---- torch.nn's state conventions: the one place that knows a state's tensors ------------------------------
    def _initial_states(self, hx: object, batch: int, batched: bool) -> list[Carry]:
        """``hx`` → one state tuple per layer and direction, in ``torch.nn``'s order, each tensor batched [N, ·].

        ``hx`` is a tensor [L·D, N, H] (for the LSTM a tuple ``(h_0, c_0)``), [L·D, H] for an unbatched input, or
        None for zeros. ``h`` has ``output_size`` features, the LSTM's ``c`` has ``hidden_size``.
        """
        if len(self.state_names) == 1:
            if hx is not None and not isinstance(hx, Tensor):
                raise TypeError(
                    "hx: expected a tensor (num_layers * num_directions, batch, hidden_size) or None for "
                    f"{type(self).__name__}, got {type(hx).__name__}"
                )
            given, labels = (hx,), ("hx",)
        else:
            if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(
                    f"hx: expected a tuple (h_0, c_0) of two tensors or None for LSTM, got {type(hx).__name__}"
                )
            given, labels = hx if hx is not None else (None, None), ("hx[0]", "hx[1]")
        sizes = {"h": self.output_size, "c": self.hidden_size}
        tensors = [
            self._state_tensor(label, value, batch, batched, sizes[name])
            for label, value, name in zip(labels, given, self.state_names)
        ]
        return list(zip(*(tensor.unbind(0) for tensor in tensors)))

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

    def _final_state(self, finals: list[Carry], batched: bool) -> State:
        """One state tuple per layer and direction → ``h_n`` [L·D, N, H] (for the LSTM ``(h_n, c_n)``), without the
        batch dimension for an unbatched input."""
        stacked = tuple(torch.stack(tensors) for tensors in zip(*finals))
        if not batched:
            stacked = tuple(tensor.squeeze(1) for tensor in stacked)
        return stacked if len(self.state_names) > 1 else stacked[0]

    # ---- the stack over time ----------------------------------------------------------------------------------
    def unroll(self, input: Tensor | PackedSequence, hx: State | None = None) -> Unrolled:
        """Run the stack like ``forward``, also returning the top layer's hidden states as graph nodes."""
        if isinstance(input, PackedSequence):
            return self._unroll_packed(input, hx)
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
        output, final_state, hidden = self._run_stack(x, hx, batched)
        if self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
        return Unrolled(output, final_state, hidden)

    def _unroll_packed(self, input: PackedSequence, hx: State | None) -> Unrolled:
        """:meth:`unroll` of a ``PackedSequence``: padded to [T, N, I] in the original batch order (that of ``hx`` and
        ``h_n``, as ``torch.nn`` has them), run with each sequence's length, packed back like ``input``. Whatever
        ``batch_first``, as in ``torch.nn``: a PackedSequence has one layout."""
        validation.check_packed_input(input.data, self.weight_ih_l0, input_size=self.input_size)
        x, lengths = pad_packed_sequence(input)  # lengths on the CPU, as packing wants them
        output, final_state, hidden = self._run_stack(x, hx, True, lengths.to(x.device))
        return Unrolled(pack_like(output, lengths, input), final_state, hidden)

    def _run_stack(
        self, x: Tensor, hx: State | None, batched: bool, lengths: Tensor | None = None
    ) -> tuple[Tensor, State, list[Tensor]]:
        """:func:`run_stack` on ``x`` [T, N, I] from ``hx`` with this module's weights: the output [T, N, D·H], ``h_n``
        and the top layer's forward ``h_t``. With ``lengths`` [N], each sequence ends at its own length."""
        states = self._initial_states(hx, x.shape[1], batched)
        params = [
            [self.layer_parameters(layer, direction) for direction in range(self.num_directions)]
            for layer in range(self.num_layers)
        ]
        output, finals, hidden = run_stack(self.cell, params, x, states, self.dropout, self.training, lengths)
        return output, self._final_state(finals, batched), hidden

    def forward(
        self, input: Tensor | PackedSequence, hx: State | None = None
    ) -> tuple[Tensor | PackedSequence, State]:
        """``input`` [T, N, I] ([N, T, I] if batch_first, [T, I] unbatched) or a ``PackedSequence`` → ``(output,
        h_n)``, as ``torch.nn``: a packed input gives a packed output, and ``h_n`` holds each sequence's state after
        its own last element. For a packed input, dropout between layers draws its masks over the padded batch, so
        they differ from those of ``torch.nn`` (which draws them over the packed data)."""
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

    def cell(self, u: Tensor, state: Carry, params: LayerParameters) -> Carry:
        """``(h_t,)`` from ``(h_{t-1},)``, eq. (rnn-hidden)."""
        return (rnn_step(u, state[0], params.weight_hh, params.bias_hh, self.nonlinearity),)


class GRU(RecurrentBase):
    """Drop-in for ``torch.nn.GRU``: a stack of gated recurrent layers (reset-after form, gate order r, z, n)."""

    gates = 3
    mode = "GRU"

    def cell(self, u: Tensor, state: Carry, params: LayerParameters) -> Carry:
        """``(h_t,)`` from ``(h_{t-1},)``, eqs. (gru-gates) to (gru-hidden)."""
        return (gru_step(u, state[0], params.weight_hh, params.bias_hh),)


class LSTM(RecurrentBase):
    """Drop-in for ``torch.nn.LSTM``: state ``(h, c)``, gate order i, f, g, o, optional projection ``proj_size``."""

    gates = 4
    mode = "LSTM"
    state_names = ("h", "c")

    def cell(self, u: Tensor, state: Carry, params: LayerParameters) -> Carry:
        """``(h_t, c_t)`` from ``(h_{t-1}, c_{t-1})``, eqs. (lstm-gates) to (lstm-hidden), ``h_t`` projected by
        ``W_hr`` when ``proj_size`` is set."""
        h, c = state
        return lstm_step(u, h, c, params.weight_hh, params.bias_hh, params.weight_hr)
