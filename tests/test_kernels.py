"""The fused Triton layers against the package's Python loop (:class:`gatedrnn.LSTM`, :class:`gatedrnn.GRU`).

Triton's interpreter runs the kernels on the CPU. Triton chooses it for each kernel when the kernel is decorated,
that is when :mod:`gatedrnn.nn.kernels` is first imported, so this module sets ``TRITON_INTERPRET=1`` for that import,
and again during each of its own tests (Triton imports parts of itself at the first launch), leaving the
environment of other tests as it was. An explicit ``TRITON_INTERPRET=0`` in the environment is kept: the same tests
then run the compiled kernels on a CUDA device.
"""

import copy
import os
import subprocess
import sys

import pytest
import torch

import gatedrnn

INTERPRET = os.environ.get("TRITON_INTERPRET", "1")
_previous = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = INTERPRET
try:
    triton = pytest.importorskip("triton")
    from gatedrnn.nn import kernels
finally:
    if _previous is None:
        del os.environ["TRITON_INTERPRET"]
    else:
        os.environ["TRITON_INTERPRET"] = _previous

if kernels._interpreted():
    DEVICE = torch.device("cpu")
elif torch.cuda.is_available():
    DEVICE = torch.device("cuda")
else:
    raise RuntimeError(
        "tests/test_kernels.py: the kernels are compiled, not interpreted (gatedrnn.nn.kernels was imported before this "
        "module set TRITON_INTERPRET=1, or TRITON_INTERPRET=0 was given), and there is no CUDA device"
    )

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}
# (T, N, I, H): the book's small case; two programs with a masked tail of rows and a non-power-of-two H that takes
# two chunks of 16 in the products; a wider H (5 chunks, the last one masked); one step and one row
SIZES = [(7, 3, 5, 6), (5, 19, 3, 20), (3, 2, 4, 70), (1, 1, 2, 3)]


@pytest.fixture(autouse=True)
def _interpreter(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", INTERPRET)


def make(cls, input_size, hidden_size, dtype, bias=True, seed=0):
    torch.manual_seed(seed)
    return cls(input_size, hidden_size, bias=bias, dtype=dtype, device=DEVICE)


def fused(rnn, x, hx):
    """The fused layer with ``rnn``'s own parameters; ``hx`` in the module's form [1, N, H] or None."""
    p = rnn.layer_parameters(0)
    if isinstance(rnn, gatedrnn.LSTM):
        h0, c0 = (None, None) if hx is None else (hx[0][0], hx[1][0])
        output, (h_n, c_n) = kernels.lstm_layer(x, p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh, h0, c0)
        return output, (h_n[None], c_n[None])
    output, h_n = kernels.gru_layer(x, p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh, None if hx is None else hx[0])
    return output, h_n[None]


def initial_state(cls, batch, hidden, dtype):
    h0 = torch.randn(1, batch, hidden, dtype=dtype, device=DEVICE, requires_grad=True)
    if cls is gatedrnn.GRU:
        return h0
    return h0, torch.randn(1, batch, hidden, dtype=dtype, device=DEVICE, requires_grad=True)


def loss_of(output, final, weights):
    """A loss that reads every output and the final state, with random weights so that no path cancels."""
    finals = final if isinstance(final, tuple) else (final,)
    return (output * weights[0]).sum() + sum((s * w).sum() for s, w in zip(finals, weights[1:]))


def compare(cls, sizes, dtype, with_state, bias=True):
    T, N, I, H = sizes
    rnn = make(cls, I, H, dtype, bias)
    x = torch.randn(T, N, I, dtype=dtype, device=DEVICE, requires_grad=True)
    hx = initial_state(cls, N, H, dtype) if with_state else None
    weights = [torch.randn(T, N, H, dtype=dtype, device=DEVICE)] + [
        torch.randn(1, N, H, dtype=dtype, device=DEVICE) for _ in range(2)
    ]
    leaves = [x, *rnn.parameters(), *((hx if isinstance(hx, tuple) else (hx,)) if with_state else ())]
    got_out, got_final = fused(rnn, x, hx)
    want_out, want_final = rnn(x, hx)
    got_grads = torch.autograd.grad(loss_of(got_out, got_final, weights), leaves)
    want_grads = torch.autograd.grad(loss_of(want_out, want_final, weights), leaves)
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(got_out, want_out, rtol=0, atol=tol)
    for got, want in zip(got_final if isinstance(got_final, tuple) else (got_final,),
                         want_final if isinstance(want_final, tuple) else (want_final,)):
        torch.testing.assert_close(got, want, rtol=0, atol=tol)
    names = ["input", *(name for name, _ in rnn.named_parameters()), "h0", "c0"]
    for name, got, want in zip(names, got_grads, want_grads):
        torch.testing.assert_close(got, want, rtol=0, atol=tol, msg=lambda m, name=name: f"∂L/∂{name}: {m}")
    return max((a - b).abs().max().item() for a, b in zip((got_out, *got_grads), (want_out, *want_grads)))


@pytest.mark.parametrize("cls", [gatedrnn.LSTM, gatedrnn.GRU], ids=["LSTM", "GRU"])
@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "T{}-N{}-I{}-H{}".format(*s))
@pytest.mark.parametrize("with_state", [False, True], ids=["zero-state", "given-state"])
def test_layer_matches_python_loop_float64(cls, sizes, with_state):
    compare(cls, sizes, torch.float64, with_state)


