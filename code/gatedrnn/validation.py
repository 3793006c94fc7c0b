"""Checks of arguments, each raising a ValueError or TypeError that names the argument, what was expected and what came.

PyTorch answers some bad inputs to its recurrent modules late or obscurely (an AttributeError for a tuple given to
a GRU, a broadcast that hides a wrong shape); the modules of this package call these checks first.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor

NONLINEARITIES = ("tanh", "relu")


def check_size(name: str, value: object, *, minimum: int = 1) -> int:
    """``value`` must be an int (not a bool) of at least ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def check_dropout(value: object) -> float:
    """Dropout probability between layers: a number in [0, 1)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"dropout: expected a number in [0, 1), got {type(value).__name__} {value!r}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"dropout: expected a number in [0, 1), got {value}")
    return float(value)


def check_nonlinearity(value: object) -> str:
    """The vanilla RNN's activation: ``'tanh'`` or ``'relu'``."""
    if value not in NONLINEARITIES:
        raise ValueError(f"nonlinearity: expected one of {NONLINEARITIES}, got {value!r}")
    return str(value)


def check_flag(name: str, value: object) -> bool:
    """A boolean constructor argument."""
    if not isinstance(value, bool):
        raise TypeError(f"{name}: expected a bool, got {type(value).__name__} {value!r}")
    return value


def check_tensor_like(name: str, value: object, reference: Tensor) -> Tensor:
    """``value`` must be a tensor with the dtype and device of ``reference`` (a parameter of the module)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(value).__name__}")
    if value.dtype != reference.dtype:
        raise TypeError(f"{name}: expected dtype {reference.dtype} (the parameters' dtype), got {value.dtype}")
    if value.device != reference.device:
        raise ValueError(f"{name}: expected device {reference.device} (the parameters' device), got {value.device}")
    return value


def check_shape(name: str, value: Tensor, expected: tuple[int, ...], meaning: str) -> None:
    """``value.shape`` must equal ``expected``; ``meaning`` spells the dimensions out, e.g. ``'(batch, hidden_size)'``."""
    if tuple(value.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {tuple(expected)} {meaning}, got {tuple(value.shape)}")


def check_input(value: object, reference: Tensor, *, input_size: int, batched_rank: int, layout: str) -> bool:
    """Check a module's input; return True when it is batched (rank ``batched_rank``), False when it is unbatched.

    ``layout`` spells the batched dimensions, e.g. ``'(seq_len, batch, input_size)'``.
    """
    tensor = check_tensor_like("input", value, reference)
    if tensor.dim() not in (batched_rank - 1, batched_rank):
        raise ValueError(
            f"input: expected a {batched_rank}-D tensor {layout} or a {batched_rank - 1}-D unbatched one, "
            f"got a {tensor.dim()}-D tensor of shape {tuple(tensor.shape)}"
        )
    if tensor.shape[-1] != input_size:
        raise ValueError(
            f"input: expected the last dimension to be input_size={input_size}, got shape {tuple(tensor.shape)}"
        )
    return tensor.dim() == batched_rank


def check_sequence_length(value: Tensor, time_dim: int) -> None:
    """A sequence must have at least one step."""
    if value.shape[time_dim] < 1:
        raise ValueError(f"input: expected a sequence of length >= 1, got shape {tuple(value.shape)}")


def floating_dtype(dtype: torch.dtype | None) -> None:
    """Parameters must be floating point."""
    if dtype is not None and not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point dtype, got {dtype}")


def check_scalar_loss(loss: object) -> Tensor:
    """The value of a ``loss_fn`` checked for a gradient instrument: a tensor of one element that depends on the
    output (so that it has a gradient), returned as a 0-d tensor."""
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
        raise ValueError(f"loss_fn: expected a scalar tensor, got {shape}")
    if not loss.requires_grad:
        raise ValueError("loss_fn: its value does not depend on the module's output")
    return loss.reshape(())


def check_packed_input(data: object, reference: Tensor, *, input_size: int) -> Tensor:
    """The ``data`` of a module's PackedSequence input: a tensor (sum of lengths, input_size) like ``reference``."""
    tensor = check_tensor_like("input", data, reference)
    if tensor.dim() != 2 or tensor.shape[-1] != input_size:
        raise ValueError(
            f"input: expected a PackedSequence whose data is 2-D (sum of lengths, input_size={input_size}), "
            f"got data of shape {tuple(tensor.shape)}"
        )
    return tensor
