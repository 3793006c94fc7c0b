"""Normalised recurrent layers, written from their papers' equations: the layer-normalised LSTM and GRU (Ba, Kiros and
Hinton 2016, "Layer Normalization", arXiv:1607.06450) and the batch-normalised LSTM (Cooijmans, Ballas, Laurent,
Gülçehre and Courville 2017, "Recurrent Batch Normalization", ICLR, arXiv:1603.09025).

Both papers normalise the input's share ``W_ih x_t`` and the recurrent share ``W_hh h_{t-1}`` of the pre-activations
*separately*, so that each has its own learned scale, and normalise the cell ``c_t`` where it enters the hidden
state, ``h_t = o_t ⊙ tanh(N(c_t))``. The cell's own update ``c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`` is left as it is,
and the state carries the unnormalised ``c_t``. A normalisation ``N(a; γ, β) = γ ⊙ (a - μ) / √(σ² + ε) + β`` has a
per-feature gain γ and bias β; the two papers differ in where μ and σ² come from:

* **Layer normalisation** (:func:`layer_norm`): the mean and variance of the entries of ``a`` for one sequence at one
  step. Nothing is learned or kept besides γ and β, and training and evaluation compute the same function.
* **Batch normalisation** (:func:`batch_norm`): the mean and variance of each feature over the batch, *separately at
  every time step*; in evaluation mode, running averages of them kept per step.

Notation and layout follow :mod:`gatedrnn.nn.cells`: ``x_t`` the input, ``h_t`` the hidden state, ``c_t`` the cell; gate
order as in PyTorch, LSTM (i, f, g, o), GRU (r, z, n); ``u_t``, the input's share of the pre-activations (here
normalised, plus the bias), is computed for every step before the loop because it does not depend on the state.
The modules are one unidirectional, time-first layer (input [T, N, I]) with ``torch.nn``'s return convention:
``(output [T, N, H], (h_n, c_n))`` for the LSTMs, ``(output, h_n)`` for the GRU, each final state [1, N, H].

The loop over time is :func:`gatedrnn.nn.layers.unroll`, not :func:`~gatedrnn.nn.layers.run_layer`: ``run_layer`` forms
``u_t = W_ih x_t + b_ih`` itself, with no place for normalising ``W_ih x_t``, and its cell receives no step index,
which the batch-normalised LSTM needs to pick that step's statistics. Each module therefore computes ``u`` for all
steps and unrolls a step of its own; the batch-normalised one draws the step index from an iterator.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn import validation
from gatedrnn.nn.layers import Carry, unroll

Norm = Callable[[Tensor], Tensor]  # a ↦ N(a; γ, β), the gains, biases and statistics already chosen


# ---- the two normalisations ----------------------------------------------------------------------------------------
def layer_norm(a: Tensor, gain: Tensor, bias: Tensor, eps: float) -> Tensor:
    """``LN(a; γ, β) = γ ⊙ (a - μ) / √(σ² + ε) + β`` with μ and σ² the mean and (biased) variance of the entries of
    ``a`` along its last dimension: one sequence at one step (Ba et al., sec. 3 and the supplement's LN function).

    The paper's σ has no ε; the authors' code adds ε = 1e-5 under the root, as ``torch.nn.LayerNorm`` does. It is
    needed here: ``W_hh h_0`` is all zeros for a zero initial state, so σ = 0 at the first step."""
    mean = a.mean(-1, keepdim=True)
    var = a.var(-1, correction=0, keepdim=True)
    return gain * (a - mean) / torch.sqrt(var + eps) + bias


def batch_norm(a: Tensor, gain: Tensor, bias: Tensor | None, mean: Tensor, var: Tensor, eps: float) -> Tensor:
    """``BN(a; γ, β) = β + γ ⊙ (a - E[a]) / √(Var[a] + ε)``, Cooijmans et al. eq. (5), with the statistics given:
    the batch's at this step in training, the running averages for this step in evaluation (``bias`` None: β = 0)."""
    normalised = gain * (a - mean) / torch.sqrt(var + eps)
    return normalised if bias is None else normalised + bias


# ---- one step of the normalised LSTM and GRU ----------------------------------------------------------------------
def normalised_lstm_step(
    u: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, norm_hh: Norm, norm_c: Norm
) -> tuple[Tensor, Tensor]:
    """One step of the LSTM of both papers: ``u`` is the input's normalised share plus the bias, ``N(W_ih x_t) + b``;
    ``norm_hh`` and ``norm_c`` normalise the recurrent share and the cell (layer or batch normalisation). The same
    three equations are Cooijmans et al. eqs. (6)-(8) ("C." below) with N = BN, and Ba et al.'s layer-normalised LSTM
    (the LSTM equations of its supplement, cited here without numbers, which were not checked) with N = LN."""
    i, f, g, o = (u + norm_hh(F.linear(h, weight_hh))).chunk(4, dim=-1)  # pre-activations i, f, g, o: C. eq. (6)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)  # cell update, not normalised: C. eq. (7)
    h = torch.sigmoid(o) * torch.tanh(norm_c(c))  # hidden state from the normalised cell: C. eq. (8)
    return h, c


def normalised_gru_step(u: Tensor, h: Tensor, weight_hh: Tensor, norm_hh: Norm) -> Tensor:
    """One step of the layer-normalised GRU in PyTorch's reset-after form: ``u`` is ``N(W_ih x_t) + b`` and
    ``norm_hh`` normalises ``W_hh h_{t-1}``; the reset gate multiplies the candidate's normalised recurrent share."""
    u_r, u_z, u_n = u.chunk(3, dim=-1)
    v_r, v_z, v_n = norm_hh(F.linear(h, weight_hh)).chunk(3, dim=-1)
    r = torch.sigmoid(u_r + v_r)  # reset gate, eq. (gru-gates)
    z = torch.sigmoid(u_z + v_z)  # update gate, eq. (gru-gates)
    n = torch.tanh(u_n + r * v_n)  # candidate, eq. (gru-candidate)
    return (1 - z) * n + z * h  # eq. (gru-hidden)


def gru_layer_norm(a: Tensor, gain: Tensor, bias: Tensor, eps: float) -> Tensor:
    """Layer normalisation of a GRU share ``a`` [..., 3H] in two groups, the gates' block (r, z) [2H] and the
    candidate's block n [H], each with its own mean and variance, as the authors' released LN-GRU does."""
    H = a.shape[-1] // 3
    groups = zip(a.split([2 * H, H], -1), gain.split([2 * H, H]), bias.split([2 * H, H]))
    return torch.cat([layer_norm(part, g, b, eps) for part, g, b in groups], dim=-1)


# ---- argument checks that validation.py does not have --------------------------------------------------------------
def _check_fraction(name: str, value: object) -> float:
    """A number in (0, 1] (a running average's momentum)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a number in (0, 1], got {type(value).__name__} {value!r}")
    if not 0.0 < float(value) <= 1.0:
        raise ValueError(f"{name}: expected a number in (0, 1], got {value}")
    return float(value)


def _check_positive(name: str, value: object) -> float:
    """A finite number > 0 (a normalisation's ε)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name}: expected a positive number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value}")
    return float(value)


# ---- the modules ----------------------------------------------------------------------------------------------------
class _NormalisedLayer(nn.Module):
    """What the three layers share: ``weight_ih_l0`` [G·H, I], ``weight_hh_l0`` [G·H, H], ``bias_l0`` [G·H] (the one
    bias b of the papers' equations), the attributes of a one-layer, unidirectional, time-first ``torch.nn`` RNN, and
    the checks of the input and the initial state."""

    gates: int
    state_names: tuple[str, ...] = ("h",)
    num_layers = 1
    batch_first = False
    bidirectional = False
    proj_size = 0

    def __init__(self, input_size: int, hidden_size: int, eps: float, device, dtype) -> None:
        super().__init__()
        validation.floating_dtype(dtype)
        self.input_size = validation.check_size("input_size", input_size)
        self.hidden_size = validation.check_size("hidden_size", hidden_size)
        self.eps = _check_positive("eps", eps)
        rows = self.gates * hidden_size
        self._kw = {"device": device, "dtype": dtype}
        self.weight_ih_l0 = nn.Parameter(torch.empty(rows, input_size, **self._kw))
        self.weight_hh_l0 = nn.Parameter(torch.empty(rows, hidden_size, **self._kw))
        self.bias_l0 = nn.Parameter(torch.empty(rows, **self._kw))

    def _vector(self, size: int) -> nn.Parameter:
        return nn.Parameter(torch.empty(size, **self._kw))

    def reset_parameters(self) -> None:
        """``W_ih`` and ``W_hh`` from U(-1/√H, 1/√H) as ``torch.nn`` draws them (in that order); b = 0; the gains and
        biases of the normalisations as each paper initialises them (:meth:`reset_norms`)."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            self.weight_ih_l0.uniform_(-bound, bound)
            self.weight_hh_l0.uniform_(-bound, bound)
            self.bias_l0.zero_()
            self.reset_norms()

    def reset_norms(self) -> None:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, eps={self.eps:g}"

    def _prepare(self, input: Tensor, hx: object) -> tuple[Tensor, Carry]:
        """Check ``input`` [T, N, I] and ``hx`` (None → zeros; a tensor [1, N, H], for the LSTMs a tuple
        ``(h_0, c_0)`` of two); return the input and the initial state tuple ``(h,)`` or ``(h, c)``, each [N, H]."""
        layout = "(seq_len, batch, input_size)"
        if not validation.check_input(input, self.weight_ih_l0, input_size=self.input_size, batched_rank=3,
                                      layout=layout):
            raise ValueError(f"input: expected a batched 3-D tensor {layout}, got shape {tuple(input.shape)}")
        validation.check_sequence_length(input, 0)
        shape = (1, input.shape[1], self.hidden_size)
        if len(self.state_names) == 1:
            if hx is not None and not isinstance(hx, Tensor):
                raise TypeError(f"hx: expected a tensor (1, batch, hidden_size) or None, got {type(hx).__name__}")
            given, labels = (hx,), ("hx",)
        else:
            if hx is not None and not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise TypeError(f"hx: expected a tuple (h_0, c_0) of two tensors or None, got {type(hx).__name__}")
            given, labels = hx if hx is not None else (None, None), ("hx[0]", "hx[1]")
        state = []
        for label, value in zip(labels, given):
            if value is None:
                state.append(input.new_zeros(shape[1:]))
                continue
            validation.check_tensor_like(label, value, self.weight_hh_l0)
            validation.check_shape(label, value, shape, "(1, batch, hidden_size)")
            state.append(value[0])
        return input, tuple(state)

    def _finish(self, hidden: list[Tensor], final: Carry) -> tuple[Tensor, Tensor | tuple[Tensor, ...]]:
        """Every ``h_t`` → output [T, N, H]; the final state → ``h_n`` (or ``(h_n, c_n)``), each [1, N, H]."""
        stacked = tuple(tensor.unsqueeze(0) for tensor in final)
        return torch.stack(hidden), stacked if len(stacked) > 1 else stacked[0]


class _LayerNormLayer(_NormalisedLayer):
    """What the two layer-normalised layers share: a gain ``ln_<name>_gain`` and a bias ``ln_<name>_bias`` for each
    normalised share in ``normalised`` (``"ih"`` and ``"hh"`` over the G·H rows, ``"c"`` over the H units), gains 1
    and biases 0 as the supplement and the authors' code start them."""

    normalised: tuple[str, ...]

    def __init__(
        self, input_size: int, hidden_size: int, *, eps: float = 1e-5, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, eps, device, dtype)
        for name in self.normalised:
            size = hidden_size if name == "c" else self.gates * hidden_size
            setattr(self, f"ln_{name}_gain", self._vector(size))
            setattr(self, f"ln_{name}_bias", self._vector(size))
        self.reset_parameters()

    def reset_norms(self) -> None:
        """Gains 1, biases 0."""
        for name in self.normalised:
            getattr(self, f"ln_{name}_gain").fill_(1.0)
            getattr(self, f"ln_{name}_bias").zero_()


class LayerNormLSTM(_LayerNormLayer):
    """The layer-normalised LSTM of Ba, Kiros and Hinton (2016), one time-first layer.

    The paper's supplement gives it as::

        (i, f, g, o)_t = LN(W_hh h_{t-1}; α_1, β_1) + LN(W_ih x_t; α_2, β_2) + b
        c_t = σ(f_t) ⊙ c_{t-1} + σ(i_t) ⊙ tanh(g_t)
        h_t = σ(o_t) ⊙ tanh(LN(c_t; α_3, β_3))

    and this module computes exactly that (:func:`normalised_lstm_step` with N = :func:`layer_norm`), in PyTorch's
    gate order (the paper stacks f, i, o, g; a joint normalisation does not see the order). What was followed and what
    was chosen:

    * *Joint over 4H.* Each share is normalised over all 4H of its pre-activations at once, not gate block by gate
      block: the supplement's LN maps R^D → R^D and is applied to the whole vector ``W_hh h_{t-1}``, and the authors'
      released code (``ln`` over the whole [N, 4H] product) and PyTorch's ``benchmarks/fastrnns`` LayerNormLSTMCell
      (``LayerNorm(4 * hidden_size)``) do the same. Normalising each gate's block apart (as TensorFlow's
      ``LayerNormBasicLSTMCell`` does, after summing the shares) is a different model.
    * *Gains and biases.* Per feature: ``ln_ih_gain``/``ln_ih_bias``, ``ln_hh_gain``/``ln_hh_bias`` [4H] and
      ``ln_c_gain``/``ln_c_bias`` [H], gains initialised to 1 and biases to 0. (The supplement's sentence swaps the
      names, calling α additive and β multiplicative and initialising α to 0 and β to 1; with its own LN formula,
      where α multiplies, that is gains 1 and biases 0, which is what the authors' code does.)
    * *The bias b* (``bias_l0``, initialised to 0 as in the authors' code) is kept as in the equation, although only
      ``b + β_1 + β_2`` matters: the three receive the same gradient. Set two of them to zero and freeze them if an
      optimiser's per-parameter treatment (weight decay, Adam's scaling) should see one bias.
    * *Not in the paper.* ε = 1e-5 inside the root (the authors' code; the paper's σ has none), ``W_ih`` and
      ``W_hh`` drawn as ``torch.nn`` draws them (the authors used scaled Gaussian and orthogonal matrices; LN makes
      the output invariant to the scale of each matrix), and ``c_t`` carried unnormalised, as the equations say
      (``fastrnns`` instead carries the normalised cell).
    """

    gates = 4
    state_names = ("h", "c")
    normalised = ("ih", "hh", "c")

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        """``input`` [T, N, I], ``hx = (h_0, c_0)`` each [1, N, H] (default zeros) → ``(output, (h_n, c_n))``."""
        x, state = self._prepare(input, hx)
        u = layer_norm(F.linear(x, self.weight_ih_l0), self.ln_ih_gain, self.ln_ih_bias, self.eps) + self.bias_l0

        def norm_hh(a: Tensor) -> Tensor:
            return layer_norm(a, self.ln_hh_gain, self.ln_hh_bias, self.eps)

        def norm_c(c: Tensor) -> Tensor:
            return layer_norm(c, self.ln_c_gain, self.ln_c_bias, self.eps)

        def step(u_t: Tensor, state: Carry) -> tuple[Carry, Tensor]:
            h, c = normalised_lstm_step(u_t, *state, self.weight_hh_l0, norm_hh, norm_c)
            return (h, c), h

        return self._finish(*unroll(step, u, state))


class LayerNormGRU(_LayerNormLayer):
    """A layer-normalised GRU, one time-first layer, in PyTorch's reset-after form and gate order (r, z, n)::

        (r, z)_t = σ(LN_rz(W_i{rz} x_t) + LN_rz(W_h{rz} h_{t-1}) + b_{rz})
        n_t = tanh(LN_n(W_in x_t) + b_n + r_t ⊙ LN_n(W_hn h_{t-1}))
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    The paper writes out only the LSTM; its GRU experiments (order embeddings, skip-thoughts) ran the authors' released
    ``lngru_layer``, and this follows that code: the input's and the recurrent share are normalised separately, each
    in two groups, the gates' block (r, z) [2H] and the candidate's block n [H] (:func:`gru_layer_norm`), with the
    reset gate applied to the candidate's *normalised* recurrent share, which is PyTorch's reset-after form. So ``LN``
    here is not one joint normalisation over 3H; the split follows the authors' two weight matrices, and keeps the
    candidate's share, which the reset gate scales, out of the gates' statistics.

    Parameters: ``ln_ih_gain``/``ln_ih_bias`` and ``ln_hh_gain``/``ln_hh_bias`` [3H] (gains 1, biases 0, as in the
    authors' code), and ``bias_l0`` [3H] (zeros), added outside the normalisations as b is in the paper's LSTM; the
    recurrent bias of the n block, ``ln_hh_bias[2H:]``, sits inside the reset gate's product, where ``torch.nn``'s
    ``b_hn`` sits. Departures from the authors' code: their input share includes its bias before the normalisation;
    here b is added after, as in the paper's LSTM equations. ε and the weights' draw as for :class:`LayerNormLSTM`.
    """

    gates = 3
    normalised = ("ih", "hh")

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``input`` [T, N, I], ``hx`` [1, N, H] (default zeros) → ``(output, h_n)``."""
        x, state = self._prepare(input, hx)
        u = gru_layer_norm(F.linear(x, self.weight_ih_l0), self.ln_ih_gain, self.ln_ih_bias, self.eps) + self.bias_l0

        def norm_hh(a: Tensor) -> Tensor:
            return gru_layer_norm(a, self.ln_hh_gain, self.ln_hh_bias, self.eps)

        def step(u_t: Tensor, state: Carry) -> tuple[Carry, Tensor]:
            h = normalised_gru_step(u_t, state[0], self.weight_hh_l0, norm_hh)
            return (h,), h

        return self._finish(*unroll(step, u, state))


class BatchNormLSTM(_NormalisedLayer):
    """The batch-normalised LSTM of Cooijmans et al. (2017), one time-first layer, eqs. (6)-(8)::

        (i, f, g, o)_t = BN(W_hh h_{t-1}; γ_h, 0) + BN(W_ih x_t; γ_x, 0) + b
        c_t = σ(f_t) ⊙ c_{t-1} + σ(i_t) ⊙ tanh(g_t)
        h_t = σ(o_t) ⊙ tanh(BN(c_t; γ_c, β_c))

    (:func:`normalised_lstm_step` with N = :func:`batch_norm`; PyTorch's gate order, where the paper stacks f, i, o, g).
    What the paper says and this module does:

    * The recurrent and the input share are normalised separately, each feature of the 4H over the batch, so that
      ``γ_h`` and ``γ_x`` (``bn_hh_gain``, ``bn_ih_gain`` [4H]) set their contributions; β_h = β_x = 0 (no
      parameters), the pre-existing ``b`` (``bias_l0``) carrying both biases; ``c_t`` is normalised only where it
      enters ``h_t`` (``bn_c_gain``, ``bn_c_bias`` [H]), never in the cell update.
    * Statistics are kept separately for every time step (sec. 3; the gains and biases are shared over time). In
      training mode each step uses its batch's mean and (biased) variance; evaluation mode uses running averages kept
      per step for steps 0 … ``max_steps`` - 1 (the paper's T_max, the length of the longest training sequence);
      every later step reuses the statistics of step ``max_steps`` - 1, as the paper does at test time. A training
      sequence longer than ``max_steps`` (which the paper's choice of T_max excludes) uses its own batch statistics at
      every step, and its steps from ``max_steps`` - 1 on all update that last running average, one after the other.
    * Initialisation: every γ = 0.1 and β_c = 0, the paper's recommendation (sec. 4: γ = 1 makes the gradient vanish
      through saturated tanh; 0.01 or less was unstable; 0.1 worked across tasks). b = 0: the paper states no value
      (the authors' sequential-MNIST code sets the forget block to 1). ``W_ih`` and ``W_hh`` drawn as ``torch.nn``
      draws them; BN makes each share invariant to the scale of each row of its matrix.
    * Running averages follow ``torch.nn.BatchNorm1d``: ``r ← (1 - momentum) r + momentum · s`` with the *unbiased*
      batch variance, means starting at 0 and variances at 1, in buffers ``bn_{ih,hh,c}_running_{mean,var}``
      [max_steps, ·]. (The authors' code averaged the biased variance with momentum 0.01.)

    A zero initial state gives ``W_hh h_0`` = 0 with zero variance; BN then returns 0 for it (ε keeps the division
    finite). The paper, meeting zero-variance features on sequential MNIST, injected noise into ``h_0``; pass ``hx``
    to do the same. Training mode needs a batch of at least two sequences.
    """

    gates = 4
    state_names = ("h", "c")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        max_steps: int,
        *,
        momentum: float = 0.1,
        eps: float = 1e-5,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(input_size, hidden_size, eps, device, dtype)
        self.max_steps = validation.check_size("max_steps", max_steps)
        self.momentum = _check_fraction("momentum", momentum)
        rows = self.gates * hidden_size
        self.bn_ih_gain, self.bn_hh_gain = self._vector(rows), self._vector(rows)
        self.bn_c_gain, self.bn_c_bias = self._vector(hidden_size), self._vector(hidden_size)
        for name, size in (("ih", rows), ("hh", rows), ("c", hidden_size)):
            self.register_buffer(f"bn_{name}_running_mean", torch.zeros(max_steps, size, **self._kw))
            self.register_buffer(f"bn_{name}_running_var", torch.ones(max_steps, size, **self._kw))
        self.reset_parameters()

    def reset_norms(self) -> None:
        """γ = 0.1 for the three normalisations, β_c = 0 (the paper's sec. 5 and its recommendation in sec. 4)."""
        for name in ("ih", "hh", "c"):
            getattr(self, f"bn_{name}_gain").fill_(0.1)
        self.bn_c_bias.zero_()

    def reset_running_stats(self) -> None:
        """Running means back to 0, running variances to 1, at every step."""
        for name in ("ih", "hh", "c"):
            getattr(self, f"bn_{name}_running_mean").zero_()
            getattr(self, f"bn_{name}_running_var").fill_(1.0)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, max_steps={self.max_steps}, momentum={self.momentum:g}, " \
               f"eps={self.eps:g}"

    def _batch_norm(self, name: str, a: Tensor, slot: int | list[int], gain: Tensor, bias: Tensor | None) -> Tensor:
        """BN of ``a`` over its batch dimension -2: [N, F] at one step with ``slot`` the index of its statistics, or
        [T, N, F] for T steps with ``slot`` a list of T indices. Training mode uses the batch's statistics of each
        step and updates those steps' running averages; evaluation mode reads the running averages."""
        running_mean = getattr(self, f"bn_{name}_running_mean")
        running_var = getattr(self, f"bn_{name}_running_var")
        if not self.training:
            return batch_norm(a, gain, bias, running_mean[slot].unsqueeze(-2), running_var[slot].unsqueeze(-2),
                              self.eps)
        mean, var = a.mean(-2, keepdim=True), a.var(-2, correction=0, keepdim=True)
        n = a.shape[-2]
        slots = slot if isinstance(slot, list) else [slot]
        with torch.no_grad():  # in time order, so that steps sharing the last slot update it one after the other
            for s, step_mean, step_var in zip(slots, mean.reshape(len(slots), -1), var.reshape(len(slots), -1)):
                running_mean[s].lerp_(step_mean, self.momentum)
                running_var[s].lerp_(step_var * (n / (n - 1)), self.momentum)
        return batch_norm(a, gain, bias, mean, var, self.eps)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        """``input`` [T, N, I], ``hx = (h_0, c_0)`` each [1, N, H] (default zeros) → ``(output, (h_n, c_n))``."""
        x, state = self._prepare(input, hx)
        if self.training and x.shape[1] < 2:
            raise ValueError(
                f"input: training mode normalises over the batch and needs batch >= 2, got shape {tuple(x.shape)}"
            )
        slots = [min(t, self.max_steps - 1) for t in range(x.shape[0])]  # step t's statistics; T_max on reuses the last
        u = self._batch_norm("ih", F.linear(x, self.weight_ih_l0), slots, self.bn_ih_gain, None) + self.bias_l0
        remaining = iter(slots)

        def step(u_t: Tensor, state: Carry) -> tuple[Carry, Tensor]:
            slot = next(remaining)

            def norm_hh(a: Tensor) -> Tensor:
                return self._batch_norm("hh", a, slot, self.bn_hh_gain, None)

            def norm_c(c: Tensor) -> Tensor:
                return self._batch_norm("c", c, slot, self.bn_c_gain, self.bn_c_bias)

            h, c = normalised_lstm_step(u_t, *state, self.weight_hh_l0, norm_hh, norm_c)
            return (h, c), h

        return self._finish(*unroll(step, u, state))
