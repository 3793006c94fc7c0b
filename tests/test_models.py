"""Readouts over torch.nn's fused modules and the package's own, the one-hot symbol model, and its loss."""

import math

import pytest
import torch
import torch.nn.functional as F

import gatedrnn
from gatedrnn.nn import models, normalised


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_fused_is_the_torch_nn_module_with_pytorch_initialisation_but_the_lstm_forget_bias(mode):
    torch.manual_seed(4)
    expected = getattr(torch.nn, mode)(3, 5)
    torch.manual_seed(4)
    rnn = models.fused(mode, 3, 5)
    assert type(rnn) is type(expected) and rnn.num_layers == 1 and not rnn.batch_first
    for (name, p), q in zip(rnn.named_parameters(), expected.parameters()):
        if mode == "LSTM" and name.startswith("bias"):
            fill = 1.0 if name.startswith("bias_ih") else 0.0
            assert (p[5:10] == fill).all(), name
            p, q = torch.cat([p[:5], p[10:]]), torch.cat([q[:5], q[10:]])
        torch.testing.assert_close(p, q, rtol=0, atol=0)


def test_fused_takes_another_forget_bias_and_names_bad_arguments():
    assert (models.fused("LSTM", 2, 4, forget_bias=-3.0).bias_ih_l0[4:8] == -3.0).all()
    with pytest.raises(ValueError, match=r"mode: expected one of \('RNN', 'orthogonal RNN', 'IRNN', 'LSTM', 'GRU'\), got 'lstm'"):
        models.fused("lstm", 2, 4)
    with pytest.raises(TypeError, match="hidden_size: expected an int, got float 4.0"):
        models.fused("GRU", 2, 4.0)


@pytest.mark.parametrize("make", [torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN, gatedrnn.LSTM, gatedrnn.GRU])
def test_last_step_works_over_torch_nn_and_gatedrnn_modules(make):
    torch.manual_seed(0)
    net = models.LastStep(make(3, 5, num_layers=2, bidirectional=True), 4)
    x = torch.randn(7, 2, 3)
    output, _ = net.rnn(x)
    assert net.readout.in_features == 10
    torch.testing.assert_close(net(x), output[-1] @ net.readout.weight.T + net.readout.bias, rtol=0, atol=1e-14)


@pytest.mark.parametrize("make", [gatedrnn.MinGRU, gatedrnn.MinLSTM])
def test_readouts_work_over_the_minimal_recurrences(make):
    torch.manual_seed(0)
    net = models.LastStep(make(3, 5, dtype=torch.float64), 2)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    states = minimal_states(net.rnn, x)
    assert net.readout.in_features == 5
    torch.testing.assert_close(net(x), states[-1] @ net.readout.weight.T + net.readout.bias, rtol=0, atol=1e-12)
    symbols = models.EveryStep(make(6, 5, dtype=torch.float64), 6).to(torch.float64)
    tokens = torch.randint(0, 6, (7, 4))
    expected = minimal_states(symbols.rnn, F.one_hot(tokens, 6).double()) @ symbols.readout.weight.T
    torch.testing.assert_close(symbols(tokens), expected + symbols.readout.bias, rtol=0, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: normalised.LayerNormLSTM(3, 5), lambda: normalised.LayerNormGRU(3, 5),
                                  lambda: normalised.BatchNormLSTM(3, 5, max_steps=7)])
def test_last_step_reads_the_normalised_layers(make):
    torch.manual_seed(0)
    net = models.LastStep(make(), 2)
    x = torch.randn(7, 4, 3)
    output, _ = net.rnn(x)
    torch.testing.assert_close(net(x), output[-1] @ net.readout.weight.T + net.readout.bias, rtol=0, atol=1e-12)


def minimal_states(rnn, x):
    """Every state of a MinGRU or MinLSTM from its equations, one step after another, written out here."""
    h, states = torch.zeros(x.shape[1], rnn.hidden_size, dtype=x.dtype), []
    for x_t in x:
        if isinstance(rnn, gatedrnn.MinGRU):
            z = torch.sigmoid(rnn.linear_z(x_t))
            h = (1 - z) * h + z * rnn.linear_h(x_t)
        else:
            f, i = torch.sigmoid(rnn.linear_f(x_t)), torch.sigmoid(rnn.linear_i(x_t))
            h = f / (f + i) * h + i / (f + i) * rnn.linear_h(x_t)
        states.append(h)
    return torch.stack(states)


