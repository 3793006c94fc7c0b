"""The closed-form one-step Jacobians of the LSTM and GRU against torch.autograd, in float64."""

import pytest
import torch
from torch.autograd.functional import jacobian

import gatedrnn
from gatedrnn.nn.cells import gru_step, lstm_step
from gatedrnn.instruments.jacobians import gru_step_jacobian, lstm_step_jacobian


def _step_inputs(gates, H=6, I=3, seed=0, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    W_ih = torch.randn(gates * H, I, generator=g, dtype=torch.float64) * scale
    W_hh = torch.randn(gates * H, H, generator=g, dtype=torch.float64) * scale
    b_hh = torch.randn(gates * H, generator=g, dtype=torch.float64)
    u = W_ih @ torch.randn(I, generator=g, dtype=torch.float64)
    h = torch.randn(H, generator=g, dtype=torch.float64).tanh()
    c = torch.randn(H, generator=g, dtype=torch.float64)
    return u, h, c, W_hh, b_hh


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_lstm_step_jacobian_matches_autograd_float64(seed, scale):
    u, h, c, W_hh, b_hh = _step_inputs(4, seed=seed, scale=scale)
    closed = lstm_step_jacobian(u, h, c, W_hh, b_hh)
    blocks = jacobian(lambda h_, c_: lstm_step(u, h_, c_, W_hh, b_hh), (h, c))
    (hh, hc), (ch, cc) = blocks
    for name, expected in (("h_h", hh), ("h_c", hc), ("c_h", ch), ("c_c", cc)):
        torch.testing.assert_close(getattr(closed, name), expected, rtol=0, atol=1e-12, msg=name)


def test_lstm_cell_direct_path_is_the_forget_gate():
    u, h, c, W_hh, b_hh = _step_inputs(4)
    f = torch.sigmoid(u[6:12] + W_hh[6:12] @ h + b_hh[6:12])
    torch.testing.assert_close(lstm_step_jacobian(u, h, c, W_hh, b_hh).c_c, torch.diag(f), rtol=0, atol=1e-15)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("bias", [True, False])
def test_gru_step_jacobian_matches_autograd_float64(seed, bias):
    u, h, _, W_hh, b_hh = _step_inputs(3, seed=seed)
    b_hh = b_hh if bias else None
    closed = gru_step_jacobian(u, h, W_hh, b_hh)
    expected = jacobian(lambda h_: gru_step(u, h_, W_hh, b_hh), h)
    torch.testing.assert_close(closed.total, expected, rtol=0, atol=1e-12)
    z = torch.diagonal(closed.leak)
    assert bool(((z > 0) & (z < 1)).all())


def test_gru_jacobian_with_zero_recurrent_weights_is_the_leak():
    u, h, _, W_hh, _ = _step_inputs(3)
    closed = gru_step_jacobian(u, h, torch.zeros_like(W_hh), None)
    assert closed.update.abs().max() == 0 and closed.candidate.abs().max() == 0
    torch.testing.assert_close(closed.total, torch.diag(torch.sigmoid(u[6:12])))  # z = σ(u_z)


def test_jacobians_match_a_module_step():
    gatedrnn.seed_everything(3)
    lstm = gatedrnn.LSTM(2, 4, dtype=torch.float64)
    x, h, c = torch.randn(2, dtype=torch.float64), torch.randn(4, dtype=torch.float64), torch.randn(4, dtype=torch.float64)
    u = lstm.weight_ih_l0 @ x + lstm.bias_ih_l0
    closed = lstm_step_jacobian(u, h, c, lstm.weight_hh_l0, lstm.bias_hh_l0)
    cell = gatedrnn.LSTMCell(2, 4, dtype=torch.float64)
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in lstm.state_dict().items()})
    expected = jacobian(lambda h_: cell(x, (h_, c))[0], h)
    torch.testing.assert_close(closed.h_h, expected, rtol=0, atol=1e-12)


def test_shapes_are_checked_with_clear_messages():
    u, h, c, W_hh, b_hh = _step_inputs(4, H=5)
    with pytest.raises(ValueError, match="u: expected shape"):
        lstm_step_jacobian(u[:-1], h, c, W_hh, b_hh)
    with pytest.raises(ValueError, match="h: expected one unbatched state"):
        lstm_step_jacobian(u, h[None], c, W_hh, b_hh)
    with pytest.raises(ValueError, match="weight_hh"):
        gru_step_jacobian(u[:15], h, W_hh, None)  # an LSTM's W_hh [20, 5] where a GRU's [15, 5] is expected
    with pytest.raises(ValueError, match="c: expected shape"):
        lstm_step_jacobian(u, h, c[:3], W_hh, b_hh)
    with pytest.raises(TypeError, match="u: expected a tensor"):
        gru_step_jacobian([1.0], h, W_hh, None)
