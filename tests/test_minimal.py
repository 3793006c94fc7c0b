"""MinGRU and MinLSTM (Feng et al. 2024): the parallel scan against the step-by-step loop, both against the papers'
equations written out here by hand, in values and gradients; layouts; the float32 error of the scan at long T."""

import copy

import pytest
import torch

from gatedrnn.nn import minimal


@pytest.mark.parametrize("T", [1, 2, 3, 7, 8, 9, 100])
def test_the_scan_computes_the_recurrence(T):
    g = torch.Generator().manual_seed(T)
    a = torch.rand(T, 4, 5, generator=g, dtype=torch.float64) * 1.5  # also factors above one
    b = torch.randn(T, 4, 5, generator=g, dtype=torch.float64)
    h0 = torch.randn(4, 5, generator=g, dtype=torch.float64)
    by_hand, h = [], h0
    for t in range(T):
        h = a[t] * h + b[t]
        by_hand.append(h)
    torch.testing.assert_close(minimal.linear_scan(a, b, h0), torch.stack(by_hand), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(minimal.linear_loop(a, b, h0), torch.stack(by_hand), rtol=0, atol=0)
    for chunk in (None, 1, 3, T, T + 5):  # √T, one step a chunk, a padded last chunk, one chunk, a chunk past the end
        torch.testing.assert_close(minimal.linear_chunked_scan(a, b, h0, chunk), torch.stack(by_hand), rtol=1e-12,
                                   atol=1e-12)
    torch.testing.assert_close(minimal.linear_log_scan(torch.log(a + 0.01), b, h0), minimal.linear_loop(a + 0.01, b, h0),
                               rtol=1e-10, atol=1e-10)


def test_the_log_scan_has_finite_gradients_from_a_zero_state():
    # log 0 = -inf would make the gradient NaN where a part of b or h0 is zero; the floor keeps it finite and exact
    g = torch.Generator().manual_seed(5)
    a = (0.2 + 0.8 * torch.rand(30, 3, 4, generator=g, dtype=torch.float64)).requires_grad_()
    b = torch.randn(30, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    h0 = torch.zeros(3, 4, dtype=torch.float64)
    weights = torch.randn(30, 3, 4, generator=g, dtype=torch.float64)
    got = torch.autograd.grad((minimal.linear_log_scan(torch.log(a), b, h0) * weights).sum(), (a, b))
    expected = torch.autograd.grad((minimal.linear_loop(a, b, h0) * weights).sum(), (a, b))
    for x, y in zip(got, expected):
        assert torch.isfinite(x).all()
        torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-10)


def reference(module, x, h0):
    """The papers' equations, step by step, from the module's weights: x [T, N, I], h0 [N, H]."""
    h, states = h0, []
    for x_t in x:
        if isinstance(module, minimal.MinGRU):
            z = torch.sigmoid(x_t @ module.linear_z.weight.T + module.linear_z.bias)
            candidate = x_t @ module.linear_h.weight.T + module.linear_h.bias
            h = (1 - z) * h + z * candidate
        else:
            f = torch.sigmoid(x_t @ module.linear_f.weight.T + module.linear_f.bias)
            i = torch.sigmoid(x_t @ module.linear_i.weight.T + module.linear_i.bias)
            candidate = x_t @ module.linear_h.weight.T + module.linear_h.bias
            h = f / (f + i) * h + i / (f + i) * candidate
        states.append(h)
    return torch.stack(states)


@pytest.mark.parametrize("model", [minimal.MinGRU, minimal.MinLSTM])
def test_scan_and_loop_match_the_equations_in_values_and_gradients(model):
    torch.manual_seed(0)
    module = model(3, 6, dtype=torch.float64)
    x = torch.randn(37, 4, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(1, 4, 6, dtype=torch.float64)
    weights = torch.randn(37, 4, 6, dtype=torch.float64)
    expected = reference(module, x, h0[0])
    grads = {}
    for mode in minimal.MODES:
        output, h_n = module(x, h0, mode=mode)
        torch.testing.assert_close(output, expected, rtol=1e-9, atol=1e-9)
        torch.testing.assert_close(h_n, expected[-1:], rtol=1e-9, atol=1e-9)
        grads[mode] = torch.autograd.grad((output * weights).sum(), [x, *module.parameters()])
    for mode in ("scan", "chunked", "log"):
        for scan, loop in zip(grads[mode], grads["sequential"]):
            torch.testing.assert_close(scan, loop, rtol=1e-9, atol=1e-9)
    gates = ("z", "h") if model is minimal.MinGRU else ("f", "i", "h")
    assert [name for name, _ in module.named_parameters()] == [
        f"linear_{gate}.{kind}" for gate in gates for kind in ("weight", "bias")]


@pytest.mark.parametrize("model", [minimal.MinGRU, minimal.MinLSTM])
def test_layouts_batch_first_and_unbatched(model):
    torch.manual_seed(1)
    module = model(2, 3, batch_first=True, dtype=torch.float64)
    x = torch.randn(5, 9, 2, dtype=torch.float64)  # [N, T, I]
    output, h_n = module(x)
    assert output.shape == (5, 9, 3) and h_n.shape == (1, 5, 3)
    torch.testing.assert_close(output.transpose(0, 1), reference(module, x.transpose(0, 1),
                                                                 torch.zeros(5, 3, dtype=torch.float64)))
    single, last = module(x[0])
    assert single.shape == (9, 3) and last.shape == (1, 3)
    torch.testing.assert_close(single, output[0])


def test_the_float32_scan_at_long_sequences():
    # The scan multiplies up to T factors a_t in another order than the loop; in float32 its error against the
    # float64 states stays at the level of float32 rounding (|h| ~ 1), within a few times the float32 loop's.
    torch.manual_seed(2)
    module = minimal.MinGRU(4, 8, dtype=torch.float64)
    x = torch.randn(4096, 2, 4, dtype=torch.float64)
    exact, _ = module(x, mode="sequential")
    loop, _ = module.float()(x.float(), mode="sequential")
    for mode in ("scan", "chunked"):
        scan, _ = module(x.float(), mode=mode)
        error_scan, error_loop = ((states.double() - exact).abs().max().item() for states in (scan, loop))
        assert error_scan < 2e-6 and error_scan < 5 * error_loop, (mode, error_scan, error_loop)


@pytest.mark.parametrize("model, gate, bias", [(minimal.MinGRU, "linear_z", 18.0), (minimal.MinLSTM, "linear_f", -120.0)],
                         ids=["MinGRU z->1", "MinLSTM f'->0"])
def test_log_mode_stays_finite_where_a_gate_rounds_to_0_or_1(model, gate, bias):
    """In float32, σ(18) rounds to 1 (so 1 - z_t to 0) and σ(-120) to 0: log a_t taken of the rounded gate is -inf
    and the log scan's states NaN. Taken from the pre-activations it stays finite, and the states are the
    equations' (the float64 loop's), as the scan's and the loop's are: to float32 rounding of |A_T| (here about
    900 after 8 steps), the log form's known price, in log mode."""
    torch.manual_seed(0)
    module = model(3, 5, dtype=torch.float32)
    with torch.no_grad():
        getattr(module, gate).bias.fill_(bias)
    x = torch.randn(8, 4, 3, dtype=torch.float32)
    h0 = torch.randn(1, 4, 5, dtype=torch.float32)
    want = reference(copy.deepcopy(module).double(), x.double(), h0[0].double()).float()
    for mode in minimal.MODES:
        output, _ = module(x, h0, mode=mode)
        assert torch.isfinite(output).all(), mode
        tolerance = 1e-3 if mode == "log" else 1e-5
        torch.testing.assert_close(output, want, rtol=tolerance, atol=tolerance, msg=mode)


def test_bad_arguments_are_named():
    module = minimal.MinLSTM(2, 3)
    with pytest.raises(ValueError, match="mode: expected one of \\('scan', 'chunked', 'log', 'sequential'\\), got 'parallel'"):
        module(torch.randn(4, 1, 2), mode="parallel")
    with pytest.raises(ValueError, match="h0: expected shape \\(1, 1, 3\\), got \\(1, 3\\)"):
        module(torch.randn(4, 1, 2), torch.zeros(1, 3))
    with pytest.raises(ValueError, match="input_size=2"):
        module(torch.randn(4, 1, 5))
    with pytest.raises(TypeError, match="hidden_size"):
        minimal.MinGRU(2, 3.0)
    with pytest.raises(ValueError, match="a, b, h0"):
        minimal.linear_scan(torch.ones(3, 2), torch.ones(3, 3), torch.ones(2))
    with pytest.raises(ValueError, match="a, b, h0"):
        minimal.linear_chunked_scan(torch.ones(3, 2), torch.ones(3, 3), torch.ones(2))
    with pytest.raises(ValueError, match="chunk: expected an int >= 1, got 0"):
        minimal.linear_chunked_scan(torch.ones(3, 2), torch.ones(3, 2), torch.ones(2), chunk=0)


@pytest.mark.parametrize("T, chunk", [(1, None), (2, 1), (9, None), (9, 2), (9, 4), (9, 9), (9, 20), (17, None)])
def test_the_written_out_backward_is_the_recorded_loops_to_second_order(T, chunk):
    """The scans' backward passes are eq. (min-backward), written out: first and second derivatives against
    autograd's finite differences (gradcheck, gradgradcheck) and against the recorded loop's gradients."""
    g = torch.Generator().manual_seed(T)
    a = (torch.rand(T, 2, 3, generator=g, dtype=torch.float64) * 1.5).requires_grad_()
    b = torch.randn(T, 2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(T, 2, 3, generator=g, dtype=torch.float64)
    expected = torch.autograd.grad((minimal.linear_loop(a, b, h0) * weights).sum(), (a, b, h0))
    for scan in (minimal.linear_scan, lambda a, b, h0: minimal.linear_chunked_scan(a, b, h0, chunk)):
        got = torch.autograd.grad((scan(a, b, h0) * weights).sum(), (a, b, h0))
        for x, y in zip(got, expected):
            torch.testing.assert_close(x, y, rtol=1e-12, atol=1e-12)
        assert torch.autograd.gradcheck(scan, (a, b, h0))
        assert torch.autograd.gradgradcheck(scan, (a, b, h0))


def test_the_scans_keep_linear_memory_and_leave_their_inputs_alone():
    """What autograd keeps for the backward pass of a direct scan is a, h_0 and the states, 2 T + 1 arrays, counted
    against that closed form (a recorded Hillis–Steele scan keeps about 2 log₂ T + 1 arrays per step); the scans
    work in place on copies, never on a or b."""
    from gatedrnn.instruments import speed

    T, N, H = 256, 4, 8
    a = torch.rand(T, N, H, dtype=torch.float64, requires_grad=True)
    b = torch.randn(T, N, H, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(N, H, dtype=torch.float64, requires_grad=True)
    kept = (2 * T + 1) * N * H * 8
    for scan in (minimal.linear_scan, minimal.linear_chunked_scan,
                 lambda a, b, h0: minimal.linear_chunked_scan(a, b, h0, T)):
        before = [t.detach().clone() for t in (a, b, h0)]
        assert speed.saved_bytes(lambda: scan(a, b, h0).sum(), [b]) == kept
        scan(a, b, h0).sum().backward()
        for t, copy_ in zip((a, b, h0), before):
            assert torch.equal(t.detach(), copy_)


def log_g(v):
    """Feng et al.'s log g(v): log(v + 1/2) for v ≥ 0, log σ(v) below."""
    return torch.where(v >= 0, torch.log(torch.relu(v) + 0.5), -torch.nn.functional.softplus(-v))


def feng_log_space(module, x, h0):
    """Feng et al.'s log-space minimal models, as their equations give them: log-coefficients from the gates'
    pre-activations, the positive candidate in log space, and one cumulative sum and one log-sum-exp."""
    softplus = torch.nn.functional.softplus
    if isinstance(module, minimal.MinGRU):
        k = module.linear_z(x)
        log_coefficient, log_gate = -softplus(k), -softplus(-k)
    else:
        d = softplus(-module.linear_f(x)) - softplus(-module.linear_i(x))
        log_coefficient, log_gate = -softplus(d), -softplus(-d)
    log_values = torch.cat([torch.log(h0).unsqueeze(0), log_gate + log_g(module.linear_h(x))])
    a_star = torch.cat([torch.zeros_like(h0).unsqueeze(0), torch.cumsum(log_coefficient, dim=0)])
    return torch.exp(a_star + torch.logcumsumexp(log_values - a_star, dim=0))[1:]


@pytest.mark.parametrize("model", [minimal.MinGRU, minimal.MinLSTM])
def test_the_positive_candidate_is_feng_et_als_log_space_model(model):
    torch.manual_seed(4)
    module = model(3, 5, candidate="positive", dtype=torch.float64)
    x = torch.randn(40, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.rand(1, 2, 5, dtype=torch.float64) + 0.1
    weights = torch.randn(40, 2, 5, dtype=torch.float64)
    expected = feng_log_space(module, x, h0[0])
    want = torch.autograd.grad((expected * weights).sum(), [x, *module.parameters()])
    for mode in minimal.MODES:
        output, _ = module(x, h0, mode=mode)
        assert output.min() > 0, mode
        torch.testing.assert_close(output, expected, rtol=1e-10, atol=1e-10, msg=mode)
        got = torch.autograd.grad((output * weights).sum(), [x, *module.parameters()])
        for x_, y_ in zip(got, want):
            torch.testing.assert_close(x_, y_, rtol=1e-9, atol=1e-9, msg=mode)
    linear = model(3, 5, dtype=torch.float64)
    linear.load_state_dict(module.state_dict())
    assert not torch.allclose(linear(x, h0)[0], expected)  # another model, not another name


def test_the_positive_candidate_refuses_negative_states():
    module = minimal.MinGRU(2, 3, candidate="positive")
    with pytest.raises(ValueError, match="h0: expected no negative number with candidate='positive'"):
        module(torch.randn(4, 1, 2), -torch.ones(1, 1, 3))
    with pytest.raises(ValueError, match="candidate: expected one of \\('linear', 'positive'\\), got 'relu'"):
        minimal.MinLSTM(2, 3, candidate="relu")
    with pytest.raises(ValueError, match="b, h0: expected no negative number with positive=True"):
        minimal.linear_log_scan(torch.zeros(3, 2), -torch.ones(3, 2), torch.zeros(2), positive=True)


def test_the_scans_train_seeds_together_under_vmap():
    """The seeds trained together (torch.func.vmap over stacked parameters) get each seed's own gradient from every
    mode: against each model's gradient through the recorded loop, alone."""
    from torch.func import functional_call, grad, vmap

    torch.manual_seed(0)
    models = [minimal.MinLSTM(3, 5, dtype=torch.float64) for _ in range(3)]
    names = [name for name, _ in models[0].named_parameters()]
    stacked = {name: torch.stack([dict(m.named_parameters())[name] for m in models]).detach() for name in names}
    x = torch.randn(3, 17, 4, 3, dtype=torch.float64)
    for mode in minimal.MODES:
        def loss(p, x, mode=mode):
            return functional_call(models[0], p, (x,), {"mode": mode})[0].square().sum()

        together = vmap(grad(loss))(stacked, x)
        for s, model in enumerate(models):
            alone = torch.autograd.grad(model(x[s], mode="sequential")[0].square().sum(), list(model.parameters()))
            for name, expected in zip(names, alone):
                torch.testing.assert_close(together[name][s], expected, rtol=1e-9, atol=1e-9, msg=f"{mode} {name}")
