"""Variants of the LSTM and the GRU for ablations: each removes or changes one design choice and keeps the rest.

The LSTM variants are those of Greff et al. (2017, "LSTM: A search space odyssey", IEEE TNNLS), who trained eight
of them on three tasks and found that none improved significantly on the standard LSTM, that the forget gate and the
output activation were its most critical parts, and that coupling the input and forget gates (CIFG) or removing the
peepholes simplified it without hurting significantly. Their standard LSTM had peepholes; ours is PyTorch's, without
them, so here peepholes are the variant and PyTorch's LSTM is the baseline, "vanilla":

* ``"vanilla"``: ``torch.nn.LSTM``, eqs. (lstm-gates) to (lstm-hidden), gate order i, f, g, o;
* ``"no input gate"``: i ≡ 1, the whole candidate enters the cell at every step;
* ``"no forget gate"``: f ≡ 1, the cell only accumulates (the LSTM of 1997, before Gers et al. 2000);
* ``"no output gate"``: o ≡ 1, h_t = tanh(c_t);
* ``"CIFG"``: coupled input and forget gate, f = 1 - i: the cell forgets exactly as much as it writes;
* ``"peepholes"``: Gers and Schmidhuber (2000): diagonal weights p_i, p_f let c_{t-1} into the input and forget
  gates, p_o lets c_t into the output gate.

The GRU variants: ``"vanilla"`` is ``torch.nn.GRU`` (reset-after form, eqs. (gru-gates) to (gru-hidden)); ``"no
reset gate"`` sets r ≡ 1, so that the candidate always sees the whole previous state (and the reset-after and
reset-before forms coincide).

A variant's weights keep torch.nn's names and stack the gate blocks it has in torch.nn's order, the missing ones
left out (``LSTM_BLOCKS``, ``GRU_BLOCKS``): ``weight_ih_l0`` [G·H, I], ``weight_hh_l0`` [G·H, H],
``bias_ih_l0`` and ``bias_hh_l0`` [G·H]. The peephole variant adds ``peephole_i``, ``peephole_f``, ``peephole_o``
[H]. Every parameter, peepholes included, is drawn from U(-1/√H, 1/√H) as torch.nn draws its own, in registration
order with the peepholes last: a vanilla module drawn from a seed equals torch.nn's from the same seed, and a
peephole module from that seed has the same W and b as the vanilla one, so that an ablation compares like with like.

Each step is written from its equations, one line each, and reuses :mod:`gatedrnn.nn.cells` where a variant is the
book's model (``"vanilla"``); :func:`gatedrnn.nn.layers.run_layer` runs it over time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gatedrnn import validation
from gatedrnn.nn.cells import gru_step, lstm_step, reset_uniform
from gatedrnn.nn.layers import Carry, LayerParameters, RecurrentBase, State, run_layer

# The gate blocks each variant stacks in W_ih, W_hh, b_ih and b_hh, in row order: torch.nn's order with the missing
# gates left out. The one source of every variant's number of blocks G.
LSTM_BLOCKS: dict[str, tuple[str, ...]] = {
    "vanilla": ("i", "f", "g", "o"),
    "no input gate": ("f", "g", "o"),  # i ≡ 1
    "no forget gate": ("i", "g", "o"),  # f ≡ 1
    "no output gate": ("i", "f", "g"),  # o ≡ 1
    "CIFG": ("i", "g", "o"),  # f = 1 - i
    "peepholes": ("i", "f", "g", "o"),  # and the peephole weights below
}
GRU_BLOCKS: dict[str, tuple[str, ...]] = {
    "vanilla": ("r", "z", "n"),
    "no reset gate": ("z", "n"),  # r ≡ 1
}
PEEPHOLES: dict[str, tuple[str, ...]] = {"peepholes": ("i", "f", "o")}  # LSTM variants with diagonal weights p_gate
VARIANTS_LSTM = tuple(LSTM_BLOCKS)
VARIANTS_GRU = tuple(GRU_BLOCKS)
_BLOCKS = {"LSTM": LSTM_BLOCKS, "GRU": GRU_BLOCKS}


def check_variant(family: object, variant: object) -> tuple[str, ...]:
    """The gate blocks of ``variant`` of ``family`` (``"LSTM"`` or ``"GRU"``), in row order."""
    if family not in _BLOCKS:
        raise ValueError(f"family: expected one of {tuple(_BLOCKS)}, got {family!r}")
    table = _BLOCKS[family]
    if not isinstance(variant, str):
        raise TypeError(f"variant: expected a str, one of {tuple(table)}, got {type(variant).__name__} {variant!r}")
    if variant not in table:
        raise ValueError(f"variant: expected one of {tuple(table)} for the {family}, got {variant!r}")
    return table[variant]


def parameter_count(family: str, variant: str, input_size: int, hidden_size: int) -> int:
    """The parameters of one layer of ``variant``: G H (I + H + 2) + P H.

    Each of the G gate blocks has an H×I input matrix, an H×H recurrent matrix and two biases of H (b_ih and b_hh,
    as torch.nn keeps both); the P peephole vectors have H entries each. G = 4 for the vanilla and peephole LSTMs,
    3 for the other LSTM variants and the vanilla GRU, 2 for the GRU without reset gate; P = 3 for the peephole LSTM,
    0 otherwise. Eq. (param-count) with one layer, one direction and no projection, plus the peepholes.
    """
    G = len(check_variant(family, variant))
    I, H = validation.check_size("input_size", input_size), validation.check_size("hidden_size", hidden_size)
    P = len(PEEPHOLES.get(variant, ())) if family == "LSTM" else 0
    return G * H * (I + H + 2) + P * H


def pre_activations(
    u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor, blocks: tuple[str, ...]
) -> dict[str, Tensor]:
    """``u_t + W_hh h_{t-1} + b_hh``, split into its gate blocks and keyed by gate name."""
    return dict(zip(blocks, (u + F.linear(h, weight_hh, bias_hh)).chunk(len(blocks), dim=-1), strict=True))


# ---- one step of each LSTM variant: (u_t, h_{t-1}, c_{t-1}) → (h_t, c_t); "vanilla" is cells.lstm_step ----------
def no_input_gate_step(u: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM with i ≡ 1 (blocks f, g, o)."""
    a = pre_activations(u, h, weight_hh, bias_hh, LSTM_BLOCKS["no input gate"])
    f, g, o = torch.sigmoid(a["f"]), torch.tanh(a["g"]), torch.sigmoid(a["o"])  # eq. (lstm-gates) without i
    c = f * c + g  # eq. (lstm-cell) with i ≡ 1
    return o * torch.tanh(c), c  # eq. (lstm-hidden)


