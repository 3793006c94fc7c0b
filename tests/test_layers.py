"""gatedrnn.RNN/LSTM/GRU against torch.nn.RNN/LSTM/GRU: same parameters in, same outputs, states and gradients out."""

import random

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import gatedrnn
from gatedrnn.nn.layers import LayerParameters, reverse_in_time, run_layer, run_reversed, run_stack, unroll

TOL = 1e-10
PAIRS = {"RNN": (nn.RNN, gatedrnn.RNN), "LSTM": (nn.LSTM, gatedrnn.LSTM), "GRU": (nn.GRU, gatedrnn.GRU)}


def random_config(seed: int) -> dict:
    rng = random.Random(seed)
    mode = ("RNN", "LSTM", "GRU")[seed % 3]
    hidden = rng.randint(1, 7)
    config = {
        "mode": mode,
        "kwargs": {
            "input_size": rng.randint(1, 5),
            "hidden_size": hidden,
            "num_layers": rng.randint(1, 3),
            "bias": rng.random() < 0.75,
            "batch_first": rng.random() < 0.5,
            "bidirectional": rng.random() < 0.5,
        },
        "seq_len": rng.randint(1, 9),
        "batch": rng.choice([None, 1, 2, 5]),  # None: unbatched input
        "with_hx": rng.random() < 0.5,
    }
    if mode == "RNN":
        config["kwargs"]["nonlinearity"] = rng.choice(["tanh", "relu"])
    if mode == "LSTM" and hidden > 1 and rng.random() < 0.4:
        config["kwargs"]["proj_size"] = rng.randint(1, hidden - 1)
    return config


def make_pair(mode: str, kwargs: dict, seed: int = 0):
    reference_cls, ours_cls = PAIRS[mode]
    torch.manual_seed(seed)
    reference = reference_cls(**kwargs)
    torch.manual_seed(seed)
    ours = ours_cls(**kwargs)
    return reference, ours


def make_inputs(config: dict, module: nn.Module):
    kw = config["kwargs"]
    T, N, I = config["seq_len"], config["batch"], kw["input_size"]
    if N is None:
        x = torch.randn(T, I)
    else:
        x = torch.randn(N, T, I) if kw["batch_first"] else torch.randn(T, N, I)
    hx = None
    if config["with_hx"]:
        layers = kw["num_layers"] * (2 if kw["bidirectional"] else 1)
        batch = () if N is None else (N,)
        out = kw.get("proj_size", 0) or kw["hidden_size"]
        h = torch.randn(layers, *batch, out)
        hx = (h, torch.randn(layers, *batch, kw["hidden_size"])) if config["mode"] == "LSTM" else h
    return x, hx


def flatten(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("seed", range(90))
def test_matches_torch_float64_random_configuration(seed):
    config = random_config(seed)
    reference, ours = make_pair(config["mode"], config["kwargs"], seed)
    torch.manual_seed(1000 + seed)
    x, hx = make_inputs(config, ours)
    results = []
    for module in (reference, ours):
        xi = x.clone().requires_grad_(True)
        hxi = None if hx is None else tuple(t.clone().requires_grad_(True) for t in flatten(hx))
        call_hx = None if hxi is None else (hxi if config["mode"] == "LSTM" else hxi[0])
        output, state = module(xi, call_hx)
        # A loss that weights every output and final state differently, so that every path carries gradient.
        loss = (output * torch.linspace(-1, 2, output.numel()).reshape(output.shape)).sum()
        for i, s in enumerate(flatten(state)):
            loss = loss + (i + 1.5) * (s**2).sum()
        leaves = [xi, *(hxi or ()), *module.parameters()]
        grads = torch.autograd.grad(loss, leaves)
        results.append((output, flatten(state), grads))
    (out_a, state_a, grads_a), (out_b, state_b, grads_b) = results
    assert out_a.shape == out_b.shape
    torch.testing.assert_close(out_b, out_a, atol=TOL, rtol=0)
    assert len(state_a) == len(state_b)
    for a, b in zip(state_a, state_b):
        assert a.shape == b.shape
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)
    assert len(grads_a) == len(grads_b)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


