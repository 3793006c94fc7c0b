"""Many seeds of one experiment: each run is the run training alone would give, and a blow-up is recorded, not lost."""

import math

import pytest
import torch

import gatedrnn
from gatedrnn import experiments, models, tasks, training


def build(seed, H=8, scale=1.0):
    net = models.LastStep(torch.nn.LSTM(2, H), 1)
    with torch.no_grad():
        net.rnn.weight_hh_l0.mul_(scale)
    return net, tasks.adding_batches(6, 16, seed)


TEST = tasks.adding_problem(6, 256, generator=torch.Generator().manual_seed(99), dtype=torch.float64)


def evaluate(net):
    assert not net.training and not torch.is_grad_enabled()
    return tasks.adding_loss(net(TEST[0]), TEST[1])


def test_each_run_equals_training_that_seed_by_hand():
    config = training.TrainingConfig(steps=20, learning_rate=1e-2)
    runs = experiments.run_seeds(build, tasks.adding_loss, config, [3, 4], evaluate)
    assert [r.seed for r in runs] == [3, 4]
    for run in runs:
        gatedrnn.seed_everything(run.seed)
        net, batches = build(run.seed)
        history = training.train(net, batches, tasks.adding_loss, config)
        assert run.history.loss == history.loss and run.error is None
        with torch.no_grad():
            assert run.score == pytest.approx(tasks.adding_loss(net(TEST[0]), TEST[1]).item(), rel=1e-12)
        assert run.seconds > 0
    assert runs[0].history.loss != runs[1].history.loss


def test_checkpoints_score_the_model_after_every_k_steps_without_changing_its_training():
    config = training.TrainingConfig(steps=20, learning_rate=1e-2)
    (plain,) = experiments.run_seeds(build, tasks.adding_loss, config, [5], evaluate)
    (run,) = experiments.run_seeds(build, tasks.adding_loss, config, [5], evaluate, evaluate_every=6)
    assert plain.checkpoints == () and run.history.loss == plain.history.loss and run.score == plain.score
    assert [step for step, _ in run.checkpoints] == [6, 12, 18, 20] and run.checkpoints[-1][1] == run.score
    for step, score in run.checkpoints[:-1]:
        gatedrnn.seed_everything(5)
        net, batches = build(5)
        training.train(net, batches, tasks.adding_loss, training.TrainingConfig(steps=step, learning_rate=1e-2))
        with torch.no_grad():
            assert score == pytest.approx(tasks.adding_loss(net(TEST[0]), TEST[1]).item(), rel=1e-12), step
    assert len({score for _, score in run.checkpoints}) == 4


def test_a_run_that_blows_up_is_kept_with_its_error_and_a_nan_score():
    config = training.TrainingConfig(steps=40, learning_rate=1e6, optimizer="sgd")
    runs = experiments.run_seeds(lambda seed: build(seed, scale=50.0), tasks.adding_loss, config, [0], evaluate)
    (run,) = runs
    assert isinstance(run.error, training.NonFiniteError) and math.isnan(run.score)
    assert len(run.history) == run.error.step < 40


def test_bad_arguments_are_named():
    config = training.TrainingConfig(steps=1, learning_rate=1e-2)
    with pytest.raises(ValueError, match="seeds: expected one or more ints"):
        experiments.run_seeds(build, tasks.adding_loss, config, [], evaluate)
    with pytest.raises(ValueError, match="seeds: expected one or more ints"):
        experiments.run_seeds(build, tasks.adding_loss, config, [0.5], evaluate)
    with pytest.raises(TypeError, match="config: expected a TrainingConfig"):
        experiments.run_seeds(build, tasks.adding_loss, {"steps": 1}, [0], evaluate)
    with pytest.raises(ValueError, match="evaluate_every: expected an int >= 1, got 0"):
        experiments.run_seeds(build, tasks.adding_loss, config, [0], evaluate, evaluate_every=0)


@pytest.mark.parametrize(("value", "disabled"), [("1", True), ("True", True), ("yes", True), ("0", False), ("", False)])
def test_the_progress_bar_is_switched_off_explicitly_by_tqdm_disable(monkeypatch, value, disabled):
    seen = {}

    class Recorder(experiments.tqdm):
        def __init__(self, *args, **kwargs):
            seen.update(kwargs)
            super().__init__(*args, **{**kwargs, "disable": True})

    monkeypatch.setenv("TQDM_DISABLE", value)
    monkeypatch.setattr(experiments, "tqdm", Recorder)
    experiments.run_seeds(build, tasks.adding_loss, training.TrainingConfig(steps=2, learning_rate=1e-2), [0], evaluate,
                          label="x")
    assert seen["disable"] is disabled and seen["desc"] == "x" and seen["total"] == 2



def test_train_on_adding_is_training_on_the_adding_batches_of_seed_plus_the_offset():
    config = training.TrainingConfig(steps=15, learning_rate=1e-2)
    torch.manual_seed(0)
    net = models.LastStep(gatedrnn.RNN(2, 4, dtype=torch.float64), 1)
    twin = models.LastStep(gatedrnn.RNN(2, 4, dtype=torch.float64), 1)
    twin.load_state_dict(net.state_dict())
    history, error = experiments.train_on_adding(net, 7, 3, config, batch_size=5)
    generator = torch.Generator().manual_seed(1003)  # the offset is 1000
    by_hand = training.train(
        twin, lambda step: tasks.adding_problem(7, 5, generator=generator, dtype=torch.float64),
        tasks.adding_loss, config)
    assert error is None and history.loss == by_hand.loss
    assert experiments.ADDING_DATA_OFFSET == 1000


def test_train_on_adding_returns_the_stop_of_a_run_that_blows_up():
    net = models.LastStep(torch.nn.RNN(2, 8), 1)
    config = training.TrainingConfig(steps=50, learning_rate=1e6, optimizer="sgd")
    history, error = experiments.train_on_adding(net, 10, 0, config)
    assert isinstance(error, training.NonFiniteError) and len(history) == error.step < 50
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got str"):
        experiments.train_on_adding("net", 10, 0, config)


def test_final_loss_is_the_mean_of_the_last_losses():
    history = training.History(loss=[9.0, 1.0, 2.0, 4.0])
    assert experiments.final_loss(history, last=3) == pytest.approx(7 / 3)
    assert experiments.final_loss(history, last=4) == pytest.approx(4.0)
    assert math.isnan(experiments.final_loss(history, last=5))
    with pytest.raises(TypeError, match="history: expected a training.History, got list"):
        experiments.final_loss([1.0])
    with pytest.raises(ValueError, match="last"):
        experiments.final_loss(history, last=0)


@pytest.mark.parametrize("table", [(5, 8, 8, 8), (0, 3, 3, 3), (2, 3, 1, 3), (7, 12, 1, 12), (0, 5, 0, 5),
                                   (10, 10, 0, 10), (3, 4, 9, 20)])
def test_fisher_exact_matches_scipy(table):
    from scipy.stats import fisher_exact

    a, n_a, b, n_b = table
    expected = fisher_exact([[a, n_a - a], [b, n_b - b]], alternative="two-sided").pvalue
    assert experiments.fisher_exact(a, n_a, b, n_b) == pytest.approx(expected, rel=1e-9)


def test_fisher_exact_names_bad_counts():
    with pytest.raises(ValueError, match="runs_b: expected an int >= 0, got -1"):
        experiments.fisher_exact(1, 2, 0, -1)
    with pytest.raises(ValueError, match="expected 0 <= successes <= runs"):
        experiments.fisher_exact(3, 2, 0, 1)
