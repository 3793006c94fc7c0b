"""How fast a recurrent network can run, and what its backward pass must keep (the speed chapter): how time grows
with a size, how many operations a step dispatches and what each costs, how many bytes autograd saves for the
backward pass, the same with gradient checkpointing, how close a computation comes to the device's attainable rate
of arithmetic, what rounding to a tensor-core format does to the operands of a product, and the record of the last
GPU run (``make gpu-check``).

Wall times themselves are measured with :func:`gatedrnn.instruments.cost.fastest_seconds`; this module turns them into
the chapter's quantities.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

import torch
from torch import Tensor
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.checkpoint import checkpoint

from gatedrnn.instruments import cost
from gatedrnn.validation import check_size


def growth_exponent(sizes: Sequence[float], values: Sequence[float]) -> float:
    """The exponent k of ``values ≈ C · sizes^k``: the least-squares slope of log value against log size (eq.
    growth). k ≈ 1 is linear growth, k ≈ 2 quadratic, k ≈ 0 a fixed cost that the size does not touch."""
    if len(sizes) != len(values) or len(sizes) < 2:
        raise ValueError(f"sizes, values: expected two sequences of equal length >= 2, got {len(sizes)} and "
                         f"{len(values)}")
    if min(sizes) <= 0 or min(values) <= 0:
        raise ValueError(f"sizes, values: expected positive numbers (they are logged), got {list(sizes)}, "
                         f"{list(values)}")
    x = [math.log(s) for s in sizes]
    y = [math.log(v) for v in values]
    x_bar, y_bar = sum(x) / len(x), sum(y) / len(y)
    spread = sum((a - x_bar) ** 2 for a in x)
    if spread == 0:
        raise ValueError(f"sizes: expected at least two different sizes, got {list(sizes)}")
    return sum((a - x_bar) * (b - y_bar) for a, b in zip(x, y)) / spread


class _WriteCounter(TorchDispatchMode):
    """Counts the elements that every operation run inside it writes: each output that is not a view of an input
    (a view writes nothing); an in-place operation's output counts, since it overwrites its input."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        for returned, tensor in zip(func._schema.returns, outputs):
            alias = returned.alias_info
            if isinstance(tensor, Tensor) and (alias is None or alias.is_write):
                self.count += tensor.numel()
        return out


_Mode = TypeVar("_Mode", bound=TorchDispatchMode)


def _run_under(mode: _Mode, run: Callable[[], object]) -> _Mode:
    """``run()`` with ``mode`` watching every operation it dispatches; returns the mode, with what it saw."""
    if not callable(run):
        raise TypeError(f"run: expected a callable, got {type(run).__name__}")
    with mode:
        run()
    return mode


def elements_written(run: Callable[[], object]) -> int:
    """How many tensor elements the operations that ``run()`` executes write, forward and backward, on the CPU (the
    count does not depend on the device, and a CUDA backward pass runs in threads this count would not see). A
    measure of memory traffic that, unlike time, no other program on the machine can change."""
    return _run_under(_WriteCounter(), run).count


class _Recorder(TorchDispatchMode):
    """Records the name of every ATen operation run inside it, and counts the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(func._schema.name)
        self.calls += 1
        return func(*args, **(kwargs or {}))


def operations_called(run: Callable[[], object]) -> set[str]:
    """The names of the ATen operations (``aten::mm``, ``aten::mkldnn_rnn_layer``, ...) that ``run()`` calls in this
    thread: which kernels a module's forward pass really uses on this device."""
    return _run_under(_Recorder(), run).names


def operation_count(run: Callable[[], object]) -> int:
    """How many ATen operations ``run()`` dispatches on the CPU, forward and backward (a CPU backward pass runs in
    the calling thread, where the count sees it): the calls whose fixed cost a loop over time pays at every step."""
    return _run_under(_Recorder(), run).calls


