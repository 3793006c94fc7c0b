"""gatedrnn: the recurrent networks of *Gated recurrent networks from first principles*, written from its equations.

Modules follow the book's concepts: :mod:`~gatedrnn.cells` (one step of each model), :mod:`~gatedrnn.layers`
(unrolling over time and stacking), :mod:`~gatedrnn.gradients` (measuring ‖∂L/∂h_t‖), :mod:`~gatedrnn.runtime`
(device, profile, seeds), :mod:`~gatedrnn.bptt` (backpropagation through time by hand),
:mod:`~gatedrnn.initialisation` (scaled orthogonal and identity W_hh), :mod:`~gatedrnn.tasks` (the adding problem,
the copy task, sequential digits), :mod:`~gatedrnn.models` (a module with a readout), :mod:`~gatedrnn.clipping` and
:mod:`~gatedrnn.training` (the training loop), :mod:`~gatedrnn.experiments` (one experiment over many seeds),
:mod:`~gatedrnn.seeds` (many seeds trained as one computation), :mod:`~gatedrnn.kernels` (fused Triton layers that
keep the per-step gradient norms; imported on demand, since it needs Triton),
:mod:`~gatedrnn.variants` (LSTM and GRU variants for ablations), :mod:`~gatedrnn.normalised` (layer- and
batch-normalised layers), :mod:`~gatedrnn.probes` (gradient norms through the depth of a CNN or a recurrence),
:mod:`~gatedrnn.benchmarks` (chapter 9's tasks as experiments), :mod:`~gatedrnn.text` (characters as data),
:mod:`~gatedrnn.forecasting` (the sunspot series, naive forecasts and a linear autoregression),
:mod:`~gatedrnn.jacobians` (one step's Jacobian in closed form), :mod:`~gatedrnn.gates` (recording gate values),
:mod:`~gatedrnn.minimal` (MinGRU and MinLSTM, computed by a parallel scan), :mod:`~gatedrnn.speed` (time, memory
and throughput), :mod:`~gatedrnn.gru_conventions` (the
GRU as three papers write it), :mod:`~gatedrnn.cost` (parameters, FLOPs, time), :mod:`~gatedrnn.reference`
(side-by-side runs with ``torch.nn``), :mod:`~gatedrnn.plotting` (one palette and the book's diagrams),
:mod:`~gatedrnn.book` (computed values handed to the prose) and :mod:`~gatedrnn.validation` (argument checks).
"""

from gatedrnn import (benchmarks, bptt, clipping, cost, experiments, forecasting, gates, gru_conventions,
                      initialisation, jacobians, minimal, models, normalised, probes, speed, tasks, text,
                      training, variants)
from gatedrnn.cells import GRUCell, LSTMCell, RNNCell, gru_gates, gru_step, lstm_gates, lstm_step, rnn_step
from gatedrnn.gradients import decay_factor, grad_norms_through_time, last_step_profile
from gatedrnn.layers import GRU, LSTM, RNN, LayerParameters, RecurrentBase, Unrolled
from gatedrnn.minimal import MinGRU, MinLSTM
from gatedrnn.reference import max_differences, torch_twin
from gatedrnn.runtime import by_profile, describe_environment, device, environment, profile, seed_everything

__version__ = "0.1.0"

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
    "torch_twin",
]
