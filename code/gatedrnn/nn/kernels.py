"""Fused kernels: one LSTM or GRU layer whose time loop runs inside one Triton kernel, forward and backward, and whose
backward also measures ‖∂L/∂h_t‖ at every step, the book's gradient instrument (:mod:`gatedrnn.instruments.gradients`).

**What stays in torch.** Everything that is parallel over time: the input's share ``u_t = W_ih x_t + b_ih`` for all
steps at once (one ``F.linear``, whose backward autograd does: ∂L/∂x, ∂L/∂W_ih, ∂L/∂b_ih), and after the backward
kernel, ``∂L/∂W_hh = Σ_t dv_tᵀ h_{t-1}`` as one matrix product over all steps and ``∂L/∂b_hh = Σ_t dv_t``.

**What a kernel does.** Only the sequential part. Each program owns a block of ``BLOCK_N`` batch rows and *all* H
units (padded to a power of two and masked, so any H works), and loops over t inside one launch: rows are
independent, so programs never wait for each other. At every step the forward kernel computes ``W_hh h_{t-1}``
gate block by gate block (one ``tl.dot`` per block and chunk of ``BLOCK_K`` inputs, reading ``h_{t-1}`` back from the
output it wrote one step earlier), then the gates with the equations of :mod:`gatedrnn.nn.cells` (LSTM gate order
i, f, g, o; GRU r, z, n in PyTorch's reset-after form), and stores what the backward needs:

* LSTM: the gate activations ``i, f, g, o`` [T, N, 4H], every ``c_t`` [T+1, N, H] and ``h_t`` [T+1, N, H]
  (index 0 holds the initial state);
* GRU: ``r, z, n`` and the hidden share of the candidate ``v_n = W_hn h_{t-1} + b_hn`` [T, N, 4H], and ``h_t``.

The backward kernel runs t = T-1 … 0 and carries ``dh`` (and the LSTM's ``dc``) in registers. At step t the total
derivative is ``dh_t = ∂L/∂output_t + (∂L/∂h_{t+1}) ∂h_{t+1}/∂h_t`` (plus ∂L/∂h_n at t = T-1); the kernel stores the
sum of squares of each row of it, ``sq[t, n]``, so that ``‖∂L/∂h_t‖ = sqrt(Σ_n sq[t, n])`` (squared and summed in
float64, so that a float32 norm far below 1e-19 or above 1e19, the regimes the book studies, is neither 0 nor inf),
then the pre-activation gradients of step t (``du_t``, and for the GRU ``dv_n`` too, which differs from ``du_n`` by
the factor r), then the carry into step t-1, ``dh_{t-1} ← dv_t W_hh`` (+ ``z ⊙ dh_t`` for the GRU), again one
``tl.dot`` per gate block. The backward is not itself differentiable: asking for a second derivative raises.

**How the norms come out.** :func:`lstm_layer` and :func:`gru_layer` take an optional ``grad_norms`` tensor [T]; when
the backward runs, it writes ``‖∂L/∂h_t‖`` into it (an ordinary buffer, not part of the graph).
:func:`fused_grad_norms` does this for a :class:`gatedrnn.LSTM` or :class:`gatedrnn.GRU` and returns the same [T]
tensor as :func:`gatedrnn.instruments.gradients.grad_norms_through_time`.

**What it gives up.** The per-step states are not nodes of the autograd graph, so ``∂L/∂h_t`` itself is never
available, only its norm (:func:`gatedrnn.instruments.gradients.grad_norms_through_time` and
:meth:`gatedrnn.nn.layers.RecurrentBase.unroll` keep every ``h_t`` as a node); a loss can read the output sequence and
the final state, but no other intermediate. Memory: the forward keeps 4·T·N·H numbers of gates besides the states (the
LSTM's ``c_t`` too), the backward writes as many pre-activation gradients. Parallelism is over batch rows only: a batch
of N rows runs ``ceil(N / BLOCK_N)`` programs, with ``BLOCK_N`` as small as fills the GPU's multiprocessors (one row
a program when N is at most their number), so a batch smaller than that leaves the rest idle; and H is bounded
(``MAX_HIDDEN``) because a program holds a block of rows × all units in registers. Dtypes: float32 (products in IEEE
float32, no TF32) and float64.

**Where it runs.** On a CUDA device with Triton; on CPU tensors only under Triton's interpreter. Triton decides
between the two for each kernel when it is decorated, that is when this module is first imported, from
``TRITON_INTERPRET``; the interpreter also needs that variable set while the kernels first run (Triton imports
parts of itself then). ``tests/test_kernels.py`` shows how. ``import gatedrnn`` never imports this module, and this
module imports without Triton; only calling a kernel needs it.
"""

from __future__ import annotations

import contextlib
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gatedrnn import validation
from gatedrnn.nn.layers import GRU, LSTM

try:
    import triton
    import triton.language as tl
except ImportError:  # the package imports without Triton; calling a kernel then raises (:func:`_require_triton`)
    triton = None
    tl = None