@contextlib.contextmanager
def _quiet_stderr_descriptor() -> Iterator[None]:
    """File descriptor 2 on the null device for the duration (C++ code's writes to it go nowhere)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def profile_operations(run: Callable[[], object], *, per: int = 1, top: int = 8) -> list[dict]:
    """What ``run()`` spends its time on, by PyTorch's profiler (``torch.profiler``, CPU activity): the ``top``
    operations by self time (time in the operation itself, not in those it calls), each with its calls and self time
    in milliseconds divided by ``per`` (the steps ``run`` takes, for a table per step). The profiler's own bookkeeping
    slows every call, so the times are larger than unprofiled ones; the calls are exact. The profiler's C++ side
    writes a line to the process's standard error when it starts and stops (which a notebook would show as a
    warning): the file descriptor is pointed at the null device meanwhile; Python's own ``sys.stderr`` is left alone."""
    if not callable(run):
        raise TypeError(f"run: expected a callable, got {type(run).__name__}")
    per, top = check_size("per", per), check_size("top", top)
    cpu = [torch.profiler.ProfilerActivity.CPU]
    with _quiet_stderr_descriptor(), torch.profiler.profile(activities=cpu) as profiler:
        run()
    events = sorted(profiler.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return [{"operation": e.key, "calls": e.count / per, "self ms": e.self_cpu_time_total / 1e3 / per}
            for e in events[:top]]


def seconds_per_operation(device: torch.device | str, *, operations: int = 200, rounds: int = 5) -> float:
    """The fixed cost of one dispatched operation on ``device``: a chain of ``operations`` multiplications of a
    one-element tensor that autograd records, forward and backward, timed (fastest of ``rounds``,
    :func:`gatedrnn.instruments.cost.fastest_seconds`) and divided by the operations it dispatches (counted on the
    CPU). With one element there is no arithmetic to speak of: what is left is Python, the dispatcher, autograd's
    bookkeeping and, on a GPU, a kernel launch."""
    operations, rounds = check_size("operations", operations), check_size("rounds", rounds)
    device = torch.device(device)

    def chain(where: torch.device) -> None:
        x = torch.ones(1, device=where, requires_grad=True)
        y = x
        for _ in range(operations):
            y = y * 1.0
        y.backward()

    calls = operation_count(lambda: chain(torch.device("cpu")))
    seconds = cost.fastest_seconds({"chain": lambda: chain(device)}, device=device, rounds=rounds, repeats=3,
                                   warmups=1)["chain"]
    return seconds / calls


def round_mantissa(x: Tensor, bits: int) -> Tensor:
    """``x`` (float32) rounded to ``bits`` bits of mantissa, to nearest with ties to even, exponent and float32
    storage kept: 10 bits is TF32, the format in which tensor cores read float32 operands; 7 is bfloat16. A product
    of rounded operands accumulated in float32 is what those units compute."""
    if not isinstance(x, Tensor) or x.dtype != torch.float32:
        raise TypeError(f"x: expected a float32 tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if not isinstance(bits, int) or not 0 <= bits <= 23:
        raise ValueError(f"bits: expected an int from 0 to 23 (float32 has 23), got {bits!r}")
    dropped = 23 - bits
    if dropped == 0:
        return x.clone()
    i = x.contiguous().view(torch.int32)
    kept = (i >> dropped) & 1  # the last bit kept: a tie rounds towards making it even
    rounded = (i + (1 << (dropped - 1)) - 1 + kept) & ~((1 << dropped) - 1)
    finite = torch.isfinite(x)  # inf and NaN stay as they are
    return torch.where(finite, rounded.view(torch.float32), x)


def saved_bytes(run: Callable[[], Tensor], exclude: Iterable[Tensor] = ()) -> int:
    """The activation memory of a backward pass: bytes of the distinct storages that autograd saves while ``run()``
    builds its graph, leaving out those of ``exclude`` (the parameters, which exist whether or not a graph does).
    Returns the count; ``run``'s graph is freed afterwards."""
    if not callable(run):
        raise TypeError(f"run: expected a callable that builds a graph, got {type(run).__name__}")
    skipped = {tensor.untyped_storage().data_ptr() for tensor in exclude}
    storages: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in skipped:
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        result = run()
    del result
    return sum(storages.values())


# (inputs of a stretch of steps, state before it) → (their outputs, as a tensor or a list over time; state after it)
Stretch = Callable[[Tensor, tuple[Tensor, ...]], tuple["Tensor | list[Tensor]", tuple[Tensor, ...]]]


def checkpointed(stretch: Stretch, inputs: Tensor, state: tuple[Tensor, ...],
                 segment: int) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Gradient checkpointing through time (Chen et al. 2016): ``stretch(inputs_seg, state)`` runs a stretch of
    steps, such as :func:`gatedrnn.nn.layers.run_layer` with its cell and weights, and returns ``(their outputs, final
    state)``; here it runs on ``inputs`` [T, ...] one segment of ``segment`` steps at a time, and only each segment's
    inputs and outputs stay in memory. The backward pass recomputes a segment's internals when it reaches it: one
    more forward pass, for memory that grows as the T / S segment boundaries plus one segment's internals instead of
    T steps' internals. Returns the outputs of all steps [T, ...] and the final state."""
    segment = check_size("segment", segment)
    outputs = []
    for piece in inputs.split(segment):
        output, *state = checkpoint(lambda v, *s: _flat(stretch(v, tuple(s))), piece, *state, use_reentrant=False)
        outputs.append(output)
        state = tuple(state)
    return torch.cat(outputs), state


def _flat(result: tuple[Tensor | list[Tensor], tuple[Tensor, ...]]) -> tuple[Tensor, ...]:
    """``(outputs, state)`` as one flat tuple of tensors, the outputs stacked over time if they come as a list."""
    output, state = result
    return (torch.stack(output) if isinstance(output, list) else output, *state)


def attainable_flops(device: torch.device | str, *, size: int = 1024, dtype: torch.dtype = torch.float32,
                     rounds: int = 5) -> float:
    """The device's rate of arithmetic on the most regular work there is, in floating-point operations per second:
    one ``size``×``size`` by ``size``×``size`` matrix product (2 size³ operations), its fastest of ``rounds`` runs
    (:func:`gatedrnn.instruments.cost.fastest_seconds`). A measured reference, not the vendor's peak and not a ceiling
    (a fused library kernel can beat it); on a CPU it counts the threads torch uses."""
    size, rounds = check_size("size", size), check_size("rounds", rounds)
    device = torch.device(device)
    a = torch.randn(size, size, device=device, dtype=dtype)
    seconds = cost.fastest_seconds({"product": lambda: a @ a}, device=device, rounds=rounds, repeats=1, warmups=1)
    return 2 * size**3 / seconds["product"]


# ---- the record of ``make gpu-check`` -------------------------------------------------------------------------------
GPU_RECORD_SCHEMA = 1  # the version of the record's layout; tools/gpu_check.py writes it


def gpu_record_problems(record: object) -> list[str]:
    """What is wrong with a ``make gpu-check`` record's schema (``tools/gpu_check.py`` writes it), as sentences: none
    for a good record."""
    if not isinstance(record, dict):
        return [f"record: expected an object, got {type(record).__name__}"]
    found = []
    expected = {"schema": int, "environment": dict, "kernels": list, "compiled": list, "timings": list,
                "chapters": list, "seconds": (int, float)}
    for key, kind in expected.items():
        if not isinstance(record.get(key), kind):
            found.append(f"{key}: expected {kind}, got {type(record.get(key)).__name__}")
    if found:
        return found
    if record["schema"] != GPU_RECORD_SCHEMA:
        found.append(f"schema: expected {GPU_RECORD_SCHEMA}, got {record['schema']}")
    for key in ("device", "date", "commit", "torch", "triton", "dry_run"):
        if key not in record["environment"]:
            found.append(f"environment: no {key}")
    required = {"kernels": ("kind", "T", "N", "H", "dtype"), "compiled": ("kernel", "H", "dtype", "rows_per_program"),
                "timings": ("what",), "chapters": ("chapter",)}
    outcome = {"kernels": ("passed",), "compiled": ("registers", "spill_bytes", "shared_bytes"),
               "timings": ("ms",), "chapters": ("seconds", "status")}
    for section, keys in required.items():
        for i, row in enumerate(record[section]):
            missing = [k for k in keys if k not in row]
            if not ("skipped" in row or "error" in row):
                missing += [k for k in outcome[section] if k not in row]
            if missing:
                found.append(f"{section}[{i}]: no {', '.join(missing)}")
    return found


def latest_gpu_record(folder: str | Path | None = None) -> dict | None:
    """The newest record in ``folder`` of a run on a GPU, not a dry run, that keeps the schema
    (:func:`gpu_record_problems`), by the date it was measured; None if there is none, or no such folder. Without
    ``folder``, the first ``measurements/gpu`` found in the working directory or above it: a chapter finds the
    repository's records whether it runs in ``chapters/`` or in the build's copy of it."""
    if folder is None:
        here = Path.cwd().resolve()
        found = [p / "measurements" / "gpu" for p in (here, *here.parents) if (p / "measurements" / "gpu").is_dir()]
        folder = found[0] if found else here / "measurements" / "gpu"
    records = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not gpu_record_problems(record) and not record["environment"]["dry_run"]:
            records.append(record)
    return max(records, key=lambda r: r["environment"]["date"], default=None)
