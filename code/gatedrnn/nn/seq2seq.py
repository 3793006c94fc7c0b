"""An encoder–decoder of GRUs, with or without additive attention (Cho et al. 2014; Bahdanau, Cho and Bengio 2015):
a sequence of symbols in, another out.

The encoder reads the source x_1 … x_T (one-hot) into states h_1 … h_T; the decoder starts from s_0 = h_T. At output
step i it reads the previous symbol y_{i-1} (a start symbol at i = 1) and, with attention, the context c_i of
eq. (attn-context) computed from its previous state s_{i-1} and all of h_1 … h_T:

    s_i = GRU([y_{i-1}; c_i], s_{i-1}),     logits_i = W_o [s_i; c_i] + b_o.            (eq. seq2seq-decoder)

Without attention c_i is absent, and everything the decoder knows of the source passes through s_0 = h_T, one
vector at the end of a chain of T steps. With attention every h_j is one step from every output. (Bahdanau et al.'s
encoder reads the source in both directions; this one reads it forward only, so that without attention the first
source symbol is T steps from the decoder's start and the last one step.)

*Teacher forcing* (``forward``) feeds the true previous symbol at every step, as in training; *greedy decoding*
(:meth:`EncoderDecoder.greedy`) feeds the decoder's own most likely symbol, as at use. The difference between the
two, when an early mistake is fed back, is what Ranzato et al. (2016) named exposure bias; Bengio et al. (2015)
describe the same discrepancy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn import validation
from gatedrnn.nn.attention import AdditiveAttention
from gatedrnn.nn.cells import GRUCell
from gatedrnn.nn.layers import GRU


class EncoderDecoder(nn.Module):
    """Symbols 0 … ``symbols`` - 1 in and out; GRUs of ``hidden_size`` units; additive attention with
    ``hidden_size`` attention units when ``attention`` is true. The decoder's start symbol is one more input symbol,
    index ``symbols``, which the decoder reads but never writes."""

    def __init__(self, symbols: int, hidden_size: int, *, attention: bool, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        validation.floating_dtype(dtype)
        self.symbols = validation.check_size("symbols", symbols)
        self.hidden_size = validation.check_size("hidden_size", hidden_size)
        self.attention = validation.check_flag("attention", attention)
        factory = {"device": device, "dtype": dtype}
        context = self.hidden_size if self.attention else 0
        self.encoder = GRU(self.symbols, self.hidden_size, **factory)
        self.decoder = GRUCell(self.symbols + 1 + context, self.hidden_size, **factory)
        self.read = AdditiveAttention(self.hidden_size, self.hidden_size, self.hidden_size, **factory) \
            if self.attention else None
        self.readout = nn.Linear(self.hidden_size + context, self.symbols, **factory)

    def encode(self, source: Tensor) -> list[Tensor]:
        """The encoder's states h_1 … h_T for ``source`` [T, N] (symbols), each [N, H] and a node of the graph, so
        that the gradient of a loss with respect to each can be taken."""
        self._check_symbols("source", source)
        one_hot = F.one_hot(source, self.symbols).to(self.readout.weight.dtype)
        return self.encoder.unroll(one_hot).hidden_states

    def decode(self, states: list[Tensor], previous: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """One output step, eq. (seq2seq-decoder): from the previous symbols [N] (``self.symbols`` = start) and the
        decoder state s_{i-1} [N, H] to the logits [N, symbols] and s_i."""
        inputs = [F.one_hot(previous, self.symbols + 1).to(state.dtype)]
        if self.read is not None:
            context, _ = self.read(state, torch.stack(states))  # eq. (attn-context), from s_{i-1}
            inputs.append(context)
        state = self.decoder(torch.cat(inputs, dim=-1), state)
        features = state if self.read is None else torch.cat([state, context], dim=-1)
        return self.readout(features), state

    def forward(self, source: Tensor, target: Tensor, states: list[Tensor] | None = None) -> Tensor:
        """Teacher forcing: the logits [T', N, symbols] of every output step, each read with the true previous
        symbol of ``target`` [T', N]. ``states``: the encoder's states when the caller has them (to differentiate
        with respect to them); else the source is encoded here."""
        self._check_symbols("target", target)
        states = self.encode(source) if states is None else states
        if target.shape[1] != states[-1].shape[0]:
            raise ValueError(f"target: expected {states[-1].shape[0]} sequences like the source, got {target.shape[1]}")
        previous = torch.cat([torch.full_like(target[:1], self.symbols), target[:-1]])
        state, logits = states[-1], []
        for y in previous:
            step_logits, state = self.decode(states, y, state)
            logits.append(step_logits)
        return torch.stack(logits)

    @torch.no_grad()
    def greedy(self, source: Tensor, length: int) -> Tensor:
        """Greedy decoding: ``length`` output symbols [length, N], each the most likely one given the symbols the
        decoder wrote before it."""
        states = self.encode(source)
        previous = torch.full_like(source[0], self.symbols)
        state, written = states[-1], []
        for _ in range(validation.check_size("length", length)):
            logits, state = self.decode(states, previous, state)
            previous = logits.argmax(dim=-1)
            written.append(previous)
        return torch.stack(written)

    def _check_symbols(self, name: str, value: object) -> None:
        if not isinstance(value, Tensor) or value.dim() != 2 or value.dtype != torch.int64:
            raise ValueError(f"{name}: expected an int64 tensor of symbols [T, N], got "
                             f"{getattr(value, 'dtype', type(value).__name__)} {tuple(getattr(value, 'shape', ()))}")
        if value.numel() and not (0 <= int(value.min()) and int(value.max()) < self.symbols):
            raise ValueError(f"{name}: expected symbols in 0 … {self.symbols - 1}, got {int(value.min())} … "
                             f"{int(value.max())}")