# A program holds BLOCK_N rows × next_pow2(H) units of several tensors in registers, and a BLOCK_K × next_pow2(H)
# block of W_hh in shared memory per product: at H = 512 it spills registers and takes 132 KiB of shared memory in
# float64; beyond, it would need more shared memory than an H100 has.
MAX_HIDDEN = 512
MAX_BLOCK_N = 16  # batch rows per program, at most; tl.dot on a GPU needs 16 in its inner size (BLOCK_K), not in rows


def _jit(fn=None, **options):
    """``triton.jit`` when Triton is installed; else the plain function (never called: :func:`_require_triton`)."""
    if fn is None:
        return lambda fn: _jit(fn, **options)
    return triton.jit(fn, **options) if triton is not None else fn


# ---- the kernels ------------------------------------------------------------------------------------------------
# Pointers to per-step tensors move by one step's stride [N, ·] as t moves (pointer arithmetic is 64-bit, so T·N·4H
# may exceed 2³¹; one step's N·4H may not). Loads of padded rows or units give 0, and stores are masked.
# The kernels call only Triton's builtins and their own jit functions, none of its jit-written library (tl.sum,
# tl.zeros, tl.sigmoid): Triton compiles or interprets a jit function as TRITON_INTERPRET says when it is decorated,
# and its library is decorated when triton is first imported, which torch.utils.flop_counter (imported by
# gatedrnn.instruments.cost) does before a test can switch the interpreter on. Ours are decorated when this module is
# imported.


@_jit
def _add(a, b):
    return a + b


@_jit
def _sigmoid(x):
    return 1 / (1 + tl.exp(-x))


@_jit
def _tanh(x):
    # tanh(x) = 2σ(2x) - 1; exp(-2|x|) never overflows. The interpreter has no libdevice tanh.
    e = tl.exp(-2 * tl.abs(x))
    y = (1 - e) / (1 + e)
    return tl.where(x < 0, -y, y)


@_jit
def _rows_times(a_ptr, a_stride, b_ptr, b_stride, K, rows, row_mask, cols, col_mask,
                BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr):
    """Σ_k a[rows, k] · b[k, cols] over k < K: a block of rows of a matrix times a matrix, in chunks of BLOCK_K."""
    acc = tl.full((BLOCK_N, BLOCK_H), 0, a_ptr.dtype.element_ty)
    for k0 in range(0, K, BLOCK_K):
        ks = k0 + tl.arange(0, BLOCK_K)
        k_mask = ks < K
        a = tl.load(a_ptr + rows[:, None] * a_stride + ks[None, :], mask=row_mask[:, None] & k_mask[None, :], other=0.0)
        b = tl.load(b_ptr + ks[:, None] * b_stride + cols[None, :], mask=k_mask[:, None] & col_mask[None, :], other=0.0)
        acc += tl.dot(a, b, input_precision="ieee")
    return acc


