"""Recording gate values: consistent with the modules' own outputs and with the gate equations."""

import pytest
import torch

import gatedrnn
from gatedrnn.gates import record_gates, saturation


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_recorded_states_match_the_module_output(kind):
    gatedrnn.seed_everything(0)
    rnn = getattr(gatedrnn, kind)(3, 5, dtype=torch.float64)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    record = record_gates(rnn, x)
    output, _ = rnn(x)
    torch.testing.assert_close(record["h"], output, rtol=0, atol=1e-14)
    names = ("i", "f", "g", "o", "c", "h") if kind == "LSTM" else ("r", "z", "n", "h")
    assert set(record) == set(names)
    for name in names:
        assert record[name].shape == (7, 4, 5)


def test_lstm_record_satisfies_the_cell_equation():
    gatedrnn.seed_everything(1)
    rnn = gatedrnn.LSTM(2, 4, dtype=torch.float64)
    r = record_gates(rnn, torch.randn(6, 3, 2, dtype=torch.float64))
    c_previous = torch.cat([torch.zeros_like(r["c"][:1]), r["c"][:-1]])
    torch.testing.assert_close(r["c"], r["f"] * c_previous + r["i"] * r["g"], rtol=0, atol=1e-14)  # eq. (lstm-cell)
    torch.testing.assert_close(r["h"], r["o"] * torch.tanh(r["c"]), rtol=0, atol=1e-14)  # eq. (lstm-hidden)


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
