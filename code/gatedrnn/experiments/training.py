"""The book's training loop: plain gradient steps with optional clipping (chapter 5) and a learning-rate schedule
(the recipe chapter), a record of every step, and a stop with a clear message when the loss or the gradient stops
being a finite number."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from gatedrnn.experiments import clipping
from gatedrnn.validation import check_size

OPTIMIZERS = ("sgd", "adam", "rmsprop")
CLIPS = (None, "norm", "value")
SCHEDULES = ("constant", "step", "cosine", "warmup")


@dataclass(frozen=True)
class TrainingConfig:
    """How to train: ``steps`` updates of ``optimizer`` (``'sgd'``, with ``momentum``, ``'adam'`` or ``'rmsprop'``) at
    ``learning_rate``; ``clip`` is ``None``, ``'norm'`` (eq. clip-norm) or ``'value'`` (eq. clip-value), at
    ``threshold``. ``schedule`` changes the rate from step to step (:func:`learning_rate_at`): ``'constant'``,
    ``'step'`` (multiplied by ``decay_factor`` every ``decay_every`` steps), ``'cosine'`` (from
    ``learning_rate`` down to 0 along half a cosine over the ``steps``) or ``'warmup'`` (up from
    ``learning_rate / warmup_steps`` in equal increments over the first ``warmup_steps`` steps, then constant)."""

    steps: int
    learning_rate: float
    optimizer: str = "adam"
    momentum: float = 0.0
    clip: str | None = None
    threshold: float | None = None
    schedule: str = "constant"
    decay_every: int | None = None
    decay_factor: float = 0.1
    warmup_steps: int | None = None

    def __post_init__(self) -> None:
        check_size("steps", self.steps)
        for name in ("learning_rate", "momentum"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate: expected a number > 0, got {self.learning_rate!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.momentum and self.optimizer != "sgd":
            raise ValueError(f"momentum: only for optimizer='sgd', got momentum={self.momentum} with {self.optimizer!r}")
        if self.clip not in CLIPS:
            raise ValueError(f"clip: expected one of {CLIPS}, got {self.clip!r}")
        if (self.clip is None) != (self.threshold is None):
            raise ValueError(f"threshold: expected a number exactly when clip is set, got clip={self.clip!r}, "
                             f"threshold={self.threshold!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule: expected one of {SCHEDULES}, got {self.schedule!r}")
        for schedule, name in (("step", "decay_every"), ("warmup", "warmup_steps")):  # each schedule's length
            value = getattr(self, name)
            if self.schedule == schedule:
                if value is None:
                    raise ValueError(f"{name}: expected an int >= 1 with schedule={schedule!r}, got None")
                check_size(name, value)
            elif value is not None:
                raise ValueError(f"{name}: only for schedule={schedule!r}, got {name}={value!r} with "
                                 f"schedule={self.schedule!r}")
        factor = self.decay_factor
        if not isinstance(factor, numbers.Real) or isinstance(factor, bool) or not 0 < factor <= 1:
            raise ValueError(f"decay_factor: expected a number in (0, 1], got {factor!r}")


def learning_rate_at(config: TrainingConfig, step: int) -> float:
    """The learning rate η_k of update ``step`` k (0-based) of a run configured by ``config``, with η_0 =
    ``config.learning_rate`` and K = ``config.steps``:

    * ``'constant'``: η_k = η_0;
    * ``'step'``: η_k = η_0 · γ^⌊k / s⌋ with γ = ``decay_factor`` and s = ``decay_every`` (eq. lr-step;
      ``torch.optim.lr_scheduler.StepLR`` stepped once per update);
    * ``'cosine'``: η_k = η_0 · (1 + cos(π k / K)) / 2 (eq. lr-cosine; ``CosineAnnealingLR`` with ``T_max`` = K and
      ``eta_min`` = 0), from η_0 at the first update to nearly 0 at the last;
    * ``'warmup'``: η_k = η_0 · min(1, (k + 1) / W) with W = ``warmup_steps`` (eq. lr-warmup; ``LinearLR`` from
      ``start_factor`` 1/W over W - 1 updates), a linear warm-up to η_0, then η_0.
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config: expected a TrainingConfig, got {type(config).__name__}")
    if not isinstance(step, int) or isinstance(step, bool) or not 0 <= step < config.steps:
        raise ValueError(f"step: expected an int in [0, {config.steps}), got {step!r}")
    if config.schedule == "step":
        return config.learning_rate * config.decay_factor ** (step // config.decay_every)  # eq. (lr-step)
    if config.schedule == "cosine":
        return config.learning_rate * (1 + math.cos(math.pi * step / config.steps)) / 2  # eq. (lr-cosine)
    if config.schedule == "warmup":
        return config.learning_rate * min(1.0, (step + 1) / config.warmup_steps)  # eq. (lr-warmup)
    return config.learning_rate


@dataclass
class History:
    """One entry per completed step: the loss before the update, ‖g‖ before clipping, and whether clipping acted."""

    loss: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    clipped: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.loss)