@_jit
def _lstm_forward_kernel(u_ptr, wt_ptr, b_ptr, hs_ptr, cs_ptr, gates_ptr, T, N, H,
                         BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr):
    """u [T, N, 4H], W_hhᵀ [H, 4H], b_hh [4H]; hs, cs [T+1, N, H] hold h_0, c_0 at index 0 and get h_t, c_t at t+1;
    gates [T, N, 4H] get i, f, g, o."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_H)
    row_mask, col_mask = rows < N, cols < H
    mask = row_mask[:, None] & col_mask[None, :]
    G = 4 * H
    wide = rows[:, None] * G + cols[None, :]  # [row, unit] in a [N, 4H] step
    narrow = rows[:, None] * H + cols[None, :]  # [row, unit] in a [N, H] step
    b_i = tl.load(b_ptr + cols, mask=col_mask, other=0.0)[None, :]
    b_f = tl.load(b_ptr + H + cols, mask=col_mask, other=0.0)[None, :]
    b_g = tl.load(b_ptr + 2 * H + cols, mask=col_mask, other=0.0)[None, :]
    b_o = tl.load(b_ptr + 3 * H + cols, mask=col_mask, other=0.0)[None, :]
    c = tl.load(cs_ptr + narrow, mask=mask, other=0.0)
    for _ in range(T):
        # pre-activations a = u_t + W_hh h_{t-1} + b_hh, block by block, eq. (lstm-gates)
        a_i = tl.load(u_ptr + wide, mask=mask, other=0.0) + b_i
        a_f = tl.load(u_ptr + H + wide, mask=mask, other=0.0) + b_f
        a_g = tl.load(u_ptr + 2 * H + wide, mask=mask, other=0.0) + b_g
        a_o = tl.load(u_ptr + 3 * H + wide, mask=mask, other=0.0) + b_o
        a_i += _rows_times(hs_ptr, H, wt_ptr, G, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K)
        a_f += _rows_times(hs_ptr, H, wt_ptr + H, G, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K)
        a_g += _rows_times(hs_ptr, H, wt_ptr + 2 * H, G, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K)
        a_o += _rows_times(hs_ptr, H, wt_ptr + 3 * H, G, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K)
        i, f, g, o = _sigmoid(a_i), _sigmoid(a_f), _tanh(a_g), _sigmoid(a_o)
        c = f * c + i * g  # eq. (lstm-cell)
        h = o * _tanh(c)  # eq. (lstm-hidden)
        tl.store(gates_ptr + wide, i, mask=mask)
        tl.store(gates_ptr + H + wide, f, mask=mask)
        tl.store(gates_ptr + 2 * H + wide, g, mask=mask)
        tl.store(gates_ptr + 3 * H + wide, o, mask=mask)
        u_ptr += N * G
        gates_ptr += N * G
        hs_ptr += N * H
        cs_ptr += N * H
        tl.store(hs_ptr + narrow, h, mask=mask)
        tl.store(cs_ptr + narrow, c, mask=mask)
        tl.debug_barrier()  # the next step reads h_t back from memory, written by other threads of this program


@_jit(do_not_specialize=["T"])  # T = 1 would become a constant, which has no .to(tl.int64)
def _lstm_backward_kernel(dout_ptr, w_ptr, gates_ptr, cs_ptr, du_ptr, sq_ptr, dh0_ptr, dc0_ptr, T, N, H,
                          BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr):
    """dout [T, N, H] (∂L/∂output, with ∂L/∂h_n added at T-1), W_hh [4H, H], gates [T, N, 4H], cs [T+1, N, H];
    dc0 [N, H] holds ∂L/∂c_n on entry. Writes du [T, N, 4H], sq [T, N], and ∂L/∂h_0, ∂L/∂c_0 into dh0, dc0."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_H)
    row_mask, col_mask = rows < N, cols < H
    mask = row_mask[:, None] & col_mask[None, :]
    G = 4 * H
    wide = rows[:, None] * G + cols[None, :]
    narrow = rows[:, None] * H + cols[None, :]
    dc = tl.load(dc0_ptr + narrow, mask=mask, other=0.0)  # ∂L/∂c_t through c_{t+1} (∂L/∂c_n at first)
    dh_next = tl.full((BLOCK_N, BLOCK_H), 0, dc.dtype)  # ∂L/∂h_t through step t+1
    last = (T - 1).to(tl.int64)  # start at step T-1; an offset that may exceed 2³¹
    dout_ptr += last * N * H
    gates_ptr += last * N * G
    du_ptr += last * N * G
    cs_ptr += last * N * H
    sq_ptr += last * N
    for _ in range(T):
        dh = tl.load(dout_ptr + narrow, mask=mask, other=0.0) + dh_next  # the total derivative ∂L/∂h_t
        dh_wide = dh.to(tl.float64)  # squares of float32 norms below ~1e-19 or above ~1e19 leave float32's range
        tl.store(sq_ptr + rows, tl.reduce(dh_wide * dh_wide, 1, _add), mask=row_mask)
        i = tl.load(gates_ptr + wide, mask=mask, other=0.0)
        f = tl.load(gates_ptr + H + wide, mask=mask, other=0.0)
        g = tl.load(gates_ptr + 2 * H + wide, mask=mask, other=0.0)
        o = tl.load(gates_ptr + 3 * H + wide, mask=mask, other=0.0)
        c_prev = tl.load(cs_ptr + narrow, mask=mask, other=0.0)
        tanh_c = _tanh(tl.load(cs_ptr + N * H + narrow, mask=mask, other=0.0))
        dc += dh * o * (1 - tanh_c * tanh_c)  # through h_t = o tanh(c_t)
        tl.store(du_ptr + wide, dc * g * i * (1 - i), mask=mask)
        tl.store(du_ptr + H + wide, dc * c_prev * f * (1 - f), mask=mask)
        tl.store(du_ptr + 2 * H + wide, dc * i * (1 - g * g), mask=mask)
        tl.store(du_ptr + 3 * H + wide, dh * tanh_c * o * (1 - o), mask=mask)
        dc = dc * f  # into c_{t-1}
        tl.debug_barrier()  # the products below read du_t back from memory, written by other threads
        dh_next = _rows_times(du_ptr, G, w_ptr, H, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K)
        dh_next += _rows_times(du_ptr + H, G, w_ptr + H * H, H, H, rows, row_mask, cols, col_mask,
                               BLOCK_N, BLOCK_H, BLOCK_K)
        dh_next += _rows_times(du_ptr + 2 * H, G, w_ptr + 2 * H * H, H, H, rows, row_mask, cols, col_mask,
                               BLOCK_N, BLOCK_H, BLOCK_K)
        dh_next += _rows_times(du_ptr + 3 * H, G, w_ptr + 3 * H * H, H, H, rows, row_mask, cols, col_mask,
                               BLOCK_N, BLOCK_H, BLOCK_K)
        dout_ptr -= N * H
        gates_ptr -= N * G
        du_ptr -= N * G
        cs_ptr -= N * H
        sq_ptr -= N
    tl.store(dh0_ptr + narrow, dh_next, mask=mask)
    tl.store(dc0_ptr + narrow, dc, mask=mask)


