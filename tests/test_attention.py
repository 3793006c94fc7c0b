"""Attention and the minimal Transformer against independent references: torch.nn.functional's and torch.nn's
modules in float64, explicit loops over the papers' equations, and autograd."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gatedrnn.nn import attention, transformer


def test_scaled_dot_product_is_torchs_with_and_without_a_mask():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 5, 4, dtype=torch.float64), torch.randn(2, 3, 7, 4, dtype=torch.float64), \
        torch.randn(2, 3, 7, 6, dtype=torch.float64)
    mask = torch.rand(5, 7) < 0.3
    mask[:, 0] = False  # every query reads at least one key
    for m in (None, mask):
        out, weights = attention.scaled_dot_product(q, k, v, m)
        expected = F.scaled_dot_product_attention(q, k, v, attn_mask=None if m is None else ~m)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5, dtype=torch.float64), rtol=0, atol=1e-12)
    assert bool((weights[..., mask] == 0).all())


def test_additive_attention_is_bahdanaus_equations_written_as_a_loop():
    torch.manual_seed(1)
    read = attention.AdditiveAttention(3, 4, 5, dtype=torch.float64)
    s, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(6, 2, 4, dtype=torch.float64)
    mask = torch.zeros(6, 2, dtype=torch.bool)
    mask[4:, 1] = True  # the second sequence is 4 long
    context, weights = read(s, h, mask)
    W_s, W_h, v = read.W_s.weight.detach(), read.W_h.weight.detach(), read.v.weight[0].detach()
    for n, length in ((0, 6), (1, 4)):
        e = [float(v @ torch.tanh(W_s @ s[n] + W_h @ h[j, n])) for j in range(length)]
        alpha = [math.exp(x) / sum(math.exp(y) for y in e) for x in e]
        c = sum(a * h[j, n] for j, a in enumerate(alpha))
        torch.testing.assert_close(weights[:length, n], torch.tensor(alpha, dtype=torch.float64), rtol=0, atol=1e-14)
        torch.testing.assert_close(context[n], c, rtol=0, atol=1e-14)
    assert bool((weights[4:, 1] == 0).all())


def test_one_attention_read_has_the_gradient_of_its_closed_form():
    """dc/dh_j = α_j I + Σ_k h_k (∂α_k/∂h_j)ᵀ, with ∂α_k/∂e_j = α_k (δ_kj − α_j) and ∂e_j/∂h_j =
    W_hᵀ diag(1 − tanh²) v: the path from any h_j to the context is one step long."""
    torch.manual_seed(2)
    read = attention.AdditiveAttention(3, 4, 5, dtype=torch.float64)
    s, h = torch.randn(1, 3, dtype=torch.float64), torch.randn(6, 1, 4, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda keys: read(s, keys)[0][0], h)[:, :, 0, :]  # [4, T, 4]
    _, alpha = read(s, h)
    alpha = alpha[:, 0]
    pre = read.W_s(s)[0] + read.W_h(h[:, 0])  # [T, A]
    de_dh = (read.v.weight[0] * (1 - torch.tanh(pre) ** 2)) @ read.W_h.weight  # row j: ∂e_j/∂h_j, [T, 4]
    for j in range(6):
        dalpha = alpha * ((torch.arange(6) == j).double() - alpha[j])  # ∂α_k/∂e_j, [T]
        closed = alpha[j] * torch.eye(4, dtype=torch.float64) + torch.outer(h[:, 0].T @ dalpha, de_dh[j])
        torch.testing.assert_close(jac[:, j], closed, rtol=0, atol=1e-13)
    assert torch.autograd.gradcheck(lambda q, k: read(q, k)[0], (s.requires_grad_(), h.requires_grad_()))


def torch_attention(ours: attention.MultiHeadSelfAttention) -> nn.MultiheadAttention:
    reference = nn.MultiheadAttention(ours.embed_size, ours.num_heads, dtype=torch.float64)
    reference.load_state_dict(ours.state_dict())
    return reference


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_multi_head_self_attention_is_torchs(heads):
    torch.manual_seed(heads)
    ours = attention.MultiHeadSelfAttention(8, heads, dtype=torch.float64)
    with torch.no_grad():
        ours.in_proj_bias.normal_()
        ours.out_proj.bias.normal_()
    reference = torch_attention(ours)
    x = torch.randn(7, 3, 8, dtype=torch.float64)
    causal = torch.ones(7, 7, dtype=torch.bool).triu(1)
    padding = torch.zeros(3, 7, dtype=torch.bool)
    padding[1, 5:] = True
    for mask, kwargs in ((None, {}), (causal, {"attn_mask": causal}),
                         (padding[:, None, None, :], {"key_padding_mask": padding})):
        out, weights = ours(x, mask)
        expected, expected_weights = reference(x, x, x, average_attn_weights=False, **kwargs)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)
        torch.testing.assert_close(weights, expected_weights, rtol=0, atol=1e-12)


def test_encoder_layer_is_torchs_post_norm_layer():
    torch.manual_seed(5)
    ours = transformer.TransformerEncoderLayer(8, 2, 16, dtype=torch.float64)
    reference = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, dtype=torch.float64)
    missing = reference.load_state_dict(ours.state_dict(), strict=True)
    assert not missing.missing_keys and not missing.unexpected_keys
    x = torch.randn(9, 4, 8, dtype=torch.float64, requires_grad=True)
    causal = torch.ones(9, 9, dtype=torch.bool).triu(1)
    for mask in (None, causal):
        out = ours(x, mask)
        expected = reference(x, src_mask=mask)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)
        grad, = torch.autograd.grad(out.square().sum(), x)
        expected_grad, = torch.autograd.grad(expected.square().sum(), x)
        torch.testing.assert_close(grad, expected_grad, rtol=0, atol=1e-10)


def test_positions_are_the_papers_sines_and_cosines():
    positions = transformer.sinusoidal_positions(11, 6, dtype=torch.float64)
    for t in range(11):
        for i in range(3):
            angle = t / 10000 ** (2 * i / 6)
            assert positions[t, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-15)
            assert positions[t, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-15)


def test_causal_encoder_does_not_read_the_future():
    torch.manual_seed(6)
    encoder = transformer.TransformerEncoder(3, 8, 2, 16, num_layers=2, causal=True, dtype=torch.float64)
    x = torch.randn(10, 2, 3, dtype=torch.float64)
    changed = x.clone()
    changed[6:] += 1.0
    assert torch.equal(encoder(x)[:6], encoder(changed)[:6])
    assert not torch.allclose(encoder(x)[6:], encoder(changed)[6:])


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="num_heads: expected a divisor of embed_size=8, got 3"):
        attention.MultiHeadSelfAttention(8, 3)
    with pytest.raises(ValueError, match="size: expected an even number"):
        transformer.sinusoidal_positions(4, 5)
    with pytest.raises(ValueError, match=r"x: expected a tensor \[T, N, 3\], got \(4, 3\)"):
        transformer.TransformerEncoder(3, 8, 2, 16)(torch.randn(4, 3))
    with pytest.raises(ValueError, match="mask: expected at least one readable position"):
        attention.attention_weights(torch.zeros(2, 3), torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask: expected a bool tensor"):
        attention.attention_weights(torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"query, keys: expected \[N, 3\] and \[T, N, 4\]"):
        attention.AdditiveAttention(3, 4, 5)(torch.randn(2, 3), torch.randn(6, 3, 4))
