"""What a recurrent model costs (chapter 8): parameters and floating-point operations, by formula and by count, and
wall time, by measurement."""

from __future__ import annotations

import math
import time
from typing import Callable, Hashable, Mapping

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from gatedrnn.validation import check_flag, check_size

GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}
# Element-wise operations per hidden unit and step, counted from the equations (chapter 8): RNN u + W h, tanh;
# LSTM 4 sums, 3 sigmoids, 1 tanh, f c + i g (3), tanh(c), o · tanh(c); GRU 2 sums, 2 sigmoids, r · v, u + r v,
# tanh, 1 - z, (1 - z) n, z h, the final sum.
ELEMENTWISE_PER_UNIT = {"RNN": 2, "GRU": 11, "LSTM": 13}


def _kind(kind: str) -> int:
    if kind not in GATES:
        raise ValueError(f"kind: expected one of {tuple(GATES)}, got {kind!r}")
    return GATES[kind]


def parameter_count(
    kind: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bias: bool = True,
    bidirectional: bool = False,
    proj_size: int = 0,
) -> int:
    """The number of parameters of ``torch.nn.<kind>`` with these arguments, from eq. (param-count)."""
    G, I, H = _kind(kind), check_size("input_size", input_size), check_size("hidden_size", hidden_size)
    L, P = check_size("num_layers", num_layers), check_size("proj_size", proj_size, minimum=0)
    if P and kind != "LSTM":
        raise ValueError(f"proj_size: only the LSTM has a projection, expected 0 for {kind}, got {P}")
    D, R = 2 if check_flag("bidirectional", bidirectional) else 1, P or H  # directions; size of the state fed back
    per_direction = lambda inputs: G * H * (inputs + R) + 2 * G * H * check_flag("bias", bias) + P * H  # noqa: E731
    return D * (per_direction(I) + (L - 1) * per_direction(D * R))  # eq. (param-count)


def matching_hidden_size(kind: str, input_size: int, parameters: int, *, num_layers: int = 1) -> int:
    """The hidden size at which a ``torch.nn.<kind>`` with biases and ``num_layers`` layers has the number of
    parameters closest to ``parameters``: the positive root of eq. (param-count), which for L layers reads
    G ((2L - 1) H² + (I + 2L) H) = ``parameters``, rounded to the better of the two neighbouring integers (at least
    1). Chapter 9 uses it to compare models at equal parameter count, and the claims chapter a deep LSTM with a
    wide one."""
    G, I, P = _kind(kind), check_size("input_size", input_size), check_size("parameters", parameters)
    L = check_size("num_layers", num_layers)
    a, b = 2 * L - 1, I + 2 * L
    root = (-b + math.sqrt(b**2 + 4 * a * P / G)) / (2 * a)
    candidates = {max(1, math.floor(root)), max(1, math.ceil(root))}
    return min(sorted(candidates), key=lambda H: abs(parameter_count(kind, I, H, num_layers=L) - P))


def flops_per_step(kind: str, input_size: int, hidden_size: int) -> dict[str, int]:
    """Floating-point operations of one step for one sequence, eq. (flops-step): ``matmul`` for W_ih x and W_hh h
    (a multiply and an add per weight), ``bias`` for adding b_ih and b_hh, ``elementwise`` for the rest (one per
    arithmetic operation or nonlinearity on one unit)."""
    G, I, H = _kind(kind), check_size("input_size", input_size), check_size("hidden_size", hidden_size)
    return {"matmul": 2 * G * H * (I + H), "bias": 2 * G * H, "elementwise": ELEMENTWISE_PER_UNIT[kind] * H}


class _ElementwiseCounter(TorchDispatchMode):
    """Counts the output elements of every point-wise operation that runs inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if torch.Tag.pointwise in func.tags and isinstance(out, Tensor):
            self.count += out.numel()
        return out


def counted_flops(step: Callable[[], object]) -> dict[str, int]:
    """Run ``step()`` once and count what it executed: ``matmul`` as PyTorch's own ``FlopCounterMode`` counts matrix
    products (bias additions fused into them are not counted), ``elementwise`` as the number of output elements of
    point-wise operations. The reference for :func:`flops_per_step`."""
    counter, elementwise = FlopCounterMode(display=False), _ElementwiseCounter()
    with torch.no_grad(), counter, elementwise:
        step()
    return {"matmul": counter.get_total_flops(), "elementwise": elementwise.count}


def seconds_per_step(step: Callable[[], object], *, device: torch.device, repeats: int = 20,
                     warmups: int = 2) -> float:
    """Median wall time of ``step()`` over ``repeats`` runs after ``warmups`` runs that are not timed, waiting for the
    device each time."""
    check_size("repeats", repeats)
    check_size("warmups", warmups, minimum=0)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    times = []
    for run in range(repeats + warmups):
        sync()
        start = time.perf_counter()
        step()
        sync()
        if run >= warmups:
            times.append(time.perf_counter() - start)
    return float(torch.tensor(times).median())


def fastest_seconds(steps: Mapping[Hashable, Callable[[], object]], *, device: torch.device, rounds: int = 5,
                    repeats: int = 5, warmups: int = 2) -> dict[Hashable, float]:
    """Wall time of each of ``steps``, as free as a measurement can be of load from elsewhere on the machine.

    The steps are timed in turn, round after round (in each round :func:`seconds_per_step` with ``repeats`` runs
    after ``warmups`` untimed ones), and each keeps its fastest round. Load from other programs can only slow a run
    down: a burst of it slows the steps of one round alike instead of one step's whole measurement, and the minimum
    over the rounds drops it. For long steps, ``warmups=0`` and several rounds: the slow first run is one round's.
    """
    check_size("rounds", rounds)
    fastest = {name: math.inf for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            seconds = seconds_per_step(step, device=device, repeats=repeats, warmups=warmups)
            fastest[name] = min(fastest[name], seconds)
    return fastest

