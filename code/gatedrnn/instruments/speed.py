"""How fast a recurrent network can run, and what its backward pass must keep (the speed chapter): how time grows
with a size, how many bytes autograd saves for the backward pass, the same with gradient checkpointing, and how
close a computation comes to the device's attainable rate of arithmetic.

Wall times themselves are measured with :func:`gatedrnn.instruments.cost.fastest_seconds`; this module turns them into
the chapter's quantities.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

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


def elements_written(run: Callable[[], object]) -> int:
    """How many tensor elements the operations that ``run()`` executes write, forward and backward, on the CPU (the
    count does not depend on the device, and a CUDA backward pass runs in threads this count would not see). A
    measure of memory traffic that, unlike time, no other program on the machine can change."""
    if not callable(run):
        raise TypeError(f"run: expected a callable, got {type(run).__name__}")
    counter = _WriteCounter()
    with counter:
        run()
    return counter.count


class _Recorder(TorchDispatchMode):
    """Records the name of every ATen operation run inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.names: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.names.add(func._schema.name)
        return func(*args, **(kwargs or {}))


def operations_called(run: Callable[[], object]) -> set[str]:
    """The names of the ATen operations (``aten::mm``, ``aten::mkldnn_rnn_layer``, ...) that ``run()`` calls in this
    thread: which kernels a module's forward pass really uses on this device."""
    if not callable(run):
        raise TypeError(f"run: expected a callable, got {type(run).__name__}")
    recorder = _Recorder()
    with recorder:
        run()
    return recorder.names


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
