"""Initialisations of the recurrent weights W_hh (chapters 4 and 5), applied in place to every layer of a module.

* :func:`orthogonal_recurrent_`: W_hh = s Q with Q a random orthogonal matrix, so that every singular value of W_hh
  equals s (the scale of chapter 4's sweep; s = 1 is the orthogonal initialisation).
* :func:`identity_recurrent_`: W_hh = s I and zero biases, with small input weights: the IRNN of Le, Jaitly and
  Hinton (2015) when the nonlinearity is ReLU.
* :func:`forget_gate_bias_`: the LSTM's forget-gate bias (chapter 6).
* :func:`xavier_uniform_recurrent_` and :func:`kaiming_normal_recurrent_`: Glorot and Bengio's (2010) and He et
  al.'s (2015) variance-preserving draws, one gate block of W_hh at a time.
* :func:`chrono_bias_`: Tallec and Ollivier's (2018) chrono initialisation of the LSTM's and the GRU's gate biases.

Each takes a package layer (:mod:`gatedrnn.nn.layers`), its ``torch.nn`` namesake or, where it makes sense, a variant
(:mod:`gatedrnn.nn.variants`), and changes every layer and direction in place.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from gatedrnn.nn.layers import GRU, LSTM, RNN, RecurrentBase
from gatedrnn.nn.variants import GRU_BLOCKS, LSTM_BLOCKS, VariantGRU, VariantLSTM

Recurrent = RecurrentBase | nn.RNNBase | VariantLSTM | VariantGRU


def _check(rnn: object, scale: object, name: str = "scale") -> float:
    if not isinstance(rnn, (RecurrentBase, nn.RNNBase, VariantLSTM, VariantGRU)):
        raise TypeError(f"rnn: expected a gatedrnn or torch.nn RNN, LSTM or GRU, or a gatedrnn VariantLSTM or "
                        f"VariantGRU, got {type(rnn).__name__}")
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or not scale > 0 or not math.isfinite(scale):
        raise ValueError(f"{name}: expected a positive number, got {scale!r}")
    return float(scale)


def orthogonal_recurrent_(rnn: Recurrent, scale: float = 1.0, *, generator: torch.Generator | None = None) -> None:
    """Set each H×H block of every W_hh to ``scale`` times a random orthogonal matrix (each gate its own block), in
    a package layer, its ``torch.nn`` namesake or a variant.

    Every singular value of each block is then exactly ``scale`` (a block of an LSTM with projections is H×P:
    semi-orthogonal). Other parameters are left as they are.
    """
    scale = _check(rnn, scale)
    H = rnn.hidden_size
    with torch.no_grad():
        for name, weight in rnn.named_parameters():
            if name.startswith("weight_hh"):
                for block in weight.split(H, dim=0):
                    q = torch.empty(block.shape, dtype=torch.float64)
                    nn.init.orthogonal_(q, generator=generator)
                    block.copy_(scale * q)


def identity_recurrent_(
    rnn: RNN | nn.RNN, scale: float = 1.0, *, input_std: float = 1e-3, generator: torch.Generator | None = None
) -> None:
    """IRNN initialisation: every W_hh = ``scale`` · I, every bias 0, every W_ih ~ N(0, σ²) with σ = ``input_std``.

    Le, Jaitly and Hinton (2015) use ``scale`` = 1 with ReLU units (``nonlinearity='relu'``), so that at the start the
    network copies its state forward and the gradient passes back unchanged wherever the units are active.
    """
    scale = _check(rnn, scale)
    if not isinstance(rnn, (RNN, nn.RNN)):
        raise ValueError(f"rnn: the identity initialisation is for gatedrnn.RNN or torch.nn.RNN, got a "
                         f"{type(rnn).__name__}")
    with torch.no_grad():
        for name, parameter in rnn.named_parameters():
            if name.startswith("weight_hh"):
                parameter.copy_(scale * torch.eye(rnn.hidden_size))
            elif name.startswith("bias"):
                parameter.zero_()
            elif name.startswith("weight_ih"):
                noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
                parameter.copy_(input_std * noise)


def forget_gate_bias_(lstm: LSTM | torch.nn.LSTM, value: float) -> None:
    """Set the forget gate's bias of every layer of ``lstm`` to ``value``: b_if = ``value`` and b_hf = 0, so that with
    small weights f_t ≈ σ(``value``). Jozefowicz, Zaremba and Sutskever (2015) recommend 1 (PyTorch's default draws
    both from U(-1/√H, 1/√H))."""
    if not isinstance(lstm, (LSTM, torch.nn.LSTM)):
        raise TypeError(f"lstm: expected a gatedrnn.LSTM or torch.nn.LSTM, got {type(lstm).__name__}")
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"value: expected a finite number, got {value!r}")
    if not lstm.bias:
        raise ValueError("lstm: expected a module with biases, got bias=False")
    H = lstm.hidden_size
    with torch.no_grad():
        for name, parameter in lstm.named_parameters():
            if name.startswith("bias_ih"):
                parameter[H : 2 * H] = value
            elif name.startswith("bias_hh"):
                parameter[H : 2 * H] = 0.0


def _recurrent_blocks(rnn: Recurrent):
    """Every gate block of every W_hh of ``rnn``: views [H, R] of the parameters, R = H or the projection size."""
    for name, weight in rnn.named_parameters():
        if name.startswith("weight_hh"):
            yield from weight.split(rnn.hidden_size, dim=0)


def xavier_uniform_recurrent_(rnn: Recurrent, gain: float = 1.0, *, generator: torch.Generator | None = None) -> None:
    """Glorot and Bengio's (2010) uniform initialisation of every W_hh, one gate block at a time: each block
    [H, R] (R = H, or the projection size of an LSTM with ``proj_size``) is drawn from U(-a, a) with
    a = ``gain`` · √(6 / (R + H)), so that its variance is gain² · 2 / (fan_in + fan_out) with fan_in = R and
    fan_out = H. Other parameters are left as they are.

    Per block, not over the whole stacked matrix: each gate block is its own linear map from the R features of
    h_{t-1} to the H pre-activations of one gate, and those are the fan-in and fan-out Glorot and Bengio's argument
    balances. Stacking the G blocks into one [G·H, R] tensor is a storage layout; an initialiser applied to the
    whole tensor (``torch.nn.init.xavier_uniform_(weight_hh_l0)``) would count a fan-out of G·H and shrink every
    gate's variance by (R + H) / (R + G·H), 2/5 for an LSTM with R = H, for no reason of the model.
    """
    gain = _check(rnn, gain, "gain")
    with torch.no_grad():
        for block in _recurrent_blocks(rnn):
            fan_out, fan_in = block.shape
            bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
            block.copy_(torch.empty(block.shape, dtype=torch.float64).uniform_(-bound, bound, generator=generator))


def kaiming_normal_recurrent_(
    rnn: Recurrent, gain: float = math.sqrt(2.0), *, generator: torch.Generator | None = None
) -> None:
    """He et al.'s (2015) normal initialisation of every W_hh, one gate block at a time, in its fan-in form: each
    block [H, R] (R = H, or the projection size) is drawn from N(0, σ²) with σ = ``gain`` / √R. Other parameters
    are left as they are.

    He et al. derive ``gain`` = √2 for ReLU units, which zero half of their input's variance; the default is theirs.
    The gates of an LSTM or a GRU are sigmoids and tanh, for which that argument does not hold: ``gain`` is the knob
    (``torch.nn.init.calculate_gain`` gives 5/3 for tanh, 1 for the sigmoid). The fan-in is the number of columns,
    the same for a block as for the stacked matrix, so drawing per block or over the whole matrix gives the same
    distribution here; it is per block for symmetry with :func:`xavier_uniform_recurrent_`.
    """
    gain = _check(rnn, gain, "gain")
    with torch.no_grad():
        for block in _recurrent_blocks(rnn):
            std = gain / math.sqrt(block.shape[1])
            block.copy_(std * torch.randn(block.shape, dtype=torch.float64, generator=generator))


def _gate_blocks(rnn: Recurrent) -> tuple[str, ...]:
    """The names of the gate blocks of ``rnn``'s weights and biases, in row order."""
    if isinstance(rnn, (VariantLSTM, VariantGRU)):
        return rnn.blocks
    if isinstance(rnn, (LSTM, nn.LSTM)):
        return LSTM_BLOCKS["vanilla"]
    if isinstance(rnn, (GRU, nn.GRU)):
        return GRU_BLOCKS["vanilla"]
    raise ValueError(f"rnn: chrono initialisation is for an LSTM or a GRU, got a {type(rnn).__name__}")


