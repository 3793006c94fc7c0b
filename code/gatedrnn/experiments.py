"""One experiment, many seeds: a claim about a model is a claim about what training does for most random starts,
so the book trains each setting from several seeds and reports all of them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from gatedrnn.runtime import seed_everything
from gatedrnn.training import History, NonFiniteError, TrainingConfig, train_or_stop

Batches = Callable[[int], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class SeedRun:
    """One training run: its ``seed``, the :class:`~gatedrnn.training.History`, the ``error`` that stopped it (or
    None), the ``score`` the evaluation gave afterwards (NaN if it stopped), and its wall time in ``seconds``."""

    seed: int
    history: History
    error: NonFiniteError | None
    score: float
    seconds: float


def run_seeds(
    build: Callable[[int], tuple[nn.Module, Batches]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    config: TrainingConfig,
    seeds: Iterable[int],
    evaluate: Callable[[nn.Module], float],
    label: str = "",
) -> list[SeedRun]:
    """Train one model per seed and score it.

    For each seed, every generator is seeded (:func:`~gatedrnn.runtime.seed_everything`), ``build(seed)`` returns
    a fresh model and its stream of batches, :func:`~gatedrnn.training.train_or_stop` trains it, and
    ``evaluate(model)`` (called in eval mode, without gradients) scores it; ``seconds`` is the training time alone. A run that meets inf/NaN is kept, with
    its error and a NaN score. One progress bar, named ``label``, counts the steps of all runs; it is silent when
    ``TQDM_DISABLE=1`` (the book's build sets it).
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config: expected a TrainingConfig, got {type(config).__name__}")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds: expected one or more ints, got {seeds!r}")
    runs = []
    with tqdm(total=len(seeds) * config.steps, desc=label, unit="step", leave=False) as bar:
        for seed in seeds:
            seed_everything(seed)
            model, batches = build(seed)
            start = time.perf_counter()
            history, error = train_or_stop(model, batches, loss_fn, config, lambda step, loss: bar.update())
            seconds = time.perf_counter() - start
            bar.update(config.steps - len(history))  # the steps a stopped run will not take
            score = math.nan
            if error is None:
                model.eval()
                with torch.no_grad():
                    score = float(evaluate(model))
            runs.append(SeedRun(seed, history, error, score, seconds))
    return runs
