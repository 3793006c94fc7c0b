"""Synthetic tasks whose answer depends on inputs far in the past, so that only a gradient that survives many steps
can teach a network to solve them.

The adding problem (Hochreiter and Schmidhuber 1997), in the form of Le, Jaitly and Hinton (2015): each input step has two
channels, a value drawn uniformly from [0, 1] and a marker that is 1 at exactly two steps, one in the first half of
the sequence and one in the second; the target is the sum of the two marked values.

The copy task, as Arjovsky, Shah and Bengio (2016) define it: ten symbols from an alphabet of eight, a long run of
blanks, a delimiter, and the network must then write the ten symbols back.

Sequential digits: scikit-learn's 8×8 handwritten digits, read one pixel (T = 64) or one row (T = 8) per step,
a stand-in for pixel-by-pixel MNIST that ships with the library, so nothing is downloaded.

Every task is time-first, like the package's layers: inputs [T, N, ...].
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

from gatedrnn.validation import check_size

# Predicting the constant E[v_i + v_j] = 1 scores the target's variance, 2 · Var(U(0, 1)) = 2 / 12: a network must
# beat this to have used the markers at all.
ADDING_BASELINE_MSE = 1.0 / 6.0
# Remembering only the second marked value (at most T/2 steps back) and predicting v_b + 1/2 scores Var(v_a) = 1/12:
# below this a network has left the plateau, but it need not carry the first value (on average 3T/4 steps back).
ADDING_HALF_SOLUTION_MSE = 1.0 / 12.0
# The book's one criterion for a run that solved the adding problem: below a tenth of the baseline, which no
# half-solution reaches.
ADDING_SOLVED_MSE = ADDING_BASELINE_MSE / 10


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
    marked value is on average about ``3T / 4`` steps before the end, and the second about ``T / 4``. Draws from
    ``generator`` (on the CPU, so a seed gives
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


COPY_SYMBOLS = 8  # the symbols to remember are 0 … 7
COPY_BLANK = 8
COPY_DELIMITER = 9
COPY_CLASSES = 10
COPY_LENGTH = 10  # how many symbols are copied


def copy_baseline(delay: int) -> float:
    """Cross-entropy per step, in nats, of the best memoryless strategy on :func:`copy_task`: blanks wherever the
    target is always blank, then a uniform guess over the 8 symbols, ``10 log 8 / (T + 20)``."""
    T = check_size("delay", delay)
    return COPY_LENGTH * math.log(COPY_SYMBOLS) / (T + 2 * COPY_LENGTH)


def copy_task(
    batch_size: int,
    delay: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """A batch of the copy task: inputs and targets, both int64 [T + 20, N] (time-first).

    Input: ten symbols drawn uniformly from 0 … 7, then ``T - 1`` blanks (8), the delimiter (9), then ten blanks.
    Target: ``T + 10`` blanks, then the ten symbols. Draws from ``generator`` on the CPU.
    """
    N = check_size("batch_size", batch_size)
    T = check_size("delay", delay)
    symbols = torch.randint(0, COPY_SYMBOLS, (COPY_LENGTH, N), generator=generator)
    inputs = torch.full((T + 2 * COPY_LENGTH, N), COPY_BLANK, dtype=torch.int64)
    inputs[:COPY_LENGTH] = symbols
    inputs[COPY_LENGTH + T - 1] = COPY_DELIMITER
    targets = torch.full_like(inputs, COPY_BLANK)
    targets[T + COPY_LENGTH:] = symbols
    return inputs.to(device), targets.to(device)


def digit_images() -> tuple[Tensor, Tensor]:
    """scikit-learn's 1797 handwritten digits: images float64 [1797, 8, 8] scaled to [0, 1], labels int64 [1797]."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return torch.from_numpy(digits.images / 16.0), torch.from_numpy(digits.target).long()


DIGITS_TEST_FRACTION = 0.25


def sequential_digits(
    split: str,
    *,
    by: str = "pixel",
    seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[Tensor, Tensor]:
    """The digits read sequentially: ``by="pixel"`` gives inputs [64, N, 1] (row-major pixels), ``by="row"`` gives
    [8, N, 8]; labels are int64 [N]. ``split`` is ``"train"`` or ``"test"``: a fixed quarter of the images, chosen
    by a permutation seeded with ``seed``, is held out for testing."""
    if split not in ("train", "test"):
        raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
    if by not in ("pixel", "row"):
        raise ValueError(f"by: expected 'pixel' or 'row', got {by!r}")
    images, labels = digit_images()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = round(DIGITS_TEST_FRACTION * len(labels))
    chosen = order[:n_test] if split == "test" else order[n_test:]
    images, labels = images[chosen], labels[chosen]
    inputs = images.reshape(len(chosen), 64, 1) if by == "pixel" else images
    inputs = inputs.transpose(0, 1).to(device=device, dtype=dtype or torch.get_default_dtype())
    return inputs, labels.to(device)
