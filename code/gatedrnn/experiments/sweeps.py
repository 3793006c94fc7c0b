"""One experiment, many seeds: a claim about a model is a claim about what training does for most random starts,
so the book trains each setting from several seeds and reports all of them.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from gatedrnn.data import tasks
from gatedrnn.experiments.runtime import seed_everything
from gatedrnn.experiments.seeds import Generators, SeedStack
from gatedrnn.experiments.training import History, NonFiniteError, TrainingConfig, train_or_stop
from gatedrnn.validation import check_flag, check_size

# The adding-problem batches of seed s are drawn from generator seed ADDING_DATA_OFFSET + s, so that a run's data and
# its initial weights (drawn from seed s) are independent streams.
ADDING_DATA_OFFSET = 1000

Batches = Callable[[int], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class SeedRun:
    """One training run: its ``seed``, the :class:`~gatedrnn.experiments.training.History`, the ``error`` that stopped
    it (or None), the ``score`` the evaluation gave afterwards (NaN if it stopped), its training time in ``seconds``
    (its share of the time when seeds train together), and the ``(steps taken, score)`` pairs evaluated along the way
    (a learning curve on held-out data; empty unless asked for)."""

    seed: int
    history: History
    error: NonFiniteError | None
    score: float
    seconds: float
    checkpoints: tuple[tuple[int, float], ...] = ()


def _score(model: nn.Module, evaluate: Callable[[nn.Module], float]) -> float:
    """``evaluate(model)`` in eval mode without gradients; the model is left in the mode it was in."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float(evaluate(model))
    finally:
        model.train(training)


def progress_disabled() -> bool:
    """Whether the environment turns progress bars off: ``TQDM_DISABLE`` set to 1, true or yes. tqdm reads that
    variable itself in a terminal, but its notebook bar (a widget, which the built HTML would keep) overrides it,
    so the package passes it on explicitly."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes")


def run_seeds(
    build: Callable[[int], tuple[nn.Module, Batches]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    config: TrainingConfig,
    seeds: Iterable[int],
    evaluate: Callable[[nn.Module], float],
    label: str = "",
    evaluate_every: int | None = None,
    batched: bool = False,
) -> list[SeedRun]:
    """Train one model per seed and score it.

    For each seed, every generator is seeded (:func:`~gatedrnn.experiments.runtime.seed_everything`), ``build(seed)``
    returns a fresh model and its stream of batches, :func:`~gatedrnn.experiments.training.train_or_stop` trains it, and
    ``evaluate(model)`` (called in eval mode, without gradients) scores it. With ``evaluate_every = k``, the model
    is also scored after every k steps (the final score ends the list), for a held-out learning curve; ``evaluate``
    must then leave the global random state alone, or it would change the training that follows. ``seconds`` is the
    training time alone. A run that meets inf/NaN is kept, with its error and a NaN score. One progress bar, named
    ``label``, counts the steps of all runs; it is silent when ``TQDM_DISABLE=1`` (the book's build sets it).

    With ``batched=True`` the seeds train together (``gatedrnn.experiments.seeds.SeedStack``): every model is built
    first, then each step runs all seeds' forward and backward passes as one batched computation, each seed on its
    own batch, with its own ‖g‖, clipping and optimizer state. A seed that meets inf/NaN stops there, as it would
    alone, and the others go on. Each seed's batches and evaluations draw from its own generators, as seeded and
    left by its ``build``, so the runs are those of the loop above up to rounding, and ``seconds`` is the seed's
    share of the batched training time (each step's time split among the seeds it trained). Every seed's model
    must have one architecture, whose forward pass and ``loss_fn`` draw no random numbers; ``torch.nn``'s RNN,
    LSTM and GRU are run as the package's drop-ins, which compute the same function (PyTorch's fused kernels cannot
    be batched over seeds). Batching saves the per-operation overhead of running each seed's small operations
    alone, not arithmetic: on a CPU, ``torch.nn.LSTM``'s fused kernel, one seed after the other, can be faster.
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config: expected a TrainingConfig, got {type(config).__name__}")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds: expected one or more ints, got {seeds!r}")
    if evaluate_every is not None:
        check_size("evaluate_every", evaluate_every)
    check_flag("batched", batched)
    with tqdm(total=len(seeds) * config.steps, desc=label, unit="step", leave=False,
              disable=progress_disabled()) as bar:
        if not batched:
            return _run_one_by_one(build, loss_fn, config, seeds, evaluate, evaluate_every, bar)
        members = [(seed, build, config, evaluate) for seed in seeds]
        return _run_together(members, loss_fn, config.steps, evaluate_every, bar)


