"""Many seeds of one experiment: each run is the run training alone would give, and a blow-up is recorded, not lost."""

import dataclasses
import math


import pytest
import torch

import gatedrnn
from gatedrnn.data import tasks
from gatedrnn.experiments import sweeps, training
from gatedrnn.nn import models


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
    runs = sweeps.run_seeds(build, tasks.adding_loss, config, [3, 4], evaluate)
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
    (plain,) = sweeps.run_seeds(build, tasks.adding_loss, config, [5], evaluate)
    (run,) = sweeps.run_seeds(build, tasks.adding_loss, config, [5], evaluate, evaluate_every=6)
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
    runs = sweeps.run_seeds(lambda seed: build(seed, scale=50.0), tasks.adding_loss, config, [0], evaluate)
    (run,) = runs
    assert isinstance(run.error, training.NonFiniteError) and math.isnan(run.score)
    assert len(run.history) == run.error.step < 40


def test_bad_arguments_are_named():
    config = training.TrainingConfig(steps=1, learning_rate=1e-2)
    with pytest.raises(ValueError, match="seeds: expected one or more ints"):
        sweeps.run_seeds(build, tasks.adding_loss, config, [], evaluate)
    with pytest.raises(ValueError, match="seeds: expected one or more ints"):
        sweeps.run_seeds(build, tasks.adding_loss, config, [0.5], evaluate)
    with pytest.raises(TypeError, match="config: expected a TrainingConfig"):
        sweeps.run_seeds(build, tasks.adding_loss, {"steps": 1}, [0], evaluate)
    with pytest.raises(ValueError, match="evaluate_every: expected an int >= 1, got 0"):
        sweeps.run_seeds(build, tasks.adding_loss, config, [0], evaluate, evaluate_every=0)


@pytest.mark.parametrize(("value", "disabled"), [("1", True), ("True", True), ("yes", True), ("0", False), ("", False)])
def test_the_progress_bar_is_switched_off_explicitly_by_tqdm_disable(monkeypatch, value, disabled):
    seen = {}

    class Recorder(sweeps.tqdm):
        def __init__(self, *args, **kwargs):
            seen.update(kwargs)
            super().__init__(*args, **{**kwargs, "disable": True})

    monkeypatch.setenv("TQDM_DISABLE", value)
    monkeypatch.setattr(sweeps, "tqdm", Recorder)
    sweeps.run_seeds(build, tasks.adding_loss, training.TrainingConfig(steps=2, learning_rate=1e-2), [0], evaluate,
                          label="x")
    assert seen["disable"] is disabled and seen["desc"] == "x" and seen["total"] == 2



def adding_build(mode, library=gatedrnn, built=None, scales=None, nonlinearity="tanh"):
    """build(seed) for the adding problem (T = 6, N = 8, H = 6), as in train_on_adding; the models go to ``built``, and
    seed s's W_hh is multiplied by ``scales[s]``."""

    def build(seed):
        kwargs = {"nonlinearity": nonlinearity} if mode == "RNN" else {}
        net = models.LastStep(getattr(library, mode)(2, 6, **kwargs), 1)
        with torch.no_grad():
            net.rnn.weight_hh_l0.mul_((scales or {}).get(seed, 1.0))
        if built is not None:
            built[seed] = net
        return net, tasks.adding_batches(6, 8, sweeps.ADDING_DATA_OFFSET + seed)

    return build


def one_by_one_and_together(build_for, config, seeds, **kwargs):
    """The runs and the trained models of run_seeds, one seed after the other and batched."""
    results = []
    for batched in (False, True):
        built = {}
        runs = sweeps.run_seeds(build_for(built), tasks.adding_loss, config, seeds, evaluate, batched=batched,
                                     **kwargs)
        results.append((runs, built))
    return results