@pytest.mark.parametrize("mode", PAIRS)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_same_seed_gives_torchs_state_dict(mode, bidirectional):
    kwargs = {"input_size": 3, "hidden_size": 6, "num_layers": 3, "bidirectional": bidirectional}
    if mode == "LSTM":
        kwargs["proj_size"] = 2
    reference, ours = make_pair(mode, kwargs, seed=7)
    a, b = reference.state_dict(), ours.state_dict()
    assert list(a) == list(b)
    for name in a:
        assert a[name].shape == b[name].shape, name
        assert torch.equal(a[name], b[name]), name
    assert [n for n, _ in reference.named_parameters()] == [n for n, _ in ours.named_parameters()]


@pytest.mark.parametrize("mode", PAIRS)
def test_loads_torch_state_dict_and_back(mode):
    reference, _ = make_pair(mode, {"input_size": 2, "hidden_size": 4, "num_layers": 2}, seed=3)
    ours = PAIRS[mode][1](2, 4, 2)
    ours.load_state_dict(reference.state_dict())
    fresh = PAIRS[mode][0](2, 4, 2)
    fresh.load_state_dict(ours.state_dict())
    x = torch.randn(5, 3, 2)
    torch.testing.assert_close(ours(x)[0], fresh(x)[0], atol=TOL, rtol=0)


@pytest.mark.parametrize("mode", PAIRS)
def test_dropout_between_layers_matches_torch_with_same_seed(mode):
    """Training mode draws the same dropout masks as torch's CPU kernel; eval mode applies none."""
    kwargs = {"input_size": 3, "hidden_size": 8, "num_layers": 3, "dropout": 0.4}
    reference, ours = make_pair(mode, kwargs, seed=11)
    x = torch.randn(6, 4, 3)
    outputs = {}
    for train in (True, False):
        for name, module in (("torch", reference), ("ours", ours)):
            module.train(train)
            torch.manual_seed(5)
            outputs[name, train] = module(x)[0]
        torch.testing.assert_close(outputs["ours", train], outputs["torch", train], atol=TOL, rtol=0)
    assert (outputs["ours", True] - outputs["ours", False]).abs().max() > 1e-3  # dropout really acted in training
    torch.manual_seed(6)
    assert not torch.allclose(ours.train()(x)[0], outputs["ours", True])  # and masks are random


def test_unbatched_equals_batch_of_one():
    ours = gatedrnn.LSTM(3, 5, num_layers=2, bidirectional=True)
    x = torch.randn(7, 3)
    output, (h, c) = ours(x)
    output1, (h1, c1) = ours(x.unsqueeze(1))
    assert output.shape == (7, 10) and h.shape == (4, 5) and c.shape == (4, 5)
    torch.testing.assert_close(output, output1.squeeze(1), atol=0, rtol=0)
    torch.testing.assert_close(h, h1.squeeze(1), atol=0, rtol=0)


def test_unroll_hidden_states_are_the_forward_outputs():
    ours = gatedrnn.GRU(2, 4, num_layers=2, batch_first=True)
    x = torch.randn(3, 6, 2)
    output, h_n, hidden = ours.unroll(x)
    assert len(hidden) == 6
    torch.testing.assert_close(torch.stack(hidden, dim=1), output, atol=0, rtol=0)
    torch.testing.assert_close(hidden[-1], h_n[-1], atol=0, rtol=0)


@pytest.mark.parametrize("mode", PAIRS)
def test_repr_and_attributes_match_torch(mode):
    kwargs = {"input_size": 3, "hidden_size": 4, "num_layers": 2, "batch_first": True, "bidirectional": True}
    reference, ours = make_pair(mode, kwargs)
    assert repr(ours) == repr(reference)
    for name in ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout", "bidirectional", "mode"):
        assert getattr(ours, name) == getattr(reference, name), name
    ours.flatten_parameters()  # accepted, as torch code calls it


def test_dropout_on_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="dropout"):
        gatedrnn.GRU(2, 3, dropout=0.5)


def test_float32_module_runs_in_float32():
    ours = gatedrnn.LSTM(2, 3, dtype=torch.float32)
    output, (h, c) = ours(torch.randn(4, 1, 2, dtype=torch.float32))
    assert output.dtype == h.dtype == c.dtype == torch.float32


@pytest.mark.parametrize("mode", PAIRS)
def test_all_weights_match_torch(mode):
    kwargs = {"input_size": 3, "hidden_size": 4, "num_layers": 2, "bidirectional": True}
    reference, ours = make_pair(mode, kwargs)
    assert len(ours.all_weights) == len(reference.all_weights) == 4
    for ours_group, torch_group in zip(ours.all_weights, reference.all_weights, strict=True):
        assert len(ours_group) == len(torch_group)
        for a, b in zip(ours_group, torch_group, strict=True):
            assert torch.equal(a, b)


