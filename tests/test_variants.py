"""LSTM and GRU variants: "vanilla" against torch.nn, every other variant against its equations written out here as a
loop, and each against the limits that turn it into another model."""

import math

import pytest
import torch
from torch import nn

from gatedrnn.nn import models, variants
from gatedrnn.nn.variants import VARIANTS_GRU, VARIANTS_LSTM, VariantGRU, VariantLSTM

TOL = 1e-10
F64 = torch.float64
# The documented row order of each variant's gate blocks, written here again so that the test checks the layout.
ORDER = {
    ("LSTM", "vanilla"): "ifgo",
    ("LSTM", "no input gate"): "fgo",
    ("LSTM", "no forget gate"): "igo",
    ("LSTM", "no output gate"): "ifg",
    ("LSTM", "CIFG"): "igo",
    ("LSTM", "peepholes"): "ifgo",
    ("GRU", "vanilla"): "rzn",
    ("GRU", "no reset gate"): "zn",
}
SHAPES = [(7, 3, 4, 5, True), (1, 1, 1, 1, False), (5, 2, 3, 6, False)]  # T, N, I, H, with an initial state


def block(module, name, gate, family):
    """Rows of gate ``gate`` in parameter ``name``, found by the documented order."""
    H, k = module.hidden_size, ORDER[family, module.variant].index(gate)
    return getattr(module, name)[k * H : (k + 1) * H]


def reference_lstm(m, x, h, c):
    """Every equation of the variant of ``m``, one step after another: [T, N, I] → outputs, h_T, c_T."""
    order, v = ORDER["LSTM", m.variant], m.variant

    def a(gate, x_t, h):  # W_i· x_t + b_i· + W_h· h_{t-1} + b_h·
        wi, wh = block(m, "weight_ih_l0", gate, "LSTM"), block(m, "weight_hh_l0", gate, "LSTM")
        return x_t @ wi.T + block(m, "bias_ih_l0", gate, "LSTM") + h @ wh.T + block(m, "bias_hh_l0", gate, "LSTM")

    def peep(gate, cell):
        return getattr(m, f"peephole_{gate}") * cell if v == "peepholes" else 0.0

    outputs = []
    for x_t in x:
        i = torch.sigmoid(a("i", x_t, h) + peep("i", c)) if "i" in order else 1.0
        if v == "CIFG":
            f = 1.0 - i
        else:
            f = torch.sigmoid(a("f", x_t, h) + peep("f", c)) if "f" in order else 1.0
        g = torch.tanh(a("g", x_t, h))
        c = f * c + i * g
        o = torch.sigmoid(a("o", x_t, h) + peep("o", c)) if "o" in order else 1.0
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), h, c


def reference_gru(m, x, h):
    """The GRU's equations (reset-after form), r ≡ 1 when the variant has no reset gate."""
    order = ORDER["GRU", m.variant]

    def parts(gate, x_t, h):  # (W_i· x_t + b_i·, W_h· h_{t-1} + b_h·)
        wi, wh = block(m, "weight_ih_l0", gate, "GRU"), block(m, "weight_hh_l0", gate, "GRU")
        return x_t @ wi.T + block(m, "bias_ih_l0", gate, "GRU"), h @ wh.T + block(m, "bias_hh_l0", gate, "GRU")

    outputs = []
    for x_t in x:
        r = torch.sigmoid(sum(parts("r", x_t, h))) if "r" in order else 1.0
        z = torch.sigmoid(sum(parts("z", x_t, h)))
        u_n, v_n = parts("n", x_t, h)
        n = torch.tanh(u_n + r * v_n)
        h = (1 - z) * n + z * h
        outputs.append(h)
    return torch.stack(outputs), h


def weighted_loss(output, states):
    """Every output and final state weighted differently, so that every path carries gradient."""
    loss = (output * torch.linspace(-1, 2, output.numel(), dtype=output.dtype).reshape(output.shape)).sum()
    for k, s in enumerate(states):
        loss = loss + (k + 1.5) * (s**2).sum()
    return loss


