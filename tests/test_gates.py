"""Recording gate values: checked against torch.nn's own modules, outputs and weights, and with the gate equations."""

import pytest
import torch

import gatedrnn
from gatedrnn.instruments.gates import record_gates, saturation


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recorded_states_match_torch_nn_output(kind):
    """The recorded h is torch.nn's own output for the same weights; every record has the names and shape [T, N, H]."""
    gatedrnn.seed_everything(0)
    rnn = getattr(gatedrnn, kind)(3, 5, dtype=torch.float64)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    record = record_gates(rnn, x)
    output, _ = gatedrnn.torch_twin(rnn)(x)
    torch.testing.assert_close(record["h"], output.detach(), rtol=0, atol=1e-12)
    names = ("i", "f", "g", "o", "c", "h") if kind == "LSTM" else ("r", "z", "n", "h")
    assert set(record) == set(names)
    for name in names:
        assert record[name].shape == (7, 4, 5)


def test_lstm_record_satisfies_the_cell_equation():
    """Internal consistency of one record (each c with the gates of its own step); the gate order is checked against
    torch.nn.LSTM in test_lstm_gates_match_torch_lstm_pieces."""
    gatedrnn.seed_everything(1)
    rnn = gatedrnn.LSTM(2, 4, dtype=torch.float64)
    r = record_gates(rnn, torch.randn(6, 3, 2, dtype=torch.float64))
    c_previous = torch.cat([torch.zeros_like(r["c"][:1]), r["c"][:-1]])
    torch.testing.assert_close(r["c"], r["f"] * c_previous + r["i"] * r["g"], rtol=0, atol=1e-14)  # eq. (lstm-cell)
    torch.testing.assert_close(r["h"], r["o"] * torch.tanh(r["c"]), rtol=0, atol=1e-14)  # eq. (lstm-hidden)


def torch_lstm_reference(torch_lstm, x):
    """Gate values i, f, g, o and states c, h of a one-layer ``torch.nn.LSTM`` at every step, [T, N, H] each, from
    its own tensors alone: the states are torch.nn.LSTM's, run one step at a time; the gates come from its weights
    sliced in PyTorch's documented order (i, f, g, o), with the activations applied here."""
    size = torch_lstm.hidden_size
    h = c = x.new_zeros(x.shape[1], size)
    values = {name: [] for name in ("i", "f", "g", "o", "c", "h")}
    with torch.no_grad():
        for x_t in x:
            a = x_t @ torch_lstm.weight_ih_l0.T + h @ torch_lstm.weight_hh_l0.T
            if torch_lstm.bias:
                a = a + torch_lstm.bias_ih_l0 + torch_lstm.bias_hh_l0
            i, f = torch.sigmoid(a[:, :size]), torch.sigmoid(a[:, size:2 * size])
            g, o = torch.tanh(a[:, 2 * size:3 * size]), torch.sigmoid(a[:, 3 * size:])
            _, (h_n, c_n) = torch_lstm(x_t.unsqueeze(0), (h.unsqueeze(0), c.unsqueeze(0)))
            c_previous, h, c = c, h_n[0], c_n[0]
            # the slicing is right only if these gates give torch's own next states
            torch.testing.assert_close(c, f * c_previous + i * g, rtol=0, atol=1e-12)
            torch.testing.assert_close(h, o * torch.tanh(c), rtol=0, atol=1e-12)
            for name, value in zip(values, (i, f, g, o, c, h), strict=True):
                values[name].append(value)
    return {name: torch.stack(value) for name, value in values.items()}


