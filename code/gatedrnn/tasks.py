"""Synthetic tasks whose answer depends on inputs far in the past, so that only a gradient that survives many steps
can teach a network to solve them.

The adding problem (Hochreiter and Schmidhuber 1997), in the form of Le, Jaitly and Hinton (2015): each input step has two
channels, a value drawn uniformly from [0, 1] and a marker that is 1 at exactly two steps, one in the first half of
the sequence and one in the second; the target is the sum of the two marked values.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from gatedrnn.validation import check_size

# Predicting the constant E[v_i + v_j] = 1 scores the target's variance, 2 · Var(U(0, 1)) = 2 / 12: a network must
# beat this to have used the markers at all.
ADDING_BASELINE_MSE = 1.0 / 6.0


def adding_problem(
    sequence_length: int,
    batch_size: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """A batch of the adding problem: inputs [T, N, 2] (value, marker) and targets [N].

    The first marker is at a uniformly drawn step of ``[0, T // 2)``, the second of ``[T // 2, T)``, so the first
    marked value is on average ``T / 2`` steps before the end. Draws from ``generator`` (on the CPU, so a seed gives
    the same data on every device) and returns tensors on ``device``.
    """
    T = check_size("sequence_length", sequence_length, minimum=2)
    N = check_size("batch_size", batch_size)
    values = torch.rand(T, N, generator=generator, dtype=torch.float64)
    first = torch.randint(0, T // 2, (N,), generator=generator)
    second = torch.randint(T // 2, T, (N,), generator=generator)
    markers = torch.zeros(T, N, dtype=torch.float64)
    columns = torch.arange(N)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    targets = values[first, columns] + values[second, columns]
    dtype = dtype or torch.get_default_dtype()
    inputs = torch.stack([values, markers], dim=-1)
    return inputs.to(device=device, dtype=dtype), targets.to(device=device, dtype=dtype)


def adding_loss(prediction: Tensor, targets: Tensor) -> Tensor:
    """Mean squared error of a [N, 1] (or [N]) prediction against the adding problem's targets [N]."""
    prediction = prediction.squeeze(-1) if prediction.dim() == 2 else prediction
    if prediction.shape != targets.shape:
        raise ValueError(f"prediction: expected shape {tuple(targets.shape)} or {(*targets.shape, 1)}, "
                         f"got {tuple(prediction.shape)}")
    return ((prediction - targets) ** 2).mean()


def adding_batches(
    sequence_length: int,
    batch_size: int,
    seed: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> Callable[[int], tuple[Tensor, Tensor]]:
    """A stream of fresh adding-problem batches for :func:`gatedrnn.training.train`: ``batches(step)`` draws the next
    one from a generator seeded with ``seed``, so the same seed gives the same sequence of batches."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    check_size("sequence_length", sequence_length, minimum=2)
    check_size("batch_size", batch_size)
    generator = torch.Generator().manual_seed(seed)
    return lambda step: adding_problem(sequence_length, batch_size, generator=generator, device=device, dtype=dtype)