def assert_same_runs(alone, together, rel=1e-10):
    """Each run of ``together`` is the run of ``alone``: seeds, steps, clipping, losses, ‖g‖, stops, scores,
    checkpoints and final parameters."""
    (runs_a, models_a), (runs_b, models_b) = alone, together
    assert [r.seed for r in runs_a] == [r.seed for r in runs_b]
    for a, b in zip(runs_a, runs_b):
        assert len(a.history) == len(b.history) and a.history.clipped == b.history.clipped, a.seed
        assert b.history.loss == pytest.approx(a.history.loss, rel=rel, abs=0), a.seed
        assert b.history.grad_norm == pytest.approx(a.history.grad_norm, rel=rel, abs=0), a.seed
        assert type(a.error) is type(b.error) and b.seconds > 0
        if a.error is not None:
            assert (b.error.step, str(b.error)) == (a.error.step, str(a.error)) and b.error.history is b.history
            assert math.isnan(a.score) and math.isnan(b.score)
        else:
            assert b.score == pytest.approx(a.score, rel=rel, abs=0), a.seed
        assert [s for s, _ in a.checkpoints] == [s for s, _ in b.checkpoints]
        assert [v for _, v in b.checkpoints] == pytest.approx([v for _, v in a.checkpoints], rel=rel, abs=0)
        for (name, p), q in zip(models_a[a.seed].state_dict().items(), models_b[a.seed].state_dict().values()):
            assert float((p - q).norm() / p.norm()) <= rel, (a.seed, name)


OPTIMIZERS = [{"optimizer": "adam", "learning_rate": 1e-2}, {"optimizer": "rmsprop", "learning_rate": 1e-2},
              {"optimizer": "sgd", "momentum": 0.9, "learning_rate": 1e-1}]
CLIPS = [{}, {"clip": "norm", "threshold": 0.1}, {"clip": "value", "threshold": 0.02}]


@pytest.mark.parametrize("clip", CLIPS, ids=["no-clip", "clip-norm", "clip-value"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: o["optimizer"])
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_seeds_trained_together_are_the_seeds_trained_one_by_one(mode, optimizer, clip):
    config = training.TrainingConfig(steps=12, **optimizer, **clip)
    alone, together = one_by_one_and_together(lambda built: adding_build(mode, built=built), config, [0, 1, 2])
    assert_same_runs(alone, together)
    clipped = sum(sum(run.history.clipped) for run in alone[0])
    assert clipped > 0 if clip else clipped == 0  # the thresholds act on some steps


@pytest.mark.parametrize("schedule", [{"schedule": "step", "decay_every": 4, "decay_factor": 0.5},
                                      {"schedule": "cosine"}], ids=lambda s: s["schedule"])
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=lambda o: o["optimizer"])
def test_seeds_trained_together_follow_the_schedule_as_one_by_one(optimizer, schedule):
    config = training.TrainingConfig(steps=12, **optimizer, **schedule)
    alone, together = one_by_one_and_together(lambda built: adding_build("GRU", built=built), config, [0, 1, 2])
    assert_same_runs(alone, together)
    constant = training.TrainingConfig(steps=12, **optimizer)
    (runs, _), _ = one_by_one_and_together(lambda built: adding_build("GRU", built=built), constant, [0])
    # the schedule changes the run after its first update
    assert runs[0].history.loss[:2] == alone[0][0].history.loss[:2]
    assert runs[0].history.loss[-1] != alone[0][0].history.loss[-1]


def test_a_grid_of_clipping_settings_trained_together_is_each_trained_alone():
    """No clipping, norm clipping at two thresholds and value clipping, all seeds of each as one computation."""
    base = training.TrainingConfig(steps=12, learning_rate=1e-1, optimizer="sgd", momentum=0.9)
    configs = {"none": base, "norm 0.1": dataclasses.replace(base, clip="norm", threshold=0.1),
               "norm 1": dataclasses.replace(base, clip="norm", threshold=1.0),
               "value 0.02": dataclasses.replace(base, clip="value", threshold=0.02)}
    build = adding_build("GRU")
    grid = sweeps.run_grid({key: build for key in configs}, tasks.adding_loss, configs, [0, 1],
                           {key: evaluate for key in configs})
    for key, config in configs.items():
        alone = sweeps.run_seeds(build, tasks.adding_loss, config, [0, 1], evaluate)
        for a, b in zip(alone, grid[key]):
            assert a.history.clipped == b.history.clipped, key
            assert b.history.loss == pytest.approx(a.history.loss, rel=1e-10, abs=0), key
    assert not any(any(run.history.clipped) for run in grid["none"])
    assert all(any(run.history.clipped) for key in ("norm 0.1", "value 0.02") for run in grid[key])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_torch_nn_models_trained_together_are_those_trained_one_by_one(mode):
    config = training.TrainingConfig(steps=12, learning_rate=1e-2, clip="norm", threshold=0.1)
    alone, together = one_by_one_and_together(lambda built: adding_build(mode, torch.nn, built), config, [0, 1])
    assert_same_runs(alone, together)
    assert all(type(net.rnn) is getattr(torch.nn, mode) for net in together[1].values())


