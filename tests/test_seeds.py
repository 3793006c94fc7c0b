"""Seeds trained as one computation: every row of the stack is updated as torch.optim and the clipping module update
one model, the template computes the model's function, and each seed's generators are its own."""

import dataclasses
import random

import numpy as np
import pytest
import torch
from torch.func import functional_call

import gatedrnn
from gatedrnn.data import tasks
from gatedrnn.experiments import clipping, seeds, training
from gatedrnn.nn import models

S = 3
SHAPES = {"weight": (4, 3), "bias": (4,)}


def stacked_problem(generator_seed=0):
    """Parameters [S, ...] and five steps of gradients [S, ...], with rows of very different sizes."""
    generator = torch.Generator().manual_seed(generator_seed)
    scale = torch.tensor([1e-3, 1.0, 50.0])
    params = [torch.randn(S, *shape, generator=generator) for shape in SHAPES.values()]
    grads = [[torch.randn(S, *shape, generator=generator) * scale.reshape(-1, *(1,) * len(shape))
              for shape in SHAPES.values()] for _ in range(5)]
    return params, grads


CONFIGS = [
    training.TrainingConfig(steps=5, learning_rate=1e-2, optimizer="sgd"),
    training.TrainingConfig(steps=5, learning_rate=1e-2, optimizer="sgd", momentum=0.9),
    training.TrainingConfig(steps=5, learning_rate=1e-2, optimizer="adam"),
    training.TrainingConfig(steps=5, learning_rate=1e-2, optimizer="rmsprop"),
]
# Every optimizer under a schedule, against torch.optim with torch.optim.lr_scheduler's StepLR or CosineAnnealingLR
SCHEDULERS = {
    "step": lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.3),
    "cosine": lambda optimizer: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=5),
}
SCHEDULED = [
    dataclasses.replace(config, schedule=schedule, decay_every=2 if schedule == "step" else None, decay_factor=0.3)
    for config in CONFIGS for schedule in SCHEDULERS
]


def test_the_optimizers_constants_are_torch_optims_defaults():
    p = [torch.nn.Parameter(torch.zeros(1))]
    adam, rmsprop = torch.optim.Adam(p).defaults, torch.optim.RMSprop(p).defaults
    assert seeds.ADAM_BETAS == adam["betas"] and seeds.ADAM_EPS == adam["eps"]
    assert seeds.RMSPROP_ALPHA == rmsprop["alpha"] and seeds.RMSPROP_EPS == rmsprop["eps"]
    sgd = torch.optim.SGD(p, lr=0.1, momentum=0.9).defaults
    assert sgd["dampening"] == 0 and not sgd["nesterov"]


def step_stacked_and_alone(optimizer, params, grads, rows, alone, schedulers):
    """Every step of ``grads``: the stacked optimizer on ``params``, and each row's own torch.optim optimizer
    (``alone[s]`` over ``rows[s]``), then the schedulers."""
    for step_grads in grads:
        optimizer.step_(params, [g.clone() for g in step_grads])
        for s in range(S):
            for parameter, g in zip(rows[s], step_grads):
                parameter.grad = g[s].clone()
            alone[s].step()
        for scheduler in schedulers:
            scheduler.step()


@pytest.mark.parametrize("config", CONFIGS + SCHEDULED, ids=lambda c: f"{c.optimizer}-{c.momentum}-{c.schedule}")
def test_every_row_is_updated_as_torch_optim_and_its_lr_scheduler_update_one_model(config):
    params, grads = stacked_problem()
    rows = [[torch.nn.Parameter(p[s].clone()) for p in params] for s in range(S)]
    alone = [training.make_optimizer(row, config) for row in rows]
    schedulers = [SCHEDULERS[config.schedule](o) for o in alone] if config.schedule != "constant" else []
    step_stacked_and_alone(seeds.StackedOptimizer([config] * S), params, grads, rows, alone, schedulers)
    for s in range(S):
        for stacked, parameter in zip(params, rows[s]):
            # a constant rate: the same operations as torch.optim (float32, to rounding); a schedule: torch's
            # schedulers reach the same rates by another order of products
            tolerance = dict(rtol=1e-14, atol=0) if not schedulers else dict(rtol=1e-6, atol=1e-9)
            torch.testing.assert_close(stacked[s], parameter.detach(), **tolerance)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.optimizer}-{c.momentum}")
def test_rows_with_their_own_rates_and_schedules_are_updated_as_torch_optim_updates_each(config):
    params, grads = stacked_problem()
    rates = [config.learning_rate * 10.0 ** (s - 1) for s in range(S)]
    configs = [dataclasses.replace(config, learning_rate=r) for r in rates]
    configs[-1] = dataclasses.replace(configs[-1], schedule="step", decay_every=2, decay_factor=0.3)
    rows = [[torch.nn.Parameter(p[s].clone()) for p in params] for s in range(S)]
    alone = [training.make_optimizer(row, c) for row, c in zip(rows, configs)]
    step_stacked_and_alone(seeds.StackedOptimizer(configs), params, grads, rows, alone,
                           [SCHEDULERS["step"](alone[-1])])
    for s in range(S):
        for stacked, parameter in zip(params, rows[s]):
            torch.testing.assert_close(stacked[s], parameter.detach(), rtol=1e-6, atol=1e-9)


