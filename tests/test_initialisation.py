"""Initialisations: scaled orthogonal and identity (IRNN) W_hh, the forget bias, Glorot/He draws per gate block and
chrono biases, each against its closed form."""

import math

import pytest
import torch

import gatedrnn
from gatedrnn.instruments import gates
from gatedrnn.nn import initialisation
from gatedrnn.nn.variants import VariantGRU, VariantLSTM


@pytest.mark.parametrize("model, gates", [(gatedrnn.RNN, 1), (gatedrnn.LSTM, 4), (gatedrnn.GRU, 3)])
@pytest.mark.parametrize("scale", [0.5, 1.0, 2.5])
def test_every_singular_value_of_every_block_equals_the_scale(model, gates, scale):
    rnn = model(3, 6, num_layers=2)
    before = {k: v.clone() for k, v in rnn.state_dict().items()}
    initialisation.orthogonal_recurrent_(rnn, scale, generator=torch.Generator().manual_seed(0))
    for name, value in rnn.state_dict().items():
        if name.startswith("weight_hh"):
            for block in value.split(6, dim=0):
                torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((6,), scale), rtol=0, atol=1e-12)
            assert value.shape[0] == gates * 6
        else:
            assert torch.equal(value, before[name])


def test_identity_initialisation_is_le_jaitly_hinton():
    rnn = gatedrnn.RNN(2, 50, nonlinearity="relu")
    initialisation.identity_recurrent_(rnn, generator=torch.Generator().manual_seed(0))
    assert torch.equal(rnn.weight_hh_l0, torch.eye(50))
    assert torch.equal(rnn.bias_ih_l0, torch.zeros(50)) and torch.equal(rnn.bias_hh_l0, torch.zeros(50))
    assert rnn.weight_ih_l0.std().item() == pytest.approx(1e-3, rel=0.15)
    # With zero input the state is copied forward exactly: h_t = relu(I h_{t-1}) = h_{t-1} for h >= 0.
    h0 = torch.rand(1, 4, 50)
    output, _ = rnn(torch.zeros(30, 4, 2), h0)
    torch.testing.assert_close(output[-1], h0[0], rtol=0, atol=0)


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="rnn: expected a gatedrnn or torch.nn RNN, LSTM or GRU, or a gatedrnn "
                                        "VariantLSTM or VariantGRU, got Linear"):
        initialisation.orthogonal_recurrent_(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="scale: expected a positive number, got 0"):
        initialisation.orthogonal_recurrent_(gatedrnn.RNN(2, 3), 0)
    with pytest.raises(ValueError, match="identity initialisation is for gatedrnn.RNN or torch.nn.RNN, got a LSTM"):
        initialisation.identity_recurrent_(gatedrnn.LSTM(2, 3))
    with pytest.raises(ValueError, match="identity initialisation is for gatedrnn.RNN or torch.nn.RNN, got a GRU"):
        initialisation.identity_recurrent_(torch.nn.GRU(2, 3))


@pytest.mark.parametrize("model, gates", [(torch.nn.RNN, 1), (torch.nn.LSTM, 4), (torch.nn.GRU, 3)])
def test_torch_nn_modules_take_the_same_initialisations(model, gates):
    rnn = model(3, 6, num_layers=2)
    initialisation.orthogonal_recurrent_(rnn, 1.5, generator=torch.Generator().manual_seed(0))
    for layer in (0, 1):
        weight = getattr(rnn, f"weight_hh_l{layer}").detach().double()
        for block in weight.split(6, dim=0):
            torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((6,), 1.5, dtype=torch.float64),
                                       rtol=0, atol=1e-6)
        assert weight.shape[0] == gates * 6
    relu = torch.nn.RNN(2, 5, nonlinearity="relu")
    initialisation.identity_recurrent_(relu, generator=torch.Generator().manual_seed(0))
    h0 = torch.rand(1, 3, 5)
    output, _ = relu(torch.zeros(20, 3, 2), h0)
    torch.testing.assert_close(output[-1], h0[0], rtol=0, atol=0)