def assert_same_run(run_a, run_b, leaves):
    """Two runs ``() -> (output, [states])`` of the same leaves: values and gradients agree to TOL."""
    results = []
    for run in (run_a, run_b):
        output, states = run()
        results.append((output, states, torch.autograd.grad(weighted_loss(output, states), leaves)))
    (out_a, states_a, grads_a), (out_b, states_b, grads_b) = results
    assert out_a.shape == out_b.shape
    torch.testing.assert_close(out_b, out_a, atol=TOL, rtol=0)
    for a, b in zip(states_a, states_b, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


def inputs(T, N, I, H, with_state, states, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(T, N, I, dtype=F64, generator=g, requires_grad=True)
    s0 = [torch.randn(1, N, H, dtype=F64, generator=g, requires_grad=True) for _ in range(states)] if with_state else []
    return x, s0


# ---- "vanilla" is torch.nn ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("T, N, I, H, with_state", SHAPES)
@pytest.mark.parametrize("family", ["LSTM", "GRU"])
def test_vanilla_matches_torch_float64(family, T, N, I, H, with_state):
    torch.manual_seed(T * 100 + H)
    theirs = getattr(nn, family)(I, H, dtype=F64)
    ours = (VariantLSTM if family == "LSTM" else VariantGRU)(I, H, dtype=F64)
    ours.load_state_dict(theirs.state_dict())  # same names and shapes, strictly
    x, s0 = inputs(T, N, I, H, with_state, 2 if family == "LSTM" else 1, seed=H)
    hx = (tuple(s0) if family == "LSTM" else s0[0]) if with_state else None

    results = []
    for module in (theirs, ours):  # each module's own parameters hold the same values: gradients compared pairwise
        output, state = module(x, hx)
        states = list(state) if family == "LSTM" else [state]
        grads = torch.autograd.grad(weighted_loss(output, states), [x, *s0, *module.parameters()])
        results.append((output, states, grads))
    (out_t, st_t, grads_t), (out_o, st_o, grads_o) = results
    torch.testing.assert_close(out_o, out_t, atol=TOL, rtol=0)
    for a, b in zip(st_t, st_o, strict=True):
        assert a.shape == b.shape == (1, N, H)
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)
    for a, b in zip(grads_t, grads_o, strict=True):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


@pytest.mark.parametrize("family", ["LSTM", "GRU"])
def test_vanilla_same_seed_gives_torchs_parameters(family):
    torch.manual_seed(3)
    theirs = getattr(nn, family)(3, 6)
    torch.manual_seed(3)
    ours = (VariantLSTM if family == "LSTM" else VariantGRU)(3, 6)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for a, b in zip(theirs.parameters(), ours.parameters(), strict=True):
        assert torch.equal(a, b)


def test_vanilla_unbatched_input_matches_torch():
    torch.manual_seed(0)
    theirs = nn.LSTM(2, 3, dtype=F64)
    ours = VariantLSTM(2, 3, dtype=F64)
    ours.load_state_dict(theirs.state_dict())
    x, h0, c0 = torch.randn(4, 2, dtype=F64), torch.randn(1, 3, dtype=F64), torch.randn(1, 3, dtype=F64)
    (out_t, (h_t, c_t)), (out_o, (h_o, c_o)) = theirs(x, (h0, c0)), ours(x, (h0, c0))
    assert out_o.shape == (4, 3) and h_o.shape == c_o.shape == (1, 3)
    for a, b in ((out_t, out_o), (h_t, h_o), (c_t, c_o)):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


# ---- every variant against its equations written out ----------------------------------------------------------
@pytest.mark.parametrize("T, N, I, H, with_state", SHAPES)
@pytest.mark.parametrize("variant", VARIANTS_LSTM)
def test_lstm_variant_matches_its_equations_float64(variant, T, N, I, H, with_state):
    torch.manual_seed(T + 10 * H)
    m = VariantLSTM(I, H, variant, dtype=F64)
    x, s0 = inputs(T, N, I, H, with_state, 2, seed=T)
    h0, c0 = (s0[0][0], s0[1][0]) if with_state else (torch.zeros(N, H, dtype=F64),) * 2

    def ours():
        output, (h, c) = m(x, tuple(s0) if with_state else None)
        return output, [h[0], c[0]]

    def reference():
        output, h, c = reference_lstm(m, x, h0, c0)
        return output, [h, c]

    assert_same_run(reference, ours, [x, *s0, *m.parameters()])


@pytest.mark.parametrize("T, N, I, H, with_state", SHAPES)
@pytest.mark.parametrize("variant", VARIANTS_GRU)
def test_gru_variant_matches_its_equations_float64(variant, T, N, I, H, with_state):
    torch.manual_seed(T + 10 * H)
    m = VariantGRU(I, H, variant, dtype=F64)
    x, s0 = inputs(T, N, I, H, with_state, 1, seed=T)
    h0 = s0[0][0] if with_state else torch.zeros(N, H, dtype=F64)

    def ours():
        output, h = m(x, s0[0] if with_state else None)
        return output, [h[0]]

    def reference():
        output, h = reference_gru(m, x, h0)
        return output, [h]

    assert_same_run(reference, ours, [x, *s0, *m.parameters()])


# ---- limits: a removed gate is the full model with that gate saturated; special weights give other models ------
BIG = 1000.0  # σ(1000) == 1 exactly in float64, and σ'(1000) == 0


@pytest.mark.parametrize("family, variant, gate", [("LSTM", "no input gate", "i"), ("LSTM", "no forget gate", "f"),
                                                    ("LSTM", "no output gate", "o"), ("GRU", "no reset gate", "r")])
def test_a_removed_gate_is_torchs_model_with_that_gate_pinned_open(family, variant, gate):
    torch.manual_seed(1)
    T, N, I, H = 6, 3, 2, 4
    ours = (VariantLSTM if family == "LSTM" else VariantGRU)(I, H, variant, dtype=F64)
    theirs = getattr(nn, family)(I, H, dtype=F64)
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            full = getattr(theirs, name)
            for k, g in enumerate(ORDER[family, "vanilla"]):
                rows = full[k * H : (k + 1) * H]
                if g == gate:  # zero weights, a bias that pins the gate at exactly 1
                    rows.fill_(BIG if name == "bias_ih_l0" else 0.0)
                else:
                    rows.copy_(block(ours, name, g, family))
    x, s0 = inputs(T, N, I, H, True, 2 if family == "LSTM" else 1, seed=5)
    hx = tuple(s0) if family == "LSTM" else s0[0]

    def run(module):
        def call():
            output, state = module(x, hx)
            return output, list(state) if family == "LSTM" else [state]
        return call

    assert_same_run(run(theirs), run(ours), [x, *s0])


def test_peepholes_with_zero_weights_are_vanilla():
    torch.manual_seed(2)
    peep = VariantLSTM(3, 5, "peepholes", dtype=F64)
    vanilla = VariantLSTM(3, 5, "vanilla", dtype=F64)
    with torch.no_grad():
        for name in ("peephole_i", "peephole_f", "peephole_o"):
            getattr(peep, name).zero_()
    vanilla.load_state_dict({k: v for k, v in peep.state_dict().items() if not k.startswith("peephole")})
    x, s0 = inputs(8, 2, 3, 5, True, 2, seed=4)

    def run(module):
        def call():
            output, (h, c) = module(x, tuple(s0))
            return output, [h, c]
        return call

    assert_same_run(run(vanilla), run(peep), [x, *s0])


def test_peepholes_from_a_seed_share_vanillas_weights():
    """Peepholes are drawn after torch.nn's four tensors, so the same seed gives the same W and b."""
    torch.manual_seed(9)
    vanilla = VariantLSTM(3, 5)
    torch.manual_seed(9)
    peep = VariantLSTM(3, 5, "peepholes")
    for name, value in vanilla.state_dict().items():
        assert torch.equal(peep.state_dict()[name], value), name
    bound = 1 / math.sqrt(5)
    for name in ("peephole_i", "peephole_f", "peephole_o"):
        p = getattr(peep, name)
        assert p.shape == (5,) and bool((p.abs() <= bound).all()) and bool((p != 0).any())


def test_cifg_with_its_input_gate_shut_keeps_its_cell_and_open_forgets_it():
    """i = 0 makes f = 1 - i = 1: the cell is carried unchanged. i = 1 makes f = 0: the cell is the candidate."""
    torch.manual_seed(3)
    m = VariantLSTM(2, 4, "CIFG", dtype=F64)
    x = torch.randn(9, 3, 2, dtype=F64)
    h0, c0 = torch.randn(1, 3, 4, dtype=F64), torch.randn(1, 3, 4, dtype=F64)
    with torch.no_grad():
        block(m, "weight_ih_l0", "i", "LSTM").zero_()
        block(m, "weight_hh_l0", "i", "LSTM").zero_()
        block(m, "bias_hh_l0", "i", "LSTM").zero_()
        block(m, "bias_ih_l0", "i", "LSTM").fill_(-BIG)
    output, (h, c) = m(x, (h0, c0))
    assert torch.equal(c, c0)
    o = torch.sigmoid(x[-1] @ block(m, "weight_ih_l0", "o", "LSTM").T + block(m, "bias_ih_l0", "o", "LSTM")
                      + output[-2] @ block(m, "weight_hh_l0", "o", "LSTM").T + block(m, "bias_hh_l0", "o", "LSTM"))
    torch.testing.assert_close(h[0], o * torch.tanh(c0[0]), atol=TOL, rtol=0)
    with torch.no_grad():
        block(m, "bias_ih_l0", "i", "LSTM").fill_(BIG)
    output, (h, c) = m(x, (h0, c0))
    g = torch.tanh(x[-1] @ block(m, "weight_ih_l0", "g", "LSTM").T + block(m, "bias_ih_l0", "g", "LSTM")
                   + output[-2] @ block(m, "weight_hh_l0", "g", "LSTM").T + block(m, "bias_hh_l0", "g", "LSTM"))
    torch.testing.assert_close(c[0], g, atol=TOL, rtol=0)


def test_no_forget_gate_accumulates_and_no_output_gate_exposes_the_cell():
    torch.manual_seed(4)
    x = torch.randn(5, 2, 3, dtype=F64)
    nfg = VariantLSTM(3, 4, "no forget gate", dtype=F64)
    with torch.no_grad():
        block(nfg, "bias_ih_l0", "i", "LSTM").fill_(-BIG)  # i = 0: nothing is written, and nothing is forgotten
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_hh_l0"):
            block(nfg, name, "i", "LSTM").zero_()
    c0 = torch.randn(1, 2, 4, dtype=F64)
    assert torch.equal(nfg(x, (torch.zeros(1, 2, 4, dtype=F64), c0))[1][1], c0)
    nog = VariantLSTM(3, 4, "no output gate", dtype=F64)
    _, (h, c) = nog(x)
    torch.testing.assert_close(h, torch.tanh(c), atol=0, rtol=0)


# ---- layout, counts and the state round trip ---------------------------------------------------------------------
@pytest.mark.parametrize("family, variant", list(ORDER))
def test_parameter_shapes_follow_the_gate_blocks(family, variant):
    I, H = 3, 5
    m = (VariantLSTM if family == "LSTM" else VariantGRU)(I, H, variant)
    G = len(ORDER[family, variant])
    expected = {"weight_ih_l0": (G * H, I), "weight_hh_l0": (G * H, H), "bias_ih_l0": (G * H,), "bias_hh_l0": (G * H,)}
    if variant == "peepholes":
        expected |= {"peephole_i": (H,), "peephole_f": (H,), "peephole_o": (H,)}
    assert {n: tuple(p.shape) for n, p in m.named_parameters()} == expected
    assert m.blocks == tuple(ORDER[family, variant])


@pytest.mark.parametrize("family, variant", list(ORDER))
@pytest.mark.parametrize("I, H", [(1, 1), (3, 5), (10, 7)])
def test_parameter_count_is_the_number_of_parameters(family, variant, I, H):
    m = (VariantLSTM if family == "LSTM" else VariantGRU)(I, H, variant)
    assert variants.parameter_count(family, variant, I, H) == sum(p.numel() for p in m.parameters())


def test_parameter_count_closed_forms():
    I, H = 3, 5
    assert variants.parameter_count("LSTM", "vanilla", I, H) == 4 * H * (I + H + 2) == 200
    assert variants.parameter_count("LSTM", "CIFG", I, H) == 3 * H * (I + H + 2) == 150
    assert variants.parameter_count("LSTM", "peepholes", I, H) == 4 * H * (I + H + 2) + 3 * H == 215
    assert variants.parameter_count("GRU", "no reset gate", I, H) == 2 * H * (I + H + 2) == 100
    # the vanilla ones are torch.nn's, eq. (param-count)
    assert variants.parameter_count("GRU", "vanilla", I, H) == sum(p.numel() for p in nn.GRU(I, H).parameters())


@pytest.mark.parametrize("family, variant", list(ORDER))
def test_final_state_fed_back_continues_the_sequence(family, variant):
    torch.manual_seed(6)
    m = (VariantLSTM if family == "LSTM" else VariantGRU)(2, 3, variant, dtype=F64)
    x = torch.randn(8, 2, 2, dtype=F64)
    whole, final = m(x)
    first, state = m(x[:5])
    second, final2 = m(x[5:], state)
    torch.testing.assert_close(torch.cat([first, second]), whole, atol=TOL, rtol=0)  # one product over T differs
    for a, b in zip(final if family == "LSTM" else (final,), final2 if family == "LSTM" else (final2,)):  # in rounding
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


def test_attributes_read_by_models_are_torchs():
    m = VariantLSTM(3, 4, "CIFG")
    assert (m.batch_first, m.bidirectional, m.proj_size, m.num_layers, m.input_size, m.hidden_size) == (
        False, False, 0, 1, 3, 4)
    readout = models._readout(m, 2)
    assert (readout.in_features, readout.out_features) == (4, 2)
    assert repr(m) == "VariantLSTM(3, 4, variant='CIFG')"


@pytest.mark.parametrize("family", ["LSTM", "GRU"])
def test_variants_run_inside_last_step_and_every_step(family):
    cls = VariantLSTM if family == "LSTM" else VariantGRU
    last = models.LastStep(cls(3, 4, VARIANTS_LSTM[-1] if family == "LSTM" else VARIANTS_GRU[-1]), 2)
    assert last(torch.randn(6, 5, 3)).shape == (5, 2)
    every = models.EveryStep(cls(7, 4), 7)
    logits, state = every.run(torch.randint(0, 7, (6, 5)))
    logits2, _ = every.run(torch.randint(0, 7, (3, 5)), state)
    assert logits.shape == (6, 5, 7) and logits2.shape == (3, 5, 7)


# ---- bad arguments are named ----------------------------------------------------------------------------------
def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"variant: expected one of \('vanilla', 'no input gate', 'no forget gate', "
                                         r"'no output gate', 'CIFG', 'peepholes'\) for the LSTM, got 'cifg'"):
        VariantLSTM(2, 3, "cifg")
    with pytest.raises(ValueError, match=r"variant: expected one of \('vanilla', 'no reset gate'\) for the GRU, "
                                         r"got 'CIFG'"):
        VariantGRU(2, 3, "CIFG")
    with pytest.raises(TypeError, match="variant: expected a str"):
        VariantLSTM(2, 3, None)
    with pytest.raises(ValueError, match="hidden_size: expected an int >= 1, got 0"):
        VariantLSTM(2, 0)
    with pytest.raises(ValueError, match="input_size: expected an int >= 1, got -1"):
        VariantGRU(-1, 3)
    with pytest.raises(TypeError, match="hidden_size: expected an int, got float 3.0"):
        VariantGRU(2, 3.0)
    with pytest.raises(TypeError, match="dtype: expected a floating-point dtype"):
        VariantLSTM(2, 3, dtype=torch.int64)
    with pytest.raises(ValueError, match="family: expected one of"):
        variants.parameter_count("RNN", "vanilla", 2, 3)
    with pytest.raises(ValueError, match="variant: expected one of"):
        variants.parameter_count("GRU", "peepholes", 2, 3)
    with pytest.raises(ValueError, match="input_size: expected an int >= 1, got 0"):
        variants.parameter_count("LSTM", "vanilla", 0, 3)


