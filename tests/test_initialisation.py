"""Scaled orthogonal and identity (IRNN) initialisations of W_hh."""

import pytest
import torch

import gatedrnn
from gatedrnn import gates, initialisation


@pytest.mark.parametrize("model, gates", [(gatedrnn.RNN, 1), (gatedrnn.LSTM, 4), (gatedrnn.GRU, 3)])
@pytest.mark.parametrize("scale", [0.5, 1.0, 2.5])
def test_every_singular_value_of_every_block_equals_the_scale(model, gates, scale):
    rnn = model(3, 6, num_layers=2)
    before = {k: v.clone() for k, v in rnn.state_dict().items()}
    initialisation.orthogonal_recurrent_(rnn, scale, generator=torch.Generator().manual_seed(0))
    for name, value in rnn.state_dict().items():
        if name.startswith("weight_hh"):
            for block in value.split(6, dim=0):
                torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((6,), scale), rtol=0, atol=1e-12)
            assert value.shape[0] == gates * 6
        else:
            assert torch.equal(value, before[name])


def test_identity_initialisation_is_le_jaitly_hinton():
    rnn = gatedrnn.RNN(2, 50, nonlinearity="relu")
    initialisation.identity_recurrent_(rnn, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rnn.weight_hh_l0, torch.eye(50))
    assert torch.equal(rnn.bias_ih_l0, torch.zeros(50)) and torch.equal(rnn.bias_hh_l0, torch.zeros(50))
    assert rnn.weight_ih_l0.std().item() == pytest.approx(1e-3, rel=0.15)
    # With zero input the state is copied forward exactly: h_t = relu(I h_{t-1}) = h_{t-1} for h >= 0.
    h0 = torch.rand(1, 4, 50)
    output, _ = rnn(torch.zeros(30, 4, 2), h0)
    torch.testing.assert_close(output[-1], h0[0], rtol=0, atol=0)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="rnn: expected a gatedrnn or torch.nn RNN, LSTM or GRU, got Linear"):
        initialisation.orthogonal_recurrent_(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="scale: expected a positive number, got 0"):
        initialisation.orthogonal_recurrent_(gatedrnn.RNN(2, 3), 0)
    with pytest.raises(ValueError, match="identity initialisation is for gatedrnn.RNN or torch.nn.RNN, got a LSTM"):
        initialisation.identity_recurrent_(gatedrnn.LSTM(2, 3))
    with pytest.raises(ValueError, match="identity initialisation is for gatedrnn.RNN or torch.nn.RNN, got a GRU"):
        initialisation.identity_recurrent_(torch.nn.GRU(2, 3))


@pytest.mark.parametrize("model, gates", [(torch.nn.RNN, 1), (torch.nn.LSTM, 4), (torch.nn.GRU, 3)])
def test_torch_nn_modules_take_the_same_initialisations(model, gates):
    rnn = model(3, 6, num_layers=2)
    initialisation.orthogonal_recurrent_(rnn, 1.5, generator=torch.Generator().manual_seed(0))
    for layer in (0, 1):
        weight = getattr(rnn, f"weight_hh_l{layer}").detach().double()
        for block in weight.split(6, dim=0):
            torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((6,), 1.5, dtype=torch.float64),
                                       rtol=0, atol=1e-6)
        assert weight.shape[0] == gates * 6
    relu = torch.nn.RNN(2, 5, nonlinearity="relu")
    initialisation.identity_recurrent_(relu, generator=torch.Generator().manual_seed(0))
    h0 = torch.rand(1, 3, 5)
    output, _ = relu(torch.zeros(20, 3, 2), h0)
    torch.testing.assert_close(output[-1], h0[0], rtol=0, atol=0)


@pytest.mark.parametrize("value", [0.0, 1.0, 2.5])
def test_forget_gate_bias_sets_the_total_forget_bias_of_every_layer(value):
    torch.manual_seed(0)
    lstm = gatedrnn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in lstm.named_parameters()}
    initialisation.forget_gate_bias_(lstm, value)
    for name, p in lstm.named_parameters():
        if name.startswith("bias"):
            total = p[4:8] if name.startswith("bias_ih") else p[4:8] + getattr(lstm, name.replace("hh", "ih"))[4:8]
            torch.testing.assert_close(total, torch.full((4,), value))
            rows = torch.cat([p[:4], p[8:]])  # i, g, o untouched
            torch.testing.assert_close(rows, torch.cat([before[name][:4], before[name][8:]]))
        else:
            assert torch.equal(p, before[name])
    # with zero weights the forget gate is exactly σ(value)
    one_layer = gatedrnn.LSTM(3, 4)
    initialisation.forget_gate_bias_(one_layer, value)
    with torch.no_grad():
        one_layer.weight_hh_l0.zero_()
        one_layer.weight_ih_l0.zero_()
    f = gates.record_gates(one_layer, torch.zeros(2, 1, 3))["f"]
    torch.testing.assert_close(f, torch.full_like(f, torch.sigmoid(torch.tensor(value)).item()))


def test_forget_gate_bias_refuses_other_modules_and_values():
    with pytest.raises(TypeError, match="lstm: expected a gatedrnn.LSTM or torch.nn.LSTM"):
        initialisation.forget_gate_bias_(gatedrnn.GRU(2, 3), 1.0)
    with pytest.raises(ValueError, match="value: expected a finite number"):
        initialisation.forget_gate_bias_(gatedrnn.LSTM(2, 3), float("nan"))
    with pytest.raises(ValueError, match="bias=False"):
        initialisation.forget_gate_bias_(gatedrnn.LSTM(2, 3, bias=False), 1.0)


def test_forget_gate_bias_sets_the_same_entries_of_torch_nn_lstm():
    torch.manual_seed(5)
    theirs = torch.nn.LSTM(3, 4, num_layers=2)
    torch.manual_seed(5)
    ours = gatedrnn.LSTM(3, 4, num_layers=2)
    initialisation.forget_gate_bias_(theirs, 1.5)
    initialisation.forget_gate_bias_(ours, 1.5)
    for (name, a), b in zip(theirs.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b.to(a.dtype)), name
    assert bool((theirs.bias_ih_l1[4:8] == 1.5).all()) and bool((theirs.bias_hh_l1[4:8] == 0).all())