def test_lstm_accepts_state_as_list_like_torch():
    reference, ours = make_pair("LSTM", {"input_size": 2, "hidden_size": 3})
    x, h, c = torch.randn(4, 1, 2), torch.randn(1, 1, 3), torch.randn(1, 1, 3)
    torch.testing.assert_close(ours(x, [h, c])[0], reference(x, [h, c])[0], atol=TOL, rtol=0)
    cell = gatedrnn.LSTMCell(2, 3)
    torch.testing.assert_close(cell(x[0], [h[0], c[0]])[0], cell(x[0], (h[0], c[0]))[0], atol=0, rtol=0)


# ---- the levels one by one: unroll (cell over time), run_layer / run_reversed (one direction), run_stack ----------
def torch_weights(module: nn.Module, layer: int, direction: int = 0) -> LayerParameters:
    """A torch.nn module's weights of one layer and direction, read by name (not by gatedrnn's layer_parameters)."""
    suffix = "_reverse" if direction else ""
    return LayerParameters(*(getattr(module, f"{name}_l{layer}{suffix}", None) for name in LayerParameters._fields))


def lstm_cell(u, state, params):
    return gatedrnn.lstm_step(u, *state, params.weight_hh, params.bias_hh, params.weight_hr)


def gru_cell(u, state, params):
    return (gatedrnn.gru_step(u, state[0], params.weight_hh, params.bias_hh),)


def test_unroll_with_a_torch_lstm_cell_is_torch_lstm_float64():
    torch.manual_seed(0)
    lstm = nn.LSTM(3, 5, dtype=torch.float64)
    cell = nn.LSTMCell(3, 5, dtype=torch.float64)
    cell.load_state_dict({name.removesuffix("_l0"): value for name, value in lstm.state_dict().items()})
    x = torch.randn(8, 2, 3, dtype=torch.float64, requires_grad=True)
    h0, c0 = torch.randn(2, 2, 5, dtype=torch.float64)

    def step(x_t, state):
        h, c = cell(x_t, state)
        return (h, c), h

    hidden, (h, c) = unroll(step, x, (h0, c0))  # the cell computes its own input share: u_t is x_t here
    expected, (h_n, c_n) = lstm(x, (h0[None], c0[None]))
    torch.testing.assert_close(torch.stack(hidden), expected, atol=TOL, rtol=0)
    torch.testing.assert_close(h, h_n[0], atol=TOL, rtol=0)
    torch.testing.assert_close(c, c_n[0], atol=TOL, rtol=0)
    weights = torch.linspace(-1, 1, expected.numel(), dtype=torch.float64).reshape(expected.shape)
    (ours,) = torch.autograd.grad((torch.stack(hidden) * weights).sum() + c.sum(), x)
    (theirs,) = torch.autograd.grad((expected * weights).sum() + c_n.sum(), x)
    torch.testing.assert_close(ours, theirs, atol=TOL, rtol=0)


def test_unroll_reads_u_by_unbind_so_bptt_stays_linear_in_T():
    """Each u[t] would have its own backward node writing a full [T, N, G·H] zero gradient: O(T²) in all."""
    u = torch.randn(5, 2, 3, requires_grad=True)
    nodes = []

    def step(u_t, state):
        nodes.append(u_t.grad_fn)
        return (state[0] + u_t,), None

    unroll(step, u, (torch.zeros(2, 3),))
    assert len(nodes) == 5 and len(set(nodes)) == 1 and type(nodes[0]).__name__.startswith("UnbindBackward")


def test_unroll_returns_what_each_step_emits_and_the_last_state():
    emitted, (state,) = unroll(lambda u_t, s: ((s[0] + u_t,), s[0] * 10), torch.arange(1.0, 5.0), (torch.tensor(0.0),))
    assert [float(e) for e in emitted] == [0.0, 10.0, 30.0, 60.0] and float(state) == 10.0


