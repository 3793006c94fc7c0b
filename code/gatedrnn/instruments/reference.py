"""Side-by-side runs of a gatedrnn module and its ``torch.nn`` namesake with the same parameters: the book's live
check that its implementation is PyTorch's model, not a look-alike."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gatedrnn.nn.layers import GRU, LSTM, RNN, RecurrentBase, State

# Each package layer's torch.nn namesake: the same constructor arguments, parameter names and function.
TORCH_NAMESAKES: dict[type, type] = {RNN: nn.RNN, LSTM: nn.LSTM, GRU: nn.GRU}
PACKAGE_NAMESAKES: dict[type, type] = {namesake: ours for ours, namesake in TORCH_NAMESAKES.items()}


def _twin(module: nn.Module, kind: type) -> nn.Module:
    """A ``kind`` layer with ``module``'s constructor arguments, device, dtype and mode, and a copy of its parameters
    (none on the meta device, which holds no data)."""
    kwargs = {"num_layers": module.num_layers, "bias": module.bias, "batch_first": module.batch_first,
              "dropout": module.dropout, "bidirectional": module.bidirectional}
    if isinstance(module, (RNN, nn.RNN)):
        kwargs["nonlinearity"] = module.nonlinearity
    if isinstance(module, (LSTM, nn.LSTM)):
        kwargs["proj_size"] = module.proj_size
    weight = module.weight_ih_l0
    twin = kind(module.input_size, module.hidden_size, device=weight.device, dtype=weight.dtype, **kwargs)
    if weight.device.type != "meta":
        twin.load_state_dict(module.state_dict())
    return twin.train(module.training)


def torch_twin(module: RecurrentBase) -> nn.Module:
    """The ``torch.nn.RNN/LSTM/GRU`` with the same constructor arguments and a copy of ``module``'s parameters."""
    if type(module) not in TORCH_NAMESAKES:
        raise TypeError(f"module: expected a gatedrnn.RNN, LSTM or GRU, got {type(module).__name__}")
    return _twin(module, TORCH_NAMESAKES[type(module)])


def package_twin(module: nn.Module) -> RecurrentBase:
    """The package's RNN, LSTM or GRU with the same constructor arguments and a copy of the parameters of the
    ``torch.nn`` module ``module``: the same function, unrolled step by step, so that the book's instruments can
    measure what happens inside a network trained in PyTorch's fused kernel."""
    if type(module) not in PACKAGE_NAMESAKES:
        raise TypeError(f"module: expected a torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")
    return _twin(module, PACKAGE_NAMESAKES[type(module)])


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
