"""Many seeds of one experiment trained as one computation.

The parameters θ_s of S models of one architecture are stacked into tensors with a leading seed axis [S, ...].
``torch.func.vmap`` runs every seed's forward pass on that seed's own batch at once, and one backward pass of
``Σ_s L_s`` gives every seed its own gradient: the seeds share no parameter, so ∂(Σ_s L_s)/∂θ_s = ∂L_s/∂θ_s.
Everything else a training step does is done row by row, each seed on its own: ‖g‖ before clipping, clipping
(eqs. clip-norm, clip-value), the optimizer's state and update (``torch.optim``'s SGD with momentum, Adam and RMSprop
at their defaults, written out below, at the rate :func:`gatedrnn.experiments.training.learning_rate_at` gives), and the
stop at inf/NaN, after which a seed leaves the stack with the parameters it had before that step.

:func:`gatedrnn.experiments.sweeps.run_seeds` uses this with ``batched=True``; each seed's run is then the run training
alone gives (:func:`gatedrnn.experiments.training.train`), up to rounding: batched matrix products sum in another order,
and ``torch.nn``'s RNN, LSTM and GRU run as the package's drop-ins (:func:`template`).
"""

from __future__ import annotations

import copy
import math
import random
from itertools import chain
from typing import Callable, Sequence, TypeVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from gatedrnn.experiments.training import History, NonFiniteError, TrainingConfig, check_loss, learning_rate_at
from gatedrnn.instruments.reference import PACKAGE_NAMESAKES, package_twin

ADAM_BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults: β1, β2 and ε
ADAM_EPS = 1e-8
RMSPROP_ALPHA = 0.99  # torch.optim.RMSprop's defaults: α and ε
RMSPROP_EPS = 1e-8

Result = TypeVar("Result")