@_jit
def _gru_forward_kernel(u_ptr, wt_ptr, b_ptr, hs_ptr, gates_ptr, T, N, H,
                        BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr):
    """u [T, N, 3H], W_hhᵀ [H, 3H], b_hh [3H]; hs [T+1, N, H] holds h_0 at index 0 and gets h_t at t+1;
    gates [T, N, 4H] get r, z, n and v_n = W_hn h_{t-1} + b_hn."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_H)
    row_mask, col_mask = rows < N, cols < H
    mask = row_mask[:, None] & col_mask[None, :]
    G = 3 * H
    wide = rows[:, None] * G + cols[None, :]  # [row, unit] in a [N, 3H] step
    gate_at = rows[:, None] * 4 * H + cols[None, :]  # [row, unit] in a [N, 4H] step of the stored gates
    narrow = rows[:, None] * H + cols[None, :]
    b_r = tl.load(b_ptr + cols, mask=col_mask, other=0.0)[None, :]
    b_z = tl.load(b_ptr + H + cols, mask=col_mask, other=0.0)[None, :]
    b_n = tl.load(b_ptr + 2 * H + cols, mask=col_mask, other=0.0)[None, :]
    h = tl.load(hs_ptr + narrow, mask=mask, other=0.0)
    for _ in range(T):
        v_r = _rows_times(hs_ptr, H, wt_ptr, G, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K) + b_r
        v_z = _rows_times(hs_ptr, H, wt_ptr + H, G, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K) + b_z
        v_n = _rows_times(hs_ptr, H, wt_ptr + 2 * H, G, H, rows, row_mask, cols, col_mask,
                          BLOCK_N, BLOCK_H, BLOCK_K) + b_n
        r = _sigmoid(tl.load(u_ptr + wide, mask=mask, other=0.0) + v_r)  # reset gate, eq. (gru-gates)
        z = _sigmoid(tl.load(u_ptr + H + wide, mask=mask, other=0.0) + v_z)  # update gate, eq. (gru-gates)
        n = _tanh(tl.load(u_ptr + 2 * H + wide, mask=mask, other=0.0) + r * v_n)  # candidate, eq. (gru-candidate)
        h = (1 - z) * n + z * h  # eq. (gru-hidden)
        tl.store(gates_ptr + gate_at, r, mask=mask)
        tl.store(gates_ptr + H + gate_at, z, mask=mask)
        tl.store(gates_ptr + 2 * H + gate_at, n, mask=mask)
        tl.store(gates_ptr + 3 * H + gate_at, v_n, mask=mask)
        u_ptr += N * G
        gates_ptr += N * 4 * H
        hs_ptr += N * H
        tl.store(hs_ptr + narrow, h, mask=mask)
        tl.debug_barrier()  # the next step reads h_t back from memory, written by other threads of this program


@_jit(do_not_specialize=["T"])
def _gru_backward_kernel(dout_ptr, w_ptr, gates_ptr, hs_ptr, du_ptr, dvn_ptr, sq_ptr, dh0_ptr, T, N, H,
                         BLOCK_N: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr):
    """dout [T, N, H] (∂L/∂output, with ∂L/∂h_n added at T-1), W_hh [3H, H], gates [T, N, 4H], hs [T+1, N, H].
    Writes du [T, N, 3H] (= dv except the candidate block), dv_n [T, N, H], sq [T, N] and ∂L/∂h_0 into dh0."""
    rows = tl.program_id(0) * BLOCK_N + tl.arange(0, BLOCK_N)
    cols = tl.arange(0, BLOCK_H)
    row_mask, col_mask = rows < N, cols < H
    mask = row_mask[:, None] & col_mask[None, :]
    G = 3 * H
    wide = rows[:, None] * G + cols[None, :]
    gate_at = rows[:, None] * 4 * H + cols[None, :]
    narrow = rows[:, None] * H + cols[None, :]
    dh_next = tl.full((BLOCK_N, BLOCK_H), 0, dout_ptr.dtype.element_ty)
    last = (T - 1).to(tl.int64)  # start at step T-1; an offset that may exceed 2³¹
    dout_ptr += last * N * H
    gates_ptr += last * N * 4 * H
    hs_ptr += last * N * H
    du_ptr += last * N * G
    dvn_ptr += last * N * H
    sq_ptr += last * N
    for _ in range(T):
        dh = tl.load(dout_ptr + narrow, mask=mask, other=0.0) + dh_next  # the total derivative ∂L/∂h_t
        dh_wide = dh.to(tl.float64)  # squares of float32 norms below ~1e-19 or above ~1e19 leave float32's range
        tl.store(sq_ptr + rows, tl.reduce(dh_wide * dh_wide, 1, _add), mask=row_mask)
        r = tl.load(gates_ptr + gate_at, mask=mask, other=0.0)
        z = tl.load(gates_ptr + H + gate_at, mask=mask, other=0.0)
        n = tl.load(gates_ptr + 2 * H + gate_at, mask=mask, other=0.0)
        v_n = tl.load(gates_ptr + 3 * H + gate_at, mask=mask, other=0.0)
        h_prev = tl.load(hs_ptr + narrow, mask=mask, other=0.0)
        da_n = dh * (1 - z) * (1 - n * n)  # through n = tanh(u_n + r v_n)
        da_z = dh * (h_prev - n) * z * (1 - z)
        tl.store(du_ptr + wide, da_n * v_n * r * (1 - r), mask=mask)
        tl.store(du_ptr + H + wide, da_z, mask=mask)
        tl.store(du_ptr + 2 * H + wide, da_n, mask=mask)
        tl.store(dvn_ptr + narrow, da_n * r, mask=mask)
        tl.debug_barrier()  # the products below read du_t and dv_n back from memory, written by other threads
        dh_next = dh * z  # h_t = (1 - z) n + z h_{t-1}
        dh_next += _rows_times(du_ptr, G, w_ptr, H, H, rows, row_mask, cols, col_mask, BLOCK_N, BLOCK_H, BLOCK_K)
        dh_next += _rows_times(du_ptr + H, G, w_ptr + H * H, H, H, rows, row_mask, cols, col_mask,
                               BLOCK_N, BLOCK_H, BLOCK_K)
        dh_next += _rows_times(dvn_ptr, H, w_ptr + 2 * H * H, H, H, rows, row_mask, cols, col_mask,
                               BLOCK_N, BLOCK_H, BLOCK_K)
        dout_ptr -= N * H
        gates_ptr -= N * 4 * H
        hs_ptr -= N * H
        du_ptr -= N * G
        dvn_ptr -= N * H
        sq_ptr -= N
    tl.store(dh0_ptr + narrow, dh_next, mask=mask)


# The four kernels by name, for tools that compile or inspect them (tools/gpu_check.py).
KERNELS = {"lstm_forward": _lstm_forward_kernel, "lstm_backward": _lstm_backward_kernel,
           "gru_forward": _gru_forward_kernel, "gru_backward": _gru_backward_kernel}


# ---- launching --------------------------------------------------------------------------------------------------
def _require_triton() -> None:
    if triton is None:
        raise ModuleNotFoundError(
            "gatedrnn.nn.kernels needs Triton: `pip install triton` (a CUDA build of torch ships it)", name="triton"
        )


def _interpreted() -> bool:
    """True when Triton's interpreter runs the kernels (TRITON_INTERPRET=1 when Triton was imported)."""
    return not isinstance(_lstm_forward_kernel, triton.runtime.JITFunction)


