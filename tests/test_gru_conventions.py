"""The three GRU conventions: only the reset-after form is torch.nn.GRU; Cho and Chung differ by z ↔ 1 - z."""

import pytest
import torch

import gatedrnn
from gatedrnn.instruments.gru_conventions import STEPS, gru_step_cho, negate_update_gate_, run_convention


def _gru(seed=0, I=3, H=5, scale=1.0):
    gatedrnn.seed_everything(seed)
    gru = gatedrnn.GRU(I, H, dtype=torch.float64)
    with torch.no_grad():
        for p in gru.parameters():
            p.mul_(scale)
    return gru, torch.randn(9, 4, I, dtype=torch.float64)


@pytest.mark.parametrize("seed", range(3))
def test_only_the_pytorch_convention_matches_torch_gru(seed):
    gru, x = _gru(seed, scale=3.0)
    expected, _ = gatedrnn.torch_twin(gru)(x)
    torch.testing.assert_close(run_convention("pytorch", gru, x), expected.detach(), rtol=0, atol=1e-12)
    for convention in ("cho", "chung"):
        assert (run_convention(convention, gru, x) - expected).abs().max() > 1e-2


@pytest.mark.parametrize("seed", range(3))
def test_cho_with_negated_update_gate_is_chung(seed):
    gru, x = _gru(seed, scale=2.0)
    chung = run_convention("chung", gru, x)
    negate_update_gate_(gru)
    torch.testing.assert_close(run_convention("cho", gru, x), chung, rtol=0, atol=1e-14)


def test_reset_before_and_after_agree_when_the_reset_gate_is_open():
    """With r = 1 and no b_hn the two placements are the same: W(r ⊙ h) = r ⊙ (W h)."""
    gru, x = _gru(1)
    H = gru.hidden_size
    with torch.no_grad():
        gru.bias_ih_l0[:H] = 50.0  # r = σ(50 + ...) = 1 to float64 precision
        gru.bias_hh_l0[2 * H :] = 0.0
    torch.testing.assert_close(run_convention("cho", gru, x), run_convention("pytorch", gru, x), rtol=0, atol=1e-12)


def test_cho_step_by_its_equations():
    torch.manual_seed(0)
    H = 3
    u, h = torch.randn(3 * H, dtype=torch.float64), torch.randn(H, dtype=torch.float64)
    W, b = torch.randn(3 * H, H, dtype=torch.float64), torch.randn(3 * H, dtype=torch.float64)
    r = torch.sigmoid(u[:H] + W[:H] @ h + b[:H])
    z = torch.sigmoid(u[H : 2 * H] + W[H : 2 * H] @ h + b[H : 2 * H])
    n = torch.tanh(u[2 * H :] + W[2 * H :] @ (r * h) + b[2 * H :])
    torch.testing.assert_close(gru_step_cho(u, h, W, b), z * h + (1 - z) * n, rtol=0, atol=1e-15)


def test_bad_arguments_are_refused():
    gru, x = _gru()
    with pytest.raises(ValueError, match="convention: expected one of"):
        run_convention("keras", gru, x)
    with pytest.raises(TypeError, match="gru: expected a gatedrnn.GRU"):
        run_convention("cho", gatedrnn.LSTM(3, 5), x)
    with pytest.raises(ValueError, match=r"inputs: expected a tensor \[T, N, 3\]"):
        run_convention("cho", gru, x[..., :2])
    with pytest.raises(ValueError, match="one layer"):
        run_convention("cho", gatedrnn.GRU(3, 5, num_layers=2), x)
    assert set(STEPS) == {"cho", "chung", "pytorch"}
