"""The layer-normalised LSTM and GRU and the batch-normalised LSTM against the papers' equations written out here by
hand, step by step, with torch.nn.functional.layer_norm and batch_norm doing the normalising: values, final states and
gradients in float64; the running statistics per step against the momentum formula; argument checks."""

import pytest
import torch
import torch.nn.functional as F

from gatedrnn.nn.normalised import BatchNormLSTM, LayerNormGRU, LayerNormLSTM

TOL = 1e-10
MOMENTUM = 0.1


def randomise_norms(module, generator):
    """Gains and biases away from their initial 1 and 0 (or 0.1), so that a misplaced one shows."""
    with torch.no_grad():
        for name, parameter in module.named_parameters():
            if name.startswith(("ln_", "bn_")):
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5 + (1 if "gain" in name else 0))
            elif name == "bias_l0":
                parameter.copy_(torch.randn(parameter.shape, generator=generator))


def inputs(T, N, I, H, seed, with_state=True, lstm=True):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, N, I, generator=g, requires_grad=True)
    if not with_state:
        return x, None
    h0 = torch.randn(1, N, H, generator=g, requires_grad=True)
    c0 = torch.randn(1, N, H, generator=g, requires_grad=True)
    return x, ((h0, c0) if lstm else h0)


def loss_of(output, state):
    """Weights every output and final state differently, so that every path carries gradient."""
    states = state if isinstance(state, tuple) else (state,)
    loss = (output * torch.linspace(-1, 2, output.numel()).reshape(output.shape)).sum()
    return loss + sum((k + 1.5) * (s**2).sum() for k, s in enumerate(states))


def compare(module, reference, x, hx):
    """Outputs, final states and gradients (input, initial state, every parameter) of module and reference."""
    leaves = [x, *(() if hx is None else hx if isinstance(hx, tuple) else (hx,)), *module.parameters()]
    results = []
    for run in (module, reference):
        output, state = run(x, hx)
        results.append((output, state, torch.autograd.grad(loss_of(output, state), leaves)))
    (out_a, state_a, grads_a), (out_b, state_b, grads_b) = results
    torch.testing.assert_close(out_a, out_b, atol=TOL, rtol=0)
    for a, b in zip(state_a if isinstance(state_a, tuple) else (state_a,),
                    state_b if isinstance(state_b, tuple) else (state_b,)):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)


