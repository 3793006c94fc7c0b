"""Initialisations of the recurrent weights W_hh (chapters 4 and 5), applied in place to every layer of a module.

* :func:`orthogonal_recurrent_`: W_hh = s Q with Q a random orthogonal matrix, so that every singular value of W_hh
  equals s (the scale of chapter 4's sweep; s = 1 is the orthogonal initialisation).
* :func:`identity_recurrent_`: W_hh = s I and zero biases, with small input weights: the IRNN of Le, Jaitly and
  Hinton (2015) when the nonlinearity is ReLU.
* :func:`forget_gate_bias_`: the LSTM's forget-gate bias (chapter 6).
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from gatedrnn.layers import LSTM, RNN, RecurrentBase


def _check(rnn: object, scale: object) -> float:
    if not isinstance(rnn, (RecurrentBase, nn.RNNBase)):
        raise TypeError(f"rnn: expected a gatedrnn or torch.nn RNN, LSTM or GRU, got {type(rnn).__name__}")
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or not scale > 0:
        raise ValueError(f"scale: expected a positive number, got {scale!r}")
    return float(scale)


def orthogonal_recurrent_(rnn: RecurrentBase | nn.RNNBase, scale: float = 1.0, *, generator: torch.Generator | None = None) -> None:
    """Set each H×H block of every W_hh to ``scale`` times a random orthogonal matrix (each gate its own block), in
a package layer or its ``torch.nn`` namesake.

    Every singular value of each block is then exactly ``scale`` (a block of an LSTM with projections is H×P:
    semi-orthogonal). Other parameters are left as they are.
    """
    scale = _check(rnn, scale)
    H = rnn.hidden_size
    with torch.no_grad():
        for name, weight in rnn.named_parameters():
            if name.startswith("weight_hh"):
                for block in weight.split(H, dim=0):
                    q = torch.empty(block.shape, dtype=torch.float64)
                    nn.init.orthogonal_(q, generator=generator)
                    block.copy_(scale * q)


def identity_recurrent_(
    rnn: RNN | nn.RNN, scale: float = 1.0, *, input_std: float = 1e-3, generator: torch.Generator | None = None
) -> None:
    """IRNN initialisation: every W_hh = ``scale`` · I, every bias 0, every W_ih ~ N(0, σ²) with σ = ``input_std``.

    Le, Jaitly and Hinton (2015) use ``scale`` = 1 with ReLU units (``nonlinearity='relu'``), so that at the start the
    network copies its state forward and the gradient passes back unchanged wherever the units are active.
    """
    scale = _check(rnn, scale)
    if not isinstance(rnn, (RNN, nn.RNN)):
        raise ValueError(f"rnn: the identity initialisation is for gatedrnn.RNN or torch.nn.RNN, got a "
                         f"{type(rnn).__name__}")
    with torch.no_grad():
        for name, parameter in rnn.named_parameters():
            if name.startswith("weight_hh"):
                parameter.copy_(scale * torch.eye(rnn.hidden_size))
            elif name.startswith("bias"):
                parameter.zero_()
            elif name.startswith("weight_ih"):
                noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
                parameter.copy_(input_std * noise)


def forget_gate_bias_(lstm: LSTM | torch.nn.LSTM, value: float) -> None:
    """Set the forget gate's bias of every layer of ``lstm`` to ``value``: b_if = ``value`` and b_hf = 0, so that with
    small weights f_t ≈ σ(``value``). Jozefowicz, Zaremba and Sutskever (2015) recommend 1 (PyTorch's default draws
    both from U(-1/√H, 1/√H))."""
    if not isinstance(lstm, (LSTM, torch.nn.LSTM)):
        raise TypeError(f"lstm: expected a gatedrnn.LSTM or torch.nn.LSTM, got {type(lstm).__name__}")
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"value: expected a finite number, got {value!r}")
    if not lstm.bias:
        raise ValueError("lstm: expected a module with biases, got bias=False")
    H = lstm.hidden_size
    with torch.no_grad():
        for name, parameter in lstm.named_parameters():
            if name.startswith("bias_ih"):
                parameter[H : 2 * H] = value
            elif name.startswith("bias_hh"):
                parameter[H : 2 * H] = 0.0