@pytest.mark.parametrize("cls", [gatedrnn.LSTM, gatedrnn.GRU], ids=["LSTM", "GRU"])
def test_layer_without_bias_matches_python_loop(cls):
    compare(cls, SIZES[0], torch.float64, with_state=True, bias=False)


@pytest.mark.parametrize("cls", [gatedrnn.LSTM, gatedrnn.GRU], ids=["LSTM", "GRU"])
def test_layer_matches_python_loop_float32(cls):
    compare(cls, SIZES[1], torch.float32, with_state=True)


@pytest.mark.parametrize("cls", [gatedrnn.LSTM, gatedrnn.GRU], ids=["LSTM", "GRU"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("sizes", SIZES[:2], ids=lambda s: "T{}-N{}-I{}-H{}".format(*s))
def test_fused_grad_norms_match_grad_norms_through_time(cls, dtype, sizes):
    T, N, I, H = sizes
    rnn = make(cls, I, H, dtype)
    x = torch.randn(T, N, I, dtype=dtype, device=DEVICE)
    weights = torch.randn(T, N, H, dtype=dtype, device=DEVICE)
    hx = tuple(s.detach() for s in initial_state(cls, N, H, dtype)) if cls is gatedrnn.LSTM else None

    def loss_fn(output):
        return (output * weights).sum() + output[-1].pow(2).sum()

    got = kernels.fused_grad_norms(rnn, x, loss_fn, hx)
    want = gatedrnn.grad_norms_through_time(rnn, x, loss_fn, hx)
    assert got.shape == (T,) and got.dtype == dtype and not got.requires_grad
    torch.testing.assert_close(got, want, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype])
    assert all(p.grad is None for p in rnn.parameters())


def test_norms_of_a_last_step_loss_decay_into_the_past():
    """A loss on the last output only: the norm at T-1 is ‖∂L/∂output_{T-1}‖, and the others come through the
    recurrence alone, as the book's instrument measures them."""
    rnn = make(gatedrnn.LSTM, 2, 8, torch.float64)
    x = torch.randn(12, 4, 2, dtype=torch.float64, device=DEVICE)
    norms = kernels.fused_grad_norms(rnn, x, lambda output: output[-1].sum())
    assert norms[-1].item() == pytest.approx(32**0.5, rel=1e-12)  # ∂L/∂h_{T-1} is all ones, [4, 8]
    torch.testing.assert_close(norms, gatedrnn.grad_norms_through_time(rnn, x, lambda output: output[-1].sum()),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls", [gatedrnn.LSTM, gatedrnn.GRU], ids=["LSTM", "GRU"])
@pytest.mark.parametrize("scale", [1e-30, 1e25], ids=["vanished", "exploded"])
def test_float32_norms_far_outside_the_range_of_their_squares_match_float64(cls, scale):
    """Norms of a float32 gradient whose squares leave float32's range (below ~1e-19 or above ~1e19, where the
    book's vanishing and exploding runs go) come out neither 0 nor inf: they match the float64 instrument."""
    rnn = make(cls, 2, 5, torch.float32)
    reference = copy.deepcopy(rnn).double()
    x = torch.randn(6, 3, 2, dtype=torch.float64, device=DEVICE)
    got = kernels.fused_grad_norms(rnn, x.float(), lambda output: scale * output[-1].sum())
    want = gatedrnn.grad_norms_through_time(reference, x, lambda output: scale * output[-1].sum())
    assert got.dtype == torch.float32 and torch.isfinite(got).all() and (got > 0).all(), got
    torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=0)


@pytest.mark.parametrize("cls", [gatedrnn.LSTM, gatedrnn.GRU], ids=["LSTM", "GRU"])
def test_a_second_derivative_through_the_kernels_raises(cls):
    """The kernels' backward is not differentiable: a graph of the first derivative (``create_graph=True``) would
    give second derivatives that silently miss every term through the recurrence (how ∂L/∂W_ih depends on x through
    the states, say), so asking for one raises, even for a loss linear in the output."""
    rnn = make(cls, 2, 4, torch.float64)
    x = torch.randn(5, 3, 2, dtype=torch.float64, device=DEVICE, requires_grad=True)
    for loss in (lambda output: output.pow(2).sum(), lambda output: output.sum()):
        output, _ = fused(rnn, x, None)
        with pytest.raises(RuntimeError, match="create_graph=True: the fused kernels' backward is not differentiable"):
            torch.autograd.grad(loss(output), rnn.weight_ih_l0, create_graph=True)
    output, _ = fused(rnn, x, None)
    (g,) = torch.autograd.grad(output.pow(2).sum(), x)  # a first derivative alone is unaffected
    assert torch.isfinite(g).all()


def test_layer_writes_norms_into_the_given_buffer():
    rnn = make(gatedrnn.GRU, 3, 5, torch.float64)
    x = torch.randn(4, 2, 3, dtype=torch.float64, device=DEVICE)
    p = rnn.layer_parameters(0)
    norms = torch.full((4,), -1.0, dtype=torch.float64, device=DEVICE)
    output, _ = kernels.gru_layer(x, p.weight_ih, p.weight_hh, p.bias_ih, p.bias_hh, grad_norms=norms)
    assert (norms == -1).all()  # the forward leaves it alone
    output.pow(2).sum().backward()
    want = gatedrnn.grad_norms_through_time(rnn, x, lambda o: o.pow(2).sum())
    torch.testing.assert_close(norms, want, rtol=1e-10, atol=1e-12)


def arguments(gates=4, T=3, N=2, I=4, H=5, dtype=torch.float64):
    kw = {"dtype": dtype, "device": DEVICE}
    return {
        "input": torch.randn(T, N, I, **kw),
        "weight_ih": torch.randn(gates * H, I, **kw),
        "weight_hh": torch.randn(gates * H, H, **kw),
        "bias_ih": torch.randn(gates * H, **kw),
        "bias_hh": torch.randn(gates * H, **kw),
    }


F64 = torch.float64  # the table below is built at collection, before the conftest's float64 default


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"input": torch.zeros(3, 4, dtype=F64)}, ValueError, r"input: expected a 3-D tensor"),
        ({"input": torch.zeros(0, 2, 4, dtype=F64)}, ValueError, r"input: expected at least one step"),
        ({"input": torch.zeros(3, 2, 6, dtype=F64)}, ValueError, r"weight_ih: expected shape \(20, 6\)"),
        ({"input": [[[0.0]]]}, TypeError, r"input: expected a torch.Tensor"),
        ({"input": torch.zeros(3, 2, 4, dtype=torch.float32)}, TypeError, r"input: expected dtype torch.float64"),
        ({"weight_hh": torch.zeros(20, 4, dtype=F64)}, ValueError, r"weight_hh: expected shape \(4·hidden_size, "),
        ({"weight_hh": torch.zeros(15, 5, dtype=F64)}, ValueError, r"weight_hh: expected shape \(4·hidden_size"),
        ({"weight_hh": torch.zeros(20, 5, dtype=torch.float16)}, TypeError, r"weight_hh: expected dtype torch.float32"),
        ({"weight_hh": torch.zeros(20, 5, dtype=torch.int64)}, TypeError, r"weight_hh: expected dtype"),
        ({"weight_hh": torch.zeros(4 * 513, 513, dtype=F64)}, ValueError, r"weight_hh: expected hidden_size <= 512"),
        ({"weight_ih": torch.zeros(20, 3, dtype=F64)}, ValueError, r"weight_ih: expected shape \(20, 4\)"),
        ({"bias_hh": torch.zeros(15, dtype=F64)}, ValueError, r"bias_hh: expected shape \(20,\)"),
        ({"bias_ih": torch.zeros(20, dtype=torch.float32)}, TypeError, r"bias_ih: expected dtype torch.float64"),
        ({"h0": torch.zeros(1, 2, 5, dtype=F64)}, ValueError, r"h0: expected shape \(2, 5\) \(batch, hidden_size\)"),
        ({"c0": torch.zeros(3, 5, dtype=F64)}, ValueError, r"c0: expected shape \(2, 5\)"),
        ({"grad_norms": torch.zeros(2, dtype=F64)}, ValueError, r"grad_norms: expected shape \(3,\)"),
        ({"grad_norms": torch.zeros(3, dtype=F64, requires_grad=True)}, ValueError, r"grad_norms: expected a plain"),
    ],
)
def test_lstm_layer_rejects_bad_arguments(change, error, match):
    args = arguments() | {k: v.to(DEVICE) if isinstance(v, torch.Tensor) else v for k, v in change.items()}
    with pytest.raises(error, match=match):
        kernels.lstm_layer(**args)