# ---- references, written from the papers -----------------------------------------------------------------------
def layer_norm_lstm_reference(m):
    """Ba et al.'s supplement: gates = LN(W_h h) + LN(W_x x) + b, c = σ(f)c + σ(i)tanh(g), h = σ(o)tanh(LN(c))."""
    H, eps = m.hidden_size, m.eps

    def run(x, hx):
        h, c = (x.new_zeros(x.shape[1], H),) * 2 if hx is None else (hx[0][0], hx[1][0])
        outputs = []
        for x_t in x:
            gates = (F.layer_norm(h @ m.weight_hh_l0.T, (4 * H,), m.ln_hh_gain, m.ln_hh_bias, eps)
                     + F.layer_norm(x_t @ m.weight_ih_l0.T, (4 * H,), m.ln_ih_gain, m.ln_ih_bias, eps) + m.bias_l0)
            i, f = torch.sigmoid(gates[:, :H]), torch.sigmoid(gates[:, H:2 * H])
            g, o = torch.tanh(gates[:, 2 * H:3 * H]), torch.sigmoid(gates[:, 3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(F.layer_norm(c, (H,), m.ln_c_gain, m.ln_c_bias, eps))
            outputs.append(h)
        return torch.stack(outputs), (h[None], c[None])

    return run


def layer_norm_gru_reference(m):
    """The authors' LN-GRU in PyTorch's layout: (r, z) normalised together, n apart, in each share."""
    H, eps = m.hidden_size, m.eps

    def groups(a, gain, bias):
        return (F.layer_norm(a[:, :2 * H], (2 * H,), gain[:2 * H], bias[:2 * H], eps),
                F.layer_norm(a[:, 2 * H:], (H,), gain[2 * H:], bias[2 * H:], eps))

    def run(x, hx):
        h = x.new_zeros(x.shape[1], H) if hx is None else hx[0]
        b = m.bias_l0
        outputs = []
        for x_t in x:
            in_rz, in_n = groups(x_t @ m.weight_ih_l0.T, m.ln_ih_gain, m.ln_ih_bias)
            rec_rz, rec_n = groups(h @ m.weight_hh_l0.T, m.ln_hh_gain, m.ln_hh_bias)
            r = torch.sigmoid(in_rz[:, :H] + rec_rz[:, :H] + b[:H])
            z = torch.sigmoid(in_rz[:, H:] + rec_rz[:, H:] + b[H:2 * H])
            n = torch.tanh(in_n + b[2 * H:] + r * rec_n)
            h = (1 - z) * n + z * h
            outputs.append(h)
        return torch.stack(outputs), h[None]

    return run


def batch_norm_lstm_reference(m, running, record=None):
    """Cooijmans et al. eqs. (6)-(8) with F.batch_norm at each step t, on the statistics of step min(t, T_max - 1):
    the batch's in training (updating the rows of ``running``, a dict of [max_steps, ·] tensors), else ``running``."""
    H, eps, last = m.hidden_size, m.eps, m.max_steps - 1

    def bn(a, name, t, gain, bias):
        s = min(t, last)
        return F.batch_norm(a, running[name + "_mean"][s], running[name + "_var"][s], gain, bias,
                            training=m.training, momentum=MOMENTUM, eps=eps)

    def run(x, hx):
        h, c = (x.new_zeros(x.shape[1], H),) * 2 if hx is None else (hx[0][0], hx[1][0])
        outputs = []
        for t, x_t in enumerate(x):
            a_h, a_x = h @ m.weight_hh_l0.T, x_t @ m.weight_ih_l0.T
            gates = bn(a_h, "hh", t, m.bn_hh_gain, None) + bn(a_x, "ih", t, m.bn_ih_gain, None) + m.bias_l0
            i, f = torch.sigmoid(gates[:, :H]), torch.sigmoid(gates[:, H:2 * H])
            g, o = torch.tanh(gates[:, 2 * H:3 * H]), torch.sigmoid(gates[:, 3 * H:])
            c = f * c + i * g
            h = o * torch.tanh(bn(c, "c", t, m.bn_c_gain, m.bn_c_bias))
            outputs.append(h)
            if record is not None:
                record.append({"ih": a_x.detach(), "hh": a_h.detach(), "c": c.detach()})
        return torch.stack(outputs), (h[None], c[None])

    return run


def running_copy(m):
    return {f"{name}_{stat}": getattr(m, f"bn_{name}_running_{stat}").clone()
            for name in ("ih", "hh", "c") for stat in ("mean", "var")}


# ---- layer normalisation ---------------------------------------------------------------------------------------
CONFIGS = [  # (I, H, T, N, with an initial state, gains and biases randomised)
    (3, 5, 6, 4, True, True),
    (1, 1, 3, 2, False, False),
    (4, 2, 1, 1, True, True),
    (2, 7, 9, 3, False, True),
]


@pytest.mark.parametrize("I, H, T, N, with_state, random_norms", CONFIGS)
def test_layer_norm_lstm_matches_hand_written_equations_float64(I, H, T, N, with_state, random_norms):
    torch.manual_seed(I + H + T)
    module = LayerNormLSTM(I, H)
    if random_norms:
        randomise_norms(module, torch.Generator().manual_seed(T))
    x, hx = inputs(T, N, I, H, seed=T, with_state=with_state)
    compare(module, layer_norm_lstm_reference(module), x, hx)


@pytest.mark.parametrize("I, H, T, N, with_state, random_norms", CONFIGS)
def test_layer_norm_gru_matches_hand_written_equations_float64(I, H, T, N, with_state, random_norms):
    torch.manual_seed(I + H + T)
    module = LayerNormGRU(I, H)
    if random_norms:
        randomise_norms(module, torch.Generator().manual_seed(T))
    x, hx = inputs(T, N, I, H, seed=T, with_state=with_state, lstm=False)
    compare(module, layer_norm_gru_reference(module), x, hx)


def test_layer_norm_does_not_depend_on_the_mode_or_on_other_sequences():
    torch.manual_seed(0)
    module = LayerNormLSTM(3, 4)
    x = torch.randn(5, 6, 3)
    output = module(x)[0]
    torch.testing.assert_close(module.eval()(x)[0], output, atol=0, rtol=0)
    torch.testing.assert_close(module(x[:, 2:3])[0], output[:, 2:3], atol=TOL, rtol=0)  # batch of one, same answer


def test_initial_values_follow_the_papers():
    ln, gru, bn = LayerNormLSTM(3, 4), LayerNormGRU(3, 4), BatchNormLSTM(3, 4, max_steps=7)
    for module in (ln, gru):
        for name, parameter in module.named_parameters():
            if name.startswith("ln_"):
                assert torch.all(parameter == (1.0 if name.endswith("gain") else 0.0)), name
    for name in ("bn_ih_gain", "bn_hh_gain", "bn_c_gain"):
        assert torch.all(getattr(bn, name) == 0.1), name  # Cooijmans et al., sec. 4 and 5
    assert torch.all(bn.bn_c_bias == 0)
    for module in (ln, gru, bn):
        assert torch.all(module.bias_l0 == 0)
        bound = 1 / 4**0.5
        assert module.weight_ih_l0.abs().max() <= bound and module.weight_hh_l0.abs().max() <= bound
    assert [n for n, _ in bn.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "bias_l0", "bn_ih_gain", "bn_hh_gain", "bn_c_gain", "bn_c_bias"]
    shapes = {name: tuple(buffer.shape) for name, buffer in bn.named_buffers()}
    assert shapes == {"bn_ih_running_mean": (7, 16), "bn_ih_running_var": (7, 16), "bn_hh_running_mean": (7, 16),
                      "bn_hh_running_var": (7, 16), "bn_c_running_mean": (7, 4), "bn_c_running_var": (7, 4)}
    assert torch.all(bn.bn_hh_running_mean == 0) and torch.all(bn.bn_hh_running_var == 1)


# ---- batch normalisation ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("T, max_steps, with_state", [(5, 5, True), (4, 9, False), (7, 3, True)])
def test_batch_norm_lstm_training_matches_batch_norm_per_step_float64(T, max_steps, with_state):
    """Batch statistics at every step, gradients through them, and the running averages updated per step; with
    T > max_steps, steps from max_steps - 1 on update the last running average one after the other."""
    torch.manual_seed(T)
    module = BatchNormLSTM(3, 4, max_steps, momentum=MOMENTUM)
    randomise_norms(module, torch.Generator().manual_seed(1))
    running = running_copy(module)
    x, hx = inputs(T, 5, 3, 4, seed=T, with_state=with_state)
    compare(module, batch_norm_lstm_reference(module, running), x, hx)
    # compare() ran the module and the reference once each: both updated their running averages once
    for key, value in running.items():
        name, stat = key.split("_")
        torch.testing.assert_close(getattr(module, f"bn_{name}_running_{stat}"), value, atol=TOL, rtol=0)


def test_running_averages_after_one_pass_follow_the_momentum_formula():
    """r ← (1 - m) r + m s from r = 0 (means) and 1 (variances), s the batch mean and unbiased variance of each
    normalised quantity at each step, computed here by hand; steps never seen keep their initial values."""
    torch.manual_seed(3)
    T, N, max_steps = 4, 6, 6
    module = BatchNormLSTM(2, 3, max_steps, momentum=MOMENTUM)
    x = torch.randn(T, N, 2)
    record = []
    with torch.no_grad():
        module(x)
        batch_norm_lstm_reference(module, running_copy(BatchNormLSTM(2, 3, max_steps)), record)(x, None)
    for name in ("ih", "hh", "c"):
        means = torch.stack([step[name].sum(0) / N for step in record])
        variances = torch.stack([((step[name] - step[name].mean(0)) ** 2).sum(0) / (N - 1) for step in record])
        running_mean = getattr(module, f"bn_{name}_running_mean")
        running_var = getattr(module, f"bn_{name}_running_var")
        torch.testing.assert_close(running_mean[:T], MOMENTUM * means, atol=TOL, rtol=0)
        torch.testing.assert_close(running_var[:T], (1 - MOMENTUM) + MOMENTUM * variances, atol=TOL, rtol=0)
        assert torch.all(running_mean[T:] == 0) and torch.all(running_var[T:] == 1)
    assert torch.all(module.bn_hh_running_mean[0] == 0)  # W_hh h_0 = 0 for a zero initial state


def test_evaluation_uses_running_statistics_and_reuses_the_last_beyond_max_steps():
    torch.manual_seed(4)
    T, max_steps = 8, 3
    module = BatchNormLSTM(3, 4, max_steps)
    randomise_norms(module, torch.Generator().manual_seed(2))
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():  # running averages as if trained: any means, variances > 0
        for name, buffer in module.named_buffers():
            buffer.copy_(torch.randn(buffer.shape, generator=g) if name.endswith("mean")
                         else 0.2 + torch.rand(buffer.shape, generator=g))
    module.eval()
    before = running_copy(module)
    x, hx = inputs(T, 1, 3, 4, seed=6)  # evaluation needs no batch: one sequence
    compare(module, batch_norm_lstm_reference(module, running_copy(module)), x, hx)
    for key, value in before.items():  # evaluation leaves the running averages alone
        name, stat = key.split("_")
        assert torch.equal(getattr(module, f"bn_{name}_running_{stat}"), value)
    # the last row serves every step from max_steps - 1 on: changing it changes those steps only
    output = module(x, hx)[0]
    with torch.no_grad():
        module.bn_c_running_mean[max_steps - 1] += 0.5
    changed = module(x, hx)[0]
    torch.testing.assert_close(changed[:max_steps - 1], output[:max_steps - 1], atol=0, rtol=0)
    assert ((changed - output).abs().amax(dim=(1, 2))[max_steps - 1:] > 1e-3).all()


def test_batch_norm_training_and_evaluation_differ_and_training_needs_a_batch():
    torch.manual_seed(7)
    module = BatchNormLSTM(2, 3, max_steps=5)
    x = torch.randn(5, 4, 2)
    assert not torch.allclose(module(x)[0], module.eval()(x)[0])
    module.train()
    with pytest.raises(ValueError, match=r"input: .*batch >= 2"):
        module(torch.randn(5, 1, 2))
    module.reset_running_stats()
    assert torch.all(module.bn_ih_running_mean == 0) and torch.all(module.bn_ih_running_var == 1)


# ---- what models.LastStep and the rest of the package rely on -------------------------------------------------
@pytest.mark.parametrize("make", [lambda: LayerNormLSTM(3, 4), lambda: LayerNormGRU(3, 4),
                                  lambda: BatchNormLSTM(3, 4, 10)])
def test_layout_attributes_and_final_state(make):
    module = make()
    assert (module.batch_first, module.bidirectional, module.proj_size, module.num_layers) == (False, False, 0, 1)
    assert (module.input_size, module.hidden_size) == (3, 4)
    output, state = module(torch.randn(6, 2, 3))
    assert output.shape == (6, 2, 4)
    h_n = state[0] if isinstance(state, tuple) else state
    assert h_n.shape == (1, 2, 4)
    torch.testing.assert_close(h_n[0], output[-1], atol=0, rtol=0)
    module32 = LayerNormLSTM(3, 4, dtype=torch.float32)
    assert module32(torch.randn(2, 2, 3, dtype=torch.float32))[0].dtype == torch.float32


# ---- argument checks -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, name", [
    (lambda: LayerNormLSTM(0, 4), ValueError, "input_size"),
    (lambda: LayerNormGRU(3, 2.0), TypeError, "hidden_size"),
    (lambda: LayerNormLSTM(3, 4, eps=0.0), ValueError, "eps"),
    (lambda: LayerNormGRU(3, 4, eps="1e-5"), TypeError, "eps"),
    (lambda: LayerNormLSTM(3, 4, dtype=torch.int64), TypeError, "dtype"),
    (lambda: BatchNormLSTM(3, 4, 0), ValueError, "max_steps"),
    (lambda: BatchNormLSTM(3, 4, True), TypeError, "max_steps"),
    (lambda: BatchNormLSTM(3, 4, 5, momentum=0.0), ValueError, "momentum"),
    (lambda: BatchNormLSTM(3, 4, 5, momentum=1.5), ValueError, "momentum"),
    (lambda: BatchNormLSTM(3, 4, 5, momentum=None), TypeError, "momentum"),
    (lambda: BatchNormLSTM(3, 4, 5, eps=float("nan")), ValueError, "eps"),
])
def test_bad_constructor_arguments_are_named(call, error, name):
    with pytest.raises(error, match=rf"^{name}: "):
        call()


