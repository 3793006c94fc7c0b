"""A recurrent module with a readout: the networks the book trains."""

from __future__ import annotations

from torch import Tensor, nn

from gatedrnn.layers import RecurrentBase
from gatedrnn.validation import check_size


class LastStep(nn.Module):
    """``rnn`` followed by a linear readout of its output at the last step, ``ŷ = W_hy h_T + b_y`` (eq. rnn-readout).

    For tasks with one answer per sequence (the adding problem, sequential digits). ``forward`` takes the ``rnn``'s
    input [T, N, I] and returns [N, output_size].
    """

    def __init__(self, rnn: RecurrentBase, output_size: int) -> None:
        super().__init__()
        if not isinstance(rnn, RecurrentBase):
            raise TypeError(f"rnn: expected a gatedrnn.RNN, LSTM or GRU, got {type(rnn).__name__}")
        if rnn.batch_first:
            raise ValueError("rnn: expected batch_first=False (inputs [T, N, I]), got batch_first=True")
        self.rnn = rnn
        p = next(rnn.parameters())
        features = rnn.num_directions * rnn.output_size
        self.readout = nn.Linear(features, check_size("output_size", output_size), device=p.device, dtype=p.dtype)

    def forward(self, input: Tensor) -> Tensor:
        output, _ = self.rnn(input)
        return self.readout(output[-1])
