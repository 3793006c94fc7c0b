"""The book's instrument: how large the loss's gradient is with respect to the hidden state at every step."""

from __future__ import annotations

import copy
from typing import Callable

import torch
from torch import Tensor

from gatedrnn import validation
from gatedrnn.instruments.reference import package_twin
from gatedrnn.nn.layers import RecurrentBase, State
from gatedrnn.nn.models import LastStep


def grad_norms_through_time(
    rnn: RecurrentBase,
    inputs: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    hx: State | None = None,
) -> Tensor:
    """‖∂L/∂h_t‖ for t = 0 … T-1: the total derivative of ``L = loss_fn(output)`` with respect to the top layer's
    hidden state at each step, Frobenius norm over batch and features.

    ``rnn`` is a unidirectional :class:`gatedrnn.RNN`, :class:`~gatedrnn.LSTM` or :class:`~gatedrnn.GRU`;
    ``inputs`` is in the module's own layout; ``loss_fn`` maps the module's output sequence to a scalar. The total
    derivative counts every path from ``h_t`` to ``L``: through the output at step t and through all later steps.
    Returns a detached tensor of shape [T], in the parameters' dtype. Gradients of the parameters are not touched.
    """
    if not isinstance(rnn, RecurrentBase):
        raise TypeError(f"rnn: expected a gatedrnn.RNN, LSTM or GRU, got {type(rnn).__name__}")
    if rnn.bidirectional:
        raise ValueError("rnn: expected a unidirectional module, got bidirectional=True")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable output -> scalar, got {type(loss_fn).__name__}")
    with torch.enable_grad():
        output, _, hidden = rnn.unroll(inputs, hx)
        grads = torch.autograd.grad(validation.check_scalar_loss(loss_fn(output)), hidden, allow_unused=True)
    if all(g is None for g in grads):  # a gradient through other tensors only: no ∂L/∂h_t to measure
        raise ValueError("loss_fn: its value does not depend on the module's output")
    norms = [torch.zeros((), dtype=h.dtype, device=h.device) if g is None else torch.linalg.vector_norm(g) for g, h in zip(grads, hidden)]
    return torch.stack(norms).detach()


def last_step_profile(
    net: LastStep,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
) -> Tensor:
    """‖∂L/∂h_t‖ for t = 0 … T-1 of a :class:`~gatedrnn.nn.models.LastStep` network whose recurrent layer reads
    ``inputs`` [T, N, I], with ``L = loss_fn(readout(h_T), targets)``: :func:`grad_norms_through_time` through the
    readout. Measured on a float64 copy on the CPU, so that the tiny norms of a vanishing gradient do not underflow
    and ``net`` itself is left as it is; a ``torch.nn`` RNN, LSTM or GRU is measured through its package twin
    (:func:`~gatedrnn.instruments.reference.package_twin`). Returns a tensor [T], float64, on the CPU.
    """
    if not isinstance(net, LastStep):
        raise TypeError(f"net: expected a models.LastStep, got {type(net).__name__}")
    twin = copy.deepcopy(net).to("cpu", torch.float64)
    if not isinstance(twin.rnn, RecurrentBase):
        twin.rnn = package_twin(twin.rnn)
    inputs, targets = inputs.to("cpu", torch.float64), targets.to("cpu", torch.float64)
    return grad_norms_through_time(twin.rnn, inputs, lambda output: loss_fn(twin.readout(output[-1]), targets))


def decay_factor(norms: Tensor, *, skip_last: int = 1) -> float:
    """The per-step factor ρ by which ‖∂L/∂h_t‖ shrinks going back one step, fitted as ``norms[t] ≈ C ρ^(T-1-t)``.

    A least-squares line through ``log norms[t]`` against t over all steps but the last ``skip_last`` (where the
    loss's own term dominates). ρ < 1: the gradient vanishes into the past; ρ > 1: it explodes.
    """
    if not isinstance(norms, Tensor) or norms.dim() != 1:
        raise ValueError(f"norms: expected a 1-D tensor [T], got {getattr(norms, 'shape', type(norms).__name__)}")
    values = norms[: norms.numel() - skip_last].double().cpu()
    if values.numel() < 2:
        raise ValueError(f"norms: expected at least {skip_last + 2} steps with skip_last={skip_last}, got {norms.numel()}")
    if not bool((values > 0).all()):
        raise ValueError("norms: expected positive norms (a zero norm has no logarithm)")
    t = torch.arange(values.numel(), dtype=torch.float64)
    slope = torch.cov(torch.stack([t, values.log()]))[0, 1] / t.var()
    return float(torch.exp(-slope))