def rows_per_program(batch: int, programs: int) -> int:
    """Batch rows per program (``BLOCK_N``): the fewest that cover ``batch`` rows with at most ``programs``
    programs (the GPU's multiprocessors, one program each), rounded up to a power of two, at most ``MAX_BLOCK_N``.
    N = 64 on an H100's 132 multiprocessors runs 64 programs of one row, not 4 of 16."""
    return min(MAX_BLOCK_N, triton.next_power_of_2(triton.cdiv(batch, programs)))


def multiprocessors(device: torch.device) -> int:
    """How many programs run at once, one a multiprocessor: the CUDA device's count, and 1 under the interpreter."""
    return torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 1


def block_sizes(hidden: int, rows: int) -> dict[str, int]:
    """Block sizes and warps for ``rows`` batch rows a program (``BLOCK_N``, from :func:`rows_per_program`): all H
    units padded to a power of two (≥ 16), products in chunks of 16 inputs, and more warps for more units. Chosen
    from ptxas's register counts for an H100/H200 (sm_90), compiled without a GPU (Triton 3.7.1): with 4 warps up to
    H = 32, 8 up to 128, 16 at 256 and 32 at 512, the four kernels spill at most 48 bytes a thread in float32 up to
    H = 128 (none up to 64), at most 544 in float64 at H = 128, and 0.2–2 KB at H = 256–512 with 16 rows a program
    (fewer rows spill no more: 0.6 KB in float32 at H = 512 with one); shared memory stays ≤ 132 KiB.
    ``tools/gpu_check.py`` reports these counts for every kernel."""
    block_h = max(16, triton.next_power_of_2(hidden))
    warps = 4 if block_h <= 32 else 8 if block_h <= 128 else 16 if block_h <= 256 else 32
    return {"BLOCK_N": rows, "BLOCK_H": block_h, "BLOCK_K": 16, "num_warps": warps}


def _launch(kernel, batch: int, hidden: int, device: torch.device, *args) -> None:
    """Run ``kernel`` over ``batch`` rows, ``BLOCK_N`` a program, on the tensors' own CUDA device (or interpreted)."""
    blocks = block_sizes(hidden, rows_per_program(batch, multiprocessors(device)))
    with _on(device):
        kernel[(triton.cdiv(batch, blocks["BLOCK_N"]),)](*args, **blocks)


