"""Minimal gated recurrences (Feng et al. 2024, "Were RNNs all we needed?"): gates computed from x_t alone, so that
the state obeys a linear recurrence whose coefficients are known before it runs,

    h_t = a_t ⊙ h_{t-1} + b_t,                                                    (eq. min-recurrence)

and all T states can be computed by a parallel scan of depth O(log T) instead of T dependent steps.

* :class:`MinGRU`: z_t = σ(W_z x_t + b_z), h̃_t = W_h x_t + b_h, h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t.
* :class:`MinLSTM`: f_t = σ(W_f x_t + b_f), i_t = σ(W_i x_t + b_i), normalised to f'_t = f_t / (f_t + i_t) and
  i'_t = i_t / (f_t + i_t); h̃_t = W_h x_t + b_h, h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t.

Four ways to compute the same states, chosen by ``mode``:

* ``"scan"``, Hillis and Steele's scan: after the round with stride d, every position holds the composition of the
  steps d back, so ⌈log₂ T⌉ rounds compose everything. It works on (a, b) directly, with no logarithms, and is exact
  up to rounding in float64; it does T log₂ T work against the loop's T. In float32 its error against float64
  states stays at the level of float32 rounding, within a few times the float32 loop's (tested at T = 4096).
* ``"chunked"``, a two-level scan (:func:`linear_chunked_scan`): the loop run within chunks of about √T steps, all
  chunks at once, then across the chunks' ends: about 2√T dependent steps and 2T work, exact up to rounding like
  the loop. Where each step costs more than its arithmetic (one CPU thread, small states) it beats the loop.
* ``"log"``, Heinsen's (2023) form: with A_t = Σ_{s≤t} log a_s, eq. (min-recurrence) unrolls to
  h_t = e^{A_t} (h_0 + Σ_{s≤t} e^{-A_s} b_s), and the sum is a cumulative log-sum-exp. Two library scans
  (``cumsum``, ``logcumsumexp``) and O(T) work; it takes log a_t (finite for both models' gates, computed from
  their pre-activations, so that a gate rounded to 0 or 1 gives no NaN) and splits b_t into
  its positive and negative parts, each with a logarithm. A_t grows like t, so in float32 its rounding grows too:
  the price of the form, measured in the speed chapter.
* ``"sequential"``: the loop, one step after another; the definition.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn.validation import check_flag, check_input, check_sequence_length, check_size, check_tensor_like

MODES = ("scan", "chunked", "log", "sequential")


def linear_scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """Every h_t of eq. (min-recurrence), t = 1 … T, for ``a``, ``b`` [T, ...] and ``h0`` [...], by a parallel scan.

    Each position t holds a pair (A, B) meaning "h_t = A ⊙ h_s + B" for some earlier s; a round with stride d
    composes it with the pair d positions back: (A, B) ← (A ⊙ A', A ⊙ B' + B). When the stride reaches T, every
    position is anchored at h_0.
    """
    if a.shape != b.shape or a.shape[1:] != h0.shape:
        raise ValueError(f"a, b, h0: expected a and b [T, ...] and h0 [...], got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}, {tuple(h0.shape)}")
    A, B = a, b
    stride = 1
    while stride < A.shape[0]:
        A, B = (torch.cat([A[:stride], A[stride:] * A[:-stride]]),
                torch.cat([B[:stride], A[stride:] * B[:-stride] + B[stride:]]))
        stride *= 2
    return A * h0 + B


def linear_chunked_scan(a: Tensor, b: Tensor, h0: Tensor, chunk: int | None = None) -> Tensor:
    """Every h_t of eq. (min-recurrence) for ``a``, ``b`` [T, ...] and ``h0`` [...], by a two-level scan in chunks of
    ``chunk`` steps (⌈√T⌉ by default, which makes the two levels equally long).

    Within every chunk at once, a loop of ``chunk`` steps composes each position with its chunk's start: the pair
    (A, B) with h_t = A ⊙ h_start + B. A loop over the chunks' last pairs then carries the state from one chunk's
    start to the next, and one product h_t = A_t ⊙ h_start + B_t finishes every position. That is ``chunk`` + T /
    ``chunk`` dependent steps instead of T (128 at T = 4096), each on a whole row of chunks, and 2T work instead of
    Hillis and Steele's T log₂ T: the scan to use where steps cost more than arithmetic, as on one CPU thread.
    """
    if a.shape != b.shape or a.shape[1:] != h0.shape:
        raise ValueError(f"a, b, h0: expected a and b [T, ...] and h0 [...], got {tuple(a.shape)}, "
                         f"{tuple(b.shape)}, {tuple(h0.shape)}")
    T = a.shape[0]
    size = math.isqrt(T - 1) + 1 if chunk is None else check_size("chunk", chunk)
    count = -(-T // size)  # chunks, the last one padded with identity steps (a = 1, b = 0)
    pad = count * size - T
    a = torch.cat([a, a.new_ones(pad, *a.shape[1:])]) if pad else a
    b = torch.cat([b, b.new_zeros(pad, *b.shape[1:])]) if pad else b
    # [size, count, ...], contiguous so that each step of level 1 reads one block
    a, b = (x.reshape(count, size, *x.shape[1:]).transpose(0, 1).contiguous() for x in (a, b))
    A, B = a[0], b[0]  # the composition from a chunk's start: (A, B) with h_t = A ⊙ h_start + B
    As, Bs = [A], [B]
    for a_j, b_j in zip(a[1:].unbind(0), b[1:].unbind(0)):  # level 1: every chunk at once
        A, B = a_j * A, torch.addcmul(b_j, a_j, B)  # (A, B) ← (a_j A, a_j B + b_j)
        As.append(A)
        Bs.append(B)
    starts, h = [], h0
    for A_end, B_end in zip(A.unbind(0), B.unbind(0)):  # level 2: each chunk's end carries h to the next start
        starts.append(h)
        h = torch.addcmul(B_end, A_end, h)
    states = torch.addcmul(torch.stack(Bs), torch.stack(As), torch.stack(starts))  # h_t = A_t ⊙ h_start + B_t
    return states.transpose(0, 1).reshape(count * size, *states.shape[2:])[:T]


def linear_log_scan(log_a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """Every h_t of eq. (min-recurrence) for ``log_a`` = log a_t, ``b`` [T, ...] and ``h0`` [...], in log space
    (Heinsen 2023): h_t = e^{A_t} h_0 + Σ_{s≤t} e^{A_t - A_s} b_s with A_t = Σ_{s≤t} log a_s (eq. min-log-scan), each
    sum of positive terms a cumulative log-sum-exp, for the positive and the negative parts of b and of h_0 apart.
    It takes log a_t, not a_t, because a gate that rounds to 0 or 1 still has a finite logarithm: the models compute
    it from the gates' pre-activations (:meth:`MinGRU.coefficients` with ``log=True``)."""
    if log_a.shape != b.shape or log_a.shape[1:] != h0.shape:
        raise ValueError(f"log_a, b, h0: expected log_a and b [T, ...] and h0 [...], got {tuple(log_a.shape)}, "
                         f"{tuple(b.shape)}, {tuple(h0.shape)}")
    A = torch.cumsum(log_a, dim=0)  # A_t = Σ_{s≤t} log a_s
    states = torch.zeros_like(b)
    # b = b⁺ - b⁻ and h_0 = h_0⁺ - h_0⁻. Each part is floored at the dtype's smallest normal number rather than 0,
    # whose logarithm -∞ would give NaN gradients; the floor adds at most that number per term.
    floor = torch.finfo(b.dtype).tiny
    for sign in (1.0, -1.0):
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

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool, gates: tuple[str, ...],
                 device: torch.device | str | None, dtype: torch.dtype | None) -> None:
        super().__init__()
        self.input_size, self.hidden_size = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
        self.batch_first = check_flag("batch_first", batch_first)
        for gate in gates:
            self.add_module(f"linear_{gate}", nn.Linear(self.input_size, self.hidden_size, device=device, dtype=dtype))

    def coefficients(self, x: Tensor, *, log: bool = False) -> tuple[Tensor, Tensor]:
        """a_t and b_t of eq. (min-recurrence) for every step of ``x`` [T, N, I]; with ``log``, log a_t in place of
        a_t, computed from the pre-activations so that it stays finite where a gate rounds to 0 or 1."""
        raise NotImplementedError

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
        a, b = self.coefficients(x, log=mode == "log")
        scan = {"scan": linear_scan, "chunked": linear_chunked_scan, "log": linear_log_scan, "sequential": linear_loop}
        states = scan[mode](a, b, h)
        output, last = states, states[-1:]
        if self.batch_first:
            output = output.transpose(0, 1)
        if not batched:
            output, last = output.squeeze(0 if self.batch_first else 1), last.squeeze(1)
        return output, last