def test_run_layer_and_run_reversed_are_the_halves_of_torch_bidirectional_gru():
    torch.manual_seed(1)
    gru = nn.GRU(3, 4, bidirectional=True, dtype=torch.float64)
    x, h0 = torch.randn(6, 2, 3, dtype=torch.float64), torch.randn(2, 2, 4, dtype=torch.float64)
    expected, h_n = gru(x, h0)
    for direction, run in enumerate((run_layer, run_reversed)):
        hidden, (final,) = run(gru_cell, torch_weights(gru, 0, direction), x, (h0[direction],))
        half = expected[..., 4 * direction : 4 * (direction + 1)]
        torch.testing.assert_close(torch.stack(hidden), half, atol=TOL, rtol=0)
        torch.testing.assert_close(final, h_n[direction], atol=TOL, rtol=0)


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("training", [False, True])
def test_run_stack_is_torch_lstm_with_dropout_between_layers(bidirectional, training):
    torch.manual_seed(2)
    D, H, P = (2 if bidirectional else 1), 5, 2
    lstm = nn.LSTM(3, H, num_layers=3, proj_size=P, dropout=0.3, bidirectional=bidirectional, dtype=torch.float64)
    lstm.train(training)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    h0, c0 = torch.randn(3 * D, 4, P, dtype=torch.float64), torch.randn(3 * D, 4, H, dtype=torch.float64)
    params = [[torch_weights(lstm, layer, direction) for direction in range(D)] for layer in range(3)]
    torch.manual_seed(9)
    expected, (h_n, c_n) = lstm(x, (h0, c0))
    torch.manual_seed(9)
    output, finals, hidden = run_stack(lstm_cell, params, x, list(zip(h0, c0)), 0.3, training)
    torch.testing.assert_close(output, expected, atol=TOL, rtol=0)
    torch.testing.assert_close(torch.stack([h for h, _ in finals]), h_n, atol=TOL, rtol=0)
    torch.testing.assert_close(torch.stack([c for _, c in finals]), c_n, atol=TOL, rtol=0)
    torch.testing.assert_close(torch.stack(hidden), expected[..., :P], atol=0, rtol=0)  # the top forward h_t


# ---- packed sequences: a PackedSequence in, a PackedSequence out, each sequence stopping at its own length ----------
PACKED_MODELS = {
    "RNN-tanh": ("RNN", {}),
    "RNN-relu": ("RNN", {"nonlinearity": "relu"}),
    "LSTM": ("LSTM", {}),
    "LSTM-proj": ("LSTM", {"proj_size": 2}),
    "GRU": ("GRU", {}),
}
T, N, I, H = 5, 4, 2, 3
SORTED_LENGTHS, UNSORTED_LENGTHS = torch.tensor([5, 4, 2, 1]), torch.tensor([2, 5, 1, 4])


def packed_pair(name: str, bidirectional: bool = False, batch_first: bool = False):
    mode, extra = PACKED_MODELS[name]
    kwargs = {"input_size": I, "hidden_size": H, "num_layers": 2, "bidirectional": bidirectional}
    return make_pair(mode, kwargs | extra | {"batch_first": batch_first, "dtype": torch.float64}, seed=4)


def packed_input(lengths: torch.Tensor, enforce_sorted: bool, batch_first: bool = False, seed: int = 8):
    torch.manual_seed(seed)
    x = torch.randn(N, T, I, dtype=torch.float64) if batch_first else torch.randn(T, N, I, dtype=torch.float64)
    return pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)


def random_hx(module: nn.Module):
    layers = module.num_layers * (2 if module.bidirectional else 1)
    h = torch.randn(layers, N, module.proj_size or module.hidden_size, dtype=torch.float64)
    return (h, torch.randn(layers, N, module.hidden_size, dtype=torch.float64)) if module.mode == "LSTM" else h