def test_gru_layer_rejects_an_lstm_sized_weight():
    args = arguments(gates=4)
    with pytest.raises(ValueError, match=r"weight_hh: expected shape \(3·hidden_size, hidden_size\)"):
        kernels.gru_layer(**args)


@pytest.mark.parametrize(
    "rnn, error, match",
    [
        (lambda: gatedrnn.RNN(4, 5), TypeError, r"rnn: expected a gatedrnn.LSTM or GRU, got RNN"),
        (lambda: torch.nn.LSTM(4, 5), TypeError, r"rnn: expected a gatedrnn.LSTM or GRU, got LSTM"),
        (lambda: gatedrnn.LSTM(4, 5, num_layers=2), ValueError, r"rnn: expected num_layers=1, got 2"),
        (lambda: gatedrnn.GRU(4, 5, bidirectional=True), ValueError, r"rnn: expected a unidirectional module"),
        (lambda: gatedrnn.LSTM(4, 5, proj_size=2), ValueError, r"rnn: expected an LSTM without projection"),
        (lambda: gatedrnn.GRU(4, 5, batch_first=True), ValueError, r"rnn: expected batch_first=False"),
    ],
)
def test_fused_grad_norms_rejects_unsupported_modules(rnn, error, match):
    module = rnn().to(DEVICE)
    with pytest.raises(error, match=match):
        kernels.fused_grad_norms(module, torch.zeros(3, 2, 4, device=DEVICE), lambda output: output.sum())


