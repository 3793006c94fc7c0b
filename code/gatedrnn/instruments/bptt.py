"""Backpropagation through time for the vanilla tanh RNN, written out by hand (chapter 3).

A forward pass that keeps what the backward pass needs, and the backward pass that walks the steps in reverse,
as a pair. Notation of the book: ``a_t = W_ih x_t + b + W_hh h_{t-1}``, ``h_t = tanh(a_t)`` (one bias b stands for
b_ih + b_hh, which only appear as a sum). ``g_t = ∂ℓ/∂h_t`` is the *direct* gradient the loss puts on h_t;
``δ_t = ∂L/∂h_t`` the *total* one; ``e_t = ∂L/∂a_t``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Gradients(NamedTuple):
    """∂L/∂ of every input of :func:`rnn_forward`, and the total ∂L/∂h_t for t = 1 … T."""

    x: Tensor
    h0: Tensor
    weight_ih: Tensor
    weight_hh: Tensor
    bias: Tensor
    delta: Tensor


def _check_shapes(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor) -> None:
    if x.dim() != 3:
        raise ValueError(f"x: expected shape (T, N, I), got {tuple(x.shape)}")
    T, N, I = x.shape
    H = weight_hh.shape[0]
    expected = {
        "h0": (h0, (N, H)),
        "weight_ih": (weight_ih, (H, I)),
        "weight_hh": (weight_hh, (H, H)),
        "bias": (bias, (H,)),
    }
    for name, (value, shape) in expected.items():
        if tuple(value.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(value.shape)}")


def rnn_forward(x: Tensor, h0: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias: Tensor) -> Tensor:
    """States ``h_1 … h_T`` [T, N, H] of the tanh RNN from inputs ``x`` [T, N, I] and ``h0`` [N, H]."""
    _check_shapes(x, h0, weight_ih, weight_hh, bias)
    states, h = [], h0
    for x_t in x:
        h = torch.tanh(x_t @ weight_ih.T + bias + h @ weight_hh.T)  # eq. (bptt-forward)
        states.append(h)
    return torch.stack(states)


def rnn_backward(
    g: Tensor,
    x: Tensor,
    h0: Tensor,
    states: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    truncation: int | None = None,
) -> Gradients:
    """Gradients of L from the direct gradients ``g`` [T, N, H] (``g[t-1] = ∂ℓ/∂h_t``), walking t = T … 1.

    ``truncation=k`` computes truncated BPTT as practised: the sequence is cut into chunks of k steps and the state
    is detached at each cut, so δ does not flow back across a chunk boundary (``None``: the full gradient).
    """
    if truncation is not None and truncation < 1:
        raise ValueError(f"truncation: expected None or an int >= 1, got {truncation}")
    T = x.shape[0]
    if g.shape != states.shape:
        raise ValueError(f"g: expected shape {tuple(states.shape)} (that of the states), got {tuple(g.shape)}")
    previous = torch.cat([h0.unsqueeze(0), states[:-1]])  # h_{t-1} for t = 1 … T
    delta = torch.empty_like(states)
    e = torch.empty_like(states)
    for t in reversed(range(T)):  # index t holds step t + 1
        last_of_chunk = t == T - 1 or (truncation is not None and (t + 1) % truncation == 0)
        delta[t] = g[t] if last_of_chunk else g[t] + e[t + 1] @ weight_hh  # eq. (bptt-delta)
        e[t] = (1 - states[t] ** 2) * delta[t]  # eq. (bptt-e)
    return Gradients(
        x=e @ weight_ih,  # eq. (bptt-inputs)
        h0=e[0] @ weight_hh,  # eq. (bptt-inputs)
        weight_ih=torch.einsum("tnh,tni->hi", e, x),  # eq. (bptt-weights)
        weight_hh=torch.einsum("tnh,tnk->hk", e, previous),  # eq. (bptt-weights)
        bias=e.sum(dim=(0, 1)),  # eq. (bptt-weights)
        delta=delta,
    )


def jacobian_products(states: Tensor, weight_hh: Tensor) -> Tensor:
    """∂h_t/∂h_0 for t = 1 … T, from the states [T, N, H] of :func:`rnn_forward`: the running product of the
    one-step Jacobians diag(1 − h_t ⊙ h_t) W_hh, the latest on the left (eq. rnn-jacobian-product).

    Returns [T, N, H, H]; entry ``[t - 1, n]`` is the Jacobian of sequence n's h_t with respect to its h_0.
    """
    if states.dim() != 3:
        raise ValueError(f"states: expected shape (T, N, H), got {tuple(states.shape)}")
    T, N, H = states.shape
    if tuple(weight_hh.shape) != (H, H):
        raise ValueError(f"weight_hh: expected shape {(H, H)} to match states' H = {H}, got {tuple(weight_hh.shape)}")
    product = torch.eye(H, dtype=states.dtype, device=states.device).expand(N, H, H)
    products = []
    for h in states:
        product = (1 - h * h).unsqueeze(-1) * (weight_hh @ product)  # eq. (rnn-jacobian): rows scaled by tanh'
        products.append(product)
    return torch.stack(products)
