"""The training loop: it learns, it clips as configured, it equals a plain PyTorch loop, and it stops on inf/NaN."""

import dataclasses
import math

import pytest
import torch

import gatedrnn
from gatedrnn.data import tasks
from gatedrnn.experiments import training
from gatedrnn.nn import models


def mse(prediction, target):
    return ((prediction.squeeze(-1) - target) ** 2).mean()


def adding_batches(T=8, N=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return lambda step: tasks.adding_problem(T, N, generator=generator)


def model(seed=0, H=16):
    torch.manual_seed(seed)
    return models.LastStep(gatedrnn.RNN(2, H), 1)


def plain_pytorch_loop(make_optimizer, steps, clip=None):
    """The reference: a fresh model trained on the same batches by the textbook PyTorch loop, ``clip(parameters)``
    between backward and step; returns it and its losses."""
    theirs, batches = model(), adding_batches()
    optimizer = make_optimizer(theirs.parameters())
    losses = []
    for step in range(steps):
        x, y = batches(step)
        loss = mse(theirs(x), y)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            clip(theirs.parameters())
        optimizer.step()
        losses.append(loss.item())
    return theirs, losses


def test_equals_a_plain_pytorch_loop_with_clip_grad_norm():
    config = training.TrainingConfig(steps=15, learning_rate=0.05, optimizer="sgd", momentum=0.9, clip="norm",
                                     threshold=0.5)
    ours = model()
    history = training.train(ours, adding_batches(), mse, config)

    theirs, losses = plain_pytorch_loop(lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), 15,
                                        clip=lambda p: torch.nn.utils.clip_grad_norm_(p, 0.5))
    assert history.loss == pytest.approx(losses, rel=1e-5)  # torch divides by norm + 1e-6 when it clips
    for p, q in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)  # torch's clipping divides by norm + 1e-6
    assert len(history) == 15 and any(history.clipped)
    assert all(c == (n > 0.5) for c, n in zip(history.clipped, history.grad_norm))


def test_learns_the_short_adding_problem():
    history = training.train(model(), adding_batches(T=4, N=64), mse,
                             training.TrainingConfig(steps=300, learning_rate=0.01))
    assert sum(history.loss[:10]) / 10 > tasks.ADDING_BASELINE_MSE / 2
    assert sum(history.loss[-20:]) / 20 < 0.2 * tasks.ADDING_BASELINE_MSE


def test_value_clipping_records_when_an_entry_passed_the_threshold():
    history = training.train(model(), adding_batches(), mse,
                             training.TrainingConfig(steps=5, learning_rate=1e-3, clip="value", threshold=1e-4))
    assert all(history.clipped)


def test_stops_on_a_non_finite_gradient_naming_step_and_norm():
    net = model()
    with torch.no_grad():
        net.rnn.weight_hh_l0.mul_(30.0)
    config = training.TrainingConfig(steps=200, learning_rate=1e3, optimizer="sgd")
    with pytest.raises(training.NonFiniteError) as caught:
        training.train(net, adding_batches(), mse, config)
    error = caught.value
    assert 0 < error.step < 200 and len(error.history) == error.step
    assert not (math.isfinite(error.loss) and math.isfinite(error.grad_norm))
    assert f"step {error.step}: the" in str(error) and f"at step {error.step - 1} the gradient norm was" in str(error)
    assert all(math.isfinite(v) for v in error.history.loss + error.history.grad_norm)


def test_train_or_stop_returns_the_error_or_the_full_history():
    exploding = model()
    with torch.no_grad():
        exploding.rnn.weight_hh_l0.mul_(30.0)
    config = training.TrainingConfig(steps=200, learning_rate=1e3, optimizer="sgd")
    history, stop = training.train_or_stop(exploding, adding_batches(), mse, config)
    assert isinstance(stop, training.NonFiniteError) and len(history) == stop.step < 200
    assert history is stop.history
    history, stop = training.train_or_stop(model(), adding_batches(), mse, training.TrainingConfig(5, 1e-3))
    assert stop is None and len(history) == 5


