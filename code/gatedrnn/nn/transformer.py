"""A minimal Transformer encoder (Vaswani et al. 2017), written from its equations: no recurrence, every position
reads every other through self-attention (:mod:`gatedrnn.nn.attention`), and where it is in the sequence is added to
its input:

    P_{t, 2i} = sin(t / 10000^{2i/d}),   P_{t, 2i+1} = cos(t / 10000^{2i/d}).          (eq. attn-positions)

Each layer is post-norm, as in the paper and ``torch.nn.TransformerEncoderLayer``'s default:

    x ← LayerNorm(x + SelfAttention(x)),   x ← LayerNorm(x + W_2 ReLU(W_1 x + b_1) + b_2).   (eq. attn-layer)

:class:`TransformerEncoderLayer` names its parameters as ``torch.nn.TransformerEncoderLayer`` does, so that one's
state dict loads into the other. Sequences are time-major, [T, N, ·].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn import validation
from gatedrnn.nn.attention import MultiHeadSelfAttention


def sinusoidal_positions(length: int, size: int, *, dtype: torch.dtype = torch.float32,
                         device: torch.device | str | None = None) -> Tensor:
    """Eq. (attn-positions) for positions t = 0 … ``length`` - 1: a [length, size] tensor (``size`` even)."""
    length, size = validation.check_size("length", length), validation.check_size("size", size)
    if size % 2:
        raise ValueError(f"size: expected an even number (sines and cosines in pairs), got {size}")
    t = torch.arange(length, dtype=dtype, device=device).unsqueeze(1)
    frequencies = 10000.0 ** (-torch.arange(0, size, 2, dtype=dtype, device=device) / size)  # 1 / 10000^{2i/d}
    positions = torch.empty(length, size, dtype=dtype, device=device)
    positions[:, 0::2] = torch.sin(t * frequencies)
    positions[:, 1::2] = torch.cos(t * frequencies)
    return positions


class TransformerEncoderLayer(nn.Module):
    """Eq. (attn-layer) with ``num_heads`` heads and a feed-forward layer of ``feedforward_size`` units, no dropout.
    ``forward(x [T, N, d], mask)`` returns [T, N, d]; ``mask`` as in
    :class:`~gatedrnn.nn.attention.MultiHeadSelfAttention`."""

    def __init__(self, model_size: int, num_heads: int, feedforward_size: int, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.self_attn = MultiHeadSelfAttention(model_size, num_heads, **factory)
        self.linear1 = nn.Linear(model_size, validation.check_size("feedforward_size", feedforward_size), **factory)
        self.linear2 = nn.Linear(feedforward_size, model_size, **factory)
        self.norm1 = nn.LayerNorm(model_size, **factory)
        self.norm2 = nn.LayerNorm(model_size, **factory)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        x = self.norm1(x + self.self_attn(x, mask)[0])  # eq. (attn-layer), attention
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))  # eq. (attn-layer), feed-forward


class TransformerEncoder(nn.Module):
    """Inputs [T, N, I] projected to ``model_size``, plus eq. (attn-positions), through ``num_layers`` layers of
    eq. (attn-layer); ``forward`` returns every position's output [T, N, model_size]. With ``causal=True`` position
    t reads only positions up to t (a causal mask), as a model that predicts the next symbol must."""

    def __init__(self, input_size: int, model_size: int, num_heads: int, feedforward_size: int, num_layers: int = 1,
                 *, causal: bool = False, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size = validation.check_size("input_size", input_size)
        self.model_size = validation.check_size("model_size", model_size)
        self.causal = validation.check_flag("causal", causal)
        self.embed = nn.Linear(self.input_size, self.model_size, **factory)
        self.layers = nn.ModuleList(TransformerEncoderLayer(self.model_size, num_heads, feedforward_size, **factory)
                                    for _ in range(validation.check_size("num_layers", num_layers)))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            raise ValueError(f"x: expected a tensor [T, N, {self.input_size}], got {tuple(x.shape)}")
        T = x.shape[0]
        h = self.embed(x) + sinusoidal_positions(T, self.model_size, dtype=x.dtype, device=x.device).unsqueeze(1)
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(1) if self.causal else None
        for layer in self.layers:
            h = layer(h, mask)
        return h
