"""The cells against torch.nn's, gradcheck on each, and the step functions against their equations."""

import pytest
import torch
from torch import nn

import gatedrnn

TOL = 1e-10
CELLS = {"RNNCell": (nn.RNNCell, gatedrnn.RNNCell), "LSTMCell": (nn.LSTMCell, gatedrnn.LSTMCell),
         "GRUCell": (nn.GRUCell, gatedrnn.GRUCell)}


def pair(name, *args, **kwargs):
    torch.manual_seed(0)
    reference = CELLS[name][0](*args, **kwargs)
    torch.manual_seed(0)
    ours = CELLS[name][1](*args, **kwargs)
    return reference, ours


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batch", [None, 1, 4])
@pytest.mark.parametrize("with_hx", [False, True])
def test_cell_matches_torch_float64(name, bias, batch, with_hx):
    reference, ours = pair(name, 3, 5, bias=bias)
    assert list(reference.state_dict()) == list(ours.state_dict())
    shape = () if batch is None else (batch,)
    x = torch.randn(*shape, 3, requires_grad=True)
    hx = None
    if with_hx:
        hx = torch.randn(*shape, 5)
        hx = (hx, torch.randn(*shape, 5)) if name == "LSTMCell" else hx
    out_a, out_b = reference(x, hx), ours(x, hx)
    flat_a = out_a if isinstance(out_a, tuple) else (out_a,)
    flat_b = out_b if isinstance(out_b, tuple) else (out_b,)
    for a, b in zip(flat_a, flat_b, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)
    loss_a = sum((k + 1) * t.sin().sum() for k, t in enumerate(flat_a))
    loss_b = sum((k + 1) * t.sin().sum() for k, t in enumerate(flat_b))
    grads_a = torch.autograd.grad(loss_a, [x, *reference.parameters()])
    grads_b = torch.autograd.grad(loss_b, [x, *ours.parameters()])
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


def test_relu_rnn_cell_matches_torch():
    reference, ours = pair("RNNCell", 2, 3, nonlinearity="relu")
    x = torch.randn(4, 2)
    torch.testing.assert_close(ours(x), reference(x), atol=TOL, rtol=0)


@pytest.mark.parametrize("name", CELLS)
def test_gradcheck_cell(name):
    _, ours = pair(name, 3, 4)
    x = torch.randn(2, 3, requires_grad=True)
    h = torch.randn(2, 4, requires_grad=True)
    if name == "LSTMCell":
        c = torch.randn(2, 4, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, h, c: ours(x, (h, c)), (x, h, c))
    else:
        assert torch.autograd.gradcheck(lambda x, h: ours(x, h), (x, h))


def test_lstm_step_is_its_equations():
    """One LSTM step computed gate by gate, with the weight blocks sliced in the order i, f, g, o."""
    torch.manual_seed(1)
    H, I = 3, 2
    W_ih, W_hh, b_ih, b_hh = torch.randn(4 * H, I), torch.randn(4 * H, H), torch.randn(4 * H), torch.randn(4 * H)
    x, h, c = torch.randn(I), torch.randn(H), torch.randn(H)
    block = lambda k: slice(k * H, (k + 1) * H)  # noqa: E731
    pre = [W_ih[block(k)] @ x + b_ih[block(k)] + W_hh[block(k)] @ h + b_hh[block(k)] for k in range(4)]
    i, f, g, o = torch.sigmoid(pre[0]), torch.sigmoid(pre[1]), torch.tanh(pre[2]), torch.sigmoid(pre[3])
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    for ours, expected in zip(gatedrnn.lstm_gates(W_ih @ x + b_ih, h, W_hh, b_hh), (i, f, g, o), strict=True):
        torch.testing.assert_close(ours, expected, atol=1e-14, rtol=0)
    h_ours, c_ours = gatedrnn.lstm_step(W_ih @ x + b_ih, h, c, W_hh, b_hh)
    torch.testing.assert_close(c_ours, c_new, atol=1e-14, rtol=0)
    torch.testing.assert_close(h_ours, h_new, atol=1e-14, rtol=0)


def test_gru_step_is_reset_after():
    """r multiplies (W_hn h + b_hn), not h: the two placements differ, and the step uses the first."""
    torch.manual_seed(2)
    H, I = 3, 2
    W_ih, W_hh, b_ih, b_hh = torch.randn(3 * H, I), torch.randn(3 * H, H), torch.randn(3 * H), torch.randn(3 * H)
    x, h = torch.randn(I), torch.randn(H)
    s = lambda k: slice(k * H, (k + 1) * H)  # noqa: E731
    r = torch.sigmoid(W_ih[s(0)] @ x + b_ih[s(0)] + W_hh[s(0)] @ h + b_hh[s(0)])
    z = torch.sigmoid(W_ih[s(1)] @ x + b_ih[s(1)] + W_hh[s(1)] @ h + b_hh[s(1)])
    n_after = torch.tanh(W_ih[s(2)] @ x + b_ih[s(2)] + r * (W_hh[s(2)] @ h + b_hh[s(2)]))
    n_before = torch.tanh(W_ih[s(2)] @ x + b_ih[s(2)] + W_hh[s(2)] @ (r * h) + b_hh[s(2)])
    ours = gatedrnn.gru_step(W_ih @ x + b_ih, h, W_hh, b_hh)
    torch.testing.assert_close(ours, (1 - z) * n_after + z * h, atol=1e-14, rtol=0)
    assert (ours - ((1 - z) * n_before + z * h)).abs().max() > 1e-3


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell"])
@pytest.mark.parametrize("hx, got", [([torch.zeros(5)], "list"), ((torch.zeros(5),), "tuple")])
def test_rnn_and_gru_cells_name_an_hx_that_is_not_a_tensor(name, hx, got):
    _, ours = pair(name, 3, 5)
    with pytest.raises(TypeError, match=rf"^hx: expected a tensor \(batch, hidden_size\) or None, got {got}$"):
        ours(torch.randn(3), hx)


@pytest.mark.parametrize("batched", [False, True])
def test_lstm_cell_names_an_hx_that_is_not_a_pair(batched):
    """A single tensor [2, H] would otherwise be read row by row as (h_0, c_0) for an unbatched input, and a third
    element of a tuple silently dropped; every hx but a pair of two is refused, naming hx."""
    _, ours = pair("LSTMCell", 3, 5)
    shape = (4,) if batched else ()
    x, h = torch.randn(*shape, 3), torch.randn(*shape, 5)
    message = r"^hx: expected a tuple \(h_0, c_0\) of two tensors or None, got "
    with pytest.raises(TypeError, match=message + "Tensor$"):
        ours(x, torch.stack([h, h]))
    with pytest.raises(TypeError, match=message + "tuple$"):
        ours(x, (h, h, h))
    with pytest.raises(TypeError, match=message + "tuple$"):
        ours(x, (h,))
    # a pair, as a tuple or a list, is the torch.nn cell's step
    reference, _ = pair("LSTMCell", 3, 5)
    expected = reference(x, (h, h))
    for hx in ((h, h), [h, h]):
        for a, b in zip(ours(x, hx), expected, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)