@pytest.mark.parametrize("value", [0.0, 1.0, 2.5])
def test_forget_gate_bias_sets_the_total_forget_bias_of_every_layer(value):
    torch.manual_seed(0)
    lstm = gatedrnn.LSTM(3, 4, num_layers=2, bidirectional=True)
    before = {name: p.detach().clone() for name, p in lstm.named_parameters()}
    initialisation.forget_gate_bias_(lstm, value)
    for name, p in lstm.named_parameters():
        if name.startswith("bias"):
            total = p[4:8] if name.startswith("bias_ih") else p[4:8] + getattr(lstm, name.replace("hh", "ih"))[4:8]
            torch.testing.assert_close(total, torch.full((4,), value))
            rows = torch.cat([p[:4], p[8:]])  # i, g, o untouched
            torch.testing.assert_close(rows, torch.cat([before[name][:4], before[name][8:]]))
        else:
            assert torch.equal(p, before[name])
    # with zero weights the forget gate is exactly σ(value)
    one_layer = gatedrnn.LSTM(3, 4)
    initialisation.forget_gate_bias_(one_layer, value)
    with torch.no_grad():
        one_layer.weight_hh_l0.zero_()
        one_layer.weight_ih_l0.zero_()
    f = gates.record_gates(one_layer, torch.zeros(2, 1, 3))["f"]
    torch.testing.assert_close(f, torch.full_like(f, torch.sigmoid(torch.tensor(value)).item()))


def test_forget_gate_bias_refuses_other_modules_and_values():
    with pytest.raises(TypeError, match="lstm: expected a gatedrnn.LSTM or torch.nn.LSTM"):
        initialisation.forget_gate_bias_(gatedrnn.GRU(2, 3), 1.0)
    with pytest.raises(ValueError, match="value: expected a finite number"):
        initialisation.forget_gate_bias_(gatedrnn.LSTM(2, 3), float("nan"))
    with pytest.raises(ValueError, match="bias=False"):
        initialisation.forget_gate_bias_(gatedrnn.LSTM(2, 3, bias=False), 1.0)


def test_forget_gate_bias_sets_the_same_entries_of_torch_nn_lstm():
    torch.manual_seed(5)
    theirs = torch.nn.LSTM(3, 4, num_layers=2)
    torch.manual_seed(5)
    ours = gatedrnn.LSTM(3, 4, num_layers=2)
    initialisation.forget_gate_bias_(theirs, 1.5)
    initialisation.forget_gate_bias_(ours, 1.5)
    for (name, a), b in zip(theirs.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b.to(a.dtype)), name
    assert bool((theirs.bias_ih_l1[4:8] == 1.5).all()) and bool((theirs.bias_hh_l1[4:8] == 0).all())


# ---- Glorot and He draws, per gate block -----------------------------------------------------------------------
# Statistical checks use margins of 5 standard errors of the estimate: each fails with probability below 1e-6 for a
# random seed, so they hold for any seed in practice; the generators are seeded all the same.
def blocks_of(rnn, H):
    return [block for name, w in rnn.named_parameters() if name.startswith("weight_hh") for block in w.split(H)]


def assert_mean_square(values, expected, fourth_moment):
    """The mean of w² over n draws is within 5 standard errors of E w² = ``expected``, given E w⁴."""
    n = values.numel()
    standard_error = math.sqrt((fourth_moment - expected**2) / n)
    assert abs(values.double().pow(2).mean().item() - expected) < 5 * standard_error


@pytest.mark.parametrize("make, gates, R", [
    (lambda: gatedrnn.LSTM(3, 64, num_layers=2), 4, 64),
    (lambda: torch.nn.GRU(3, 64), 3, 64),
    (lambda: torch.nn.LSTM(3, 64, proj_size=16), 4, 16),
    (lambda: VariantLSTM(3, 64, "CIFG"), 3, 64),
])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_xavier_uniform_per_block_has_glorots_bound_and_variance(make, gates, R, gain):
    torch.manual_seed(0)
    rnn = make()
    before = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    initialisation.xavier_uniform_recurrent_(rnn, gain, generator=torch.Generator().manual_seed(1))
    H = 64
    a = gain * math.sqrt(6 / (H + R))  # fan_in R, fan_out H: one block, not the stacked G·H rows
    blocks = blocks_of(rnn, H)
    assert len(blocks) == gates * sum(name.startswith("weight_hh") for name, _ in rnn.named_parameters())
    for block in blocks:
        assert block.shape == (H, R)
        assert bool((block.abs() <= a).all())
        # the largest of H·R ≥ 1024 uniform draws reaches 0.99 a unless all miss: probability 0.99^1024 < 4e-5
        assert block.abs().max().item() > 0.99 * a
        assert_mean_square(block, a**2 / 3, a**4 / 5)  # U(-a, a): E w² = a²/3, E w⁴ = a⁴/5
    whole_matrix_bound = gain * math.sqrt(6 / (gates * H + R))
    assert max(block.abs().max().item() for block in blocks) > whole_matrix_bound  # per block, visibly
    for name, p in rnn.named_parameters():
        if not name.startswith("weight_hh"):
            assert torch.equal(p, before[name]), name