Member = tuple[int, Callable[[int], tuple[nn.Module, Batches]], TrainingConfig, Callable[[nn.Module], float]]


def run_grid(
    builds: Mapping[str, Callable[[int], tuple[nn.Module, Batches]]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    configs: Mapping[str, TrainingConfig],
    seeds: Iterable[int],
    evaluate: Mapping[str, Callable[[nn.Module], float]],
    label: str = "",
    evaluate_every: int | None = None,
) -> dict[str, list[SeedRun]]:
    """Several settings of one experiment, every seed of each, trained as one batched computation: setting ``key``
    builds its models and batches with ``builds[key]``, trains with ``configs[key]`` and is scored by
    ``evaluate[key]``, as :func:`run_seeds` with ``batched=True`` would train it alone. The settings share the
    architecture and the training loss, and their configs differ at most in learning rate, schedule and clipping (a
    grid of rates or thresholds, or initialisations and inputs at one rate); the returned runs are keyed as
    ``builds``. One batched step
    for all settings pays the per-operation overhead once, which is what a small network on a CPU spends most of
    its time on."""
    keys = list(builds)
    if not keys or set(keys) != set(configs) or set(keys) != set(evaluate):
        raise ValueError(f"builds, configs, evaluate: expected the same one or more settings, got {sorted(builds)}, "
                         f"{sorted(configs)} and {sorted(evaluate)}")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds: expected one or more ints, got {seeds!r}")
    for key in keys:
        if not isinstance(configs[key], TrainingConfig):
            raise TypeError(f"configs[{key!r}]: expected a TrainingConfig, got {type(configs[key]).__name__}")
    if evaluate_every is not None:
        check_size("evaluate_every", evaluate_every)
    steps = configs[keys[0]].steps
    members = [(seed, builds[key], configs[key], evaluate[key]) for key in keys for seed in seeds]
    with tqdm(total=len(members) * steps, desc=label, unit="step", leave=False, disable=progress_disabled()) as bar:
        runs = _run_together(members, loss_fn, steps, evaluate_every, bar)
    return {key: runs[k * len(seeds):(k + 1) * len(seeds)] for k, key in enumerate(keys)}


def _checkpoint_due(step: int, evaluate_every: int | None, steps: int) -> bool:
    """Whether the model is scored after step ``step`` (0-based), before the last."""
    return evaluate_every is not None and (step + 1) % evaluate_every == 0 and step + 1 < steps


def _run_one_by_one(
    build: Callable[[int], tuple[nn.Module, Batches]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    config: TrainingConfig,
    seeds: list[int],
    evaluate: Callable[[nn.Module], float],
    evaluate_every: int | None,
    bar: tqdm,
) -> list[SeedRun]:
    """:func:`run_seeds`, one seed after the other."""
    runs = []
    for seed in seeds:
        seed_everything(seed)
        model, batches = build(seed)
        checkpoints, evaluating = [], 0.0

        def on_step(step: int, loss: float) -> None:
            nonlocal evaluating
            bar.update()
            if _checkpoint_due(step, evaluate_every, config.steps):
                begun = time.perf_counter()
                checkpoints.append((step + 1, _score(model, evaluate)))
                evaluating += time.perf_counter() - begun

        start = time.perf_counter()
        history, error = train_or_stop(model, batches, loss_fn, config, on_step)
        seconds = time.perf_counter() - start - evaluating
        bar.update(config.steps - len(history))  # the steps a stopped run will not take
        score = math.nan
        if error is None:
            score = _score(model, evaluate)
            if evaluate_every is not None:
                checkpoints.append((config.steps, score))
        runs.append(SeedRun(seed, history, error, score, seconds, tuple(checkpoints)))
    return runs


def _run_together(
    members: list[Member],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    steps: int,
    evaluate_every: int | None,
    bar: tqdm,
) -> list[SeedRun]:
    """Every member ``(seed, build, config, evaluate)`` trained at once (``batched=True``, :func:`run_grid`)."""
    models, streams, generators = [], [], []
    for seed, build, _, _ in members:
        seed_everything(seed)
        model, batches = build(seed)
        models.append(model)
        streams.append(batches)
        generators.append(Generators())
    seconds, checkpoints = [0.0] * len(members), [[] for _ in members]
    begun = time.perf_counter()
    stack = SeedStack(models, loss_fn, [config for _, _, config, _ in members])
    for step in range(steps):
        training = list(stack.active)
        stopped = stack.step(step, [generators[s].call(streams[s], step) for s in training])
        bar.update(len(stack.active) + len(stopped) * (steps - step))
        share = (time.perf_counter() - begun) / len(training)
        for s in training:
            seconds[s] += share
        if not stack.active:
            break
        if _checkpoint_due(step, evaluate_every, steps):
            stack.write_back()
            for s in stack.active:
                checkpoints[s].append((step + 1, generators[s].call(_score, models[s], members[s][3])))
        begun = time.perf_counter()
    stack.write_back()
    runs = []
    for s, (seed, _, _, evaluate) in enumerate(members):
        score = math.nan
        if stack.errors[s] is None:
            score = generators[s].call(_score, models[s], evaluate)
            if evaluate_every is not None:
                checkpoints[s].append((steps, score))
        runs.append(SeedRun(seed, stack.histories[s], stack.errors[s], score, seconds[s], tuple(checkpoints[s])))
    generators[-1].restore()  # the global generators end as the loop one seed after the other leaves them
    return runs


def on_adding(
    model: Callable[[int], nn.Module],
    sequence_length: int,
    *,
    batch_size: int = 64,
) -> Callable[[int], tuple[nn.Module, Batches]]:
    """The recipe of chapters 4 to 8 as a ``build`` for :func:`run_seeds` and :func:`run_grid`: seed s gives
    ``model(s)`` (a :class:`~gatedrnn.nn.models.LastStep`) and fresh batches of ``batch_size`` adding sequences of
    length ``sequence_length`` from generator seed ``ADDING_DATA_OFFSET + s``
    (:func:`~gatedrnn.data.tasks.adding_batches`), in the device and dtype of the model's parameters; train with
    :func:`~gatedrnn.data.tasks.adding_loss`."""
    check_size("sequence_length", sequence_length)
    check_size("batch_size", batch_size)

    def build(seed: int) -> tuple[nn.Module, Batches]:
        net = model(seed)
        if not isinstance(net, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module for seed {seed}, got {type(net).__name__}")
        p = next(net.parameters())
        return net, tasks.adding_batches(sequence_length, batch_size, ADDING_DATA_OFFSET + seed, device=p.device,
                                         dtype=p.dtype)

    return build


def train_on_adding(
    model: nn.Module,
    sequence_length: int,
    seed: int,
    config: TrainingConfig,
    *,
    batch_size: int = 64,
) -> tuple[History, NonFiniteError | None]:
    """Train a :class:`~gatedrnn.nn.models.LastStep` ``model`` on the adding problem as :func:`on_adding` sets it up
    for ``seed``, with :func:`~gatedrnn.experiments.training.train_or_stop`. Returns ``(history, None)`` after a full
    run, or the history up to the step that met inf/NaN and its error.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    _, batches = on_adding(lambda _: model, sequence_length, batch_size=batch_size)(seed)
    return train_or_stop(model, batches, tasks.adding_loss, config)


def final_loss(history: History, last: int = 100) -> float:
    """The training loss at the end of a run: the mean of its ``last`` losses (one batch is too noisy to compare
    runs by). NaN for a run shorter than ``last`` steps, such as one stopped early by inf/NaN."""
    if not isinstance(history, History):
        raise TypeError(f"history: expected a training.History, got {type(history).__name__}")
    check_size("last", last)
    return math.fsum(history.loss[-last:]) / last if len(history) >= last else math.nan