def _on(device: torch.device):
    """Triton launches on the current CUDA device: make it the tensors' own."""
    return torch.cuda.device(device) if device.type == "cuda" else contextlib.nullcontext()


def _refuse_second_derivative() -> None:
    """Raise when autograd asks the backward for a graph of its own (``create_graph=True``, which runs a backward
    with grad mode on): the kernels' backward is not differentiable, and a second derivative through it would
    silently miss every term that goes through the recurrence. (``once_differentiable`` would not do: it raises only
    when the second pass reaches its node, which ``torch.autograd.grad(..., inputs)`` may skip.)"""
    if torch.is_grad_enabled():
        raise RuntimeError(
            "create_graph=True: the fused kernels' backward is not differentiable, so no second derivative goes "
            "through lstm_layer or gru_layer; the package's LSTM and GRU layers (autograd at every step) give one"
        )


def _store_norms(grad_norms: Tensor | None, sq: Tensor) -> None:
    """‖∂L/∂h_t‖ = sqrt(Σ_n sq[t, n]), summed in float64 and only then rounded to ``grad_norms``' dtype."""
    if grad_norms is not None:
        grad_norms.copy_(sq.sum(dim=1).sqrt())


class _LSTMRecurrence(torch.autograd.Function):
    """``(u [T, N, 4H], W_hh, b_hh, h_0, c_0) → (output [T, N, H], h_n, c_n)``: the LSTM's loop over time."""

    @staticmethod
    def forward(ctx, u, weight_hh, bias_hh, h0, c0, grad_norms):
        T, N, H = u.shape[0], u.shape[1], weight_hh.shape[1]
        hs = u.new_empty(T + 1, N, H)
        cs = u.new_empty(T + 1, N, H)
        hs[0] = 0 if h0 is None else h0
        cs[0] = 0 if c0 is None else c0
        gates = u.new_empty(T, N, 4 * H)
        bias = weight_hh.new_zeros(4 * H) if bias_hh is None else bias_hh.contiguous()
        _launch(_lstm_forward_kernel, N, H, u.device, u.contiguous(), weight_hh.t().contiguous(), bias, hs, cs, gates,
                T, N, H)
        ctx.save_for_backward(weight_hh, hs, cs, gates)
        ctx.grad_norms = grad_norms
        return hs[1:], hs[T].clone(), cs[T].clone()

    @staticmethod
    def backward(ctx, d_output, d_hn, d_cn):
        _refuse_second_derivative()
        weight_hh, hs, cs, gates = ctx.saved_tensors
        T, N, H = d_output.shape
        dout = d_output.contiguous().clone()
        dout[T - 1] += d_hn
        dc0 = d_cn.contiguous().clone()  # holds ∂L/∂c_n on entry, ∂L/∂c_0 on return
        du, dh0 = gates.new_empty(T, N, 4 * H), gates.new_empty(N, H)
        sq = gates.new_empty(T, N, dtype=torch.float64)
        _launch(_lstm_backward_kernel, N, H, dout.device, dout, weight_hh.contiguous(), gates, cs, du, sq, dh0, dc0,
                T, N, H)
        _store_norms(ctx.grad_norms, sq)
        needs = ctx.needs_input_grad
        d_weight_hh = du.flatten(0, 1).t() @ hs[:T].flatten(0, 1) if needs[1] else None  # Σ_t du_tᵀ h_{t-1}
        d_bias_hh = du.sum(dim=(0, 1)) if needs[2] else None
        return du, d_weight_hh, d_bias_hh, dh0 if needs[3] else None, dc0 if needs[4] else None, None


class _GRURecurrence(torch.autograd.Function):
    """``(u [T, N, 3H], W_hh, b_hh, h_0) → (output [T, N, H], h_n)``: the GRU's loop over time."""

    @staticmethod
    def forward(ctx, u, weight_hh, bias_hh, h0, grad_norms):
        T, N, H = u.shape[0], u.shape[1], weight_hh.shape[1]
        hs = u.new_empty(T + 1, N, H)
        hs[0] = 0 if h0 is None else h0
        gates = u.new_empty(T, N, 4 * H)
        bias = weight_hh.new_zeros(3 * H) if bias_hh is None else bias_hh.contiguous()
        _launch(_gru_forward_kernel, N, H, u.device, u.contiguous(), weight_hh.t().contiguous(), bias, hs, gates,
                T, N, H)
        ctx.save_for_backward(weight_hh, hs, gates)
        ctx.grad_norms = grad_norms
        return hs[1:], hs[T].clone()

    @staticmethod
    def backward(ctx, d_output, d_hn):
        _refuse_second_derivative()
        weight_hh, hs, gates = ctx.saved_tensors
        T, N, H = d_output.shape
        dout = d_output.contiguous().clone()
        dout[T - 1] += d_hn
        du, dvn = gates.new_empty(T, N, 3 * H), gates.new_empty(T, N, H)
        sq, dh0 = gates.new_empty(T, N, dtype=torch.float64), gates.new_empty(N, H)
        _launch(_gru_backward_kernel, N, H, dout.device, dout, weight_hh.contiguous(), gates, hs, du, dvn, sq, dh0,
                T, N, H)
        _store_norms(ctx.grad_norms, sq)
        needs = ctx.needs_input_grad
        d_weight_hh = d_bias_hh = None
        if needs[1] or needs[2]:
            dv = torch.cat([du[..., : 2 * H], dvn], dim=-1)  # ∂L/∂(W_hh h_{t-1} + b_hh): r multiplies the n block
            d_weight_hh = dv.flatten(0, 1).t() @ hs[:T].flatten(0, 1) if needs[1] else None
            d_bias_hh = dv.sum(dim=(0, 1)) if needs[2] else None
        return du, d_weight_hh, d_bias_hh, dh0 if needs[3] else None, None