@pytest.mark.parametrize("make, R", [
    (lambda: gatedrnn.GRU(3, 64, bidirectional=True), 64),
    (lambda: torch.nn.LSTM(3, 64, proj_size=16), 16),
    (lambda: VariantGRU(3, 64, "no reset gate"), 64),
])
@pytest.mark.parametrize("gain", [math.sqrt(2.0), 5 / 3])
def test_kaiming_normal_per_block_has_hes_variance(make, R, gain):
    torch.manual_seed(0)
    rnn = make()
    before = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    initialisation.kaiming_normal_recurrent_(rnn, gain, generator=torch.Generator().manual_seed(2))
    sigma = gain / math.sqrt(R)  # fan-in: the columns of a block
    for block in blocks_of(rnn, 64):
        assert block.shape == (64, R)
        assert abs(block.double().mean().item()) < 5 * sigma / math.sqrt(block.numel())
        assert_mean_square(block, sigma**2, 3 * sigma**4)  # N(0, σ²): E w² = σ², E w⁴ = 3σ⁴
    for name, p in rnn.named_parameters():
        if not name.startswith("weight_hh"):
            assert torch.equal(p, before[name]), name


def test_default_gains_are_glorots_and_hes():
    rnn = torch.nn.GRU(2, 100)
    initialisation.xavier_uniform_recurrent_(rnn, generator=torch.Generator().manual_seed(0))
    assert rnn.weight_hh_l0.abs().max().item() <= math.sqrt(6 / 200)
    initialisation.kaiming_normal_recurrent_(rnn, generator=torch.Generator().manual_seed(0))
    assert_mean_square(rnn.weight_hh_l0, 2 / 100, 3 * (2 / 100) ** 2)


def test_same_generator_seed_gives_the_same_draw():
    a, b = gatedrnn.LSTM(2, 5), gatedrnn.LSTM(2, 5)
    for rnn in (a, b):
        initialisation.kaiming_normal_recurrent_(rnn, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.weight_hh_l0, b.weight_hh_l0)


# ---- chrono biases ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda: gatedrnn.LSTM(2, 500, num_layers=2, bidirectional=True),
    lambda: torch.nn.LSTM(2, 500, dtype=torch.float32),
    lambda: VariantLSTM(2, 500, "peepholes"),
])
@pytest.mark.parametrize("t_max", [3.0, 100, 784])
def test_chrono_lstm_biases_are_log_uniform_and_opposite(make, t_max):
    torch.manual_seed(0)
    rnn = make()
    before = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    initialisation.chrono_bias_(rnn, t_max, generator=torch.Generator().manual_seed(3))
    H = 500
    i, f = slice(0, H), slice(H, 2 * H)
    for name, p in rnn.named_parameters():
        if name.startswith("bias_ih"):
            b_f = p[f].double()
            assert bool((b_f >= 0).all()) and bool((b_f <= math.log(t_max - 1) + 1e-6).all())  # log U[1, T - 1]
            assert torch.equal(p[i], -p[f])  # b_i = -b_f exactly
            u, width = b_f.exp(), t_max - 2  # e^{b_f} ~ U[1, T - 1]: mean T/2, standard deviation width/√12
            assert abs(u.mean().item() - t_max / 2) < 5 * width / math.sqrt(12 * H) + 1e-5
            assert torch.equal(p[2 * H :], before[name][2 * H :])  # g, o untouched
        elif name.startswith("bias_hh"):
            assert bool((p[: 2 * H] == 0).all())  # the sum b_ih + b_hh is the chrono bias
            assert torch.equal(p[2 * H :], before[name][2 * H :])
        else:
            assert torch.equal(p, before[name]), name
    # with small weights the forgetting times 1/(1 - f) = 1 + e^{b_f} lie in [2, T_max]
    f_gate = torch.sigmoid(rnn.bias_ih_l0[f].double())
    times = 1 / (1 - f_gate)
    assert bool((times >= 2 - 1e-6).all()) and bool((times <= t_max * (1 + 1e-5)).all())


