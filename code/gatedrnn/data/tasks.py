"""Synthetic tasks whose answer depends on inputs far in the past, so that only a gradient that survives many steps
can teach a network to solve them.

The adding problem (Hochreiter and Schmidhuber 1997), in the form of Le, Jaitly and Hinton (2015): each input step has two
channels, a value drawn uniformly from [0, 1] and a marker that is 1 at exactly two steps, one in the first half of
the sequence and one in the second; the target is the sum of the two marked values.

The copy task, as Arjovsky, Shah and Bengio (2016) define it: ten symbols from an alphabet of eight, a long run of
blanks, a delimiter, and the network must then write the ten symbols back.

Sequential digits: scikit-learn's 8×8 handwritten digits, read one pixel (T = 64) or one row (T = 8) per step,
a stand-in for pixel-by-pixel MNIST that ships with the library, so nothing is downloaded.

The counting language aⁿbⁿ, as Weiss, Goldberg and Yahav (2018) train it: a network reads the strings of the language
one symbol at a time and predicts the next symbol, the end marker included, from positive examples only. Once the
first b has been read, every next symbol is determined, and predicting when the b's stop takes a count of the a's;
trained on small n and tested on larger ones, a network shows whether it has learnt to count or only the lengths it
saw.

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


def adding_outcome(error: float) -> str:
    """The book's words for an error on the adding problem, one per threshold, each a predicate of "the run":
    "has solved the task" below ``ADDING_SOLVED_MSE``, "beats the half-solution" below
    ``ADDING_HALF_SOLUTION_MSE``, "beats only the baseline" below ``ADDING_BASELINE_MSE``, else "does no
    better than the baseline". NaN (a run that stopped) raises."""
    if not isinstance(error, (int, float)) or isinstance(error, bool) or math.isnan(error):
        raise ValueError(f"error: expected a number, got {error!r}")
    if error < ADDING_SOLVED_MSE:
        return "has solved the task"
    if error < ADDING_HALF_SOLUTION_MSE:
        return "beats the half-solution"
    if error < ADDING_BASELINE_MSE:
        return "beats only the baseline"
    return "does no better than the baseline"


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
    """A stream of fresh adding-problem batches for :func:`gatedrnn.experiments.training.train`: ``batches(step)`` draws
    the next one from a generator seeded with ``seed``, so the same seed gives the same sequence of batches."""
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



