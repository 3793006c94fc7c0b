"""A recurrent module with a readout: the networks the book trains.

The recurrent part is one of the package's layers (:class:`~gatedrnn.nn.layers.RNN`, ``LSTM``, ``GRU``) or its
``torch.nn`` namesake, whose fused kernels compute the same function faster (the comparison chapter), or one of
the minimal recurrences :class:`~gatedrnn.nn.minimal.MinGRU` and ``MinLSTM`` (the speed chapter); all are time-first,
inputs [T, N, I].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn.nn.initialisation import forget_gate_bias_, identity_recurrent_, orthogonal_recurrent_
from gatedrnn.nn.layers import RecurrentBase
from gatedrnn.nn.minimal import MinGRU, MinLSTM
from gatedrnn.nn.normalised import BatchNormLSTM, LayerNormGRU, LayerNormLSTM
from gatedrnn.nn.variants import VariantGRU, VariantLSTM
from gatedrnn.validation import check_size

# The layers a readout can sit on: the three models (the package's and torch.nn's), and the speed and recipe
# chapters' minimal recurrences, variants and normalised layers.
RECURRENT = (RecurrentBase, nn.RNNBase, MinGRU, MinLSTM, VariantLSTM, VariantGRU, LayerNormLSTM, LayerNormGRU,
             BatchNormLSTM)
Recurrent = (RecurrentBase | nn.RNNBase | MinGRU | MinLSTM | VariantLSTM | VariantGRU | LayerNormLSTM | LayerNormGRU
             | BatchNormLSTM)
# The plain network at PyTorch's initialisation, with an orthogonal W_hh, and as an IRNN (chapter 5); the gated two.
MODES = ("RNN", "orthogonal RNN", "IRNN", "LSTM", "GRU")


def fused(
    mode: str,
    input_size: int,
    hidden_size: int,
    *,
    forget_bias: float = 1.0,
    device: torch.device | str | None = None,
) -> nn.RNNBase:
    """PyTorch's fused one-layer, time-first ``torch.nn.RNN``, ``LSTM`` or ``GRU``, as the experiments of Part III use
    it. ``mode`` is one of ``MODES``: ``"RNN"``, ``"LSTM"`` and ``"GRU"`` keep PyTorch's initialisation, except
    that an LSTM's forget bias starts at ``forget_bias`` (:func:`~gatedrnn.nn.initialisation.forget_gate_bias_`; 1 by
    default, the LSTM chapter's recommendation); ``"orthogonal RNN"`` is the tanh network with an orthogonal W_hh
    (:func:`~gatedrnn.nn.initialisation.orthogonal_recurrent_`) and ``"IRNN"`` the ReLU network with W_hh = I
    (:func:`~gatedrnn.nn.initialisation.identity_recurrent_`). Random draws come from PyTorch's global generator."""
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    I, H = check_size("input_size", input_size), check_size("hidden_size", hidden_size)
    if mode in ("LSTM", "GRU"):
        rnn = getattr(nn, mode)(I, H, device=device)
    else:
        rnn = nn.RNN(I, H, nonlinearity="relu" if mode == "IRNN" else "tanh", device=device)
    if mode == "LSTM":
        forget_gate_bias_(rnn, forget_bias)
    elif mode == "orthogonal RNN":
        orthogonal_recurrent_(rnn, 1.0)
    elif mode == "IRNN":
        identity_recurrent_(rnn)
    return rnn


def _check_recurrent(rnn: object) -> Recurrent:
    if not isinstance(rnn, RECURRENT):
        names = ", ".join(kind.__name__ for kind in RECURRENT[2:])
        raise TypeError(f"rnn: expected a gatedrnn or torch.nn RNN, LSTM or GRU, or a gatedrnn {names}, "
                        f"got {type(rnn).__name__}")
    if rnn.batch_first:
        raise ValueError("rnn: expected batch_first=False (inputs [T, N, I]), got batch_first=True")
    return rnn


def _readout(rnn: Recurrent, output_size: int) -> nn.Linear:
    p = next(rnn.parameters())
    if isinstance(rnn, (MinGRU, MinLSTM)):  # one direction, no projection
        return nn.Linear(rnn.hidden_size, check_size("output_size", output_size), device=p.device, dtype=p.dtype)
    features = (2 if rnn.bidirectional else 1) * (rnn.proj_size or rnn.hidden_size)
    return nn.Linear(features, check_size("output_size", output_size), device=p.device, dtype=p.dtype)


class LastStep(nn.Module):
    """``rnn`` followed by a linear readout of its output at the last step, ``ŷ = W_hy h_T + b_y`` (eq. rnn-readout).

    For tasks with one answer per sequence (the adding problem, sequential digits). ``forward`` takes the ``rnn``'s
    input [T, N, I] and returns [N, output_size].
    """

    def __init__(self, rnn: Recurrent, output_size: int) -> None:
        super().__init__()
        self.rnn = _check_recurrent(rnn)
        self.readout = _readout(rnn, output_size)

    def forward(self, input: Tensor) -> Tensor:
        output, _ = self.rnn(input)
        return self.readout(output[-1])


class EveryStep(nn.Module):
    """Symbols in, a distribution over symbols out at every step: ``x_t`` is the one-hot code of token ``t`` and
    ``ŷ_t = W_hy h_t + b_y`` (eq. rnn-readout) are the logits of the next symbol, for the copy task and for language
    models.

    ``forward(tokens)`` takes int64 tokens [T, N] in ``0 … classes - 1`` and returns the logits [T, N, classes];
    ``run(tokens, state)`` also takes and returns the recurrent state, so that a long text can be read in pieces
    and new text generated one step at a time.
    """

    def __init__(self, rnn: Recurrent, classes: int) -> None:
        super().__init__()
        self.rnn = _check_recurrent(rnn)
        if rnn.input_size != check_size("classes", classes, minimum=2):
            raise ValueError(f"rnn: expected input_size = classes = {classes} (one-hot inputs), got {rnn.input_size}")
        self.classes = classes
        self.readout = _readout(rnn, classes)

    def run(self, tokens: Tensor, state=None) -> tuple[Tensor, object]:
        if tokens.dim() != 2 or tokens.dtype.is_floating_point or tokens.dtype.is_complex:
            raise ValueError(f"tokens: expected integer tokens [T, N], got {tokens.dtype} {tuple(tokens.shape)}")
        output, state = self.rnn(F.one_hot(tokens, self.classes).to(self.readout.weight.dtype), state)
        return self.readout(output), state

    def forward(self, tokens: Tensor) -> Tensor:
        return self.run(tokens)[0]


def sequence_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy in nats, averaged over every step and sequence, of logits [T, N, C] against int64 targets
    [T, N]: the loss of :class:`EveryStep`."""
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ValueError(f"targets: expected shape {tuple(logits.shape[:2])} to match logits [T, N, C] = "
                         f"{tuple(logits.shape)}, got {tuple(targets.shape)}")
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
