"""gatedrnn: the recurrent networks of *Gated recurrent networks from first principles*, written from its equations.

The package has one folder per role, and imports go downward only (``tests/test_layout.py`` checks it):

* :mod:`gatedrnn.nn` — the networks: one step of each model (``cells``), unrolling and stacking (``layers``),
  modules with a readout (``models``), LSTM and GRU variants, normalised layers, the minimal recurrences, the fused
  Triton layers (``kernels``, imported on demand) and the initialisations of W_hh;
* :mod:`gatedrnn.data` — what they learn from: the synthetic tasks, characters of text, the sunspot series;
* :mod:`gatedrnn.instruments` — what measures them: ‖∂L/∂h_t‖ through time (``gradients``), one-step Jacobians,
  backpropagation through time by hand (``bptt``), gate recording, the GRU's three conventions, probes of deep
  networks, side-by-side runs with ``torch.nn`` (``reference``), parameter/FLOP counts (``cost``) and ``speed``;
* :mod:`gatedrnn.experiments` — what trains them: device, profile and seeds (``runtime``), clipping, the training
  loop, many seeds one by one or stacked (``sweeps``, ``seeds``), the long-range ``benchmarks``, and the
  statistics behind a verdict (``verdicts``);
* :mod:`gatedrnn.book` — how the book shows them: ``plotting`` and ``glue``.

:mod:`gatedrnn.validation` (argument checks) sits below them all. The names a chapter uses most are importable from
here.
"""

from gatedrnn import data, experiments, instruments, nn
from gatedrnn.experiments.runtime import by_profile, describe_environment, device, environment, profile, seed_everything
from gatedrnn.instruments.gradients import decay_factor, grad_norms_through_time, last_step_profile
from gatedrnn.instruments.reference import max_differences, package_twin, torch_twin
from gatedrnn.nn.cells import GRUCell, LSTMCell, RNNCell, gru_gates, gru_step, lstm_gates, lstm_step, rnn_step
from gatedrnn.nn.layers import GRU, LSTM, RNN, LayerParameters, RecurrentBase, Unrolled
from gatedrnn.nn.minimal import MinGRU, MinLSTM

__version__ = "0.2.0"

__all__ = [
    "GRU",
    "GRUCell",
    "LSTM",
    "LSTMCell",
    "LayerParameters",
    "MinGRU",
    "MinLSTM",
    "RNN",
    "RNNCell",
    "RecurrentBase",
    "Unrolled",
    "by_profile",
    "describe_environment",
    "decay_factor",
    "device",
    "environment",
    "grad_norms_through_time",
    "last_step_profile",
    "gru_gates",
    "gru_step",
    "lstm_gates",
    "lstm_step",
    "max_differences",
    "profile",
    "rnn_step",
    "seed_everything",
    "package_twin",
    "torch_twin",
]