def reversal_task(
    batch_size: int,
    length: int,
    symbols: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """A batch of the reversal task: sources of ``length`` symbols drawn uniformly from 0 … ``symbols`` - 1, and
    their reversals as targets, both int64 [length, N] (time-first). Output step i must name source step
    T + 1 - i, so the first output needs the last input and the last output the first: every distance from 1 to
    2T - 1 steps between cause and effect occurs once. Draws from ``generator`` on the CPU."""
    N, T, K = check_size("batch_size", batch_size), check_size("length", length), check_size("symbols", symbols)
    source = torch.randint(0, K, (T, N), generator=generator)
    return source.to(device), source.flip(0).to(device)


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
    by a permutation seeded with ``seed`` (0 by default), is held out for testing."""
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


ANBN_A, ANBN_B, ANBN_END = 0, 1, 2  # the symbols of aⁿbⁿ and the end marker
ANBN_CLASSES = 3
# PyTorch's default ignore_index: F.cross_entropy, and so models.sequence_cross_entropy, skips the padding after a
# string's end marker and averages over the real positions only.
ANBN_IGNORE = -100


def _check_ns(ns: object) -> list[int]:
    if isinstance(ns, Tensor):
        ns = ns.tolist()
    if not isinstance(ns, (list, tuple, range)) or len(ns) == 0:
        raise ValueError(f"ns: expected a non-empty sequence of ints >= 1, got {ns!r}")
    return [check_size(f"ns[{i}]", n) for i, n in enumerate(ns)]


def _check_n_range(min_n: object, max_n: object) -> tuple[int, int]:
    lo, hi = check_size("min_n", min_n), check_size("max_n", max_n)
    if lo > hi:
        raise ValueError(f"min_n: expected at most max_n = {hi}, got {lo}")
    return lo, hi


def anbn_strings(ns, *, device: torch.device | str | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """The strings aⁿbⁿ for each n in ``ns`` as next-symbol prediction: inputs, targets and determined, each [T, N]
    (time-first) with T = 2 · max(ns) and N = len(ns).

    Column i reads aⁿbⁿ (n = ns[i]) in its first 2n steps, then the end marker as padding; its targets are the next
    symbols, aⁿ⁻¹bⁿ then the end marker at step 2n - 1, then ``ANBN_IGNORE``. ``determined`` (bool) is True at
    the n steps whose next symbol the string's prefix fixes: after each b read, the next symbol is b while fewer b's
    than a's have been read, and the end marker once they are equal. After an a, the next symbol may be a or b.
    """
    ns = _check_ns(ns)
    n = torch.tensor(ns)
    T = 2 * max(ns)
    t = torch.arange(T).unsqueeze(1)  # [T, 1] against n [N]
    inputs = torch.where(t < n, ANBN_A, torch.where(t < 2 * n, ANBN_B, ANBN_END))
    targets = torch.where(t < n - 1, ANBN_A, torch.where(t < 2 * n - 1, ANBN_B,
                                                         torch.where(t == 2 * n - 1, ANBN_END, ANBN_IGNORE)))
    determined = inputs == ANBN_B
    return inputs.to(device), targets.to(device), determined.to(device)


def anbn_batch(
    batch_size: int,
    max_n: int,
    *,
    min_n: int = 1,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """A batch of :func:`anbn_strings` with each n drawn uniformly from ``min_n … max_n`` (from ``generator``, on the
    CPU): inputs, targets and determined, [T, N] with T = 2 · (the largest n drawn)."""
    N = check_size("batch_size", batch_size)
    lo, hi = _check_n_range(min_n, max_n)
    return anbn_strings(torch.randint(lo, hi + 1, (N,), generator=generator), device=device)


def anbn_batches(
    batch_size: int,
    max_n: int,
    seed: int,
    *,
    min_n: int = 1,
    device: torch.device | str | None = None,
) -> Callable[[int], tuple[Tensor, Tensor]]:
    """A seeded stream of fresh aⁿbⁿ batches for :func:`gatedrnn.experiments.training.train`: ``batches(step)`` gives
    ``(inputs, targets)`` of :func:`anbn_batch`, for :class:`~gatedrnn.nn.models.EveryStep` with ``classes =
    ANBN_CLASSES`` and the loss :func:`~gatedrnn.nn.models.sequence_cross_entropy`, which skips the padding."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed: expected an int, got {type(seed).__name__}")
    check_size("batch_size", batch_size)
    _check_n_range(min_n, max_n)
    generator = torch.Generator().manual_seed(seed)
    return lambda step: anbn_batch(batch_size, max_n, min_n=min_n, generator=generator, device=device)[:2]


def anbn_held_out(min_n: int, max_n: int, *, device: torch.device | str | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Every string aⁿbⁿ with n from ``min_n`` to ``max_n``, once each, in order of n (there is one string for each
    n): :func:`anbn_strings` of ``range(min_n, max_n + 1)``, the test set of n longer than those trained on."""
    lo, hi = _check_n_range(min_n, max_n)
    return anbn_strings(range(lo, hi + 1), device=device)


def anbn_correct(logits: Tensor, targets: Tensor, determined: Tensor) -> Tensor:
    """For each string, whether every determined prediction is right: bool [N] from logits [T, N, C], targets and
    determined [T, N] of :func:`anbn_strings`.

    A prediction is the most likely next symbol (argmax of the logits). Only the determined steps count (the b's
    after the first, and the end marker), so a string is right when the network knew from the count alone where its
    b's end. The steps after an a, where a and b are both possible, are not scored.
    """
    if logits.dim() != 3 or logits.shape[:2] != targets.shape or determined.shape != targets.shape:
        raise ValueError(f"logits, targets, determined: expected shapes [T, N, C], [T, N], [T, N], got "
                         f"{tuple(logits.shape)}, {tuple(targets.shape)}, {tuple(determined.shape)}")
    if determined.dtype != torch.bool:
        raise TypeError(f"determined: expected a bool tensor, got {determined.dtype}")
    right = logits.argmax(-1) == targets
    return (right | ~determined).all(0)


def anbn_accuracy(logits: Tensor, targets: Tensor, determined: Tensor) -> float:
    """The fraction of strings whose every determined prediction is right (:func:`anbn_correct`)."""
    return anbn_correct(logits, targets, determined).double().mean().item()
