"""The book's training loop: plain gradient steps with optional clipping (chapter 5), a record of every step, and a
stop with a clear message when the loss or the gradient stops being a finite number."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from gatedrnn import clipping
from gatedrnn.validation import check_size

OPTIMIZERS = ("sgd", "adam", "rmsprop")
CLIPS = (None, "norm", "value")


@dataclass(frozen=True)
class TrainingConfig:
    """How to train: ``steps`` updates of ``optimizer`` (``'sgd'``, with ``momentum``, ``'adam'`` or ``'rmsprop'``) at
    ``learning_rate``; ``clip`` is ``None``, ``'norm'`` (eq. clip-norm) or ``'value'`` (eq. clip-value), at
    ``threshold``."""

    steps: int
    learning_rate: float
    optimizer: str = "adam"
    momentum: float = 0.0
    clip: str | None = None
    threshold: float | None = None

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
    ``on_step(step, loss)``, if given, is called after every update (a progress bar, say).
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