@pytest.mark.parametrize("kwargs, message", [
    ({"steps": 0, "learning_rate": 0.1}, "steps: expected an int >= 1"),
    ({"steps": 1, "learning_rate": 0.0}, "learning_rate: expected a number > 0"),
    ({"steps": 1, "learning_rate": 0.1, "optimizer": "adagrad"}, "optimizer: expected one of"),
    ({"steps": 1, "learning_rate": 0.1, "momentum": 0.9}, "momentum: only for optimizer='sgd'"),
    ({"steps": 1, "learning_rate": 0.1, "clip": "norm"}, "threshold: expected a number exactly when clip is set"),
    ({"steps": 1, "learning_rate": 0.1, "threshold": 1.0}, "threshold: expected a number exactly when clip is set"),
    ({"steps": 1, "learning_rate": 0.1, "clip": "max"}, "clip: expected one of"),
    ({"steps": 1, "learning_rate": 0.1, "schedule": "linear"}, "schedule: expected one of"),
    ({"steps": 1, "learning_rate": 0.1, "schedule": "step"}, "decay_every: expected an int >= 1 with schedule='step'"),
    ({"steps": 1, "learning_rate": 0.1, "schedule": "step", "decay_every": 0}, "decay_every: expected an int >= 1"),
    ({"steps": 1, "learning_rate": 0.1, "decay_every": 5}, "decay_every: only for schedule='step'"),
    ({"steps": 1, "learning_rate": 0.1, "schedule": "cosine", "decay_every": 5}, "decay_every: only for"),
    ({"steps": 1, "learning_rate": 0.1, "schedule": "warmup"}, "warmup_steps: expected an int >= 1 with"),
    ({"steps": 1, "learning_rate": 0.1, "schedule": "warmup", "warmup_steps": 0}, "warmup_steps: expected an int"),
    ({"steps": 1, "learning_rate": 0.1, "warmup_steps": 5}, "warmup_steps: only for schedule='warmup'"),
    ({"steps": 1, "learning_rate": 0.1, "decay_factor": 0.0}, r"decay_factor: expected a number in \(0, 1\]"),
    ({"steps": 1, "learning_rate": 0.1, "decay_factor": 1.5}, r"decay_factor: expected a number in \(0, 1\]"),
    ({"steps": 1, "learning_rate": 0.1, "decay_factor": True}, r"decay_factor: expected a number in \(0, 1\]"),
])
def test_bad_configuration_is_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        training.TrainingConfig(**kwargs)


def test_last_step_reads_the_last_output():
    net = model(H=5)
    x = torch.randn(6, 3, 2)
    output, _ = net.rnn(x)
    torch.testing.assert_close(net(x), net.readout(output[-1]), rtol=0, atol=0)
    with pytest.raises(ValueError, match="rnn: expected batch_first=False"):
        models.LastStep(gatedrnn.RNN(2, 3, batch_first=True), 1)
    with pytest.raises(TypeError, match="rnn: expected a gatedrnn or torch.nn RNN"):
        models.LastStep(torch.nn.Linear(2, 3), 1)


def test_adam_with_value_clipping_equals_torch_adam_and_clip_grad_value():
    config = training.TrainingConfig(steps=12, learning_rate=1e-2, optimizer="adam", clip="value", threshold=0.05)
    ours = model()
    history = training.train(ours, adding_batches(), mse, config)
    theirs, losses = plain_pytorch_loop(lambda p: torch.optim.Adam(p, lr=1e-2), 12,
                                        clip=lambda p: torch.nn.utils.clip_grad_value_(p, 0.05))
    assert any(history.clipped)  # the threshold is low enough to act
    assert history.loss == pytest.approx(losses, rel=1e-12, abs=0)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_rmsprop_equals_torch_rmsprop_and_on_step_sees_every_step():
    config = training.TrainingConfig(steps=12, learning_rate=3e-3, optimizer="rmsprop")
    seen = []
    history = training.train(model(), adding_batches(), mse, config, on_step=lambda step, loss: seen.append((step, loss)))

    _, losses = plain_pytorch_loop(lambda p: torch.optim.RMSprop(p, lr=3e-3), 12)
    assert history.loss == pytest.approx(losses, rel=1e-12, abs=0)
    assert seen == list(enumerate(history.loss))