# ---- checks -----------------------------------------------------------------------------------------------------
FLOATS = (torch.float32, torch.float64)


def _check_layer(
    gates: int,
    input: object,
    weight_ih: object,
    weight_hh: object,
    bias_ih: object,
    bias_hh: object,
    states: dict[str, object],
    grad_norms: object,
    input_name: str = "input",
) -> None:
    """Check one layer's arguments against ``weight_hh`` [G·H, H], which sets H, the dtype and the device."""
    if not isinstance(weight_hh, Tensor):
        raise TypeError(f"weight_hh: expected a torch.Tensor, got {type(weight_hh).__name__}")
    if weight_hh.dtype not in FLOATS:
        raise TypeError(f"weight_hh: expected dtype torch.float32 or torch.float64, got {weight_hh.dtype}")
    if weight_hh.dim() != 2 or weight_hh.shape[0] != gates * weight_hh.shape[1] or weight_hh.shape[1] < 1:
        raise ValueError(
            f"weight_hh: expected shape ({gates}·hidden_size, hidden_size) with hidden_size >= 1, "
            f"got {tuple(weight_hh.shape)}"
        )
    hidden = weight_hh.shape[1]
    if hidden > MAX_HIDDEN:
        raise ValueError(
            f"weight_hh: expected hidden_size <= {MAX_HIDDEN} (a program holds all units of a block of rows), "
            f"got {hidden}"
        )
    x = validation.check_tensor_like(input_name, input, weight_hh)
    if x.dim() != 3:
        raise ValueError(
            f"{input_name}: expected a 3-D tensor (seq_len, batch, input_size), got a {x.dim()}-D tensor of shape "
            f"{tuple(x.shape)}"
        )
    if x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"{input_name}: expected at least one step and one batch row, got shape {tuple(x.shape)}")
    steps, batch, features = x.shape
    validation.check_tensor_like("weight_ih", weight_ih, weight_hh)
    validation.check_shape("weight_ih", weight_ih, (gates * hidden, features), f"({gates}·hidden_size, input_size)")
    for name, bias in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if bias is not None:
            validation.check_tensor_like(name, bias, weight_hh)
            validation.check_shape(name, bias, (gates * hidden,), f"({gates}·hidden_size,)")
    for name, state in states.items():
        if state is not None:
            validation.check_tensor_like(name, state, weight_hh)
            validation.check_shape(name, state, (batch, hidden), "(batch, hidden_size)")
    if grad_norms is not None:
        validation.check_tensor_like("grad_norms", grad_norms, weight_hh)
        validation.check_shape("grad_norms", grad_norms, (steps,), "(seq_len,)")
        if grad_norms.requires_grad:
            raise ValueError("grad_norms: expected a plain buffer, got a tensor that requires grad")
    if weight_hh.device.type == "cpu" and not _interpreted():
        raise ValueError(
            "weight_hh: on the CPU the kernels run only under Triton's interpreter, switched on by TRITON_INTERPRET=1 "
            "when gatedrnn.nn.kernels is first imported; got a CPU tensor, and the kernels were compiled for a GPU"
        )


