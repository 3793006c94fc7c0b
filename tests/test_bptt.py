"""The hand-written backward pass through time against autograd (full and truncated) and finite differences."""

import pytest
import torch

from gatedrnn.instruments import bptt


def problem(seed=0, T=9, N=3, I=2, H=4, scale=1.0):
    generator = torch.Generator().manual_seed(seed)
    randn = lambda *shape: torch.randn(*shape, generator=generator, dtype=torch.float64)  # noqa: E731
    return {
        "x": randn(T, N, I),
        "h0": randn(N, H),
        "weight_ih": randn(H, I) / 2,
        "weight_hh": scale * randn(H, H) / H**0.5,
        "bias": randn(H) / 2,
    }, randn(T, N, H)  # the second item weighs each state in the loss L = Σ_t <w_t, h_t>


def autograd_gradients(inputs, weights, truncation=None):
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    h, states = leaves["h0"], []
    for t, x_t in enumerate(leaves["x"]):
        if truncation is not None and t > 0 and t % truncation == 0:
            h = h.detach()  # the practice of truncated BPTT: no gradient across the cut
        h = torch.tanh(x_t @ leaves["weight_ih"].T + leaves["bias"] + h @ leaves["weight_hh"].T)
        states.append(h)
    states = torch.stack(states)
    loss = (weights * states).sum()
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return dict(zip(leaves, grads)), states


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("truncation", [None, 1, 3, 4, 20])
def test_backward_matches_autograd_float64(seed, truncation):
    inputs, weights = problem(seed, scale=1.5)
    states = bptt.rnn_forward(**inputs)
    ours = bptt.rnn_backward(weights, inputs["x"], inputs["h0"], states, inputs["weight_ih"], inputs["weight_hh"],
                             truncation=truncation)
    expected, expected_states = autograd_gradients(inputs, weights, truncation)
    torch.testing.assert_close(states, expected_states, atol=1e-14, rtol=0)
    for name in ("x", "weight_ih", "weight_hh", "bias"):  # h0 below
        torch.testing.assert_close(getattr(ours, name), expected[name], atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(ours.h0, expected["h0"], atol=1e-12, rtol=1e-12)


def test_backward_matches_central_finite_differences():
    inputs, weights = problem(5, T=6)
    states = bptt.rnn_forward(**inputs)
    ours = bptt.rnn_backward(weights, inputs["x"], inputs["h0"], states, inputs["weight_ih"], inputs["weight_hh"])
    loss = lambda values: (weights * bptt.rnn_forward(**values)).sum().item()  # noqa: E731
    eps = 1e-6
    for name in ("weight_hh", "weight_ih", "bias", "h0"):
        for index in [(0,) * inputs[name].dim(), tuple(s - 1 for s in inputs[name].shape)]:
            plus = {k: v.clone() for k, v in inputs.items()}
            minus = {k: v.clone() for k, v in inputs.items()}
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            assert abs(getattr(ours, name)[index].item() - numeric) < 1e-8, (name, index)


def test_truncation_zeroes_the_gradient_of_inputs_beyond_the_window():
    """With the loss on the last step only, inputs more than k steps back receive exactly nothing."""
    inputs, _ = problem(2, T=10)
    weights = torch.zeros(10, 3, 4, dtype=torch.float64)
    weights[-1] = 1.0
    states = bptt.rnn_forward(**inputs)
    truncated = bptt.rnn_backward(weights, inputs["x"], inputs["h0"], states, inputs["weight_ih"],
                                  inputs["weight_hh"], truncation=4)
    assert bool((truncated.x[:8] == 0).all()) and bool((truncated.x[8:] != 0).any())


def test_bad_arguments():
    inputs, weights = problem()
    with pytest.raises(ValueError, match=r"weight_hh: expected shape \(4, 4\), got \(4, 3\)"):
        bptt.rnn_forward(**(inputs | {"weight_hh": torch.zeros(4, 3, dtype=torch.float64)}))
    with pytest.raises(ValueError, match=r"x: expected shape \(T, N, I\)"):
        bptt.rnn_forward(**(inputs | {"x": torch.zeros(3, 2, dtype=torch.float64)}))
    states = bptt.rnn_forward(**inputs)
    with pytest.raises(ValueError, match=r"truncation: expected None or an int >= 1, got 0"):
        bptt.rnn_backward(weights, inputs["x"], inputs["h0"], states, inputs["weight_ih"], inputs["weight_hh"], 0)
    with pytest.raises(ValueError, match=r"g: expected shape \(9, 3, 4\)"):
        bptt.rnn_backward(weights[1:], inputs["x"], inputs["h0"], states, inputs["weight_ih"], inputs["weight_hh"])


def test_delta_is_the_total_derivative_of_each_state():
    inputs, weights = problem(7, T=8)
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    h, states = leaves["h0"], []
    for x_t in leaves["x"]:
        h = torch.tanh(x_t @ leaves["weight_ih"].T + leaves["bias"] + h @ leaves["weight_hh"].T)
        states.append(h)
    totals = torch.autograd.grad((weights * torch.stack(states)).sum(), states)
    ours = bptt.rnn_backward(weights, inputs["x"], inputs["h0"], bptt.rnn_forward(**inputs), inputs["weight_ih"],
                             inputs["weight_hh"])
    torch.testing.assert_close(ours.delta, torch.stack(totals), atol=1e-13, rtol=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_jacobian_products_match_autograd_jacobian_of_h_t_wrt_h0(seed):
    inputs, _ = problem(seed, scale=1.5)
    T, N, H = inputs["x"].shape[0], inputs["h0"].shape[0], inputs["h0"].shape[1]
    products = bptt.jacobian_products(bptt.rnn_forward(**inputs), inputs["weight_hh"])
    assert products.shape == (T, N, H, H)
    for t in (1, T // 2, T):
        def h_t(h0):
            return bptt.rnn_forward(**{**inputs, "h0": h0})[t - 1]
        full = torch.autograd.functional.jacobian(h_t, inputs["h0"])  # [N, H, N, H]; sequences are independent
        expected = torch.stack([full[n, :, n, :] for n in range(N)])
        torch.testing.assert_close(products[t - 1], expected, rtol=0, atol=1e-12)


def test_jacobian_products_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"states: expected shape \(T, N, H\)"):
        bptt.jacobian_products(torch.zeros(3, 4), torch.zeros(4, 4))
    with pytest.raises(ValueError, match=r"weight_hh: expected shape \(4, 4\)"):
        bptt.jacobian_products(torch.zeros(3, 2, 4), torch.zeros(4, 5))
