"""The long-range benchmarks of chapter 9 as experiments: for each task, how a seed becomes a model and its stream of
training batches, the training loss, and the score on held-out data.

A :class:`Benchmark` is trained with :func:`run`, which hands it to :func:`~gatedrnn.experiments.sweeps.run_seeds`. The
recurrent layer is any module that maps ``[T, N, input_size]`` to an output sequence (chapter 9 uses
:func:`~gatedrnn.nn.models.fused`); the benchmark adds the readout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn.data import tasks
from gatedrnn.nn import models
from gatedrnn.experiments import sweeps
from gatedrnn.experiments.sweeps import Batches, SeedRun, run_seeds
from gatedrnn.experiments.training import TrainingConfig
from gatedrnn.validation import check_flag, check_size

# Held-out data is drawn from generator seed TEST_SEED_OFFSET + T, far from the training seeds 0, 1, 2, ...
TEST_SEED_OFFSET = 10_000


@dataclass(frozen=True)
class Benchmark:
    """One task at one length: ``input_size`` of the recurrent layer it needs; ``make(rnn, seed)`` wraps the layer in
    the task's readout and returns ``(model, batches)`` with the training batches of ``seed``; ``loss(output,
    targets)`` is the training loss; ``score(model)`` evaluates on held-out data (``higher_is_better`` says which way
    is good: accuracy up, error down)."""

    name: str
    input_size: int
    make: Callable[[nn.Module, int], tuple[nn.Module, Batches]]
    loss: Callable[[Tensor, Tensor], Tensor]
    score: Callable[[nn.Module], float]
    higher_is_better: bool = False


def _without_grad(score: Callable[[nn.Module], float]) -> Callable[[nn.Module], float]:
    """``score``, evaluated without building a graph (it is called on held-out data only)."""
    return torch.no_grad()(score)


def standardise_adding(inputs: Tensor, sequence_length: int) -> Tensor:
    """Adding-problem inputs [T, N, 2] with each channel shifted and scaled to mean 0 and variance 1 under the
    task's own distribution: the value v ~ U[0, 1] has mean 1/2 and variance 1/12; the marker, 1 at exactly two of
    the T steps, has mean p = 2/T and variance p (1 - p)."""
    T = check_size("sequence_length", sequence_length, minimum=3)
    if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[0] != T or inputs.shape[-1] != 2:
        raise ValueError(f"inputs: expected adding-problem inputs [T = {T}, N, 2], got "
                         f"{tuple(getattr(inputs, 'shape', ())) or type(inputs).__name__}")
    p = 2 / T
    mean = inputs.new_tensor([0.5, p])
    std = inputs.new_tensor([math.sqrt(1 / 12), math.sqrt(p * (1 - p))])
    return (inputs - mean) / std


def adding(sequence_length: int, batch_size: int, *, test_size: int = 1000,
           device: torch.device | str | None = None, dtype: torch.dtype | None = None,
           standardise: bool = False) -> Benchmark:
    """The adding problem at length T: a :class:`~gatedrnn.nn.models.LastStep` readout, mean squared error, scored on
    ``test_size`` held-out sequences (``tasks.ADDING_BASELINE_MSE`` without memory); data in ``dtype`` (the
    default dtype if None), which the recurrent layer must share. With ``standardise=True`` every input, for
    training and for the score, first goes through :func:`standardise_adding` (the targets are unchanged)."""
    T = check_size("sequence_length", sequence_length, minimum=2)
    check_flag("standardise", standardise)
    test_inputs, test_targets = tasks.adding_problem(
        T, check_size("test_size", test_size), generator=torch.Generator().manual_seed(TEST_SEED_OFFSET + T),
        device=device, dtype=dtype)
    if standardise:
        test_inputs = standardise_adding(test_inputs, T)

    def make(rnn: nn.Module, seed: int) -> tuple[nn.Module, Batches]:
        batches = tasks.adding_batches(T, batch_size, seed, device=device, dtype=dtype)
        if not standardise:
            return models.LastStep(rnn, 1), batches

        def standardised(step: int) -> tuple[Tensor, Tensor]:
            inputs, targets = batches(step)
            return standardise_adding(inputs, T), targets

        return models.LastStep(rnn, 1), standardised

    return Benchmark(f"adding T = {T}" + (", standardised" if standardise else ""), 2, make, tasks.adding_loss,
                     _without_grad(lambda net: float(tasks.adding_loss(net(test_inputs), test_targets))))


def copy(delay: int, batch_size: int, *, test_size: int = 500,
         device: torch.device | str | None = None) -> Benchmark:
    """The copy task at delay T: one-hot symbols in, an :class:`~gatedrnn.nn.models.EveryStep` readout, cross-entropy
    per step, scored on ``test_size`` held-out sequences (:func:`~gatedrnn.data.tasks.copy_baseline` without memory)."""
    T = check_size("delay", delay)
    check_size("batch_size", batch_size)
    test = tasks.copy_task(check_size("test_size", test_size), T,
                           generator=torch.Generator().manual_seed(TEST_SEED_OFFSET + T), device=device)

    def make(rnn: nn.Module, seed: int) -> tuple[nn.Module, Batches]:
        generator = torch.Generator().manual_seed(seed)
        return (models.EveryStep(rnn, tasks.COPY_CLASSES),
                lambda step: tasks.copy_task(batch_size, T, generator=generator, device=device))

    return Benchmark(f"copy T = {T}", tasks.COPY_CLASSES, make, models.sequence_cross_entropy,
                     _without_grad(lambda net: float(models.sequence_cross_entropy(net(test[0]), test[1]))))


def digits(by: str, batch_size: int, *, train_size: int | None = None,
           device: torch.device | str | None = None) -> Benchmark:
    """Sequential digits read ``by`` pixel (T = 64) or row (T = 8): a :class:`~gatedrnn.nn.models.LastStep` readout over
    ten classes, cross-entropy, scored by accuracy on the held-out quarter of the images. Each step samples
    ``batch_size`` training images with replacement from the seed's generator, out of the whole training split or,
    with ``train_size = n``, out of its first n images only (the split is already shuffled, so these are a random
    sample of it, the same for every seed; the test set does not change)."""
    (x, y), (x_test, y_test) = (tasks.sequential_digits(split, by=by, device=device) for split in ("train", "test"))
    check_size("batch_size", batch_size)
    if train_size is not None:
        n = check_size("train_size", train_size)
        if n > len(y):
            raise ValueError(f"train_size: expected at most the {len(y)} training images, got {n}")
        x, y = x[:, :n], y[:n]

    def make(rnn: nn.Module, seed: int) -> tuple[nn.Module, Batches]:
        generator = torch.Generator().manual_seed(seed)

        def batches(step: int) -> tuple[Tensor, Tensor]:
            chosen = torch.randint(0, len(y), (batch_size,), generator=generator).to(y.device)
            return x[:, chosen], y[chosen]

        return models.LastStep(rnn, 10), batches

    return Benchmark(f"digits by {by}", x.shape[-1], make, F.cross_entropy,
                     _without_grad(lambda net: float((net(x_test).argmax(-1) == y_test).double().mean())),
                     higher_is_better=True)


def run(benchmark: Benchmark, recurrent: Callable[[int], nn.Module], config: TrainingConfig, seeds: Iterable[int],
        label: str = "", *, batched: bool = False, evaluate_every: int | None = None) -> list[SeedRun]:
    """Train ``benchmark`` from every seed: ``recurrent(input_size)`` builds a fresh recurrent layer after the seed is
    set (so the seed picks its initial weights), ``Benchmark.make`` adds the readout and the seed's batches, and
    :func:`~gatedrnn.experiments.sweeps.run_seeds` trains and scores (all seeds at once with ``batched=True``; the
    held-out score every ``evaluate_every`` steps as well, for a learning curve and a time to solve)."""
    if not isinstance(benchmark, Benchmark):
        raise TypeError(f"benchmark: expected a benchmarks.Benchmark, got {type(benchmark).__name__}")
    return run_seeds(lambda seed: benchmark.make(recurrent(benchmark.input_size), seed), benchmark.loss, config,
                     seeds, benchmark.score, label=label or benchmark.name, batched=batched,
                     evaluate_every=evaluate_every)


Setting = tuple[Benchmark, Callable[[int], nn.Module], TrainingConfig]


def run_grid(settings: Mapping[str, Setting], seeds: Iterable[int], label: str = "", *,
             evaluate_every: int | None = None) -> dict[str, list[SeedRun]]:
    """Train several settings ``key: (benchmark, recurrent, config)`` from every seed as one batched computation
    (:func:`~gatedrnn.experiments.sweeps.run_grid`): each as :func:`run` with ``batched=True`` would, keyed as
    ``settings``. The recurrent layers must share one architecture, the benchmarks one training loss (a task with
    raw or standardised inputs, say), and the configs may differ only in learning rate, schedule and clipping."""
    if not settings:
        raise ValueError("settings: expected one or more (benchmark, recurrent, config), got none")
    for key, setting in settings.items():
        if not (isinstance(setting, tuple) and len(setting) == 3 and isinstance(setting[0], Benchmark)):
            raise TypeError(f"settings[{key!r}]: expected (a benchmarks.Benchmark, a layer builder, a TrainingConfig), "
                            f"got {setting!r}")
    losses = {setting[0].loss for setting in settings.values()}
    if len(losses) > 1:
        raise ValueError(f"settings: expected benchmarks with one training loss, got {len(losses)}")

    def builder(benchmark: Benchmark,
                recurrent: Callable[[int], nn.Module]) -> Callable[[int], tuple[nn.Module, Batches]]:
        return lambda seed: benchmark.make(recurrent(benchmark.input_size), seed)

    return sweeps.run_grid({key: builder(b, r) for key, (b, r, _) in settings.items()}, losses.pop(),
                           {key: c for key, (_, _, c) in settings.items()}, seeds,
                           {key: b.score for key, (b, _, _) in settings.items()}, label=label,
                           evaluate_every=evaluate_every)