class MinGRU(_Minimal):
    """The minimal GRU: one gate z_t and a candidate h̃_t, both from x_t alone (parameters ``linear_z``,
    ``linear_h``, each ``nn.Linear(input_size, hidden_size)``). ``forward(x, h0=None, *, mode="scan")``."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, batch_first, ("z", "h"), device, dtype)

    def coefficients(self, x: Tensor, *, log: bool = False) -> tuple[Tensor, Tensor]:
        """a_t = 1 - z_t (or log a_t = log σ(-k_z), which 1 - z_t would round to log 0 once z_t rounds to 1) and
        b_t = z_t ⊙ h̃_t."""
        k = self.linear_z(x)
        z = torch.sigmoid(k)  # update gate, from x_t only
        return F.logsigmoid(-k) if log else 1 - z, z * self.linear_h(x)  # a_t, b_t of eq. (min-recurrence)


class MinLSTM(_Minimal):
    """The minimal LSTM: forget and input gates from x_t alone, normalised to sum to one, and a candidate h̃_t
    (parameters ``linear_f``, ``linear_i``, ``linear_h``). ``forward(x, h0=None, *, mode="scan")``."""

    def __init__(self, input_size: int, hidden_size: int, batch_first: bool = False, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__(input_size, hidden_size, batch_first, ("f", "i", "h"), device, dtype)

    def coefficients(self, x: Tensor, *, log: bool = False) -> tuple[Tensor, Tensor]:
        """a_t = f'_t (or log f'_t = -softplus(d) with d = softplus(-k_f) - softplus(-k_i), finite where f'_t
        rounds to 0) and b_t = i'_t ⊙ h̃_t."""
        k_f, k_i = self.linear_f(x), self.linear_i(x)
        f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
        total = f + i
        b = (i / total) * self.linear_h(x)
        if log:  # log f' = log σ(k_f) - log(σ(k_f) + σ(k_i)), with log σ(k) = -softplus(-k)
            return -F.softplus(F.softplus(-k_f) - F.softplus(-k_i)), b
        return f / total, b  # a_t = f'_t, b_t = i'_t h̃_t