def test_models_trained_together_share_everything_but_rate_schedule_and_clipping():
    model = torch.nn.Linear(2, 1)
    config = training.TrainingConfig(steps=3, learning_rate=0.1)
    with pytest.raises(ValueError, match="config 1 differs from the first in optimizer"):
        seeds.SeedStack([model, torch.nn.Linear(2, 1)], torch.nn.functional.mse_loss,
                        [config, dataclasses.replace(config, optimizer="sgd")])
    with pytest.raises(TypeError, match=r"config: expected a TrainingConfig or one per model \(2\)"):
        seeds.SeedStack([model, torch.nn.Linear(2, 1)], torch.nn.functional.mse_loss, [config])


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.optimizer}-{c.momentum}")
def test_rows_kept_after_others_stop_go_on_as_in_the_whole_stack(config):
    params, grads = stacked_problem()
    whole, part = seeds.StackedOptimizer([config] * S), seeds.StackedOptimizer([config] * S)
    part_params, kept = [p.clone() for p in params], torch.tensor([0, 2])
    for step, step_grads in enumerate(grads):
        whole.step_(params, [g.clone() for g in step_grads])
        if step == 2:
            part.keep(kept)
            part_params = [p[kept] for p in part_params]
        rows = kept if step >= 2 else slice(None)
        part.step_(part_params, [g[rows].clone() for g in step_grads])
    for a, b in zip(params, part_params):
        torch.testing.assert_close(a[kept], b, rtol=0, atol=0)


@pytest.mark.parametrize(("clip", "threshold"), [(None, None), ("norm", 20.0), ("value", 5.0)])
def test_norms_and_clipping_of_each_row_are_the_clipping_modules(clip, threshold):
    _, (grads, *_) = stacked_problem()
    _, (original, *_) = stacked_problem()
    config = training.TrainingConfig(steps=1, learning_rate=1.0, clip=clip, threshold=threshold)
    norms = seeds.gradient_norms(grads)
    largest = seeds.largest_entries(grads)
    clipped = seeds.clip_(grads, norms, config)
    for s in range(S):
        row = [torch.nn.Parameter(torch.zeros_like(g[s])) for g in original]
        for parameter, g in zip(row, original):
            parameter.grad = g[s].clone()
        assert norms[s].item() == pytest.approx(clipping.gradient_norm(row), rel=1e-14)
        assert largest[s].item() == clipping.largest_entry(row)
        if clip == "norm":
            clipping.clip_by_norm_(row, threshold)
        elif clip == "value":
            clipping.clip_by_value_(row, threshold)
        for parameter, g in zip(row, grads):
            torch.testing.assert_close(g[s], parameter.grad, rtol=1e-14, atol=0)
    # the rows are 1e-3, 1 and 50 times a standard normal gradient of 16 entries: only the last passes either threshold
    assert clipped == [False, False, clip is not None]


def test_each_row_clipped_its_own_way_is_the_clipping_modules_on_that_row():
    """Row 0 by value at 1e-4, row 1 not at all, row 2 by norm at 20: each as the clipping modules clip it alone."""
    _, (grads, *_) = stacked_problem()
    _, (original, *_) = stacked_problem()
    base = training.TrainingConfig(steps=1, learning_rate=1.0)
    configs = [dataclasses.replace(base, clip="value", threshold=1e-4), base,
               dataclasses.replace(base, clip="norm", threshold=20.0)]
    clipped = seeds.clip_(grads, seeds.gradient_norms(grads), configs)
    for s, clip_row in enumerate([lambda row: clipping.clip_by_value_(row, 1e-4), lambda row: None,
                                  lambda row: clipping.clip_by_norm_(row, 20.0)]):
        row = [torch.nn.Parameter(torch.zeros_like(g[s])) for g in original]
        for parameter, g in zip(row, original):
            parameter.grad = g[s].clone()
        clip_row(row)
        for parameter, g in zip(row, grads):
            torch.testing.assert_close(g[s], parameter.grad, rtol=1e-14, atol=0)
    # row 0's entries (about 1e-3) pass 1e-4, row 2's norm (about 50 * 4) passes 20
    assert clipped == [True, False, True]