@pytest.mark.parametrize("make", [lambda: LayerNormLSTM(3, 4), lambda: BatchNormLSTM(3, 4, 5)])
@pytest.mark.parametrize("args, error, name", [  # built inside the test, where float64 is the default dtype
    (lambda: (torch.randn(5, 3),), ValueError, "input"),  # unbatched
    (lambda: (torch.randn(5, 2, 2),), ValueError, "input"),  # wrong input_size
    (lambda: (torch.randn(0, 2, 3),), ValueError, "input"),  # no steps
    (lambda: (torch.randn(5, 2, 3, dtype=torch.float32),), TypeError, "input"),
    (lambda: ([[0.0]],), TypeError, "input"),
    (lambda: (torch.randn(5, 2, 3), torch.zeros(1, 2, 4)), TypeError, "hx"),  # a tensor where (h_0, c_0) belongs
    (lambda: (torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(2, 4))), ValueError, r"hx\[1\]"),
    (lambda: (torch.randn(5, 2, 3), (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4))), ValueError, r"hx\[0\]"),
])
def test_bad_lstm_inputs_are_named(make, args, error, name):
    with pytest.raises(error, match=rf"^{name}: "):
        make()(*args())


@pytest.mark.parametrize("hx, error", [(lambda: (torch.zeros(1, 2, 4),), TypeError),
                                       (lambda: torch.zeros(1, 3, 4), ValueError)])
def test_bad_gru_state_is_named(hx, error):
    with pytest.raises(error, match=r"^hx: "):
        LayerNormGRU(3, 4)(torch.randn(5, 2, 3), hx())
