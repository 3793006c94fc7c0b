"""Attention: one read of a whole sequence, whose gradient reaches every position in one step.

* Additive attention (Bahdanau, Cho and Bengio 2015), a decoder state s reading encoder states h_1 … h_T:

      e_j = vᵀ tanh(W_s s + W_h h_j),                                              (eq. attn-score)
      α_j = exp(e_j) / Σ_k exp(e_k),                                              (eq. attn-weights)
      c = Σ_j α_j h_j.                                                             (eq. attn-context)

* Scaled dot-product attention (Vaswani et al. 2017), queries Q reading keys K and values V:

      Attention(Q, K, V) = softmax(Q Kᵀ / √d_k) V.                                 (eq. attn-dot)

* Multi-head self-attention, each head eq. (attn-dot) on its own projections of the same sequence, the heads
  concatenated and projected again; with the parameters of ``torch.nn.MultiheadAttention`` (one ``in_proj_weight``
  holding W_Q, W_K, W_V, and ``out_proj``), so that its state dict loads into :class:`MultiHeadSelfAttention`.

Sequences are time-major, [T, N, ·], as the book's recurrent layers have them. A mask is boolean and True where a
position may *not* be read, as ``torch.nn``'s masks are.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn import validation


def attention_weights(scores: Tensor, mask: Tensor | None = None) -> Tensor:
    """Eq. (attn-weights): the softmax of ``scores`` over their last dimension, with the positions where ``mask`` is
    True left out (weight 0). A row with every position masked has no weights to give, and is an error."""
    if mask is not None:
        if mask.dtype != torch.bool:
            raise TypeError(f"mask: expected a bool tensor (True = not read), got {mask.dtype}")
        if bool(mask.all(dim=-1).any()):
            raise ValueError("mask: expected at least one readable position in every row, got a row all masked")
        scores = scores.masked_fill(mask, float("-inf"))
    return torch.softmax(scores, dim=-1)


def scaled_dot_product(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Eq. (attn-dot) for queries [..., T_q, d_k], keys [..., T_k, d_k] and values [..., T_k, d_v]; ``mask``
    broadcasts to [..., T_q, T_k]. Returns the output [..., T_q, d_v] and the weights [..., T_q, T_k]."""
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"query, key, value: expected [..., T_q, d_k], [..., T_k, d_k], [..., T_k, d_v], got "
                         f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
    weights = attention_weights(query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1]), mask)  # eq. (attn-dot)
    return weights @ value, weights


class AdditiveAttention(nn.Module):
    """Eqs. (attn-score)–(attn-context): a query s [N, S] reads keys h [T, N, K] through a hidden layer of
    ``attention_size`` units, W_s [A, S], W_h [A, K] and v [A], without biases, as Bahdanau et al. write it.
    ``forward`` returns the context [N, K] and the weights [T, N]; ``mask`` [T, N] is True at positions not read
    (padding)."""

    def __init__(self, query_size: int, key_size: int, attention_size: int, *, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        validation.floating_dtype(dtype)
        sizes = {name: validation.check_size(name, value) for name, value in
                 (("query_size", query_size), ("key_size", key_size), ("attention_size", attention_size))}
        factory = {"device": device, "dtype": dtype}
        self.W_s = nn.Linear(sizes["query_size"], sizes["attention_size"], bias=False, **factory)
        self.W_h = nn.Linear(sizes["key_size"], sizes["attention_size"], bias=False, **factory)
        self.v = nn.Linear(sizes["attention_size"], 1, bias=False, **factory)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """Eq. (attn-score): e_j for every key, [T, N]."""
        if query.dim() != 2 or keys.dim() != 3 or keys.shape[1] != query.shape[0]:
            raise ValueError(f"query, keys: expected [N, {self.W_s.in_features}] and [T, N, {self.W_h.in_features}], "
                             f"got {tuple(query.shape)} and {tuple(keys.shape)}")
        return self.v(torch.tanh(self.W_s(query) + self.W_h(keys))).squeeze(-1)  # eq. (attn-score)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        scores = self.scores(query, keys)
        if mask is not None and mask.shape != scores.shape:
            raise ValueError(f"mask: expected shape {tuple(scores.shape)} (T, N), got {tuple(mask.shape)}")
        weights = attention_weights(scores.T, None if mask is None else mask.T).T  # eq. (attn-weights), over T
        return (weights.unsqueeze(-1) * keys).sum(dim=0), weights  # eq. (attn-context)


class MultiHeadSelfAttention(nn.Module):
    """Self-attention with ``num_heads`` heads over x [T, N, E]: Q, K, V = x W_Qᵀ + b_Q, …, each head eq.
    (attn-dot) on its E / num_heads columns, the heads concatenated and multiplied by ``out_proj``. The parameters
    are named and laid out as ``torch.nn.MultiheadAttention``'s (``in_proj_weight`` [3E, E], ``in_proj_bias`` [3E],
    ``out_proj``). ``forward(x, mask)`` takes a mask broadcastable to [N, heads, T, T] (True = not read: a causal
    mask [T, T], or padding [N, 1, 1, T]) and returns the output [T, N, E] and each head's weights [N, heads, T, T].
    """

    def __init__(self, embed_size: int, num_heads: int, *, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        validation.floating_dtype(dtype)
        embed_size = validation.check_size("embed_size", embed_size)
        num_heads = validation.check_size("num_heads", num_heads)
        if embed_size % num_heads:
            raise ValueError(f"num_heads: expected a divisor of embed_size={embed_size}, got {num_heads}")
        self.embed_size, self.num_heads = embed_size, num_heads
        factory = {"device": device, "dtype": dtype}
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_size, embed_size, **factory))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_size, **factory))
        self.out_proj = nn.Linear(embed_size, embed_size, **factory)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if x.dim() != 3 or x.shape[-1] != self.embed_size:
            raise ValueError(f"x: expected a tensor [T, N, {self.embed_size}], got {tuple(x.shape)}")
        T, N, E = x.shape
        query, key, value = (self._split_heads(z) for z in
                             F.linear(x, self.in_proj_weight, self.in_proj_bias).chunk(3, dim=-1))
        out, weights = scaled_dot_product(query, key, value, mask)  # [N, heads, T, E / heads]
        return self.out_proj(out.permute(2, 0, 1, 3).reshape(T, N, E)), weights

    def _split_heads(self, z: Tensor) -> Tensor:
        """[T, N, E] → [N, heads, T, E / heads]: each head's columns as a sequence of its own."""
        T, N, E = z.shape
        return z.reshape(T, N, self.num_heads, E // self.num_heads).permute(1, 2, 0, 3)