def test_a_seed_that_blows_up_stops_where_it_would_alone_and_the_others_go_on():
    # ReLU networks whose W_hh is 50 and 100 times PyTorch's draw (seeds 2 and 6) blow up at once under a learning
    # rate that suits the others; where each stops was read from training them alone.
    config = training.TrainingConfig(steps=15, learning_rate=0.1, optimizer="sgd")
    scales = {2: 50.0, 6: 100.0}
    alone, together = one_by_one_and_together(
        lambda built: adding_build("RNN", built=built, scales=scales, nonlinearity="relu"), config, [0, 2, 5, 6])
    assert_same_runs(alone, together)
    runs = together[0]
    assert [run.error.step if run.error else None for run in runs] == [None, 2, None, 1]
    assert runs[3].seconds < runs[1].seconds < min(runs[0].seconds, runs[2].seconds)
    without = sweeps.run_seeds(adding_build("RNN", nonlinearity="relu"), tasks.adding_loss, config, [0, 5],
                                    evaluate, batched=True)
    for run, undisturbed in zip(runs[::2], without):
        assert run.history.loss == pytest.approx(undisturbed.history.loss, rel=1e-12, abs=0)
        assert run.score == pytest.approx(undisturbed.score, rel=1e-12, abs=0)


def test_checkpoints_of_seeds_trained_together_are_those_of_one_by_one():
    config = training.TrainingConfig(steps=10, learning_rate=1e-2)
    alone, together = one_by_one_and_together(lambda built: adding_build("GRU", built=built), config, [4, 5],
                                              evaluate_every=4)
    assert [step for step, _ in together[0][0].checkpoints] == [4, 8, 10]
    assert_same_runs(alone, together)


def test_seeds_trained_together_draw_from_their_own_generators():
    def build(seed):  # batches and evaluation from the global generators, as seeded for this seed
        return models.LastStep(gatedrnn.RNN(2, 4), 1), lambda step: tasks.adding_problem(5, 4)

    def evaluate_drawing(net):
        inputs, targets = tasks.adding_problem(5, 32)
        return tasks.adding_loss(net(inputs), targets)

    config = training.TrainingConfig(steps=6, learning_rate=1e-2)
    results = []
    for batched in (False, True):
        runs = sweeps.run_seeds(build, tasks.adding_loss, config, [0, 1, 2], evaluate_drawing, batched=batched)
        results.append((runs, torch.rand(1).item()))
    (alone, next_alone), (together, next_together) = results
    for a, b in zip(alone, together):
        assert b.history.loss == pytest.approx(a.history.loss, rel=1e-12) and b.score == pytest.approx(a.score)
    assert len({run.score for run in together}) == 3
    assert next_together == next_alone  # the global generators end where the loop one seed after the other leaves them


def test_the_progress_bar_counts_every_step_of_seeds_trained_together(monkeypatch):
    counted = {}

    class Recorder(sweeps.tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **{**kwargs, "disable": True})
            counted["total"] = kwargs["total"]

        def update(self, n=1):
            counted["n"] = counted.get("n", 0) + n

    monkeypatch.setattr(sweeps, "tqdm", Recorder)
    config = training.TrainingConfig(steps=8, learning_rate=0.1, optimizer="sgd")
    build = adding_build("RNN", scales={2: 50.0}, nonlinearity="relu")  # seed 2 stops at step 2
    runs = sweeps.run_seeds(build, tasks.adding_loss, config, [2, 0], evaluate, batched=True)
    assert runs[0].error is not None and counted == {"total": 16, "n": 16}


def test_bad_arguments_of_seeds_trained_together_are_named():
    config = training.TrainingConfig(steps=1, learning_rate=1e-2)
    with pytest.raises(TypeError, match="batched: expected a bool, got str 'yes'"):
        sweeps.run_seeds(build, tasks.adding_loss, config, [0], evaluate, batched="yes")
    mixed = lambda seed: build(seed, H=8 + seed)  # noqa: E731
    with pytest.raises(ValueError, match="build: seeds trained together need one architecture"):
        sweeps.run_seeds(mixed, tasks.adding_loss, config, [0, 1], evaluate, batched=True)


