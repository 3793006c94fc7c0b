"""Minimal gated recurrences (Feng et al. 2024, "Were RNNs all we needed?"): gates computed from x_t alone, so that
the state obeys a linear recurrence whose coefficients are known before it runs,

    h_t = a_t ⊙ h_{t-1} + b_t,                                                    (eq. min-recurrence)

and all T states can be computed by a parallel scan of depth O(log T) instead of T dependent steps.

* :class:`MinGRU`: z_t = σ(W_z x_t + b_z), h̃_t = W_h x_t + b_h, h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t.
* :class:`MinLSTM`: f_t = σ(W_f x_t + b_f), i_t = σ(W_i x_t + b_i), normalised to f'_t = f_t / (f_t + i_t) and
  i'_t = i_t / (f_t + i_t); h̃_t = W_h x_t + b_h, h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t.

Both keep h̃_t linear by default (``candidate="linear"``), as the papers' equations do in their sequential form.
Feng et al.'s log-space version makes it positive instead, h̃_t = pos(W_h x_t + b_h) with pos(v) = v + 1/2 for v ≥ 0
and σ(v) below (``candidate="positive"``): another model, whose states stay positive from a non-negative h_0, so
that the log-space scan needs no split into signs. (Their code also passes a given h_0 through pos; here h0 is the
state itself, and must be ≥ 0.)

Four ways to compute the same states, chosen by ``mode``:

* ``"scan"``, Hillis and Steele's scan: after the round with stride d, every position holds the composition of the
  steps d back, so ⌈log₂ T⌉ rounds compose everything. It works on (a, b) directly, with no logarithms, and is exact
  up to rounding in float64; it does T log₂ T work against the loop's T. In float32 its error against float64
  states stays at the level of float32 rounding, within a few times the float32 loop's (tested at T = 4096).
* ``"chunked"``, a two-level scan (:func:`linear_chunked_scan`): the loop run within chunks of about √T steps, all
  chunks at once, then across the chunks' ends: about 2√T dependent steps and 2T work, exact up to rounding like
  the loop. Where each step costs more than its arithmetic (one CPU thread, small states) it beats the loop.
* ``"log"``, Heinsen's (2023) form: with A_t = Σ_{s≤t} log a_s, eq. (min-recurrence) unrolls to
  h_t = e^{A_t} (h_0 + Σ_{s≤t} e^{-A_s} b_s), and the sum is a cumulative log-sum-exp. O(T) work in library
  scans: ``cumsum`` and, with a linear candidate, one ``logcumsumexp`` each for the positive and the negative
  parts of b_t (with a positive candidate, one). It takes log a_t (finite for both models' gates, computed from
  their pre-activations, so that a gate rounded to 0 or 1 gives no NaN). A_t grows like t, so in float32 its
  rounding grows too: the price of the form, measured in the speed chapter.
* ``"sequential"``: the loop, one step after another; the definition.

The two direct scans record no graph: their backward pass is written out (eq. min-backward, the same recurrence
reversed in time, computed by the same scan), so that they keep O(T) memory like the loop.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn.validation import check_flag, check_input, check_sequence_length, check_size, check_tensor_like

MODES = ("scan", "chunked", "log", "sequential")
CANDIDATES = ("linear", "positive")


# (a, b, h0, reverse) → every state of eq. (min-recurrence), or with reverse of h_t = a_t ⊙ h_{t+1} + b_t from
# h_{T+1} = h0, computed without a graph
States = Callable[[Tensor, Tensor, Tensor, bool], Tensor]


class _LinearRecurrence(torch.autograd.Function):
    """Eq. (min-recurrence) through ``states_of``, a scan that computes the states without a graph, with the backward
    pass written out instead of recorded. The gradient flows back through the same kind of recurrence, reversed in
    time: with d_t the part of ∂L/∂h_t from what reads h_t directly (``grad``),

        ∂L/∂h_t = d_t + a_{t+1} ⊙ ∂L/∂h_{t+1},  ∂L/∂b_t = ∂L/∂h_t,  ∂L/∂a_t = ∂L/∂h_t ⊙ h_{t-1}  (min-backward)

    computed here as r_t = a_t ⊙ ∂L/∂h_t (the gradient reaching h_{t-1} through step t), whose recurrence
    r_t = a_t ⊙ r_{t+1} + a_t ⊙ d_t, from r_{T+1} = 0, has the coefficients a_t themselves; ∂L/∂h_t = d_t + r_{t+1}
    and ∂L/∂h_0 = r_1. So the same scan, run backwards, computes it. It keeps a, h_0 and the states, O(T) memory
    whatever the scan does in between (a recorded Hillis–Steele scan keeps every round's T-long intermediates).
    Asked for a graph of the gradient (``create_graph=True``), the backward runs eq. (min-backward) through
    :func:`linear_loop` instead, whose steps autograd records, so that second derivatives are exact too."""

    generate_vmap_rule = True  # torch.func.vmap (the seeds trained together) runs forward and backward per seed

    @staticmethod
    def forward(a: Tensor, b: Tensor, h0: Tensor, states_of: States) -> Tensor:
        return states_of(a, b, h0, False)

    @staticmethod
    def setup_context(ctx, inputs: tuple, output: Tensor) -> None:
        a, _, h0, states_of = inputs
        ctx.states_of = states_of
        ctx.save_for_backward(a, h0, output)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor, Tensor | None, None]:
        a, h0, states = ctx.saved_tensors
        if torch.is_grad_enabled():  # create_graph=True: recorded steps
            r = linear_loop(a.flip(0), (a * grad).flip(0), torch.zeros_like(h0)).flip(0)
        else:
            r = ctx.states_of(a, a * grad, torch.zeros_like(h0), True)  # eq. (min-backward), as r_t
        s = torch.cat([grad[:-1] + r[1:], grad[-1:]])  # ∂L/∂h_t = d_t + r_{t+1} = ∂L/∂b_t
        grad_a = None
        if ctx.needs_input_grad[0]:  # ∂L/∂a_t = ∂L/∂h_t ⊙ h_{t-1}
            grad_a = torch.cat([(s[0] * h0).unsqueeze(0), s[1:] * states[:-1]])
        return grad_a, s, r[0] if ctx.needs_input_grad[2] else None, None


def _check_coefficients(a: Tensor, b: Tensor, h0: Tensor, names: str = "a, b, h0") -> None:
    if a.shape != b.shape or a.shape[1:] != h0.shape:
        first = names.split(",")[0]
        raise ValueError(f"{names}: expected {first} and b [T, ...] and h0 [...], got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}, {tuple(h0.shape)}")


def _hillis_steele_states(a: Tensor, b: Tensor, h0: Tensor, reverse: bool) -> Tensor:
    """Hillis and Steele's rounds on copies of a and b, in place (no graph is recorded): each position composed with
    the one ``stride`` before it (after it, with ``reverse``)."""
    A, B = a.clone(), b.clone()
    stride = 1
    while stride < A.shape[0]:
        head, tail = slice(None, -stride), slice(stride, None)
        updated, partner = (head, tail) if reverse else (tail, head)
        B[updated] += A[updated] * B[partner]  # (A, B) ← (A ⊙ A', A ⊙ B' + B), B first: it reads the old A
        A[updated] = A[updated] * A[partner]
        stride *= 2
    B += A * h0
    return B


def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """Every h_t of eq. (min-recurrence), t = 1 … T, for ``a``, ``b`` [T, ...] and ``h0`` [...], by a parallel scan.

    Each position t holds a pair (A, B) meaning "h_t = A ⊙ h_s + B" for some earlier s; a round with stride d
    composes it with the pair d positions back: (A, B) ← (A ⊙ A', A ⊙ B' + B). When the stride reaches T, every
    position is anchored at h_0. The backward pass is the reversed recurrence by the same scan
    (eq. min-backward, in ``_LinearRecurrence``).
    """
    _check_coefficients(a, b, h0)
    return _LinearRecurrence.apply(a, b, h0, _hillis_steele_states)


def _chunked_states(a: Tensor, b: Tensor, h0: Tensor, reverse: bool, size: int) -> Tensor:
    """The two levels of :func:`linear_chunked_scan` on copies of a and b, in place (no graph is recorded), from the
    first step on (from the last, with ``reverse``)."""
    T = a.shape[0]
    count = -(-T // size)  # chunks, the last one padded with identity steps (a = 1, b = 0)
    pad = count * size - T
    A = torch.cat([a, a.new_ones(pad, *a.shape[1:])]) if pad else a.clone()
    B = torch.cat([b, b.new_zeros(pad, *b.shape[1:])]) if pad else b.clone()
    A, B = A.view(count, size, *A.shape[1:]), B.view(count, size, *B.shape[1:])  # [chunk, step in it, ...]
    # level 1, every chunk at once: (A, B) of each step, with h_t = A_t ⊙ h_start + B_t within its chunk
    for j in range(size - 2, -1, -1) if reverse else range(1, size):
        before = j + 1 if reverse else j - 1
        B[:, j] += A[:, j] * B[:, before]  # B_j = a_j B_before + b_j, while A_j still holds a_j
        A[:, j].mul_(A[:, before])
    starts, h = torch.empty_like(B[:, 0]), h0
    end = 0 if reverse else -1
    for k in range(count - 1, -1, -1) if reverse else range(count):  # level 2: chunk ends carry h on
        starts[k] = h
        h = B[k, end] + A[k, end] * h
    B += A * starts.unsqueeze(1)  # h_t = A_t ⊙ h_start + B_t
    return B.view(count * size, *B.shape[2:])[:T]


def linear_chunked_scan(a: Tensor, b: Tensor, h0: Tensor, chunk: int | None = None) -> Tensor:
    """Every h_t of eq. (min-recurrence) for ``a``, ``b`` [T, ...] and ``h0`` [...], by a two-level scan in chunks of
    ``chunk`` steps (⌈√T⌉ by default, which makes the two levels equally long).

    Within every chunk at once, a loop of ``chunk`` steps composes each position with its chunk's start: the pair
    (A, B) with h_t = A ⊙ h_start + B. A loop over the chunks' last pairs then carries the state from one chunk's
    start to the next, and one product h_t = A_t ⊙ h_start + B_t finishes every position. That is ``chunk`` + T /
    ``chunk`` dependent steps instead of T (128 at T = 4096), each on a whole row of chunks, and 2T work instead of
    Hillis and Steele's T log₂ T: the scan to use where steps cost more than arithmetic, as on one CPU thread. The
    backward pass is the reversed recurrence by the same scan (eq. min-backward, in ``_LinearRecurrence``).
    """
    _check_coefficients(a, b, h0)
    size = math.isqrt(a.shape[0] - 1) + 1 if chunk is None else check_size("chunk", chunk)
    return _LinearRecurrence.apply(a, b, h0, functools.partial(_chunked_states, size=size))


def linear_log_scan(log_a: Tensor, b: Tensor, h0: Tensor, *, positive: bool = False) -> Tensor:
    """Every h_t of eq. (min-recurrence) for ``log_a`` = log a_t, ``b`` [T, ...] and ``h0`` [...], in log space
    (Heinsen 2023): h_t = e^{A_t} h_0 + Σ_{s≤t} e^{A_t - A_s} b_s with A_t = Σ_{s≤t} log a_s (eq. min-log-scan), each
    sum of positive terms a cumulative log-sum-exp. For any b and h_0 that is three library scans: the cumulative sum
    and one log-sum-exp each for the positive and the negative parts of b and h_0, whose difference can cancel. With
    ``positive`` (b and h_0 ≥ 0, as Feng et al.'s positive candidate makes them), one log-sum-exp. It takes log a_t,
    not a_t, because a gate that rounds to 0 or 1 still has a finite logarithm: the models compute it from the
    gates' pre-activations (:meth:`MinGRU.coefficients` with ``log=True``)."""
    _check_coefficients(log_a, b, h0, "log_a, b, h0")
    check_flag("positive", positive)
    if positive and (b.min() < 0 or h0.min() < 0):
        raise ValueError(f"b, h0: expected no negative number with positive=True, got minima {b.min().item():.3g} "
                         f"and {h0.min().item():.3g}")
    A = torch.cumsum(log_a, dim=0)  # A_t = Σ_{s≤t} log a_s
    states = torch.zeros_like(b)
    # b = b⁺ - b⁻ and h_0 = h_0⁺ - h_0⁻. Each part is floored at the dtype's smallest normal number rather than 0,
    # whose logarithm -∞ would give NaN gradients; the floor adds at most that number per term.
    floor = torch.finfo(b.dtype).tiny
    for sign in (1.0,) if positive else (1.0, -1.0):
        log_b = torch.log(torch.clamp(sign * b, min=floor))
        log_h0 = torch.log(torch.clamp(sign * h0, min=floor))
        terms = torch.logcumsumexp(torch.cat([log_h0.unsqueeze(0), log_b - A]), dim=0)[1:]
        states = states + sign * torch.exp(A + terms)  # eq. (min-log-scan)
    return states


def linear_loop(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """The same states as :func:`linear_scan`, one step after another: the definition, for reference."""
    h, states = h0, []
    for a_t, b_t in zip(a, b):
        h = a_t * h + b_t  # eq. (min-recurrence)
        states.append(h)
    return torch.stack(states)


class _Minimal(nn.Module):
    """What MinGRU and MinLSTM share: input checks, layout, the initial state and the choice of scan or loop."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool, gates: tuple[str, ...], candidate: str,
                 device: torch.device | str | None, dtype: torch.dtype | None) -> None:
        super().__init__()
        self.input_size, self.hidden_size = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
        self.batch_first = check_flag("batch_first", batch_first)
        if candidate not in CANDIDATES:
            raise ValueError(f"candidate: expected one of {CANDIDATES}, got {candidate!r}")
        self.candidate = candidate
        for gate in gates:
            self.add_module(f"linear_{gate}", nn.Linear(self.input_size, self.hidden_size, device=device, dtype=dtype))

    def coefficients(self, x: Tensor, *, log: bool = False) -> tuple[Tensor, Tensor]:
        """a_t and b_t of eq. (min-recurrence) for every step of ``x`` [T, N, I]; with ``log``, log a_t in place of
        a_t, computed from the pre-activations so that it stays finite where a gate rounds to 0 or 1."""
        raise NotImplementedError

    def candidate_states(self, x: Tensor) -> Tensor:
        """h̃_t for every step of ``x``: W_h x_t + b_h, or with ``candidate="positive"`` pos of it, Feng et al.'s g:
        pos(v) = v + 1/2 for v ≥ 0 and σ(v) below, positive and continuous with a continuous slope."""
        v = self.linear_h(x)
        return torch.where(v >= 0, v + 0.5, torch.sigmoid(v)) if self.candidate == "positive" else v

    def forward(self, input: Tensor, h0: Tensor | None = None, *, mode: str = "scan") -> tuple[Tensor, Tensor]:
        """``input`` [T, N, I] ([N, T, I] with ``batch_first``, or [T, I] unbatched) and ``h0`` [1, N, H] ([1, H]);
        returns ``(output, h_n)``: every state [T, N, H] in the input's layout, and the last one [1, N, H]."""
        if mode not in MODES:
            raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
        batched = check_input(input, self.linear_h.weight, input_size=self.input_size, batched_rank=3,
                              layout="(batch, seq_len, input_size)" if self.batch_first
                              else "(seq_len, batch, input_size)")
        x = input if batched else input.unsqueeze(0 if self.batch_first else 1)
        if self.batch_first:
            x = x.transpose(0, 1)
        check_sequence_length(x, 0)
        N, H = x.shape[1], self.hidden_size
        if h0 is None:
            h = x.new_zeros(N, H)
        else:
            h0 = check_tensor_like("h0", h0, x)
            expected = (1, N, H) if batched else (1, H)
            if tuple(h0.shape) != expected:
                raise ValueError(f"h0: expected shape {expected}, got {tuple(h0.shape)}")
            h = h0.reshape(N, H)
        positive = self.candidate == "positive"
        if positive and h.min() < 0:
            raise ValueError(f"h0: expected no negative number with candidate='positive' (its states stay positive), "
                             f"got a minimum of {h.min().item():.3g}")
        a, b = self.coefficients(x, log=mode == "log")
        if mode == "log":
            states = linear_log_scan(a, b, h, positive=positive)
        else:
            states = {"scan": linear_scan, "chunked": linear_chunked_scan, "sequential": linear_loop}[mode](a, b, h)
        output, last = states, states[-1:]
        if self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            output, last = output.squeeze(0 if self.batch_first else 1), last.squeeze(1)
        return output, last


class MinGRU(_Minimal):
    """The minimal GRU: one gate z_t and a candidate h̃_t, both from x_t alone (parameters ``linear_z``,
    ``linear_h``, each ``nn.Linear(input_size, hidden_size)``; ``candidate`` "linear" or "positive", see the module).
    ``forward(x, h0=None, *, mode="scan")``."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False, *, candidate: str = "linear",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, batch_first, ("z", "h"), candidate, device, dtype)

    def coefficients(self, x: Tensor, *, log: bool = False) -> tuple[Tensor, Tensor]:
        """a_t = 1 - z_t (or log a_t = log σ(-k_z), which 1 - z_t would round to log 0 once z_t rounds to 1) and
        b_t = z_t ⊙ h̃_t."""
        k = self.linear_z(x)
        z = torch.sigmoid(k)  # update gate, from x_t only
        return F.logsigmoid(-k) if log else 1 - z, z * self.candidate_states(x)  # a_t, b_t of eq. (min-recurrence)


class MinLSTM(_Minimal):
    """The minimal LSTM: forget and input gates from x_t alone, normalised to sum to one, and a candidate h̃_t
    (parameters ``linear_f``, ``linear_i``, ``linear_h``; ``candidate`` as for :class:`MinGRU`).
    ``forward(x, h0=None, *, mode="scan")``."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False, *, candidate: str = "linear",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, batch_first, ("f", "i", "h"), candidate, device, dtype)

    def coefficients(self, x: Tensor, *, log: bool = False) -> tuple[Tensor, Tensor]:
        """a_t = f'_t (or log f'_t = -softplus(d) with d = softplus(-k_f) - softplus(-k_i), finite where f'_t
        rounds to 0) and b_t = i'_t ⊙ h̃_t."""
        k_f, k_i = self.linear_f(x), self.linear_i(x)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        total = f + i
        b = (i / total) * self.candidate_states(x)
        if log:  # log f' = log σ(k_f) - log(σ(k_f) + σ(k_i)), with log σ(k) = -softplus(-k)
            return -F.softplus(F.softplus(-k_f) - F.softplus(-k_i)), b
        return f / total, b  # a_t = f'_t, b_t = i'_t h̃_t
