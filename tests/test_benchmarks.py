"""Chapter 9's benchmarks: each is the task's data, readout, loss and held-out score, checked against computing them
by hand from gatedrnn.data.tasks and torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import gatedrnn
from gatedrnn.data import tasks
from gatedrnn.experiments import benchmarks, training
from gatedrnn.nn import models


def test_adding_benchmark_trains_and_scores_like_the_task_by_hand():
    bench = benchmarks.adding(6, 8, test_size=50)
    config = training.TrainingConfig(steps=10, learning_rate=1e-2)
    (run,) = benchmarks.run(bench, lambda inputs: torch.nn.GRU(inputs, 5), config, [2])
    gatedrnn.seed_everything(2)
    net = models.LastStep(torch.nn.GRU(2, 5), 1)
    history = training.train(net, tasks.adding_batches(6, 8, 2), tasks.adding_loss, config)
    x, y = tasks.adding_problem(6, 50, generator=torch.Generator().manual_seed(10_006))
    net.eval()
    with torch.no_grad():
        expected = ((net(x).squeeze(-1) - y) ** 2).mean().item()
    assert run.history.loss == history.loss
    assert run.score == pytest.approx(expected, rel=1e-6)
    assert bench.name == "adding T = 6" and not bench.higher_is_better


def test_adding_benchmark_in_float32_and_run_with_its_seeds_together():
    bench = benchmarks.adding(6, 8, test_size=50, dtype=torch.float32)
    net, batches = bench.make(gatedrnn.GRU(2, 5, dtype=torch.float32), 0)
    assert batches(0)[0].dtype == torch.float32 and net.readout.weight.dtype == torch.float32
    config = training.TrainingConfig(steps=5, learning_rate=1e-2)
    bench = benchmarks.adding(6, 8, test_size=50)
    alone = benchmarks.run(bench, lambda inputs: gatedrnn.GRU(inputs, 5), config, [0, 1])
    together = benchmarks.run(bench, lambda inputs: gatedrnn.GRU(inputs, 5), config, [0, 1], batched=True)
    for a, b in zip(alone, together):
        assert b.history.loss == pytest.approx(a.history.loss, rel=1e-10)
        assert b.score == pytest.approx(a.score, rel=1e-10)


def test_copy_benchmark_scores_the_cross_entropy_of_every_step():
    bench = benchmarks.copy(4, 3, test_size=7)
    gatedrnn.seed_everything(0)
    net, batches = bench.make(torch.nn.LSTM(tasks.COPY_CLASSES, 6), 0)
    inputs, targets = batches(0)
    assert inputs.shape == targets.shape == (24, 3)
    x, y = tasks.copy_task(7, 4, generator=torch.Generator().manual_seed(10_004))
    with torch.no_grad():
        logits = net(x)
        expected = F.cross_entropy(logits.reshape(-1, tasks.COPY_CLASSES), y.reshape(-1)).item()
    assert bench.score(net) == pytest.approx(expected, rel=1e-6)
    assert bench.input_size == tasks.COPY_CLASSES


@pytest.mark.parametrize("by, T, I", [("pixel", 64, 1), ("row", 8, 8)])
def test_digits_benchmark_is_accuracy_on_the_held_out_quarter(by, T, I):
    bench = benchmarks.digits(by, 5)
    torch.manual_seed(0)
    net, batches = bench.make(torch.nn.RNN(I, 4), 1)
    x, labels = batches(0)
    assert x.shape == (T, 5, I) and labels.shape == (5,)
    x_test, y_test = tasks.sequential_digits("test", by=by)
    with torch.no_grad():
        expected = (net(x_test).argmax(-1) == y_test).double().mean().item()
    assert bench.score(net) == pytest.approx(expected) and bench.higher_is_better


def test_digits_train_size_draws_from_the_first_images_of_the_training_split_only():
    x, labels = tasks.sequential_digits("train", by="row")
    net, batches = benchmarks.digits("row", 200, train_size=7).make(torch.nn.RNN(8, 4), 3)
    for step in range(3):
        x_batch, y_batch = batches(step)
        # each drawn image is one of the first seven, with its own label
        match = (x_batch.unsqueeze(2) == x[:, :7].unsqueeze(1)).all(0).all(-1)  # [200, 7]
        assert bool(match.any(1).all())
        assert torch.equal(y_batch, labels[:7][match.float().argmax(1)])
    assert len(set(batches(3)[1].tolist())) <= 7


@pytest.mark.parametrize("train_size, error", [(0, ValueError), (2.5, TypeError), (10_000, ValueError)])
def test_digits_refuses_a_bad_train_size(train_size, error):
    with pytest.raises(error, match="train_size"):
        benchmarks.digits("row", 5, train_size=train_size)


def test_run_refuses_what_is_not_a_benchmark():
    with pytest.raises(TypeError, match="benchmark: expected a benchmarks.Benchmark, got str"):
        benchmarks.run("adding", lambda i: torch.nn.RNN(i, 2), training.TrainingConfig(steps=1, learning_rate=1.0), [0])
    with pytest.raises(ValueError, match="delay"):
        benchmarks.copy(0, 3)


def test_standardised_adding_inputs_have_mean_zero_and_unit_variance_per_channel():
    inputs, _ = tasks.adding_problem(40, 20_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    z = benchmarks.standardise_adding(inputs, 40).reshape(-1, 2)
    assert z.mean(0).abs().max() < 0.01 and (z.std(0) - 1).abs().max() < 0.01
    with pytest.raises(ValueError, match=r"inputs: expected adding-problem inputs \[T = 40, N, 2\]"):
        benchmarks.standardise_adding(inputs[:-1], 40)


def test_a_standardised_adding_benchmark_feeds_and_scores_standardised_inputs():
    raw, standard = benchmarks.adding(10, 4, test_size=50), benchmarks.adding(10, 4, test_size=50, standardise=True)
    assert standard.name == "adding T = 10, standardised"
    net = models.LastStep(torch.nn.GRU(2, 3), 1)
    (_, raw_batches), (_, batches) = raw.make(net.rnn, 5), standard.make(net.rnn, 5)
    for step in range(3):
        (x, y), (z, t) = raw_batches(step), batches(step)
        torch.testing.assert_close(z, benchmarks.standardise_adding(x, 10), rtol=0, atol=0)
        assert torch.equal(y, t)
    x_test, y_test = tasks.adding_problem(10, 50, generator=torch.Generator().manual_seed(
        benchmarks.TEST_SEED_OFFSET + 10))
    with torch.no_grad():
        expected = float(tasks.adding_loss(net(benchmarks.standardise_adding(x_test, 10)), y_test))
    assert standard.score(net) == pytest.approx(expected, rel=1e-6)
    with pytest.raises(TypeError, match="standardise: expected a bool"):
        benchmarks.adding(10, 4, standardise="yes")


def test_a_grid_trains_each_setting_as_it_trains_alone():
    from torch import nn

    from gatedrnn.experiments import survival

    raw, standardised = benchmarks.adding(8, 4, test_size=16), benchmarks.adding(8, 4, test_size=16, standardise=True)
    config = training.TrainingConfig(steps=6, learning_rate=1e-2, clip="norm", threshold=1.0)
    fast = training.TrainingConfig(steps=6, learning_rate=1e-1, clip="norm", threshold=1.0, schedule="cosine")
    settings = {"slow": (raw, lambda i: nn.GRU(i, 5), config), "fast": (raw, lambda i: nn.GRU(i, 5), fast),
                "standardised": (standardised, lambda i: nn.GRU(i, 5), config)}
    grid = benchmarks.run_grid(settings, [0, 3], evaluate_every=2)
    assert list(grid) == ["slow", "fast", "standardised"]
    for key, (bench, recurrent, c) in settings.items():
        alone = benchmarks.run(bench, recurrent, c, [0, 3])  # one seed after the other, torch.optim, fused GRU
        for a, b in zip(grid[key], alone):
            assert a.seed == b.seed
            np.testing.assert_allclose(a.history.loss, b.history.loss, rtol=1e-4, atol=1e-6)
            assert a.score == pytest.approx(b.score, rel=1e-4)
        assert [step for step, _ in grid[key][0].checkpoints] == [2, 4, 6]
        assert survival.learning_curves(grid[key])[1].shape == (2, 3)
    assert grid["fast"][0].history.loss != grid["slow"][0].history.loss


def test_a_grid_names_settings_that_cannot_train_together():
    from torch import nn

    bench = benchmarks.adding(8, 4, test_size=16)
    config = training.TrainingConfig(steps=2, learning_rate=1e-2)
    with pytest.raises(ValueError, match="differs from the first in optimizer"):
        benchmarks.run_grid({"a": (bench, lambda i: nn.GRU(i, 3), config),
                             "b": (bench, lambda i: nn.GRU(i, 3), training.TrainingConfig(steps=2, learning_rate=1e-2,
                                                                                          optimizer="sgd"))}, [0])
    with pytest.raises(ValueError, match="one training loss"):
        benchmarks.run_grid({"a": (bench, lambda i: nn.GRU(i, 3), config),
                             "b": (benchmarks.copy(3, 4, test_size=8), lambda i: nn.GRU(i, 3), config)}, [0])
    with pytest.raises(TypeError, match=r"settings\['a'\]: expected"):
        benchmarks.run_grid({"a": (bench, config)}, [0])
