"""Parameter and FLOP formulas against the modules and against what PyTorch counts when a step runs."""

import itertools
import time

import pytest
import torch

import gatedrnn
from gatedrnn.instruments import cost


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers, bias, bidirectional", list(itertools.product([1, 3], [True, False], [False, True])))
def test_parameter_count_matches_torch_nn(kind, layers, bias, bidirectional):
    module = getattr(torch.nn, kind)(7, 11, num_layers=layers, bias=bias, bidirectional=bidirectional)
    expected = sum(p.numel() for p in module.parameters())
    assert cost.parameter_count(kind, 7, 11, num_layers=layers, bias=bias, bidirectional=bidirectional) == expected


@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, True), (3, False)])
def test_parameter_count_with_lstm_projection(layers, bidirectional):
    module = torch.nn.LSTM(5, 9, num_layers=layers, bidirectional=bidirectional, proj_size=4)
    expected = sum(p.numel() for p in module.parameters())
    assert cost.parameter_count("LSTM", 5, 9, num_layers=layers, bidirectional=bidirectional, proj_size=4) == expected


def test_parameter_count_by_hand():
    assert cost.parameter_count("LSTM", 2, 3) == 4 * 3 * (2 + 3) + 2 * 4 * 3  # 84
    assert cost.parameter_count("GRU", 1, 1, bias=False) == 3 * 2


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("I, H, N", [(3, 5, 1), (8, 16, 4)])
def test_flop_formula_matches_what_a_step_executes(kind, I, H, N):
    cell = getattr(gatedrnn, f"{kind}Cell")(I, H)
    x = torch.randn(N, I)
    counted = cost.counted_flops(lambda: cell(x))
    formula = cost.flops_per_step(kind, I, H)
    assert counted["matmul"] == N * formula["matmul"]
    assert counted["elementwise"] == N * formula["elementwise"]


def test_flops_are_counted_the_same_for_torch_nn_matmuls():
    cell = torch.nn.LSTMCell(4, 6)
    counted = cost.counted_flops(lambda: cell(torch.randn(2, 4)))
    assert counted["matmul"] == 2 * cost.flops_per_step("LSTM", 4, 6)["matmul"]


def test_seconds_per_step_is_a_positive_median():
    calls = []
    seconds = cost.seconds_per_step(lambda: calls.append(1), device=torch.device("cpu"), repeats=5)
    assert len(calls) == 7 and 0 < seconds < 0.01


def test_fastest_seconds_interleaves_the_steps_and_keeps_each_ones_fastest_round():
    calls = []

    def timed(name, seconds):
        def step():
            calls.append(name)
            # the first round of "b" runs under a burst of load: 20 ms instead of 2 ms
            time.sleep(0.02 if name == "b" and len(calls) <= 2 * 7 else seconds)
        return step

    fastest = cost.fastest_seconds({"a": timed("a", 0.004), "b": timed("b", 0.002)}, device=torch.device("cpu"),
                                   rounds=3, repeats=5)
    # each round times every step once, 2 warm-up runs and 5 timed ones: a a a ... b b b ... a ...
    assert calls == (["a"] * 7 + ["b"] * 7) * 3
    # the loaded round of b (20 ms) is dropped; the bounds leave room for a sleep that oversleeps on a loaded machine
    assert 0.004 <= fastest["a"] < 0.015 and 0.002 <= fastest["b"] < 0.015
    assert fastest["b"] < fastest["a"]


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kind: expected one of"):
        cost.parameter_count("Transformer", 1, 1)
    with pytest.raises(ValueError, match="proj_size: only the LSTM"):
        cost.parameter_count("GRU", 2, 4, proj_size=2)
    with pytest.raises(ValueError, match="hidden_size"):
        cost.flops_per_step("RNN", 2, 0)
    with pytest.raises(ValueError, match="repeats"):
        cost.seconds_per_step(lambda: None, device=torch.device("cpu"), repeats=0)
    with pytest.raises(ValueError, match="rounds"):
        cost.fastest_seconds({"a": lambda: None}, device=torch.device("cpu"), rounds=0)


@pytest.mark.parametrize("kind, other", [("RNN", "LSTM"), ("RNN", "GRU"), ("GRU", "LSTM")])
@pytest.mark.parametrize("I, H", [(1, 32), (2, 32), (10, 128)])
def test_matching_hidden_size_is_the_closest_count_of_torch_modules(kind, other, I, H):
    target = sum(p.numel() for p in getattr(torch.nn, other)(I, H).parameters())
    matched = cost.matching_hidden_size(kind, I, target)
    count = lambda h: sum(p.numel() for p in getattr(torch.nn, kind)(I, h).parameters())  # noqa: E731
    assert abs(count(matched) - target) <= min(abs(count(h) - target) for h in range(1, 3 * H))


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers", [2, 3])
def test_matching_hidden_size_with_layers_is_the_closest_count_of_torch_modules(kind, layers):
    target = sum(p.numel() for p in torch.nn.LSTM(8, 24).parameters())
    matched = cost.matching_hidden_size(kind, 8, target, num_layers=layers)
    count = lambda h: sum(p.numel() for p in  # noqa: E731
                          getattr(torch.nn, kind)(8, h, num_layers=layers).parameters())
    assert abs(count(matched) - target) <= min(abs(count(h) - target) for h in range(1, 60))
    assert matched < cost.matching_hidden_size(kind, 8, target)  # deeper is narrower


def test_matching_hidden_size_names_bad_arguments():
    with pytest.raises(ValueError, match="num_layers"):
        cost.matching_hidden_size("LSTM", 2, 100, num_layers=0)
    with pytest.raises(ValueError, match="kind: expected one of"):
        cost.matching_hidden_size("MinGRU", 2, 100)
    with pytest.raises(ValueError, match="parameters"):
        cost.matching_hidden_size("RNN", 2, 0)