def test_fused_grad_norms_rejects_bad_inputs_state_and_loss():
    lstm, gru = make(gatedrnn.LSTM, 4, 5, torch.float64), make(gatedrnn.GRU, 4, 5, torch.float64)
    x = torch.zeros(3, 2, 4, dtype=torch.float64, device=DEVICE)
    with pytest.raises(ValueError, match=r"inputs: expected a 3-D tensor"):
        kernels.fused_grad_norms(lstm, x[:, 0], lambda output: output.sum())
    with pytest.raises(TypeError, match=r"inputs: expected dtype torch.float64"):
        kernels.fused_grad_norms(lstm, x.float(), lambda output: output.sum())
    with pytest.raises(TypeError, match=r"hx: expected a tuple \(h_0, c_0\)"):
        kernels.fused_grad_norms(lstm, x, lambda output: output.sum(), torch.zeros(1, 2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"hx: expected a tensor \(1, batch, hidden_size\)"):
        kernels.fused_grad_norms(gru, x, lambda output: output.sum(), (x, x))
    with pytest.raises(ValueError, match=r"hx: expected shape \(1, 2, 5\)"):
        kernels.fused_grad_norms(gru, x, lambda output: output.sum(), torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"loss_fn: expected a callable"):
        kernels.fused_grad_norms(gru, x, "sum")
    with pytest.raises(ValueError, match=r"loss_fn: expected a scalar tensor, got \(3, 2, 5\)"):
        kernels.fused_grad_norms(gru, x, lambda output: output)
    with pytest.raises(ValueError, match=r"loss_fn: its value does not depend"):
        kernels.fused_grad_norms(gru, x, lambda output: torch.zeros((), dtype=torch.float64))


def test_package_imports_without_triton():
    """``import gatedrnn`` does not load the kernels, and the kernels' module loads without Triton, failing only when
    a kernel is called."""
    script = (
        "import sys\n"
        "import gatedrnn\n"
        "assert 'gatedrnn.nn.kernels' not in sys.modules\n"
        "sys.modules['triton'] = None\n"  # makes `import triton` fail, as where it is not installed
        "from gatedrnn.nn import kernels\n"
        "import torch\n"
        "try:\n"
        "    kernels.gru_layer(torch.zeros(2, 1, 3), torch.zeros(6, 3), torch.zeros(6, 2))\n"
        "except ModuleNotFoundError as error:\n"
        "    assert 'pip install triton' in str(error), error\n"
        "else:\n"
        "    raise AssertionError('no error without triton')\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", script], check=True, timeout=120)


