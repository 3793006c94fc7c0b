"""torch_twin builds the right torch.nn module; max_differences sees a difference when there is one."""

import pytest
import torch
from torch import nn

import gatedrnn


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_twin_has_same_class_arguments_and_parameters(name):
    kwargs = {"num_layers": 2, "bidirectional": True, "batch_first": True}
    if name == "LSTM":
        kwargs["proj_size"] = 2
    ours = getattr(gatedrnn, name)(3, 4, **kwargs)
    twin = gatedrnn.torch_twin(ours)
    assert type(twin) is getattr(nn, name)
    assert twin.batch_first and twin.bidirectional and twin.num_layers == 2
    for (name_a, a), (name_b, b) in zip(ours.state_dict().items(), twin.state_dict().items(), strict=True):
        assert name_a == name_b and torch.equal(a, b)


def test_max_differences_are_tiny_for_equal_models_and_large_otherwise(monkeypatch):
    torch.manual_seed(0)
    x = torch.randn(5, 2, 3)
    assert max(gatedrnn.max_differences(gatedrnn.GRU(3, 4, num_layers=2), x).values()) < 1e-12
    relu = gatedrnn.RNN(3, 4, nonlinearity="relu")
    assert gatedrnn.torch_twin(relu).nonlinearity == "relu"
    assert max(gatedrnn.max_differences(relu, x).values()) < 1e-12
    # A step that is off by 1e-3 must show up in every comparison.
    exact = gatedrnn.nn.layers.rnn_step
    monkeypatch.setattr(gatedrnn.nn.layers, "rnn_step", lambda *args: exact(*args) + 1e-3)
    differences = gatedrnn.max_differences(gatedrnn.RNN(3, 4), x)
    assert differences["output"] > 1e-4 and differences["final state"] > 1e-4 and differences["gradients"] > 1e-4


def test_twin_rejects_foreign_modules():
    with pytest.raises(TypeError, match="module: expected a gatedrnn"):
        gatedrnn.torch_twin(nn.GRU(2, 3))