# The schedules of learning_rate_at and their independent reference, torch.optim.lr_scheduler stepped once per update
SCHEDULED = [
    (training.TrainingConfig(steps=23, learning_rate=0.3, schedule="step", decay_every=5, decay_factor=0.5),
     lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)),
    (training.TrainingConfig(steps=23, learning_rate=0.3, schedule="step", decay_every=7),
     lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, step_size=7)),
    (training.TrainingConfig(steps=23, learning_rate=0.3, schedule="cosine"),
     lambda optimizer: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=23)),
    (training.TrainingConfig(steps=23, learning_rate=0.3, schedule="warmup", warmup_steps=6),
     lambda optimizer: torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1 / 6, total_iters=5)),
    (training.TrainingConfig(steps=23, learning_rate=0.3, schedule="warmup", warmup_steps=1),
     lambda optimizer: torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)),
    (training.TrainingConfig(steps=23, learning_rate=0.3),
     lambda optimizer: torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)),
]


@pytest.mark.parametrize("config, scheduler", SCHEDULED, ids=lambda c: getattr(c, "schedule", ""))
def test_learning_rate_at_is_torchs_scheduler(config, scheduler):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.learning_rate)
    reference = scheduler(optimizer)
    for step in range(config.steps):
        assert training.learning_rate_at(config, step) == pytest.approx(reference.get_last_lr()[0], rel=1e-12,
                                                                        abs=1e-15)
        optimizer.step()
        reference.step()


def test_the_cosine_schedule_starts_at_the_rate_and_ends_near_zero():
    config = training.TrainingConfig(steps=100, learning_rate=0.2, schedule="cosine")
    rates = [training.learning_rate_at(config, k) for k in range(100)]
    assert rates[0] == 0.2 and 0 < rates[-1] < 0.2 * 1e-3
    assert all(a > b for a, b in zip(rates, rates[1:]))


@pytest.mark.parametrize("step", [-1, 23, 1.0, True])
def test_learning_rate_at_names_a_step_outside_the_run(step):
    config = training.TrainingConfig(steps=23, learning_rate=0.3, schedule="cosine")
    with pytest.raises(ValueError, match=r"step: expected an int in \[0, 23\)"):
        training.learning_rate_at(config, step)
    with pytest.raises(TypeError, match="config: expected a TrainingConfig"):
        training.learning_rate_at({"steps": 23}, 0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("config, scheduler", SCHEDULED[:3], ids=lambda c: getattr(c, "schedule", ""))
def test_train_with_a_schedule_equals_a_plain_pytorch_loop_with_its_scheduler(config, scheduler, optimizer):
    config = dataclasses.replace(config, learning_rate=0.05, optimizer=optimizer, momentum=0.9 * (optimizer == "sgd"))
    ours = model()
    history = training.train(ours, adding_batches(), mse, config)

    def make(parameters):
        return training.make_optimizer(parameters, config)

    theirs, batches = model(), adding_batches()
    their_optimizer = make(theirs.parameters())
    their_scheduler = scheduler(their_optimizer)
    losses = []
    for step in range(config.steps):
        x, y = batches(step)
        loss = mse(theirs(x), y)
        their_optimizer.zero_grad()
        loss.backward()
        their_optimizer.step()
        their_scheduler.step()
        losses.append(loss.item())
    assert history.loss == pytest.approx(losses, rel=1e-5)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-7)