def test_cpu_tensors_without_the_interpreter_are_refused():
    """Compiled kernels cannot read CPU memory: without the interpreter, a CPU tensor gets a ValueError, not a crash."""
    script = (
        "import os\n"
        "os.environ.pop('TRITON_INTERPRET', None)\n"
        "import torch\n"
        "from gatedrnn.nn import kernels\n"
        "try:\n"
        "    kernels.gru_layer(torch.zeros(2, 1, 3), torch.zeros(6, 3), torch.zeros(6, 2))\n"
        "except ValueError as error:\n"
        "    assert 'TRITON_INTERPRET=1' in str(error), error\n"
        "else:\n"
        "    raise AssertionError('no error on the CPU without the interpreter')\n"
    )
    subprocess.run([sys.executable, "-W", "error", "-c", script], check=True, timeout=120)


def test_rows_per_program_fill_the_multiprocessors_before_sharing_them():
    """tl.dot needs 16 in its inner size, not 16 rows: a batch no larger than the GPU's multiprocessors runs one row
    a program, larger ones as few rows as fill them, in powers of two up to 16 (the sizes above run 1, 2, 4 and 16
    rows a program under the interpreter, and match the loop)."""
    assert kernels.rows_per_program(64, 132) == 1  # the speed chapter's batch on an H100: 64 programs, not 4
    assert kernels.rows_per_program(132, 132) == 1 and kernels.rows_per_program(133, 132) == 2
    assert kernels.rows_per_program(1000, 132) == 8 and kernels.rows_per_program(10_000, 132) == 16
    assert [kernels.rows_per_program(n, 1) for n in (1, 2, 3, 19)] == [1, 2, 4, 16]