# ---- the public functions ---------------------------------------------------------------------------------------
def lstm_layer(
    input: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    h0: Tensor | None = None,
    c0: Tensor | None = None,
    *,
    grad_norms: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One unidirectional LSTM layer, time first: ``input`` [T, N, I] → ``(output [T, N, H], (h_n, c_n))``.

    Weights as :class:`gatedrnn.LSTM`'s layer 0 (gate order i, f, g, o): ``weight_ih`` [4H, I], ``weight_hh`` [4H, H],
    biases [4H] or None; ``h0``, ``c0`` [N, H] or None (zeros); ``h_n``, ``c_n`` are [N, H]. Differentiable in every
    tensor argument. When ``grad_norms`` [T] is given, the backward writes ``‖∂L/∂h_t‖`` into it.
    """
    _require_triton()
    _check_layer(4, input, weight_ih, weight_hh, bias_ih, bias_hh, {"h0": h0, "c0": c0}, grad_norms)
    u = F.linear(input, weight_ih, bias_ih)  # u_t = W_ih x_t + b_ih for every t at once
    output, h_n, c_n = _LSTMRecurrence.apply(u, weight_hh, bias_hh, h0, c0, grad_norms)
    return output, (h_n, c_n)


def gru_layer(
    input: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    h0: Tensor | None = None,
    *,
    grad_norms: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """One unidirectional GRU layer, time first: ``input`` [T, N, I] → ``(output [T, N, H], h_n [N, H])``.

    Weights as :class:`gatedrnn.GRU`'s layer 0 (gate order r, z, n, reset-after form): ``weight_ih`` [3H, I],
    ``weight_hh`` [3H, H], biases [3H] or None; ``h0`` [N, H] or None (zeros). Differentiable in every tensor
    argument. When ``grad_norms`` [T] is given, the backward writes ``‖∂L/∂h_t‖`` into it.
    """
    _require_triton()
    _check_layer(3, input, weight_ih, weight_hh, bias_ih, bias_hh, {"h0": h0}, grad_norms)
    u = F.linear(input, weight_ih, bias_ih)
    return _GRURecurrence.apply(u, weight_hh, bias_hh, h0, grad_norms)


def _module_state(rnn: LSTM | GRU, hx: object, batch: int) -> tuple[Tensor | None, ...]:
    """The module's ``hx`` ([1, N, H], a pair of them for the LSTM, or None) → the layer's (h0[, c0]), [N, H] each."""
    names = ("hx[0]", "hx[1]") if isinstance(rnn, LSTM) else ("hx",)
    if hx is None:
        return (None,) * len(names)
    if isinstance(rnn, LSTM):
        if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
            raise TypeError(f"hx: expected a tuple (h_0, c_0) of two tensors or None for LSTM, got {type(hx).__name__}")
        values = tuple(hx)
    else:
        if not isinstance(hx, Tensor):
            raise TypeError(f"hx: expected a tensor (1, batch, hidden_size) or None for GRU, got {type(hx).__name__}")
        values = (hx,)
    for name, value in zip(names, values):
        validation.check_tensor_like(name, value, rnn.weight_hh_l0)
        validation.check_shape(name, value, (1, batch, rnn.hidden_size), "(1, batch, hidden_size)")
    return tuple(value[0] for value in values)


def fused_grad_norms(
    rnn: LSTM | GRU,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    hx: Tensor | tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """‖∂L/∂h_t‖ for t = 0 … T-1, as :func:`gatedrnn.instruments.gradients.grad_norms_through_time`, computed by the
    fused kernels.

    ``rnn`` is a one-layer unidirectional :class:`gatedrnn.LSTM` (no projection) or :class:`gatedrnn.GRU` with
    ``batch_first=False``; ``inputs`` [T, N, I]; ``loss_fn`` maps the output [T, N, H] to a scalar; ``hx`` as the
    module takes it. The backward kernel runs once, towards the initial state (with the parameters detached, so no
    parameter gradient is computed or touched), and writes the norms. Returns a detached tensor [T] in the parameters'
    dtype.
    """
    _require_triton()
    if not isinstance(rnn, (LSTM, GRU)):
        raise TypeError(f"rnn: expected a gatedrnn.LSTM or GRU, got {type(rnn).__name__}")
    if rnn.num_layers != 1:
        raise ValueError(f"rnn: expected num_layers=1, got {rnn.num_layers}")
    if rnn.bidirectional:
        raise ValueError("rnn: expected a unidirectional module, got bidirectional=True")
    if rnn.proj_size:
        raise ValueError(f"rnn: expected an LSTM without projection (proj_size=0), got proj_size={rnn.proj_size}")
    if rnn.batch_first:
        raise ValueError("rnn: expected batch_first=False (inputs [seq_len, batch, input_size]), got batch_first=True")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable output -> scalar, got {type(loss_fn).__name__}")
    weight_ih, weight_hh, bias_ih, bias_hh, _ = (None if p is None else p.detach() for p in rnn.layer_parameters(0))
    gates = rnn.gates
    _check_layer(gates, inputs, weight_ih, weight_hh, bias_ih, bias_hh, {}, None, input_name="inputs")
    states = _module_state(rnn, hx, inputs.shape[1])
    norms = weight_hh.new_zeros(inputs.shape[0])
    with torch.enable_grad():
        h0 = (weight_hh.new_zeros(inputs.shape[1], rnn.hidden_size) if states[0] is None else states[0].detach())
        h0.requires_grad_()
        args = (inputs.detach(), weight_ih, weight_hh, bias_ih, bias_hh, h0)
        if isinstance(rnn, LSTM):
            c0 = None if states[1] is None else states[1].detach()
            output, _ = lstm_layer(*args, c0, grad_norms=norms)
        else:
            output, _ = gru_layer(*args, grad_norms=norms)
        torch.autograd.grad(validation.check_scalar_loss(loss_fn(output)), h0)
    return norms