def no_forget_gate_step(u: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM with f ≡ 1 (blocks i, g, o)."""
    a = pre_activations(u, h, weight_hh, bias_hh, LSTM_BLOCKS["no forget gate"])
    i, g, o = torch.sigmoid(a["i"]), torch.tanh(a["g"]), torch.sigmoid(a["o"])  # eq. (lstm-gates) without f
    c = c + i * g  # eq. (lstm-cell) with f ≡ 1
    return o * torch.tanh(c), c  # eq. (lstm-hidden)


def no_output_gate_step(u: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM with o ≡ 1 (blocks i, f, g)."""
    a = pre_activations(u, h, weight_hh, bias_hh, LSTM_BLOCKS["no output gate"])
    i, f, g = torch.sigmoid(a["i"]), torch.sigmoid(a["f"]), torch.tanh(a["g"])  # eq. (lstm-gates) without o
    c = f * c + i * g  # eq. (lstm-cell)
    return torch.tanh(c), c  # eq. (lstm-hidden) with o ≡ 1


def cifg_step(u: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> tuple[Tensor, Tensor]:
    """LSTM with coupled input and forget gate, f = 1 - i (blocks i, g, o)."""
    a = pre_activations(u, h, weight_hh, bias_hh, LSTM_BLOCKS["CIFG"])
    i, g, o = torch.sigmoid(a["i"]), torch.tanh(a["g"]), torch.sigmoid(a["o"])  # eq. (lstm-gates) without f
    f = 1 - i  # the forget gate, coupled to the input gate
    c = f * c + i * g  # eq. (lstm-cell)
    return o * torch.tanh(c), c  # eq. (lstm-hidden)


def peephole_step(
    u: Tensor, h: Tensor, c: Tensor, weight_hh: Tensor, bias_hh: Tensor, p_i: Tensor, p_f: Tensor, p_o: Tensor
) -> tuple[Tensor, Tensor]:
    """LSTM with peepholes (blocks i, f, g, o): the gates also see the cell, through diagonal weights."""
    a = pre_activations(u, h, weight_hh, bias_hh, LSTM_BLOCKS["peepholes"])
    i = torch.sigmoid(a["i"] + p_i * c)  # eq. (lstm-gates), plus p_i ⊙ c_{t-1}
    f = torch.sigmoid(a["f"] + p_f * c)  # eq. (lstm-gates), plus p_f ⊙ c_{t-1}
    g = torch.tanh(a["g"])  # eq. (lstm-gates)
    c = f * c + i * g  # eq. (lstm-cell)
    o = torch.sigmoid(a["o"] + p_o * c)  # eq. (lstm-gates), plus p_o ⊙ c_t: the new cell, hence after it
    return o * torch.tanh(c), c  # eq. (lstm-hidden)


def no_reset_gate_step(u: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor) -> Tensor:
    """GRU with r ≡ 1 (blocks z, n)."""
    a = pre_activations(u, h, weight_hh, bias_hh, GRU_BLOCKS["no reset gate"])
    z = torch.sigmoid(a["z"])  # update gate, eq. (gru-gates)
    n = torch.tanh(a["n"])  # candidate, eq. (gru-candidate) with r ≡ 1
    return (1 - z) * n + z * h  # eq. (gru-hidden)


LSTM_STEPS = {
    "vanilla": lstm_step,
    "no input gate": no_input_gate_step,
    "no forget gate": no_forget_gate_step,
    "no output gate": no_output_gate_step,
    "CIFG": cifg_step,
}  # "peepholes" takes its diagonal weights too: peephole_step
GRU_STEPS = {"vanilla": gru_step, "no reset gate": no_reset_gate_step}


class _Variant(nn.Module):
    """One layer of a variant, unidirectional and time-first, with torch.nn's parameter names, ``hx`` and ``h_n``.

    The class attributes below are those of a one-layer, unidirectional, time-first ``torch.nn`` module, so that
    code reading them (:mod:`gatedrnn.nn.models`) treats a variant like one.
    """

    family: str
    state_names: tuple[str, ...]
    num_layers = 1
    num_directions = 1
    bias = True
    batch_first = False
    bidirectional = False
    dropout = 0.0
    proj_size = 0

    # torch.nn's conventions for hx and h_n, written once in gatedrnn.nn.layers and used here as they are.
    _initial_states = RecurrentBase._initial_states
    _state_tensor = RecurrentBase._state_tensor
    _final_state = RecurrentBase._final_state

    def __init__(self, input_size: int, hidden_size: int, variant: str, device, dtype) -> None:
        super().__init__()
        self.blocks = check_variant(self.family, variant)
        self.variant = variant
        self.input_size = validation.check_size("input_size", input_size)
        self.hidden_size = validation.check_size("hidden_size", hidden_size)
        validation.floating_dtype(dtype)
        kw = {"device": device, "dtype": dtype}
        rows = len(self.blocks) * hidden_size
        self.weight_ih_l0 = nn.Parameter(torch.empty(rows, input_size, **kw))
        self.weight_hh_l0 = nn.Parameter(torch.empty(rows, hidden_size, **kw))
        self.bias_ih_l0 = nn.Parameter(torch.empty(rows, **kw))
        self.bias_hh_l0 = nn.Parameter(torch.empty(rows, **kw))
        for gate in PEEPHOLES.get(variant, ()) if self.family == "LSTM" else ():
            self.register_parameter(f"peephole_{gate}", nn.Parameter(torch.empty(hidden_size, **kw)))
        self.reset_parameters()

    @property
    def output_size(self) -> int:
        """Features of ``h_t``: ``hidden_size`` (no projection)."""
        return self.hidden_size

    def reset_parameters(self) -> None:
        """Draw every parameter from U(-1/√H, 1/√H) in registration order, as ``torch.nn`` does (peepholes last)."""
        reset_uniform(self, self.hidden_size)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, variant={self.variant!r}"

    def layer_parameters(self) -> LayerParameters:
        """The weights of the layer, named as in the equations."""
        return LayerParameters(self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0, None)

    def cell(self, u: Tensor, state: Carry, params: LayerParameters) -> Carry:
        """One step of the variant, ``s_t`` from ``u_t`` and ``s_{t-1}``."""
        raise NotImplementedError

    def forward(self, input: Tensor, hx: State | None = None) -> tuple[Tensor, State]:
        """``input`` [T, N, I] (or [T, I] unbatched) → ``(output [T, N, H], h_n)``, as ``torch.nn``: ``h_n`` is
        [1, N, H], for the LSTM ``(h_n, c_n)``; ``hx`` has the form of ``h_n`` (default zeros)."""
        batched = validation.check_input(
            input, self.weight_ih_l0, input_size=self.input_size, batched_rank=3, layout="(seq_len, batch, input_size)"
        )
        x = input if batched else input.unsqueeze(1)
        validation.check_sequence_length(x, 0)
        (state,) = self._initial_states(hx, x.shape[1], batched)
        hidden, final = run_layer(self.cell, self.layer_parameters(), x, state)
        output = torch.stack(hidden)
        return (output if batched else output.squeeze(1)), self._final_state([final], batched)


class VariantLSTM(_Variant):
    """One LSTM layer of the given ``variant`` (one of ``VARIANTS_LSTM``); ``"vanilla"`` is ``torch.nn.LSTM``.

    Parameters ``weight_ih_l0`` [G·H, I], ``weight_hh_l0`` [G·H, H], ``bias_ih_l0``, ``bias_hh_l0`` [G·H] with the
    blocks of ``LSTM_BLOCKS`` (vanilla, peepholes: i, f, g, o; no input gate: f, g, o; no forget gate and CIFG:
    i, g, o; no output gate: i, f, g), and for ``"peepholes"`` ``peephole_i``, ``peephole_f``, ``peephole_o`` [H].
    """

    family = "LSTM"
    state_names = ("h", "c")

    def __init__(
        self, input_size: int, hidden_size: int, variant: str = "vanilla", *, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, variant, device, dtype)

    def cell(self, u: Tensor, state: Carry, params: LayerParameters) -> Carry:
        """``(h_t, c_t)`` from ``(h_{t-1}, c_{t-1})``."""
        h, c = state
        if self.variant == "peepholes":
            p = (self.peephole_i, self.peephole_f, self.peephole_o)
            return peephole_step(u, h, c, params.weight_hh, params.bias_hh, *p)
        return LSTM_STEPS[self.variant](u, h, c, params.weight_hh, params.bias_hh)


class VariantGRU(_Variant):
    """One GRU layer of the given ``variant`` (one of ``VARIANTS_GRU``); ``"vanilla"`` is ``torch.nn.GRU``.

    Parameters ``weight_ih_l0`` [G·H, I], ``weight_hh_l0`` [G·H, H], ``bias_ih_l0``, ``bias_hh_l0`` [G·H] with the
    blocks of ``GRU_BLOCKS`` (vanilla: r, z, n; no reset gate: z, n).
    """

    family = "GRU"
    state_names = ("h",)

    def __init__(
        self, input_size: int, hidden_size: int, variant: str = "vanilla", *, device=None, dtype=None
    ) -> None:
        super().__init__(input_size, hidden_size, variant, device, dtype)

    def cell(self, u: Tensor, state: Carry, params: LayerParameters) -> Carry:
        """``(h_t,)`` from ``(h_{t-1},)``."""
        return (GRU_STEPS[self.variant](u, state[0], params.weight_hh, params.bias_hh),)