def chrono_bias_(rnn: Recurrent, t_max: float, *, generator: torch.Generator | None = None) -> None:
    """Tallec and Ollivier's (2018) chrono initialisation of the gate biases of every layer and direction.

    Their argument (ICLR 2018, "Can recurrent neural networks warp time?"): a gate that keeps a share f of a unit's
    state at each step gives it a characteristic forgetting time of about 1/(1 - f) steps, so the gate biases set
    the range of time scales the network starts with, and should be drawn to cover the range of dependencies
    expected in the data. For the LSTM they prescribe

        b_f ~ log(U[1, T_max - 1]),    b_i = -b_f,

    with T_max (``t_max``) the expected range of the long-term dependencies, in steps. With small weights,
    f = σ(b_f) = u / (1 + u) for u ~ U[1, T_max - 1], and the forgetting times 1/(1 - f) = 1 + u are uniform on
    [2, T_max]; b_i = -b_f makes the input gate i = 1 - f, so that what the cell writes balances what it forgets.

    The paper writes the rule out for the LSTM only; for the GRU the package applies their general rule (for a gate
    g that multiplies the candidate, b_g ~ -log(U[T_min, T_max] - 1), here with T_min = 2) to the update gate. In
    PyTorch's form h_t = (1 - z_t) n_t + z_t h_{t-1} (eq. gru-hidden) z_t is the share of the state kept, so z_t
    plays 1 - g and b_z ~ log(U[1, T_max - 1]), with the forget bias's sign (in a convention where z_t multiplies
    the candidate instead, the sign flips). The reset gate is left as it is.

    torch.nn keeps two biases per gate; the drawn value goes into ``bias_ih`` and the gate's ``bias_hh`` is set to
    0, so that their sum is the chrono bias (as :func:`forget_gate_bias_` does). Other rows are left as they are.
    Variants (:mod:`gatedrnn.nn.variants`) take it through their gate blocks: a CIFG's single gate gets b_i = -b_f
    (so f = 1 - i = σ(b_f) exactly), an LSTM without input gate gets b_f only; the LSTM without forget gate has no
    gate to set and is refused.
    """
    if not isinstance(rnn, (RecurrentBase, nn.RNNBase, VariantLSTM, VariantGRU)):
        raise TypeError(f"rnn: expected a gatedrnn or torch.nn LSTM or GRU, or a gatedrnn VariantLSTM or VariantGRU, "
                        f"got {type(rnn).__name__}")
    blocks = _gate_blocks(rnn)
    keep = "z" if isinstance(rnn, (GRU, nn.GRU, VariantGRU)) else "f"  # the gate that keeps the state
    if keep == "f" and "f" not in blocks and getattr(rnn, "variant", None) != "CIFG":
        raise ValueError(f"rnn: chrono initialisation sets the forget gate's bias, and the {rnn.variant!r} variant "
                         f"has none")
    if not isinstance(t_max, numbers.Real) or isinstance(t_max, bool) or not math.isfinite(t_max) or not t_max > 2:
        raise ValueError(f"t_max: expected a finite number > 2 (the longest dependency expected, in steps), "
                         f"got {t_max!r}")
    if not rnn.bias:
        raise ValueError("rnn: expected a module with biases, got bias=False")
    H = rnn.hidden_size
    rows = {gate: slice(k * H, (k + 1) * H) for k, gate in enumerate(blocks)}
    with torch.no_grad():
        for name, bias_ih in rnn.named_parameters():
            if not name.startswith("bias_ih"):
                continue
            bias_hh = rnn.get_parameter(name.replace("bias_ih", "bias_hh"))
            u = torch.empty(H, dtype=torch.float64).uniform_(1.0, t_max - 1.0, generator=generator)
            b = torch.log(u)  # b_f, or b_z for the GRU
            if keep in rows:
                bias_ih[rows[keep]] = b
                bias_hh[rows[keep]] = 0.0
            if keep == "f" and "i" in rows:
                bias_ih[rows["i"]] = -b
                bias_hh[rows["i"]] = 0.0