@pytest.mark.parametrize("make", [
    lambda: torch.nn.RNN(3, 5, nonlinearity="relu"),
    lambda: torch.nn.LSTM(3, 5, num_layers=2, proj_size=2),
    lambda: torch.nn.GRU(3, 5, bidirectional=True),
], ids=["RNN-relu", "LSTM-proj", "GRU-bidirectional"])
def test_the_template_computes_the_model_with_the_package_drop_ins(make):
    torch.manual_seed(0)
    model = models.LastStep(make(), 2)
    template = seeds.template(model)
    recurrent = template.rnn
    assert isinstance(recurrent, gatedrnn.RecurrentBase) and type(recurrent).__name__ == type(model.rnn).__name__
    assert [n for n, _ in template.named_parameters()] == [n for n, _ in model.named_parameters()]
    assert all(p.device.type == "meta" for p in template.parameters())
    x = torch.randn(7, 4, 3)
    torch.testing.assert_close(functional_call(template, dict(model.named_parameters()), (x,)), model(x),
                               rtol=1e-12, atol=1e-12)


def test_a_bare_torch_nn_module_becomes_its_drop_in():
    assert isinstance(seeds.template(torch.nn.GRU(2, 3)), gatedrnn.GRU)


def test_generators_give_each_seed_the_draws_it_would_make_alone():
    def draw():
        return random.random(), float(np.random.rand()), torch.rand(1).item()

    alone = {}
    for seed in (1, 2):
        gatedrnn.seed_everything(seed)
        alone[seed] = [draw() for _ in range(3)]
    kept = {}
    for seed in (1, 2):
        gatedrnn.seed_everything(seed)
        kept[seed] = seeds.Generators()
    interleaved = {1: [], 2: []}
    for _ in range(3):
        for seed in (2, 1):
            interleaved[seed].append(kept[seed].call(draw))
    assert interleaved == alone


def build(seed, mode="RNN"):
    return models.LastStep(getattr(gatedrnn, mode)(2, 4), 1), tasks.adding_batches(5, 3, seed)


def test_models_that_cannot_be_stacked_are_named():
    config = training.TrainingConfig(steps=1, learning_rate=1e-2)
    with pytest.raises(TypeError, match="build: expected \\(a torch.nn.Module, batches\\), got a str"):
        seeds.SeedStack([build(0)[0], "net"], tasks.adding_loss, config)
    with pytest.raises(ValueError, match="build: seeds trained together need one architecture.*index 1"):
        seeds.SeedStack([build(0)[0], build(1, "GRU")[0]], tasks.adding_loss, config)
    wider = models.LastStep(gatedrnn.RNN(2, 5), 1)
    with pytest.raises(ValueError, match="build: seeds trained together need one architecture.*index 2"):
        seeds.SeedStack([build(0)[0], build(1)[0], wider], tasks.adding_loss, config)
    frozen = build(0)[0].requires_grad_(False)
    with pytest.raises(ValueError, match="build: the model has no parameter that requires a gradient"):
        seeds.SeedStack([frozen], tasks.adding_loss, config)


def test_batches_of_different_shapes_and_random_forward_passes_are_named():
    config = training.TrainingConfig(steps=1, learning_rate=1e-2)
    stack = seeds.SeedStack([build(0)[0], build(1)[0]], tasks.adding_loss, config)
    with pytest.raises(ValueError, match=r"batches: seeds trained together need inputs of one shape .* at step 0"):
        stack.step(0, [tasks.adding_problem(5, 3), tasks.adding_problem(6, 3)])
    with pytest.raises(TypeError, match="batches: expected \\(inputs, targets\\) tensors"):
        stack.step(0, [(torch.zeros(5, 3, 2), [1.0, 2.0, 3.0])] * 2)
    with_dropout = [models.LastStep(torch.nn.LSTM(2, 4, num_layers=2, dropout=0.5), 1) for _ in range(2)]
    stack = seeds.SeedStack(with_dropout, tasks.adding_loss, config)
    with pytest.raises(TypeError, match="build: the model cannot be trained with batched=True .*random"):
        stack.step(0, [tasks.adding_problem(5, 3)] * 2)


def test_frozen_parameters_stay_and_are_left_out_of_the_norm():
    config = training.TrainingConfig(steps=4, learning_rate=1e-1)
    nets = [build(seed)[0] for seed in (0, 1)]
    twins = [build(seed)[0] for seed in (0, 1)]
    for net, twin in zip(nets, twins):
        twin.load_state_dict(net.state_dict())
        for m in (net, twin):
            m.rnn.weight_hh_l0.requires_grad_(False)
    stack = seeds.SeedStack(nets, tasks.adding_loss, config)
    streams = [tasks.adding_batches(5, 3, seed) for seed in (0, 1)]
    for step in range(4):
        stack.step(step, [batches(step) for batches in streams])
    stack.write_back()
    for seed, (net, twin) in enumerate(zip(nets, twins)):
        history = training.train(twin, tasks.adding_batches(5, 3, seed), tasks.adding_loss, config)
        assert stack.histories[seed].grad_norm == pytest.approx(history.grad_norm, rel=1e-12)
        for (name, a), b in zip(net.state_dict().items(), twin.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-15, msg=name)
