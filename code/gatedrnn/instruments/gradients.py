"""The book's instrument: how large the loss's gradient is with respect to the hidden state at every step."""

from __future__ import annotations

import copy
from typing import Callable, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gatedrnn import validation
from gatedrnn.instruments.reference import package_twin
from gatedrnn.nn.cells import lstm_gates, lstm_step
from gatedrnn.nn.layers import LSTM, RecurrentBase, State, unroll
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


class CellPaths(NamedTuple):
    """Where an LSTM's gradient travels (:func:`lstm_gradient_paths`): norms per step and sequence, [T, N] each."""

    h: Tensor  # ‖∂L/∂h_t‖, the total derivative
    c: Tensor  # ‖∂L/∂c_t‖, the total derivative
    carousel: Tensor  # ‖(f_{t+1} ⊙ … ⊙ f_T) ⊙ ∂L/∂c_T‖: the one path that stays on the cell, eq. (lstm-jac-cc)
    share: Tensor  # ⟨carousel path, ∂L/∂c_t⟩ / ‖∂L/∂c_t‖²: its part of ‖∂L/∂c_t‖², the other paths having the rest


def lstm_gradient_paths(
    net: LastStep,
    inputs: Tensor,
    targets: Tensor,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
) -> CellPaths:
    """How the gradient of ``L = loss_fn(readout(h_T), targets)`` reaches each step of a
    :class:`~gatedrnn.nn.models.LastStep` network whose recurrent layer is a one-layer :class:`gatedrnn.LSTM`, run
    from the zero state over ``inputs`` [T, N, I].

    The total derivative ∂L/∂c_t sums every path from c_t to the loss. One of them never leaves the cell: c_t →
    c_{t+1} → … → c_T, one factor diag(f_s) per step (eq. lstm-jac-cc), then into h_T. That path's gradient is
    ``(f_{t+1} ⊙ … ⊙ f_T) ⊙ ∂L/∂c_T``; all other paths pass through some h_s and the recurrent weights. ``share``
    splits ‖∂L/∂c_t‖² between the two: the carousel path's projection on the total. Each sequence is measured on
    its own (the norms are over features). Measured on a float64 copy on the CPU; ``net`` is left as it is.
    """
    if not isinstance(net, LastStep):
        raise TypeError(f"net: expected a models.LastStep, got {type(net).__name__}")
    if not isinstance(net.rnn, LSTM) or net.rnn.num_layers != 1 or net.rnn.bidirectional or net.rnn.proj_size:
        raise ValueError(f"net: expected a one-layer, unidirectional gatedrnn.LSTM without projection, got {net.rnn!r}")
    twin = copy.deepcopy(net).to("cpu", torch.float64)
    params = twin.rnn.layer_parameters(0)
    if not isinstance(inputs, Tensor) or inputs.dim() != 3 or inputs.shape[-1] != twin.rnn.input_size:
        raise ValueError(f"inputs: expected a tensor [T, N, {twin.rnn.input_size}], "
                         f"got {getattr(inputs, 'shape', type(inputs).__name__)}")

    def step(u_t: Tensor, state: tuple[Tensor, Tensor]) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, ...]]:
        forget = lstm_gates(u_t, state[0], params.weight_hh, params.bias_hh)[1]
        h, c = lstm_step(u_t, *state, params.weight_hh, params.bias_hh)
        return (h, c), (h, c, forget)

    with torch.enable_grad():
        u = F.linear(inputs.to("cpu", torch.float64), params.weight_ih, params.bias_ih)
        zeros = u.new_zeros(inputs.shape[1], twin.rnn.hidden_size)
        emitted, (h_last, _) = unroll(step, u, (zeros, zeros))
        hs, cs, fs = zip(*emitted)
        loss = validation.check_scalar_loss(loss_fn(twin.readout(h_last), targets.to("cpu", torch.float64)))
        grads = torch.autograd.grad(loss, hs + cs)
    steps = len(hs)
    grad_h, grad_c = torch.stack(grads[:steps]), torch.stack(grads[steps:])
    forget = torch.stack(fs).detach()
    # kept[t] = f_{t+1} ⊙ … ⊙ f_T (1 at the last step): the carousel's factors from step t to the end
    kept = torch.cat([forget.flip(0).cumprod(0).flip(0)[1:], torch.ones_like(forget[:1])])
    carousel = kept * grad_c[-1]
    share = (carousel * grad_c).sum(-1) / (grad_c * grad_c).sum(-1)
    return CellPaths(*(torch.linalg.vector_norm(g, dim=-1) for g in (grad_h, grad_c, carousel)), share)


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
