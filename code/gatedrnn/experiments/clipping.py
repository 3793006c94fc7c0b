"""Gradient clipping (chapter 5): rescale the whole gradient when its norm passes a threshold (Pascanu, Mikolov and
Bengio 2013, Algorithm 1), or clamp each entry.

Both act in place on the ``.grad`` of the given parameters, as the optimizer will see them, and return the norm
before clipping, so that a training loop can record what clipping did.
"""

from __future__ import annotations

import math
import numbers
from typing import Iterable

import torch
from torch import Tensor, nn


def _gradients(parameters: Iterable[nn.Parameter] | Iterable[Tensor]) -> list[Tensor]:
    return [p.grad for p in parameters if p.grad is not None]


def _check_threshold(threshold: object) -> float:
    if not isinstance(threshold, numbers.Real) or isinstance(threshold, bool):
        raise TypeError(f"threshold: expected a positive number, got {type(threshold).__name__} {threshold!r}")
    if not (threshold > 0 and math.isfinite(threshold)):
        raise ValueError(f"threshold: expected a positive finite number, got {threshold}")
    return float(threshold)


def gradient_norm(parameters: Iterable[nn.Parameter] | Iterable[Tensor]) -> float:
    """‖g‖: the Euclidean norm of all gradients together, as if they were one vector (0 when there are none)."""
    grads = _gradients(parameters)
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])))


def largest_entry(parameters: Iterable[nn.Parameter] | Iterable[Tensor]) -> float:
    """The largest ``|g_i|`` over all entries of all gradients (0 when there are none): what value clipping compares."""
    grads = _gradients(parameters)
    return max((float(g.abs().max()) for g in grads if g.numel()), default=0.0)


def clip_by_norm_(parameters: Iterable[nn.Parameter] | Iterable[Tensor], threshold: float) -> float:
    """If ‖g‖ > threshold, scale every gradient by threshold / ‖g‖: the direction is kept, the step is bounded.

    Returns ‖g‖ before clipping. A non-finite norm is returned as it is and the gradients are left untouched.
    """
    threshold = _check_threshold(threshold)
    parameters = list(parameters)
    norm = gradient_norm(parameters)
    if math.isfinite(norm) and norm > threshold:
        for g in _gradients(parameters):
            g.mul_(threshold / norm)  # eq. (clip-norm)
    return norm


def clip_by_value_(parameters: Iterable[nn.Parameter] | Iterable[Tensor], threshold: float) -> float:
    """Clamp every entry of every gradient to [-threshold, threshold]; this changes the direction of g.

    Returns ‖g‖ before clipping.
    """
    threshold = _check_threshold(threshold)
    parameters = list(parameters)
    norm = gradient_norm(parameters)
    for g in _gradients(parameters):
        g.clamp_(-threshold, threshold)  # eq. (clip-value)
    return norm
