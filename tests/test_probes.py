"""The depth probes against independent references: gradients derived by hand, autograd through retained gradients,
explicit Jacobian products in float64, closed forms for linear maps, and the laws of the random initialisations."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gatedrnn.instruments import probes


def test_activation_grad_norms_match_a_backward_pass_derived_by_hand():
    g = torch.Generator().manual_seed(0)
    w1, w2, w3 = (torch.randn(d_out, d_in, generator=g) for d_out, d_in in [(5, 4), (6, 5), (3, 6)])
    x, c = torch.randn(7, 4, generator=g), torch.randn(7, 3, generator=g)
    layers = [lambda a: torch.tanh(a @ w1.T), lambda a: torch.relu(a @ w2.T), lambda a: a @ w3.T]
    norms = probes.activation_grad_norms(layers, x, lambda a: (c * a).sum() ** 2 / 2)
    # forward, then the chain rule written out: ∂L/∂a3 = s c with s = Σ c·a3, back through each layer
    a1 = torch.tanh(x @ w1.T)
    a2 = torch.relu(a1 @ w2.T)
    a3 = a2 @ w3.T
    g3 = (c * a3).sum() * c
    g2 = g3 @ w3
    g1 = (g2 * (a2 > 0)) @ w2
    expected = torch.stack([torch.linalg.vector_norm(v) for v in (g1, g2, g3)])
    torch.testing.assert_close(norms, expected, rtol=1e-12, atol=0)
    assert norms.shape == (3,) and not norms.requires_grad


@pytest.mark.parametrize("batch_norm, residual", [(False, False), (True, False), (False, True), (True, True)])
def test_cnn_grad_norms_match_retained_gradients_of_a_backward_pass(batch_norm, residual):
    torch.manual_seed(1)
    net = probes.plain_cnn(4, 3, init="he", batch_norm=batch_norm, residual=residual)
    images, labels = torch.randn(5, 1, 6, 6), torch.randint(0, 10, (5,))
    norms = probes.cnn_grad_norms(net, images, labels)
    assert all(p.grad is None for p in net.parameters())  # the probe leaves the parameters' gradients alone
    # the reference: the same forward pass written out, retain_grad on every activation, loss.backward()
    a, activations = images, []
    for layer in net.layers:
        a = layer(a)
        a.retain_grad()
        activations.append(a)
    F.cross_entropy(net.head(a), labels).backward()
    expected = torch.stack([torch.linalg.vector_norm(a.grad) for a in activations])
    torch.testing.assert_close(norms, expected, rtol=1e-12, atol=0)
    assert norms.shape == (4,)


def test_an_activation_the_loss_ignores_has_a_zero_norm():
    norms = probes.activation_grad_norms([lambda a: 2 * a, lambda a: torch.zeros(3) + a.sum() * 0],
                                         torch.ones(3), lambda a: a.sum())
    assert norms.tolist() == [0.0, math.sqrt(3)]


def test_a_loss_that_ignores_every_activation_is_named():
    weight = torch.ones(3, requires_grad=True)
    with pytest.raises(ValueError, match="loss_fn: its value does not depend on the last layer's output"):
        probes.activation_grad_norms([lambda a: 2 * a], torch.ones(3), lambda a: weight.sum())


def shared_or_independent(shared, depth=6, width=4, sigma=1.3, seed=0):
    weights = probes.recurrence_weights(depth, width, shared=shared, sigma=sigma,
                                        generator=torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed + 100)
    return weights, torch.randn(width, generator=g), torch.randn(width, generator=g)


@pytest.mark.parametrize("shared", [True, False])
def test_tanh_recurrence_norms_are_the_explicit_product_of_jacobians(shared):
    weights, h0, direction = shared_or_independent(shared)
    norms = probes.recurrence_grad_norms(weights, h0, direction)
    depth, width = weights.shape[:2]
    states, h = [], h0
    for w in weights:
        h = torch.tanh(w @ h)
        states.append(h)
    jacobians = [torch.diag(1 - h ** 2) @ w for h, w in zip(states, weights)]  # J_l = ∂h_l/∂h_{l-1}
    expected = []
    for l in range(1, depth + 1):  # ∂L/∂h_l = (J_depth ⋯ J_{l+1})ᵀ direction
        product = torch.eye(width)
        for J in jacobians[l:]:
            product = J @ product
        expected.append(torch.linalg.vector_norm(product.T @ direction))
    torch.testing.assert_close(norms, torch.stack(expected), rtol=1e-12, atol=0)
    assert norms[-1].item() == pytest.approx(torch.linalg.vector_norm(direction).item(), rel=1e-15)


def test_a_batch_of_starts_gives_the_norm_over_the_batch():
    weights, _, _ = shared_or_independent(False)
    g = torch.Generator().manual_seed(5)
    h0, direction = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    together = probes.recurrence_grad_norms(weights, h0, direction)
    apart = torch.stack([probes.recurrence_grad_norms(weights, h0[i], direction[i]) for i in range(3)])
    torch.testing.assert_close(together, apart.pow(2).sum(0).sqrt(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("s", [0.5, 1.0, 2.0])
def test_linear_recurrence_with_a_scaled_orthogonal_matrix_changes_by_exactly_s_per_step(s):
    q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(2)))
    depth = 30
    weights = (s * q).expand(depth, 8, 8)
    direction = torch.randn(8, generator=torch.Generator().manual_seed(3))
    norms = probes.recurrence_grad_norms(weights, torch.randn(8), direction, nonlinearity="linear")
    # ∂L/∂h_l = ((sQ)ᵀ)^(depth - l) direction, and Qᵀ keeps norms: ‖∂L/∂h_l‖ = s^(depth - l) ‖direction‖
    expected = s ** torch.arange(depth - 1, -1, -1.0) * torch.linalg.vector_norm(direction)
    torch.testing.assert_close(norms, expected, rtol=1e-12, atol=0)
    torch.testing.assert_close(norms[:-1] / norms[1:], torch.full((depth - 1,), s), rtol=1e-12, atol=0)
    assert probes.log_growth_rate(norms) == pytest.approx(math.log(s), abs=1e-12)


def test_recurrent_grad_norms_draws_weights_start_and_a_unit_direction_from_its_generator():
    norms = probes.recurrent_grad_norms(12, 5, shared=False, sigma=2.0, generator=torch.Generator().manual_seed(4))
    g = torch.Generator().manual_seed(4)
    weights = probes.recurrence_weights(12, 5, shared=False, sigma=2.0, generator=g)
    h0, direction = torch.randn(5, generator=g), torch.randn(5, generator=g)
    expected = probes.recurrence_grad_norms(weights, h0, direction / direction.norm())
    torch.testing.assert_close(norms, expected, rtol=1e-12, atol=0)
    assert norms[-1].item() == pytest.approx(1.0, rel=1e-14)
    float32 = probes.recurrent_grad_norms(12, 5, shared=False, sigma=2.0, dtype=torch.float32,
                                          generator=torch.Generator().manual_seed(4))
    assert float32.dtype == torch.float32
    torch.testing.assert_close(float32.double(), norms, rtol=1e-4, atol=0)


@pytest.mark.parametrize("shared", [True, False])
def test_gaussian_weights_have_variance_sigma_squared_over_width_and_share_as_asked(shared):
    weights = probes.recurrence_weights(40, 50, shared=shared, sigma=2.0, generator=torch.Generator().manual_seed(6))
    assert weights.shape == (40, 50, 50)
    distinct = weights[:1] if shared else weights  # 2500 or 100 000 entries
    assert abs(distinct.std().item() / (2.0 / math.sqrt(50)) - 1) < (0.06 if shared else 0.01)
    assert abs(distinct.mean().item()) < 4 * (2.0 / math.sqrt(50)) / math.sqrt(distinct.numel())
    same = all(torch.equal(weights[0], w) for w in weights)
    assert same == shared
    again = probes.recurrence_weights(40, 50, shared=shared, sigma=2.0, generator=torch.Generator().manual_seed(6))
    assert torch.equal(again, weights)


def test_orthogonal_weights_have_every_singular_value_sigma():
    weights = probes.recurrence_weights(3, 6, shared=False, sigma=0.7, init="orthogonal",
                                        generator=torch.Generator().manual_seed(7))
    torch.testing.assert_close(torch.linalg.svdvals(weights), torch.full((3, 6), 0.7), rtol=1e-12, atol=0)
    assert not torch.equal(weights[0], weights[1])


def test_gaussian_log_growth_is_the_law_of_one_step_back_through_a_random_linear_layer():
    n, sigma, draws = 8, 1.5, 40_000
    g = torch.Generator().manual_seed(8)
    w = torch.randn(draws, n, n, generator=g) * sigma / math.sqrt(n)
    v = torch.randn(draws, n, generator=g)
    logs = (torch.linalg.vector_norm((w.transpose(1, 2) @ v.unsqueeze(-1)).squeeze(-1), dim=1)
            / torch.linalg.vector_norm(v, dim=1)).log()
    mean, variance = probes.gaussian_log_growth(n, sigma)
    assert abs(logs.mean().item() - mean) < 4 * math.sqrt(variance / draws)
    assert abs(logs.var().item() / variance - 1) < 0.05
    assert mean < math.log(sigma) and variance == pytest.approx(1 / (2 * n), rel=0.2)


def test_independent_linear_layers_grow_at_the_gaussian_rate():
    n, depth, networks = 8, 20, 300
    steps = []
    for seed in range(networks):
        norms = probes.recurrent_grad_norms(depth, n, shared=False, sigma=0.8, nonlinearity="linear",
                                            generator=torch.Generator().manual_seed(seed))
        steps.append((norms[:-1] / norms[1:]).log())
    steps = torch.cat(steps)
    mean, variance = probes.gaussian_log_growth(n, 0.8)
    assert abs(steps.mean().item() - mean) < 4 * math.sqrt(variance / steps.numel())


def test_log_growth_rate_is_the_slope_back_through_the_layers():
    norms = 3.0 * torch.exp(0.25 * torch.arange(9, -1, -1.0))  # grows by e^0.25 per step back
    assert probes.log_growth_rate(norms) == pytest.approx(0.25, abs=1e-12)
    assert probes.log_growth_rate(norms.flip(0)) == pytest.approx(-0.25, abs=1e-12)
    with pytest.raises(ValueError, match="norms: expected positive norms"):
        probes.log_growth_rate(torch.tensor([1.0, 0.0, 2.0]))


@pytest.mark.parametrize("batch_norm, residual", [(False, False), (True, False), (False, True), (True, True)])
def test_plain_cnn_is_built_as_described(batch_norm, residual):
    net = probes.plain_cnn(5, 4, in_channels=2, classes=3, batch_norm=batch_norm, residual=residual)
    assert len(net.layers) == 5 and not isinstance(net.layers[0], probes.Residual)
    for i, layer in enumerate(net.layers):
        assert isinstance(layer, probes.Residual) == (residual and i > 0)
        body = layer.f if isinstance(layer, probes.Residual) else layer
        kinds = [type(m) for m in body]
        assert kinds == ([nn.Conv2d, nn.BatchNorm2d, nn.ReLU] if batch_norm else [nn.Conv2d, nn.ReLU])
        conv = body[0]
        assert conv.kernel_size == (3, 3) and conv.padding == (1, 1) and conv.stride == (1, 1)
        assert conv.in_channels == (2 if i == 0 else 4) and conv.out_channels == 4
        assert (conv.bias is None) == batch_norm
    assert [type(m) for m in net.head] == [nn.AdaptiveAvgPool2d, nn.Flatten, nn.Linear]
    assert not any(isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)) for m in net.modules())
    images = torch.randn(7, 2, 8, 8)
    assert net.layers(images).shape == (7, 4, 8, 8) and net(images).shape == (7, 3)


def test_residual_layers_add_their_input():
    net = probes.plain_cnn(3, 4, in_channels=4, residual=True)
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(net.layers[1](x), x + net.layers[1].f(x), rtol=0, atol=0)


def test_he_init_draws_conv_weights_with_std_sqrt_two_over_fan_in_and_zero_biases():
    torch.manual_seed(9)
    net = probes.plain_cnn(3, 64, init="he")
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        fan_in = conv.in_channels * 9
        w = conv.weight
        # relative standard error of a sample std is about 1 / √(2 · numel): 3% for 576 entries, 0.4% for 36 864
        margin = 5 / math.sqrt(2 * w.numel())
        assert abs(w.std().item() / math.sqrt(2 / fan_in) - 1) < margin
        assert abs(w.mean().item()) < 5 * math.sqrt(2 / fan_in) / math.sqrt(w.numel())
        assert bool((conv.bias == 0).all())
    assert net.head[2].weight.abs().max().item() <= 1 / math.sqrt(64)  # the readout keeps PyTorch's init


def test_default_init_is_pytorchs_own():
    torch.manual_seed(10)
    net = probes.plain_cnn(2, 5)
    torch.manual_seed(10)
    first, second = nn.Conv2d(1, 5, 3, padding=1), nn.Conv2d(5, 5, 3, padding=1)
    for ours, theirs in zip((net.layers[0][0], net.layers[1][0]), (first, second)):
        assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)


def test_dtype_and_device_follow_the_arguments():
    net = probes.plain_cnn(2, 3, batch_norm=True, dtype=torch.float32, device="cpu")
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in net.parameters())
    norms = probes.cnn_grad_norms(net, torch.randn(4, 1, 8, 8, dtype=torch.float32), torch.tensor([0, 1, 2, 3]))
    assert norms.dtype == torch.float32 and norms.shape == (2,)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match=r"init: expected one of \('default', 'he'\), got 'xavier'"):
        probes.plain_cnn(3, 4, init="xavier")
    with pytest.raises(ValueError, match="depth: expected an int >= 1, got 0"):
        probes.plain_cnn(0, 4)
    with pytest.raises(TypeError, match="channels: expected an int"):
        probes.plain_cnn(3, 4.0)
    with pytest.raises(TypeError, match="batch_norm: expected a bool"):
        probes.plain_cnn(3, 4, batch_norm=1)
    with pytest.raises(TypeError, match="residual: expected a bool"):
        probes.plain_cnn(3, 4, residual="yes")
    with pytest.raises(TypeError, match="dtype: expected a floating-point dtype"):
        probes.plain_cnn(3, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match="depth: expected an int >= 1, got -2"):
        probes.recurrent_grad_norms(-2, 4)
    with pytest.raises(TypeError, match="width: expected an int"):
        probes.recurrent_grad_norms(3, 4.5)
    with pytest.raises(ValueError, match="sigma: expected a positive number, got 0"):
        probes.recurrent_grad_norms(3, 4, sigma=0)
    with pytest.raises(TypeError, match="sigma: expected a positive number"):
        probes.recurrent_grad_norms(3, 4, sigma="1")
    with pytest.raises(TypeError, match="shared: expected a bool"):
        probes.recurrent_grad_norms(3, 4, shared=None)
    with pytest.raises(ValueError, match=r"init: expected one of \('gaussian', 'orthogonal'\), got 'he'"):
        probes.recurrent_grad_norms(3, 4, init="he")
    with pytest.raises(ValueError, match=r"nonlinearity: expected one of \('tanh', 'linear'\), got 'relu'"):
        probes.recurrent_grad_norms(3, 4, nonlinearity="relu")
    with pytest.raises(ValueError, match=r"weights: expected a tensor \[depth, width, width\], got \(3, 4, 5\)"):
        probes.recurrence_grad_norms(torch.zeros(3, 4, 5), torch.zeros(5), torch.zeros(5))
    with pytest.raises(ValueError, match="h0: expected a tensor \\[width\\] or \\[N, width\\] with width = 4"):
        probes.recurrence_grad_norms(torch.zeros(3, 4, 4), torch.zeros(5), torch.zeros(4))
    with pytest.raises(ValueError, match=r"direction: expected the shape of h0 \(2, 4\), got \(4,\)"):
        probes.recurrence_grad_norms(torch.zeros(3, 4, 4), torch.zeros(2, 4), torch.zeros(4))
    with pytest.raises(TypeError, match="layers: expected a non-empty sequence"):
        probes.activation_grad_norms([], torch.zeros(3), lambda a: a.sum())
    with pytest.raises(TypeError, match="x: expected a floating-point tensor"):
        probes.activation_grad_norms([torch.tanh], torch.zeros(3, dtype=torch.int64), lambda a: a.sum())
    with pytest.raises(TypeError, match="loss_fn: expected a callable"):
        probes.activation_grad_norms([torch.tanh], torch.zeros(3), "sum")
    with pytest.raises(ValueError, match=r"loss_fn: expected a scalar tensor, got \(3,\)"):
        probes.activation_grad_norms([torch.tanh], torch.zeros(3), lambda a: a)
    with pytest.raises(TypeError, match="net: expected a network of plain_cnn"):
        probes.cnn_grad_norms(nn.Linear(2, 2), torch.zeros(1, 2), torch.zeros(1, dtype=torch.int64))
    with pytest.raises(ValueError, match="width: expected an int >= 1, got 0"):
        probes.gaussian_log_growth(0, 1.0)