def test_train_on_adding_is_training_on_the_adding_batches_of_seed_plus_the_offset():
    config = training.TrainingConfig(steps=15, learning_rate=1e-2)
    torch.manual_seed(0)
    net = models.LastStep(gatedrnn.RNN(2, 4, dtype=torch.float64), 1)
    twin = models.LastStep(gatedrnn.RNN(2, 4, dtype=torch.float64), 1)
    twin.load_state_dict(net.state_dict())
    history, error = sweeps.train_on_adding(net, 7, 3, config, batch_size=5)
    generator = torch.Generator().manual_seed(1003)  # the offset is 1000
    by_hand = training.train(
        twin, lambda step: tasks.adding_problem(7, 5, generator=generator, dtype=torch.float64),
        tasks.adding_loss, config)
    assert error is None and history.loss == by_hand.loss
    assert sweeps.ADDING_DATA_OFFSET == 1000


def test_on_adding_builds_the_model_of_the_seed_with_the_batches_train_on_adding_draws():
    config = training.TrainingConfig(steps=6, learning_rate=1e-2)

    def model(seed):
        torch.manual_seed(seed)
        return models.LastStep(gatedrnn.GRU(2, 4, dtype=torch.float64), 1)

    (run,) = sweeps.run_seeds(sweeps.on_adding(model, 7, batch_size=5), tasks.adding_loss, config, [3], evaluate)
    history, _ = sweeps.train_on_adding(model(3), 7, 3, config, batch_size=5)
    assert run.history.loss == history.loss
    with pytest.raises(ValueError, match="batch_size: expected"):
        sweeps.on_adding(model, 7, batch_size=0)
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module for seed 0, got str"):
        sweeps.on_adding(lambda seed: "net", 7)(0)


def test_train_on_adding_returns_the_stop_of_a_run_that_blows_up():
    net = models.LastStep(torch.nn.RNN(2, 8), 1)
    config = training.TrainingConfig(steps=50, learning_rate=1e6, optimizer="sgd")
    history, error = sweeps.train_on_adding(net, 10, 0, config)
    assert isinstance(error, training.NonFiniteError) and len(history) == error.step < 50
    with pytest.raises(TypeError, match="model: expected a torch.nn.Module, got str"):
        sweeps.train_on_adding("net", 10, 0, config)


def test_final_loss_is_the_mean_of_the_last_losses():
    history = training.History(loss=[9.0, 1.0, 2.0, 4.0])
    assert sweeps.final_loss(history, last=3) == pytest.approx(7 / 3)
    assert sweeps.final_loss(history, last=4) == pytest.approx(4.0)
    assert math.isnan(sweeps.final_loss(history, last=5))
    with pytest.raises(TypeError, match="history: expected a training.History, got list"):
        sweeps.final_loss([1.0])
    with pytest.raises(ValueError, match="last"):
        sweeps.final_loss(history, last=0)


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("steps, every, expected", [
    (8, 4, [4, 8]),  # a multiple: the last step is scored once, by the final evaluation
    (4, 4, [4]),
    (10, 4, [4, 8, 10]),  # not a multiple: the final evaluation after the last checkpoint
    (3, 5, [3]),  # every > steps: only the final evaluation
])
def test_checkpoints_score_each_step_once_with_the_final_step_last(batched, steps, every, expected):
    calls = []

    def counting(net):
        calls.append(None)
        return evaluate(net)

    config = training.TrainingConfig(steps=steps, learning_rate=1e-2)
    (run,) = sweeps.run_seeds(adding_build("GRU"), tasks.adding_loss, config, [0], counting, evaluate_every=every,
                              batched=batched)
    assert [step for step, _ in run.checkpoints] == expected
    assert len(calls) == len(expected)  # each checkpoint one evaluation, the final score included
    assert run.checkpoints[-1] == (steps, run.score)


def test_final_loss_averages_the_last_hundred_losses_by_default():
    history = training.History(loss=[float(i) for i in range(150)])
    # mean of 50 … 149 is 99.5; the last 99 would give 100, the last 101 give 99
    assert sweeps.final_loss(history) == 99.5
    assert math.isnan(sweeps.final_loss(training.History(loss=[1.0] * 99)))  # shorter than the default 100
    assert sweeps.final_loss(training.History(loss=[2.0] * 100)) == 2.0