@pytest.mark.parametrize(
    ("input_size", "hidden_size", "batch", "steps", "bias"),
    [(3, 5, 4, 7, True), (2, 1, 1, 1, True), (4, 3, 2, 9, False), (1, 8, 6, 3, True), (5, 2, 3, 4, False)],
)
def test_lstm_gates_match_torch_lstm_pieces(input_size, hidden_size, batch, steps, bias):
    """An independent reference: the recorded i, f, g, o, c, h equal those computed from torch.nn.LSTM's own weights
    and states, and the recorded h and c reproduce its output, h_n and c_n."""
    torch.manual_seed(5 + hidden_size)
    torch_lstm = torch.nn.LSTM(input_size, hidden_size, bias=bias, dtype=torch.float64)
    with torch.no_grad():
        for parameter in torch_lstm.parameters():  # wider than the default U(-1/√H, 1/√H): gates away from 1/2
            parameter.uniform_(-1.5, 1.5)
    rnn = gatedrnn.LSTM(input_size, hidden_size, bias=bias, dtype=torch.float64)
    rnn.load_state_dict(torch_lstm.state_dict())
    x = 2 * torch.randn(steps, batch, input_size, dtype=torch.float64)
    record = record_gates(rnn, x)
    reference = torch_lstm_reference(torch_lstm, x)
    torch.testing.assert_close(record, reference, rtol=0, atol=1e-12)  # a failure names the item
    with torch.no_grad():
        output, (h_n, c_n) = torch_lstm(x)
    torch.testing.assert_close(record["h"], output, rtol=0, atol=1e-12)
    torch.testing.assert_close(record["h"][-1], h_n[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(record["c"][-1], c_n[0], rtol=0, atol=1e-12)


def test_gru_record_satisfies_the_update_equation():
    gatedrnn.seed_everything(2)
    rnn = gatedrnn.GRU(2, 4, dtype=torch.float64)
    r = record_gates(rnn, torch.randn(6, 3, 2, dtype=torch.float64))
    h_previous = torch.cat([torch.zeros_like(r["h"][:1]), r["h"][:-1]])
    torch.testing.assert_close(r["h"], (1 - r["z"]) * r["n"] + r["z"] * h_previous, rtol=0, atol=1e-14)


def test_gru_gates_match_torch_gru_cell_pieces():
    """An independent reference: with W_hh = 0 the GRU's z is σ(W_iz x + b_iz + b_hz) and h_1 = (1 - z) n."""
    gatedrnn.seed_everything(4)
    rnn = gatedrnn.GRU(3, 2, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_hh_l0.zero_()
    x = torch.randn(1, 5, 3, dtype=torch.float64)
    r = record_gates(rnn, x)
    a_z = x[0] @ rnn.weight_ih_l0[2:4].T + rnn.bias_ih_l0[2:4] + rnn.bias_hh_l0[2:4]
    torch.testing.assert_close(r["z"][0], torch.sigmoid(a_z))
    twin = gatedrnn.torch_twin(rnn)
    torch.testing.assert_close(r["h"], twin(x)[0].detach())


def test_saturation_counts_values_near_the_ends():
    gate = torch.tensor([0.01, 0.05, 0.5, 0.5, 0.95, 0.99, 0.999, 0.2])
    low, high = saturation(gate, margin=0.1)
    assert low == pytest.approx(2 / 8) and high == pytest.approx(3 / 8)
    assert saturation(gate, margin=0.02) == (pytest.approx(1 / 8), pytest.approx(2 / 8))


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="rnn: expected a gatedrnn.LSTM or GRU"):
        record_gates(gatedrnn.RNN(2, 3), torch.zeros(4, 1, 2))
    with pytest.raises(ValueError, match="one layer"):
        record_gates(gatedrnn.LSTM(2, 3, num_layers=2), torch.zeros(4, 1, 2))
    with pytest.raises(ValueError, match=r"inputs: expected a tensor \[T, N, 2\]"):
        record_gates(gatedrnn.GRU(2, 3), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="values in \\[0, 1\\]"):
        saturation(torch.tensor([-0.5, 0.5]))
    with pytest.raises(ValueError, match="margin"):
        saturation(torch.tensor([0.5]), margin=0.7)
