"""Bad input raises ValueError/TypeError naming the argument, the expected and the actual value."""

import pytest
import torch

import gatedrnn

MODULES = [gatedrnn.RNN, gatedrnn.LSTM, gatedrnn.GRU]


@pytest.mark.parametrize("cls", MODULES)
@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        ({"hidden_size": 0}, ValueError, r"hidden_size: expected an int >= 1, got 0"),
        ({"hidden_size": -3}, ValueError, r"hidden_size: expected an int >= 1, got -3"),
        ({"hidden_size": 2.5}, TypeError, r"hidden_size: expected an int, got float"),
        ({"num_layers": 0}, ValueError, r"num_layers: expected an int >= 1, got 0"),
        ({"input_size": 0}, ValueError, r"input_size: expected an int >= 1, got 0"),
        ({"dropout": 1.0}, ValueError, r"dropout: expected a number in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, ValueError, r"dropout: expected a number in \[0, 1\), got -0.1"),
        ({"dropout": "0.5"}, TypeError, r"dropout: expected a number"),
        ({"bidirectional": 1}, TypeError, r"bidirectional: expected a bool, got int"),
        ({"dtype": torch.int64}, TypeError, r"dtype: expected a floating-point dtype, got torch.int64"),
    ],
)
def test_constructor_rejects(cls, kwargs, error, pattern):
    arguments = {"input_size": 2, "hidden_size": 3} | kwargs
    with pytest.raises(error, match=pattern):
        cls(**arguments)


def test_unknown_nonlinearity():
    with pytest.raises(ValueError, match=r"nonlinearity: expected one of \('tanh', 'relu'\), got 'sigmoid'"):
        gatedrnn.RNN(2, 3, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="nonlinearity"):
        gatedrnn.RNNCell(2, 3, nonlinearity="gelu")


def test_proj_size_is_for_the_lstm_only():
    with pytest.raises(ValueError, match=r"proj_size: only the LSTM has a projection, expected 0 for GRU, got 2"):
        gatedrnn.GRU(2, 3, proj_size=2)


def test_proj_size_must_be_below_hidden_size():
    with pytest.raises(ValueError, match=r"proj_size: expected 0 or an int < hidden_size=3, got 3"):
        gatedrnn.LSTM(2, 3, proj_size=3)


@pytest.mark.parametrize("cls", MODULES)
def test_input_rank(cls):
    module = cls(2, 3)
    with pytest.raises(ValueError, match=r"input: expected a 3-D tensor \(seq_len, batch, input_size\).*got a 4-D"):
        module(torch.randn(4, 1, 1, 2))
    with pytest.raises(ValueError, match=r"got a 1-D tensor of shape \(2,\)"):
        module(torch.randn(2))


@pytest.mark.parametrize("cls", MODULES)
def test_input_feature_size(cls):
    with pytest.raises(ValueError, match=r"input: expected the last dimension to be input_size=2, got shape \(5, 1, 3\)"):
        cls(2, 3)(torch.randn(5, 1, 3))


@pytest.mark.parametrize("cls", MODULES)
def test_input_dtype_and_type(cls):
    module = cls(2, 3)
    with pytest.raises(TypeError, match=r"input: expected dtype torch.float64 \(the parameters' dtype\), got torch.float32"):
        module(torch.randn(5, 1, 2, dtype=torch.float32))
    with pytest.raises(TypeError, match=r"input: expected a torch.Tensor, got list"):
        module([[0.0, 1.0]])


def test_empty_sequence():
    with pytest.raises(ValueError, match=r"input: expected a sequence of length >= 1, got shape \(0, 2, 2\)"):
        gatedrnn.GRU(2, 3)(torch.randn(0, 2, 2))


@pytest.mark.parametrize("cls", [gatedrnn.RNN, gatedrnn.GRU])
def test_tuple_state_for_rnn_and_gru(cls):
    h = torch.zeros(1, 1, 3)
    with pytest.raises(TypeError, match=r"hx: expected a tensor .* or None for (RNN|GRU), got tuple"):
        cls(2, 3)(torch.randn(4, 1, 2), (h, h))


def test_bare_tensor_state_for_lstm():
    with pytest.raises(TypeError, match=r"hx: expected a tuple \(h_0, c_0\) of two tensors or None for LSTM, got Tensor"):
        gatedrnn.LSTM(2, 3)(torch.randn(4, 1, 2), torch.zeros(1, 1, 3))


@pytest.mark.parametrize("cls", MODULES)
def test_state_shape(cls):
    module = cls(2, 3, num_layers=2)
    wrong = torch.zeros(1, 5, 3)  # one layer's worth, where two are needed
    hx = (wrong, torch.zeros(2, 5, 3)) if cls is gatedrnn.LSTM else wrong
    name = r"hx\[0\]" if cls is gatedrnn.LSTM else "hx"
    with pytest.raises(ValueError, match=name + r": expected shape \(2, 5, 3\) .* got \(1, 5, 3\)"):
        module(torch.randn(4, 5, 2), hx)


def test_lstm_cell_state_shape_uses_hidden_size_with_projection():
    module = gatedrnn.LSTM(2, 4, proj_size=2)
    h, c = torch.zeros(1, 3, 2), torch.zeros(1, 3, 2)
    with pytest.raises(ValueError, match=r"hx\[1\]: expected shape \(1, 3, 4\)"):
        module(torch.randn(5, 3, 2), (h, c))


def test_unbatched_input_needs_unbatched_state():
    with pytest.raises(ValueError, match=r"hx: expected shape \(1, 3\) .*unbatched, got \(1, 1, 3\)"):
        gatedrnn.GRU(2, 3)(torch.randn(4, 2), torch.zeros(1, 1, 3))


def test_state_dtype():
    with pytest.raises(TypeError, match=r"hx: expected dtype torch.float64"):
        gatedrnn.RNN(2, 3)(torch.randn(4, 1, 2), torch.zeros(1, 1, 3, dtype=torch.float32))


def test_state_device():
    module = gatedrnn.RNN(2, 3)
    meta = torch.zeros(1, 1, 3, device="meta")
    with pytest.raises(ValueError, match=r"hx: expected device cpu \(the parameters' device\), got meta"):
        module(torch.randn(4, 1, 2), meta)


@pytest.mark.parametrize("cls", [gatedrnn.RNNCell, gatedrnn.GRUCell, gatedrnn.LSTMCell])
def test_cells_check_too(cls):
    cell = cls(2, 3)
    with pytest.raises(ValueError, match=r"input: expected the last dimension to be input_size=2"):
        cell(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"input: expected a 2-D tensor \(batch, input_size\)"):
        cell(torch.randn(1, 4, 2))
    bad = torch.zeros(4, 2)
    state = (bad, bad) if cls is gatedrnn.LSTMCell else bad
    with pytest.raises(ValueError, match=r"hx(\[0\])?: expected shape \(4, 3\) \(batch, hidden_size\), got \(4, 2\)"):
        cell(torch.randn(4, 2), state)
    wrong_kind = torch.zeros(4, 3) if cls is gatedrnn.LSTMCell else (torch.zeros(4, 3),) * 2
    with pytest.raises(TypeError, match=r"hx: expected a"):
        cell(torch.randn(4, 2), wrong_kind)
