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


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_package_twin_computes_the_torch_module_with_its_parameters(name):
    torch.manual_seed(1)
    kwargs = {"num_layers": 2, "batch_first": True, **({"nonlinearity": "relu"} if name == "RNN" else {})}
    module = getattr(nn, name)(3, 4, dtype=torch.float64, **kwargs)
    twin = gatedrnn.package_twin(module)
    assert type(twin) is getattr(gatedrnn, name) and twin.batch_first and twin.num_layers == 2
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    ours, theirs = twin(x)[0], module(x)[0]
    assert torch.allclose(ours, theirs, atol=1e-12, rtol=0)
    with pytest.raises(TypeError, match="module: expected a torch.nn.RNN, LSTM or GRU, got RNN"):
        gatedrnn.package_twin(gatedrnn.RNN(2, 3))


def test_last_step_profile_of_a_fused_lstm_is_its_gradient_step_by_step():
    """‖∂L/∂h_t‖ of a network trained in PyTorch's fused LSTM, against autograd through the same torch.nn.LSTM run
    one step at a time (its state carried by hand), with each h_t a leaf of the graph."""
    torch.manual_seed(2)
    net = gatedrnn.nn.models.LastStep(nn.LSTM(2, 5), 1)
    x, y = torch.randn(7, 3, 2), torch.randn(3, 1)
    loss_fn = lambda prediction, target: (prediction - target).pow(2).mean()  # noqa: E731
    profile = gatedrnn.last_step_profile(net, x, y, loss_fn)
    lstm, readout = net.rnn.double(), net.readout.double()
    state, hidden = None, []
    for x_t in x.double():
        _, state = lstm(x_t[None], state)
        hidden.append(state[0])  # h_t, the very tensor the next step reads
    grads = torch.autograd.grad(loss_fn(readout(hidden[-1]), y.double()), hidden)
    expected = torch.stack([g.norm() for g in grads])
    assert profile.dtype == torch.float64 and torch.allclose(profile, expected, rtol=1e-10, atol=0)