def test_bad_inputs_are_named():
    lstm, gru = VariantLSTM(2, 3), VariantGRU(2, 3)
    with pytest.raises(ValueError, match=r"input: expected a 3-D tensor \(seq_len, batch, input_size\)"):
        lstm(torch.randn(4, 1, 1, 2))
    with pytest.raises(ValueError, match="input: expected the last dimension to be input_size=2"):
        gru(torch.randn(4, 1, 5))
    with pytest.raises(TypeError, match="input: expected dtype torch.float64"):  # tests run in float64
        gru(torch.randn(4, 1, 2, dtype=torch.float32))
    with pytest.raises(ValueError, match="input: expected a sequence of length >= 1"):
        lstm(torch.randn(0, 1, 2))
    with pytest.raises(TypeError, match=r"hx: expected a tuple \(h_0, c_0\)"):
        lstm(torch.randn(4, 1, 2), torch.zeros(1, 1, 3))
    with pytest.raises(TypeError, match="hx: expected a tensor"):
        gru(torch.randn(4, 1, 2), (torch.zeros(1, 1, 3),))
    with pytest.raises(ValueError, match=r"hx\[1\]: expected shape \(1, 1, 3\)"):
        lstm(torch.randn(4, 1, 2), (torch.zeros(1, 1, 3), torch.zeros(1, 2, 3)))
