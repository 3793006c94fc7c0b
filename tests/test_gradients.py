"""grad_norms_through_time against an independent reference: torch.nn cells unrolled by hand, autograd on each h_t."""

import pytest
import torch
from torch import nn

import gatedrnn

REFERENCE_CELLS = {"RNN": nn.RNNCell, "LSTM": nn.LSTMCell, "GRU": nn.GRUCell}


def reference_norms(module, x, loss_fn, batch_first):
    """Unroll torch.nn cells (weights copied from ``module``) and differentiate L by every top-layer h_t."""
    mode, layers, H = type(module).__name__, module.num_layers, module.hidden_size
    cells = []
    for layer in range(layers):
        in_size = module.input_size if layer == 0 else H
        cell = REFERENCE_CELLS[mode](in_size, H, bias=module.bias)
        params = module.layer_parameters(layer)
        with torch.no_grad():
            cell.weight_ih.copy_(params.weight_ih)
            cell.weight_hh.copy_(params.weight_hh)
            if module.bias:
                cell.bias_ih.copy_(params.bias_ih)
                cell.bias_hh.copy_(params.bias_hh)
        cells.append(cell)
    seq = x.transpose(0, 1) if batch_first else x
    inputs = list(seq.unbind(0))
    for layer, cell in enumerate(cells):
        h = torch.zeros(seq.shape[1], H)
        c = torch.zeros(seq.shape[1], H)
        outs = []
        for x_t in inputs:
            if mode == "LSTM":
                h, c = cell(x_t, (h, c))
            else:
                h = cell(x_t, h)
            outs.append(h)
        inputs = outs
    output = torch.stack(inputs, dim=1 if batch_first else 0)
    grads = torch.autograd.grad(loss_fn(output), inputs)
    return torch.stack([g.norm() for g in grads])


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("batch_first", [False, True])
def test_grad_norms_exact_against_cell_unrolling(mode, layers, batch_first):
    torch.manual_seed(4)
    module = getattr(gatedrnn, mode)(3, 5, num_layers=layers, batch_first=batch_first)
    x = torch.randn(2, 12, 3) if batch_first else torch.randn(12, 2, 3)
    last = (lambda out: out[:, -1].pow(2).sum()) if batch_first else (lambda out: out[-1].pow(2).sum())
    every = lambda out: out.sin().mean()  # noqa: E731
    for loss_fn in (last, every):
        ours = gatedrnn.grad_norms_through_time(module, x, loss_fn)
        expected = reference_norms(module, x, loss_fn, batch_first)
        assert ours.shape == (12,)
        torch.testing.assert_close(ours, expected, atol=1e-12, rtol=1e-10)


def test_grad_norms_last_step_loss_equals_direct_gradient():
    """With L = ‖h_T‖², ∂L/∂h_T = 2 h_T: a closed form for the last entry."""
    torch.manual_seed(5)
    module = gatedrnn.RNN(2, 4)
    x = torch.randn(9, 3, 2)
    norms = gatedrnn.grad_norms_through_time(module, x, lambda out: out[-1].pow(2).sum())
    with torch.no_grad():
        h_T = module(x)[0][-1]
    torch.testing.assert_close(norms[-1], (2 * h_T).norm(), atol=1e-14, rtol=0)


def test_grad_norms_with_initial_state_and_unbatched_input():
    torch.manual_seed(6)
    module = gatedrnn.LSTM(2, 3)
    x = torch.randn(5, 2)
    hx = (torch.randn(1, 3), torch.randn(1, 3))
    norms = gatedrnn.grad_norms_through_time(module, x, lambda out: out.sum(), hx)
    assert norms.shape == (5,) and bool((norms > 0).all())


def test_grad_norms_leave_parameter_gradients_alone():
    module = gatedrnn.GRU(2, 3)
    gatedrnn.grad_norms_through_time(module, torch.randn(4, 1, 2), lambda out: out.sum())
    assert all(p.grad is None for p in module.parameters())


def test_grad_norms_reject_bidirectional_and_foreign_modules():
    with pytest.raises(ValueError, match="rnn: expected a unidirectional"):
        gatedrnn.grad_norms_through_time(gatedrnn.RNN(2, 3, bidirectional=True), torch.randn(4, 1, 2), torch.sum)
    with pytest.raises(TypeError, match="rnn: expected a gatedrnn"):
        gatedrnn.grad_norms_through_time(nn.RNN(2, 3), torch.randn(4, 1, 2), torch.sum)
    with pytest.raises(ValueError, match="loss_fn: expected a scalar"):
        gatedrnn.grad_norms_through_time(gatedrnn.RNN(2, 3), torch.randn(4, 1, 2), lambda out: out)