@pytest.mark.parametrize("name", PACKED_MODELS)
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("with_hx", [False, True])
def test_packed_input_matches_torch_float64(name, enforce_sorted, bidirectional, batch_first, with_hx):
    """Outputs, final states (hx and h_n in the original batch order) and every gradient equal torch.nn's."""
    reference, ours = packed_pair(name, bidirectional, batch_first)
    packed = packed_input(SORTED_LENGTHS if enforce_sorted else UNSORTED_LENGTHS, enforce_sorted, batch_first)
    torch.manual_seed(9)
    hx = random_hx(ours) if with_hx else None
    results = []
    for module in (reference, ours):
        data = packed.data.clone().requires_grad_(True)
        hxi = [t.clone().requires_grad_(True) for t in flatten(hx)] if with_hx else []
        call_hx = (tuple(hxi) if module.mode == "LSTM" else hxi[0]) if with_hx else None
        output, state = module(packed._replace(data=data), call_hx)
        loss = (output.data * torch.linspace(-1, 2, output.data.numel()).reshape(output.data.shape)).sum()
        loss = loss + sum((i + 1.5) * (s**2).sum() for i, s in enumerate(flatten(state)))
        grads = torch.autograd.grad(loss, [data, *hxi, *module.parameters()])
        results.append((output, flatten(state), grads))
    (out_a, state_a, grads_a), (out_b, state_b, grads_b) = results
    assert isinstance(out_b, nn.utils.rnn.PackedSequence)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        a, b = getattr(out_a, field), getattr(out_b, field)
        assert (a is None and b is None) or torch.equal(a, b), field
    padded_a, lengths_a = pad_packed_sequence(out_a, batch_first=batch_first)
    padded_b, lengths_b = pad_packed_sequence(out_b, batch_first=batch_first)
    assert torch.equal(lengths_a, lengths_b)
    torch.testing.assert_close(padded_b, padded_a, atol=TOL, rtol=0)
    for a, b in zip(state_a, state_b, strict=True):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)
    for a, b in zip(grads_a, grads_b, strict=True):
        torch.testing.assert_close(b, a, atol=TOL, rtol=0)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_packed_unroll_hidden_states_are_each_sequences_own(name):
    """hidden_states[t] [N, H], rows in the original order, is row i's h_t while t < length_i and its final h after:
    ∂L/∂h_t of row i is that of sequence i run alone for t < length_i; past it only h_n reads the frozen state."""
    _, ours = packed_pair(name)
    packed = packed_input(UNSORTED_LENGTHS, enforce_sorted=False)
    torch.manual_seed(10)
    hx = random_hx(ours)
    output, state, hidden = ours.unroll(packed, hx)
    padded, _ = pad_packed_sequence(output)  # zeros past each length, constants of the graph
    v, w = torch.randn_like(padded), torch.randn_like(flatten(state)[0])
    grads = torch.autograd.grad((padded * v).sum() + (flatten(state)[0] * w).sum(), hidden, retain_graph=True)
    from_output = torch.autograd.grad((padded * v).sum(), hidden)
    x, _ = pad_packed_sequence(packed)
    for i, length in enumerate(UNSORTED_LENGTHS.tolist()):
        alone_hx = tuple(t[:, i : i + 1] for t in flatten(hx))
        out_i, state_i, hidden_i = ours.unroll(x[:length, i : i + 1], alone_hx if name == "LSTM" else alone_hx[0])
        loss_i = (out_i * v[:length, i : i + 1]).sum() + (flatten(state_i)[0] * w[:, i : i + 1]).sum()
        grads_i = torch.autograd.grad(loss_i, hidden_i)
        for t in range(T):
            if t < length:
                torch.testing.assert_close(hidden[t][i], hidden_i[t][0], atol=TOL, rtol=0)
                torch.testing.assert_close(grads[t][i], grads_i[t][0], atol=TOL, rtol=0)
            else:  # frozen: the final state, which only h_n reads
                torch.testing.assert_close(hidden[t][i], flatten(state)[0][-1, i], atol=0, rtol=0)
                torch.testing.assert_close(grads[t][i], w[-1, i], atol=0, rtol=0)
                assert torch.equal(from_output[t][i], torch.zeros(H, dtype=torch.float64))


def test_reverse_in_time_reverses_each_sequence_within_its_length():
    x = torch.arange(4.0)[:, None, None].expand(4, 3, 1)  # x[t, n] = t
    reversed_x = reverse_in_time(x, torch.tensor([4, 2, 1]))[..., 0].T
    assert reversed_x.tolist() == [[3, 2, 1, 0], [1, 0, 2, 3], [0, 1, 2, 3]]  # the padding stays where it was
    assert torch.equal(reverse_in_time(x), x.flip(0))


@pytest.mark.parametrize("mode", PAIRS)
def test_packed_input_of_the_wrong_feature_size_names_input(mode):
    ours = PAIRS[mode][1](I, H, dtype=torch.float64)
    wrong = pack_padded_sequence(torch.randn(T, N, I + 1, dtype=torch.float64), SORTED_LENGTHS)
    with pytest.raises(ValueError, match=r"input: expected a PackedSequence whose data is 2-D .*=2.*\(12, 3\)"):
        ours(wrong)
    packed = packed_input(SORTED_LENGTHS, enforce_sorted=True)
    hx = torch.zeros(1, N + 1, H, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"hx.*expected shape \(1, 4, 3\)"):
        ours(packed, (hx, hx) if mode == "LSTM" else hx)