def test_last_step_over_a_projected_lstm_reads_the_projection():
    net = models.LastStep(torch.nn.LSTM(3, 8, proj_size=2), 1)
    assert net.readout.in_features == 2


def test_every_step_is_one_hot_inputs_then_a_linear_readout_at_each_step():
    torch.manual_seed(1)
    net = models.EveryStep(torch.nn.GRU(6, 4), 6)
    tokens = torch.randint(0, 6, (9, 3))
    eye = torch.eye(6)
    output, state = net.rnn(eye[tokens])
    logits, returned = net.run(tokens)
    torch.testing.assert_close(logits, output @ net.readout.weight.T + net.readout.bias, rtol=0, atol=1e-14)
    torch.testing.assert_close(returned, state, rtol=0, atol=0)
    torch.testing.assert_close(net(tokens), logits, rtol=0, atol=0)


def test_every_step_reading_in_pieces_with_the_state_equals_reading_at_once():
    torch.manual_seed(2)
    net = models.EveryStep(gatedrnn.LSTM(5, 3), 5)
    tokens = torch.randint(0, 5, (12, 2))
    first, state = net.run(tokens[:5])
    second, _ = net.run(tokens[5:], state)
    torch.testing.assert_close(torch.cat([first, second]), net(tokens), rtol=0, atol=1e-14)


def test_every_step_names_bad_arguments():
    with pytest.raises(ValueError, match="rnn: expected input_size = classes = 7"):
        models.EveryStep(torch.nn.LSTM(6, 4), 7)
    net = models.EveryStep(torch.nn.LSTM(6, 4), 6)
    with pytest.raises(ValueError, match=r"tokens: expected integer tokens \[T, N\], got torch.float64 \(3, 2\)"):
        net(torch.zeros(3, 2))
    with pytest.raises(ValueError, match=r"tokens: expected integer tokens \[T, N\]"):
        net(torch.zeros(3, dtype=torch.int64))


def test_sequence_cross_entropy_is_the_mean_negative_log_probability_of_the_targets():
    logits = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(3))
    targets = torch.randint(0, 5, (4, 3), generator=torch.Generator().manual_seed(4))
    log_p = logits - logits.exp().sum(-1, keepdim=True).log()
    expected = -log_p.gather(-1, targets[..., None]).mean()
    torch.testing.assert_close(models.sequence_cross_entropy(logits, targets), expected, rtol=1e-14, atol=0)
    # uniform logits cost log C per step
    assert models.sequence_cross_entropy(torch.zeros(2, 2, 8), targets[:2, :2]).item() == pytest.approx(math.log(8))
    with pytest.raises(ValueError, match=r"targets: expected shape \(4, 3\)"):
        models.sequence_cross_entropy(logits, targets.T)


def test_fused_modes_have_the_initialisations_they_name():
    torch.manual_seed(0)
    orthogonal = models.fused("orthogonal RNN", 3, 6)
    W = orthogonal.weight_hh_l0.detach().double()
    torch.testing.assert_close(W @ W.T, torch.eye(6, dtype=torch.float64), rtol=0, atol=1e-6)
    assert orthogonal.nonlinearity == "tanh"
    irnn = models.fused("IRNN", 3, 6)
    assert irnn.nonlinearity == "relu" and torch.equal(irnn.weight_hh_l0, torch.eye(6))
    assert not irnn.bias_hh_l0.any() and not irnn.bias_ih_l0.any()
    lstm = models.fused("LSTM", 3, 6, forget_bias=2.0)
    assert bool((lstm.bias_ih_l0[6:12] == 2.0).all()) and bool((lstm.bias_hh_l0[6:12] == 0).all())
    plain = models.fused("RNN", 3, 6)
    assert isinstance(plain, torch.nn.RNN) and plain.nonlinearity == "tanh"
    with pytest.raises(ValueError, match="mode: expected one of"):
        models.fused("rnn", 3, 6)