def test_decay_factor_recovers_a_geometric_sequence():
    t = torch.arange(30, dtype=torch.float64)
    for rho in (0.5, 0.93, 1.2):
        norms = 3.0 * rho ** (29 - t)
        norms[-1] = 1e6  # the last step is skipped by default
        assert abs(gatedrnn.decay_factor(norms) - rho) < 1e-12


def test_decay_factor_rejects_bad_norms():
    with pytest.raises(ValueError, match="norms: expected a 1-D tensor"):
        gatedrnn.decay_factor(torch.ones(2, 3))
    with pytest.raises(ValueError, match="norms: expected positive"):
        gatedrnn.decay_factor(torch.tensor([1.0, 0.0, 2.0, 1.0]))


def test_last_step_profile_is_the_gradient_through_the_readout_in_float64():
    torch.manual_seed(5)
    net = gatedrnn.nn.models.LastStep(gatedrnn.LSTM(2, 6, dtype=torch.float32), 1)  # the profile: a float64 copy
    x, y = gatedrnn.data.tasks.adding_problem(9, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    profile = gatedrnn.instruments.gradients.last_step_profile(net, x, y, gatedrnn.data.tasks.adding_loss)
    cell = nn.LSTMCell(2, 6).double()
    params = net.rnn.layer_parameters(0)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(params, name))
    readout = nn.Linear(6, 1).double()
    readout.load_state_dict(net.readout.state_dict())
    h = c = torch.zeros(4, 6, dtype=torch.float64)
    states = []
    for x_t in x.double().unbind(0):
        h, c = cell(x_t, (h, c))
        states.append(h)
    loss = ((readout(h).squeeze(-1) - y.double()) ** 2).mean()
    expected = torch.stack([g.norm() for g in torch.autograd.grad(loss, states)])
    assert profile.dtype == torch.float64 and net.readout.weight.dtype == torch.float32
    torch.testing.assert_close(profile, expected, rtol=1e-10, atol=0)
    with pytest.raises(TypeError, match="net: expected a models.LastStep, got LSTM"):
        gatedrnn.instruments.gradients.last_step_profile(net.rnn, x, y, gatedrnn.data.tasks.adding_loss)


def test_grad_norms_name_a_loss_fn_that_is_not_callable_or_ignores_the_output():
    rnn, x = gatedrnn.RNN(2, 3), torch.randn(4, 1, 2)
    # without the check, calling 3 would fail with Python's own "'int' object is not callable", naming nothing
    with pytest.raises(TypeError, match=r"^loss_fn: expected a callable output -> scalar, got int$"):
        gatedrnn.grad_norms_through_time(rnn, x, 3)
    # a constant has no gradient at all: without the check autograd fails with its own RuntimeError
    with pytest.raises(ValueError, match=r"^loss_fn: its value does not depend on the module's output$"):
        gatedrnn.grad_norms_through_time(rnn, x, lambda out: torch.tensor(1.0))
    # a loss that has a gradient, but not through the output: it has no ∂L/∂h_t to measure, rather than all zeros
    with pytest.raises(ValueError, match=r"^loss_fn: its value does not depend on the module's output$"):
        gatedrnn.grad_norms_through_time(rnn, x, lambda out: rnn.weight_hh_l0.sum())
    with pytest.raises(ValueError, match=r"^loss_fn: its value does not depend on the module's output$"):
        gatedrnn.grad_norms_through_time(rnn, x, lambda out: out.detach().sum() + rnn.weight_hh_l0.sum())
    # depending on the output at one step only is a dependence: the norms of the other steps are honest zeros
    norms = gatedrnn.grad_norms_through_time(rnn, x, lambda out: out[0].sum() * 0)
    assert torch.equal(norms, torch.zeros(4))


@pytest.mark.parametrize("skip_last", [0, 1, 3])
def test_decay_factor_accepts_two_fitted_steps_exactly_and_rejects_one(skip_last):
    rho, shortest = 0.7, skip_last + 2  # two steps left to fit a line through
    t = torch.arange(shortest, dtype=torch.float64)
    norms = 5.0 * rho ** (shortest - 1 - t)  # norms[t] = C ρ^(T-1-t), so the factor is ρ exactly
    norms[shortest - skip_last:] = 1e6  # the skipped steps do not enter the fit
    factor = gatedrnn.decay_factor(norms, skip_last=skip_last)
    assert factor == pytest.approx(rho, rel=1e-12)  # finite, and the closed form: two points fix the line
    message = rf"^norms: expected at least {shortest} steps with skip_last={skip_last}, got {shortest - 1}$"
    with pytest.raises(ValueError, match=message):
        gatedrnn.decay_factor(norms[1:], skip_last=skip_last)