class Generators:
    """The random generators of one seed, kept aside while other seeds draw: Python's, NumPy's, torch's and (once
    initialised) CUDA's, those :func:`~gatedrnn.experiments.runtime.seed_everything` seeds. Created right after the
    seed's ``build``, they let its batches and its evaluation draw what they would draw if the seed were trained
    alone."""

    def __init__(self) -> None:
        self._states = _generator_states()

    def call(self, function: Callable[..., Result], *args: object) -> Result:
        """``function(*args)`` drawing from these generators, which then keep what it left."""
        self.restore()
        try:
            return function(*args)
        finally:
            self._states = _generator_states()

    def restore(self) -> None:
        """Put these generators' states back into the global generators."""
        python, numpy, cpu, cuda = self._states
        random.setstate(python)
        np.random.set_state(numpy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def _generator_states() -> tuple[object, object, Tensor, list[Tensor] | None]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda


# ---- ‖g‖ and clipping, one seed per row ---------------------------------------------------------------------------
def _per_row(values: Tensor, like: Tensor) -> Tensor:
    """``values`` [S] shaped to broadcast against ``like`` [S, ...]."""
    return values.reshape(-1, *(1,) * (like.dim() - 1)).to(like.dtype)


def gradient_norms(grads: Sequence[Tensor]) -> Tensor:
    """‖g‖ of every seed, [S]: row s of all stacked gradients [S, ...] taken as one vector, as
    :func:`~gatedrnn.experiments.clipping.gradient_norm` takes one model's gradients."""
    per_parameter = torch.stack([torch.linalg.vector_norm(g.flatten(1), dim=1) for g in grads])
    return torch.linalg.vector_norm(per_parameter, dim=0)


def largest_entries(grads: Sequence[Tensor]) -> Tensor:
    """The largest ``|g_i|`` of every seed, [S]: what value clipping compares with its threshold."""
    return torch.stack([g.flatten(1).abs().amax(dim=1) for g in grads]).amax(dim=0)


def clip_(grads: Sequence[Tensor], norms: Tensor, config: TrainingConfig | Sequence[TrainingConfig]) -> list[bool]:
    """Clip every seed's gradient in place as ``config`` says (one config for every row, or one per row: each row its
    own way of clipping and threshold), given its ‖g‖ (``norms`` [S], all finite); return whether clipping acted on
    each seed. Thresholds are compared in float64, as :func:`~gatedrnn.experiments.training.train` compares Python
    floats."""
    configs = [config] * len(norms) if isinstance(config, TrainingConfig) else list(config)
    device = norms.device
    thresholds = torch.tensor([c.threshold if c.clip else math.inf for c in configs], dtype=torch.float64,
                              device=device)
    by_value = torch.tensor([c.clip == "value" for c in configs], device=device)
    by_norm = torch.tensor([c.clip == "norm" for c in configs], device=device)
    clipped = torch.zeros(len(configs), dtype=torch.bool, device=device)
    if bool(by_value.any()):
        clipped |= by_value & (largest_entries(grads).double() > thresholds)
        bound = torch.where(by_value, thresholds, math.inf)
        for g in grads:
            row_bound = _per_row(bound, g)
            torch.clamp(g, -row_bound, row_bound, out=g)  # eq. (clip-value)
    if bool(by_norm.any()):
        over = by_norm & (norms.double() > thresholds)
        factor = torch.where(over, thresholds / norms.double(), 1.0)
        for g in grads:
            g.mul_(_per_row(factor, g))  # eq. (clip-norm): g ← (threshold / ‖g‖) g
        clipped |= over
    return clipped.tolist()


# ---- the optimizers, one seed per row -----------------------------------------------------------------------------
Rate = float | Tensor  # one learning rate for every row, or one per row [S]


def _step_(param: Tensor, direction: Tensor, lr: Rate) -> None:
    """``θ ← θ - η d``, with η one number or one per row."""
    if isinstance(lr, Tensor):
        param.sub_(direction * _per_row(lr, param))
    else:
        param.add_(direction, alpha=-lr)


def sgd_(param: Tensor, grad: Tensor, state: list[Tensor], t: int, config: TrainingConfig, lr: Rate) -> None:
    """Step t of ``torch.optim.SGD`` (dampening 0, no Nesterov) at learning rate η = ``lr``: ``θ ← θ - η b_t``
    with the momentum buffer ``b_t = μ b_{t-1} + g_t``, ``b_1 = g_1``; plain gradient descent ``θ ← θ - η g_t``
    when μ = 0."""
    if config.momentum:
        if t == 1:
            state.append(grad.clone())
        else:
            state[0].mul_(config.momentum).add_(grad)
        grad = state[0]
    _step_(param, grad, lr)


def adam_(param: Tensor, grad: Tensor, state: list[Tensor], t: int, config: TrainingConfig, lr: Rate) -> None:
    """Step t of ``torch.optim.Adam`` with its defaults, at learning rate η = ``lr``:
    ``m_t = β1 m_{t-1} + (1 - β1) g_t``, ``v_t = β2 v_{t-1} + (1 - β2) g_t²``,
    ``θ ← θ - η / (1 - β1^t) · m_t / (√v_t / √(1 - β2^t) + ε)``."""
    if t == 1:
        state += [torch.zeros_like(param), torch.zeros_like(param)]
    m, v = state
    beta1, beta2 = ADAM_BETAS
    m.lerp_(grad, 1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    denominator = (v.sqrt() / (1 - beta2**t) ** 0.5).add_(ADAM_EPS)
    if isinstance(lr, Tensor):
        _step_(param, m / denominator, lr / (1 - beta1**t))
    else:
        param.addcdiv_(m, denominator, value=-lr / (1 - beta1**t))


def rmsprop_(param: Tensor, grad: Tensor, state: list[Tensor], t: int, config: TrainingConfig, lr: Rate) -> None:
    """Step t of ``torch.optim.RMSprop`` with its defaults, at learning rate η = ``lr``:
    ``v_t = α v_{t-1} + (1 - α) g_t²``, ``θ ← θ - η g_t / (√v_t + ε)``."""
    if t == 1:
        state.append(torch.zeros_like(param))
    (v,) = state
    v.mul_(RMSPROP_ALPHA).addcmul_(grad, grad, value=1 - RMSPROP_ALPHA)
    if isinstance(lr, Tensor):
        _step_(param, grad / v.sqrt().add_(RMSPROP_EPS), lr)
    else:
        param.addcdiv_(grad, v.sqrt().add_(RMSPROP_EPS), value=-lr)


UPDATES = {"sgd": sgd_, "adam": adam_, "rmsprop": rmsprop_}


class StackedOptimizer:
    """The optimizer that ``configs`` name, over parameters stacked over seeds, row s configured by ``configs[s]``
    (:class:`~gatedrnn.experiments.training.TrainingConfig`): every row keeps its own state and is updated as
    ``torch.optim`` updates one model's parameter, step t at the rate
    :func:`~gatedrnn.experiments.training.learning_rate_at` gives its config for update t - 1. The configs may differ
    only in their rates, schedules and clipping; the rows have all taken the same number of steps t."""

    def __init__(self, configs: Sequence[TrainingConfig]) -> None:
        self.configs = list(configs)
        self.t = 0
        self.state: list[list[Tensor]] = []  # per parameter, its optimizer's buffers [S, ...]

    def step_(self, params: Sequence[Tensor], grads: Sequence[Tensor]) -> None:
        """Update ``params`` in place from ``grads``, both stacked [S, ...]."""
        self.t += 1
        if self.t == 1:
            self.state = [[] for _ in params]
        config = self.configs[0]
        update = UPDATES[config.optimizer]
        rates = [learning_rate_at(c, self.t - 1) for c in self.configs]
        lr: Rate = rates[0] if len(set(rates)) == 1 else torch.tensor(rates, dtype=torch.float64,
                                                                        device=params[0].device)
        for param, grad, state in zip(params, grads, self.state):
            update(param, grad, state, self.t, config, lr)

    def keep(self, rows: Tensor) -> None:
        """Keep only the state of the seeds in ``rows``."""
        self.state = [[buffer[rows] for buffer in state] for state in self.state]
        self.configs = [self.configs[row] for row in rows.tolist()]


# ---- the models ---------------------------------------------------------------------------------------------------
def template(model: nn.Module) -> nn.Module:
    """What runs each seed's forward pass: a copy of ``model`` without data (on the meta device), in which every
    ``torch.nn.RNN``, ``LSTM`` and ``GRU`` is the package's drop-in. PyTorch's fused recurrent kernels have no vmap
    batching rule; the drop-ins compute the same function with the same parameter names in plain operations."""
    copied = copy.deepcopy(model).to("meta")
    if type(copied) in PACKAGE_NAMESAKES:
        return package_twin(copied)
    for name, module in list(copied.named_modules()):
        if type(module) in PACKAGE_NAMESAKES:
            parent, _, child = name.rpartition(".")
            setattr(copied.get_submodule(parent), child, package_twin(module))
    return copied


def _tensors(model: nn.Module) -> dict[str, Tensor]:
    return dict(chain(model.named_parameters(), model.named_buffers()))


def _signature(model: nn.Module) -> list[object]:
    """What must be alike for models to be stacked: their modules' classes and their tensors' names, shapes, dtypes,
    devices and whether they are trained."""
    tensors = [(name, t.shape, t.dtype, t.device, t.requires_grad) for name, t in _tensors(model).items()]
    return [type(module) for module in model.modules()] + tensors


def _check_models(models: Sequence[object]) -> Sequence[nn.Module]:
    for index, model in enumerate(models):
        if not isinstance(model, nn.Module):
            raise TypeError(f"build: expected (a torch.nn.Module, batches), got a {type(model).__name__} for the "
                            f"seed at index {index}")
    first = _signature(models[0])
    for index, model in enumerate(models[1:], start=1):
        if _signature(model) != first:
            raise ValueError(f"build: seeds trained together need one architecture, but the model of the seed at "
                             f"index {index} differs from the first in its modules' classes or in its parameters' or "
                             "buffers' names, shapes, dtypes, devices or requires_grad")
    if not any(p.requires_grad for p in models[0].parameters()):
        raise ValueError("build: the model has no parameter that requires a gradient")
    return models


def _check_configs(config: TrainingConfig | Sequence[TrainingConfig], models: int) -> list[TrainingConfig]:
    """One config per model: ``config`` repeated, or the sequence, whose configs must agree in the number of steps
    and the optimizer (with its momentum); the rate, its schedule and the clipping may differ."""
    configs = [config] * models if isinstance(config, TrainingConfig) else list(config)
    if len(configs) != models or not all(isinstance(c, TrainingConfig) for c in configs):
        raise TypeError(f"config: expected a TrainingConfig or one per model ({models}), got {config!r}")
    shared = ("steps", "optimizer", "momentum")
    for index, c in enumerate(configs[1:], start=1):
        differs = [name for name in shared if getattr(c, name) != getattr(configs[0], name)]
        if differs:
            raise ValueError(f"config: models trained together may differ only in rate, schedule and clipping, but "
                             f"config {index} differs from the first in {', '.join(differs)}")
    return configs


def _stack_batches(step: int, batches: Sequence[tuple[Tensor, Tensor]]) -> list[Tensor]:
    """The seeds' inputs and targets of one step, each stacked [S, ...]."""
    stacked = []
    for index, part in enumerate(("inputs", "targets")):
        tensors = [batch[index] for batch in batches]
        if not all(isinstance(t, Tensor) for t in tensors):
            raise TypeError(f"batches: expected (inputs, targets) tensors, got {[type(t).__name__ for t in tensors]} "
                            f"as {part} at step {step}")
        shapes = sorted({tuple(t.shape) for t in tensors})
        if len(shapes) > 1:
            raise ValueError(f"batches: seeds trained together need {part} of one shape at each step, got "
                             f"{shapes} at step {step}")
        stacked.append(torch.stack(tensors))
    return stacked


class SeedStack:
    """S models of one architecture (``models[s]`` built for seed s), trained together with one
    :class:`~gatedrnn.experiments.training.TrainingConfig`, or one per model (``config`` a sequence) that differ only in
    their learning rates, schedules and clipping, so that a grid of rates or thresholds trains as one computation.

    ``active`` lists the seeds still training, in order; ``histories[s]`` and ``errors[s]`` are what
    :func:`~gatedrnn.experiments.training.train_or_stop` returns for seed s: the step records, and the
    :class:`~gatedrnn.experiments.training.NonFiniteError` that stopped it (None while it trains or after a full run).
    The trained parameters live in the stack; :meth:`write_back` copies them into the models, and a seed that stops gets
    its parameters at once.
    """

    def __init__(
        self,
        models: Sequence[nn.Module],
        loss_fn: Callable[[Tensor, Tensor], Tensor],
        config: TrainingConfig,
    ) -> None:
        self.models = list(_check_models(models))
        for model in self.models:
            model.train()
        configs = _check_configs(config, len(self.models))
        self.loss_fn = loss_fn
        self.template = template(self.models[0])
        tensors = [_tensors(model) for model in self.models]
        stacked = {name: torch.stack([t[name].detach() for t in tensors]) for name in tensors[0]}
        trained = {name for name, p in self.models[0].named_parameters() if p.requires_grad}
        self.trained = {name: t.requires_grad_() for name, t in stacked.items() if name in trained}
        self.fixed = {name: t for name, t in stacked.items() if name not in trained}  # frozen parameters, buffers
        self.optimizer = StackedOptimizer(configs)
        self.active = list(range(len(self.models)))
        self.histories = [History() for _ in self.models]
        self.errors: list[NonFiniteError | None] = [None] * len(self.models)
        self._losses = vmap(self._loss, randomness="error")

    def _loss(self, trained: dict[str, Tensor], fixed: dict[str, Tensor], inputs: Tensor, targets: Tensor) -> Tensor:
        """One seed's ``loss_fn(model(inputs), targets)``, with that seed's parameters and buffers swapped in."""
        output = functional_call(self.template, (trained, fixed), (inputs,), strict=True)
        return check_loss(self.loss_fn(output, targets)).reshape(())

    def step(self, step: int, batches: Sequence[tuple[Tensor, Tensor]]) -> list[int]:
        """Training step ``step`` of every active seed, ``batches[k]`` being the batch of seed ``active[k]``.

        A seed whose loss or ‖g‖ is inf or NaN stops before its update, with its error and its model's parameters
        as they were; the others are clipped, recorded and updated. Returns the seeds that stopped.
        """
        inputs, targets = _stack_batches(step, batches)
        try:
            losses = self._losses(self.trained, self.fixed, inputs, targets)
        except RuntimeError as error:
            if "vmap" not in str(error) and "batching rule" not in str(error).lower():
                raise
            raise TypeError(f"build: the model cannot be trained with batched=True ({error}); train it with "
                            "batched=False") from error
        params = list(self.trained.values())
        grads = torch.autograd.grad(losses.sum(), params, materialize_grads=True)
        with torch.no_grad():
            norms = gradient_norms(grads)
            losses, norms, grads, stopped = self._stop_non_finite(step, losses.detach(), norms, grads)
            if not self.active:
                return stopped
            clipped = clip_(grads, norms, self.optimizer.configs)
            for seed, loss, norm, acted in zip(self.active, losses.tolist(), norms.tolist(), clipped):
                self.histories[seed].loss.append(loss)
                self.histories[seed].grad_norm.append(norm)
                self.histories[seed].clipped.append(acted)
            self.optimizer.step_(list(self.trained.values()), grads)
        return stopped

    def _stop_non_finite(
        self, step: int, losses: Tensor, norms: Tensor, grads: Sequence[Tensor]
    ) -> tuple[Tensor, Tensor, list[Tensor], list[int]]:
        """Stop the seeds whose loss or ‖g‖ is not finite; return the rest's losses, norms and gradients."""
        finite = [math.isfinite(loss) and math.isfinite(norm) for loss, norm in zip(losses.tolist(), norms.tolist())]
        if all(finite):
            return losses, norms, list(grads), []
        stopped = []
        for row, seed in enumerate(self.active):
            if not finite[row]:
                self.errors[seed] = NonFiniteError(step, losses[row].item(), norms[row].item(), self.histories[seed])
                self._write_back(row)
                stopped.append(seed)
        rows = torch.tensor([row for row, ok in enumerate(finite) if ok], dtype=torch.long, device=losses.device)
        self.trained = {name: p.detach()[rows].requires_grad_() for name, p in self.trained.items()}
        self.fixed = {name: t[rows] for name, t in self.fixed.items()}
        self.optimizer.keep(rows)
        self.active = [seed for seed, ok in zip(self.active, finite) if ok]
        return losses[rows], norms[rows], [g[rows] for g in grads], stopped

    def _write_back(self, row: int) -> None:
        model = self.models[self.active[row]]
        with torch.no_grad():
            for name, p in self.trained.items():
                model.get_parameter(name).copy_(p[row])

    def write_back(self) -> None:
        """Copy every active seed's parameters into its model."""
        for row in range(len(self.active)):
            self._write_back(row)
