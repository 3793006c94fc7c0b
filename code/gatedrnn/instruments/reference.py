"""Side-by-side runs of a gatedrnn module and its ``torch.nn`` namesake with the same parameters: the book's live
check that its implementation is PyTorch's model, not a look-alike."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gatedrnn.nn.layers import LSTM, RNN, RecurrentBase, State


def torch_twin(module: RecurrentBase) -> nn.Module:
    """The ``torch.nn.RNN/LSTM/GRU`` with the same constructor arguments and a copy of ``module``'s parameters."""
    if not isinstance(module, RecurrentBase):
        raise TypeError(f"module: expected a gatedrnn.RNN, LSTM or GRU, got {type(module).__name__}")
    kwargs = {
        "num_layers": module.num_layers,
        "bias": module.bias,
        "batch_first": module.batch_first,
        "dropout": module.dropout,
        "bidirectional": module.bidirectional,
    }
    if isinstance(module, RNN):
        kwargs["nonlinearity"] = module.nonlinearity
    if isinstance(module, LSTM):
        kwargs["proj_size"] = module.proj_size
    weight = module.weight_ih_l0
    twin = getattr(nn, type(module).__name__)(
        module.input_size, module.hidden_size, device=weight.device, dtype=weight.dtype, **kwargs
    )
    twin.load_state_dict(module.state_dict())
    return twin.train(module.training)


def max_differences(module: RecurrentBase, input: Tensor, hx: State | None = None) -> dict[str, float]:
    """Largest absolute differences between ``module`` and its :func:`torch_twin` on one input: in the output, the
    final state(s), and the gradients of a loss that weighs every output and state with respect to the input and
    to every parameter."""
    results = []
    for candidate in (module, torch_twin(module)):
        x = input.detach().clone().requires_grad_(True)
        output, state = candidate(x, hx)
        states = list(state) if isinstance(state, tuple) else [state]
        weights = torch.linspace(-1, 1, output.numel(), dtype=output.dtype, device=output.device)
        loss = (output * weights.reshape(output.shape)).sum() + sum(s.pow(2).sum() for s in states)
        grads = torch.autograd.grad(loss, [x, *candidate.parameters()])
        results.append((output, states, grads))
    (out_a, states_a, grads_a), (out_b, states_b, grads_b) = results
    largest = lambda pairs: max(float((a - b).detach().abs().max()) for a, b in pairs)  # noqa: E731
    return {
        "output": largest([(out_a, out_b)]),
        "final state": largest(zip(states_a, states_b)),
        "gradients": largest(zip(grads_a, grads_b)),
    }