@pytest.mark.parametrize("make", [lambda: gatedrnn.GRU(2, 400), lambda: torch.nn.GRU(2, 400, num_layers=2),
                                  lambda: VariantGRU(2, 400, "no reset gate")])
def test_chrono_gru_sets_the_update_gate_only(make):
    torch.manual_seed(0)
    rnn = make()
    before = {name: p.detach().clone() for name, p in rnn.named_parameters()}
    initialisation.chrono_bias_(rnn, 50, generator=torch.Generator().manual_seed(4))
    H = 400
    z = slice(0, H) if getattr(rnn, "variant", None) == "no reset gate" else slice(H, 2 * H)  # (z, n) or (r, z, n)
    for name, p in rnn.named_parameters():
        changed = torch.zeros(p.shape[0], dtype=torch.bool)
        if name.startswith("bias"):
            changed[z] = True
        assert torch.equal(p[~changed], before[name][~changed]), name
        if name.startswith("bias_ih"):
            assert bool((p[z] >= 0).all()) and bool((p[z] <= math.log(49) + 1e-12).all())
            assert abs(p[z].exp().mean().item() - 25) < 5 * 48 / math.sqrt(12 * H)
        elif name.startswith("bias_hh"):
            assert bool((p[z] == 0).all())


def test_chrono_cifg_gets_the_input_bias_so_that_f_is_the_chrono_gate():
    rnn = VariantLSTM(2, 200, "CIFG")
    initialisation.chrono_bias_(rnn, 30, generator=torch.Generator().manual_seed(5))
    b_i = rnn.bias_ih_l0[:200]
    f = 1 - torch.sigmoid(b_i)  # f = 1 - i, and with b_i = -b_f this is σ(b_f)
    times = 1 / (1 - f)
    assert bool((b_i <= 0).all()) and bool((times >= 2 - 1e-9).all()) and bool((times <= 30 + 1e-9).all())
    no_input = VariantLSTM(2, 200, "no input gate")  # blocks f, g, o: b_f in the first block
    initialisation.chrono_bias_(no_input, 30, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(no_input.bias_ih_l0[:200], -b_i, atol=0, rtol=0)  # the same draw


def test_chrono_refuses_what_it_cannot_set():
    with pytest.raises(ValueError, match="chrono initialisation is for an LSTM or a GRU, got a RNN"):
        initialisation.chrono_bias_(gatedrnn.RNN(2, 3), 10)
    with pytest.raises(TypeError, match="rnn: expected a gatedrnn or torch.nn LSTM or GRU"):
        initialisation.chrono_bias_(torch.nn.Linear(2, 3), 10)
    with pytest.raises(ValueError, match="'no forget gate' variant has none"):
        initialisation.chrono_bias_(VariantLSTM(2, 3, "no forget gate"), 10)
    for bad in (2, 1.5, float("inf"), float("nan"), True, "10"):
        with pytest.raises(ValueError, match="t_max: expected a finite number > 2"):
            initialisation.chrono_bias_(gatedrnn.LSTM(2, 3), bad)
    with pytest.raises(ValueError, match="bias=False"):
        initialisation.chrono_bias_(torch.nn.GRU(2, 3, bias=False), 10)


def test_glorot_and_he_refuse_bad_gains():
    for function in (initialisation.xavier_uniform_recurrent_, initialisation.kaiming_normal_recurrent_):
        for bad in (0, -1.0, float("nan"), float("inf"), True):
            with pytest.raises(ValueError, match="gain: expected a positive number"):
                function(gatedrnn.LSTM(2, 3), bad)
        with pytest.raises(TypeError, match="rnn: expected a gatedrnn or torch.nn RNN, LSTM or GRU"):
            function(torch.nn.Linear(2, 3))


def test_orthogonal_takes_variants_block_by_block():
    rnn = VariantLSTM(2, 6, "no output gate")
    initialisation.orthogonal_recurrent_(rnn, 1.5, generator=torch.Generator().manual_seed(0))
    for block in rnn.weight_hh_l0.split(6):
        torch.testing.assert_close(torch.linalg.svdvals(block), torch.full((6,), 1.5), rtol=0, atol=1e-12)