class NonFiniteError(FloatingPointError):
    """Training met a loss or a gradient that is inf or NaN. ``step`` is where (0-based), ``history`` holds every
    step before it, ``loss`` and ``grad_norm`` the values met."""

    def __init__(self, step: int, loss: float, grad_norm: float, history: History) -> None:
        self.step, self.loss, self.grad_norm, self.history = step, loss, grad_norm, history
        what = "loss" if not math.isfinite(loss) else "gradient"
        before = (f"; at step {step - 1} the gradient norm was {history.grad_norm[-1]:.3g}" if len(history) else "")
        super().__init__(
            f"step {step}: the {what} is not finite (loss {loss:.3g}, gradient norm {grad_norm:.3g}){before}. "
            "Training stopped before the update; lower the learning rate or clip the gradient."
        )


def make_optimizer(parameters, config: TrainingConfig) -> torch.optim.Optimizer:
    """The optimizer ``config`` names, over ``parameters``."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(parameters, lr=config.learning_rate, momentum=config.momentum)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=config.learning_rate)
    return torch.optim.Adam(parameters, lr=config.learning_rate)


def check_loss(loss: object) -> Tensor:
    """``loss`` itself when it is what ``loss_fn`` must return, a one-element tensor; a ValueError otherwise."""
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise ValueError(f"loss_fn: expected a scalar tensor, got {getattr(loss, 'shape', type(loss).__name__)}")
    return loss


def train(
    model: nn.Module,
    batches: Callable[[int], tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    config: TrainingConfig,
    on_step: Callable[[int, float], None] | None = None,
) -> History:
    """Train ``model`` in place for ``config.steps`` steps and return its :class:`History`.

    ``batches(step)`` gives ``(inputs, targets)`` for a step; ``loss_fn(model(inputs), targets)`` is a scalar.
    ``on_step(step, loss)``, if given, is called after every update (a progress bar, say). Update k uses the
    learning rate :func:`learning_rate_at` gives.
    Raises :class:`NonFiniteError` (naming the step, the loss and the gradient norm) as soon as either is inf or NaN,
    before the update that would spread it into the weights.
    """
    if not isinstance(config, TrainingConfig):
        raise TypeError(f"config: expected a TrainingConfig, got {type(config).__name__}")
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(parameters, config)
    history = History()
    model.train()
    for step in range(config.steps):
        inputs, targets = batches(step)
        loss = check_loss(loss_fn(model(inputs), targets))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm, loss_value = clipping.gradient_norm(parameters), loss.item()
        if not (math.isfinite(loss_value) and math.isfinite(norm)):
            raise NonFiniteError(step, loss_value, norm, history)
        if config.clip == "norm":
            clipped = norm > config.threshold
            clipping.clip_by_norm_(parameters, config.threshold)
        elif config.clip == "value":
            clipped = clipping.largest_entry(parameters) > config.threshold
            clipping.clip_by_value_(parameters, config.threshold)
        else:
            clipped = False
        history.loss.append(loss_value)
        history.grad_norm.append(norm)
        history.clipped.append(clipped)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(config, step)
        optimizer.step()
        if on_step is not None:
            on_step(step, loss_value)
    return history


def train_or_stop(
    model: nn.Module,
    batches: Callable[[int], tuple[Tensor, Tensor]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    config: TrainingConfig,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[History, NonFiniteError | None]:
    """:func:`train`, for experiments where blowing up is an outcome to record: returns ``(history, None)`` after a
    full run, or ``(history up to the stop, the NonFiniteError)`` when training met inf or NaN."""
    try:
        return train(model, batches, loss_fn, config, on_step), None
    except NonFiniteError as error:
        return error.history, error