def reference_cell_paths(net, x, y):
    """∂L/∂h_t and ∂L/∂c_t by autograd through torch.nn.LSTMCell (weights copied), and the carousel path built
    from torch.nn.LSTMCell's forget gate recomputed from its own weights: each sequence's gradients [T, N, H]."""
    lstm = net.rnn
    cell = nn.LSTMCell(lstm.input_size, lstm.hidden_size, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(lstm, f"{name}_l0"))
    h = torch.zeros(x.shape[1], lstm.hidden_size, dtype=torch.float64)
    c = torch.zeros_like(h)
    hs, cs, forget = [], [], []
    H = lstm.hidden_size
    for x_t in x.unbind(0):
        gates = x_t @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
        forget.append(torch.sigmoid(gates[:, H:2 * H]).detach())  # torch's gate order: i, f, g, o
        h, c = cell(x_t, (h, c))
        hs.append(h)
        cs.append(c)
    loss = ((net.readout(h) - y) ** 2).sum()
    grads = torch.autograd.grad(loss, hs + cs)
    grad_h, grad_c = torch.stack(grads[: len(hs)]), torch.stack(grads[len(hs):])
    carousel = []
    for t in range(len(hs)):
        kept = torch.ones_like(forget[0])
        for f in forget[t + 1:]:
            kept = kept * f
        carousel.append(kept * grad_c[-1])
    return grad_h, grad_c, torch.stack(carousel)


def test_lstm_gradient_paths_against_torch_cells_and_autograd():
    torch.manual_seed(2)
    net = gatedrnn.nn.models.LastStep(gatedrnn.LSTM(2, 6), 1).double()
    x, y = torch.randn(15, 4, 2, dtype=torch.float64), torch.randn(4, 1, dtype=torch.float64)
    paths = gatedrnn.instruments.gradients.lstm_gradient_paths(net, x, y, lambda out, t: ((out - t) ** 2).sum())
    grad_h, grad_c, carousel = reference_cell_paths(net, x, y)
    torch.testing.assert_close(paths.h, grad_h.norm(dim=-1), atol=1e-14, rtol=1e-10)
    torch.testing.assert_close(paths.c, grad_c.norm(dim=-1), atol=1e-14, rtol=1e-10)
    torch.testing.assert_close(paths.carousel, carousel.norm(dim=-1), atol=1e-14, rtol=1e-10)
    expected_share = (carousel * grad_c).sum(-1) / grad_c.pow(2).sum(-1)
    torch.testing.assert_close(paths.share, expected_share, atol=1e-12, rtol=1e-10)
    assert paths.h.shape == (15, 4) and float(paths.share[-1].min()) == pytest.approx(1.0)  # c_T: one path


def test_without_recurrent_weights_the_carousel_is_the_only_path():
    """With W_hh = 0 no gate reads h_{t-1}, so c_t reaches the loss along the cell alone (exercise 6.1)."""
    torch.manual_seed(3)
    net = gatedrnn.nn.models.LastStep(gatedrnn.LSTM(3, 5), 1).double()
    with torch.no_grad():
        net.rnn.weight_hh_l0.zero_()
    x, y = torch.randn(20, 3, 3, dtype=torch.float64), torch.randn(3, 1, dtype=torch.float64)
    paths = gatedrnn.instruments.gradients.lstm_gradient_paths(net, x, y, torch.nn.functional.mse_loss)
    torch.testing.assert_close(paths.carousel, paths.c, atol=1e-15, rtol=1e-12)
    torch.testing.assert_close(paths.share, torch.ones_like(paths.share), atol=0, rtol=1e-12)


def test_lstm_gradient_paths_rejects_what_it_cannot_measure():
    paths = gatedrnn.instruments.gradients.lstm_gradient_paths
    x, y = torch.randn(5, 2, 3), torch.randn(2, 1)
    with pytest.raises(TypeError, match="net: expected a models.LastStep, got LSTM"):
        paths(gatedrnn.LSTM(3, 4), x, y, torch.nn.functional.mse_loss)
    with pytest.raises(ValueError, match="net: expected a one-layer, unidirectional gatedrnn.LSTM"):
        paths(gatedrnn.nn.models.LastStep(gatedrnn.GRU(3, 4), 1), x, y, torch.nn.functional.mse_loss)
    with pytest.raises(ValueError, match=r"inputs: expected a tensor \[T, N, 3\], got torch.Size\(\[5, 2\]\)"):
        paths(gatedrnn.nn.models.LastStep(gatedrnn.LSTM(3, 4), 1), x[..., 0], y, torch.nn.functional.mse_loss)
