"""One look for every figure of the book: a colour per model, kept across chapters, and a style readable on the
light and the dark theme (figures are drawn on an opaque white card, so dark-theme readers see black on white)."""

from __future__ import annotations

from typing import Callable, Sequence

import matplotlib as mpl
import torch
from torch import Tensor

# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies, and in greyscale by lightness.
PALETTE = {
    "RNN": "#D55E00",  # vermilion
    "LSTM": "#0072B2",  # blue
    "GRU": "#009E73",  # bluish green
    "orthogonal RNN": "#E69F00",  # orange: the plain network's variants sit near its vermilion
    "IRNN": "#CC79A7",  # reddish purple
    "baseline": "#555555",  # grey: reference lines (chance, predict-the-mean, bounds)
}


def color(model: str) -> str:
    """The book's colour for ``model`` (one of ``PALETTE``: ``'RNN'``, ``'orthogonal RNN'``, ``'IRNN'``,
    ``'LSTM'``, ``'GRU'`` or ``'baseline'``)."""
    if model not in PALETTE:
        raise ValueError(f"model: expected one of {tuple(PALETTE)}, got {model!r}")
    return PALETTE[model]


def use_book_style() -> None:
    """Set matplotlib's defaults for the book's figures."""
    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 3.6),
            "figure.dpi": 110,
            "figure.facecolor": "white",
            "axes.facecolor": "white",
            "savefig.facecolor": "white",
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "font.size": 10,
            "legend.frameon": False,
            "lines.linewidth": 1.8,
        }
    )


def draw_unrolled(ax, steps: int = 4) -> None:
    """Draw a recurrent network unrolled over ``steps`` time steps: inputs x_t below, states h_t in a row joined by
    the shared W_hh, outputs ŷ_t above. Each column is one application of eq. (rnn-hidden)."""
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
    box = {"boxstyle": "round,pad=0.35", "facecolor": "white", "linewidth": 1.4}
    arrow = {"arrowstyle": "-|>", "color": "black", "linewidth": 1.2, "shrinkA": 13, "shrinkB": 13}
    ax.annotate("", xy=(1, 1), xytext=(0, 1), arrowprops=arrow)
    ax.text(0, 1, "$h_0$", ha="center", va="center", bbox=box | {"edgecolor": PALETTE["baseline"]})
    for t in range(1, steps + 1):
        ax.text(t, 1, f"$h_{t}$", ha="center", va="center", bbox=box | {"edgecolor": PALETTE["RNN"]})
        ax.text(t, 0, f"$x_{t}$", ha="center", va="center", bbox=box | {"edgecolor": "black"})
        ax.text(t, 2, rf"$\hat y_{t}$", ha="center", va="center", bbox=box | {"edgecolor": "black"})
        ax.annotate("", xy=(t, 1), xytext=(t, 0), arrowprops=arrow)
        ax.annotate("", xy=(t, 2), xytext=(t, 1), arrowprops=arrow)
        ax.text(t + 0.06, 0.5, "$W_{ih}$", fontsize=8, va="center")
        ax.text(t + 0.06, 1.5, "$W_{hy}$", fontsize=8, va="center")
        if t < steps:
            ax.annotate("", xy=(t + 1, 1), xytext=(t, 1), arrowprops=arrow)
        ax.text(t - 0.5, 1.12, "$W_{hh}$", fontsize=8, ha="center")
    ax.set_xlim(-0.5, steps + 0.5)
    ax.set_ylim(-0.5, 2.5)
    ax.set_axis_off()


def finish_training_axes(ax, baseline: float, baseline_label: str = "predict the mean",
                         ylabel: str = "mean squared error") -> None:
    """Finish a panel of training curves: the loss (``ylabel``) on a log axis against the training step, the
    memoryless ``baseline`` as a dotted grey line named ``baseline_label``, and the legend."""
    if not isinstance(baseline, (int, float)) or isinstance(baseline, bool) or not baseline > 0:
        raise ValueError(f"baseline: expected a number > 0 (the loss axis is logarithmic), got {baseline!r}")
    ax.axhline(baseline, color=PALETTE["baseline"], linestyle=":", label=baseline_label)
    ax.set(yscale="log", xlabel="training step", ylabel=ylabel)
    ax.legend()


def running_mean(values, window: int = 50):
    """Mean of each ``window`` consecutive entries of a 1-D tensor (length ``len(values) - window + 1``), for
    drawing noisy training curves; entry k averages steps k … k + window − 1."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if values.dim() != 1 or not 1 <= window <= values.numel():
        raise ValueError(f"values: expected a 1-D tensor of at least window={window} entries, got {tuple(values.shape)}")
    return values.unfold(0, window, 1).mean(dim=1)


_BOX = {"boxstyle": "round,pad=0.3", "facecolor": "white", "linewidth": 1.4}


def _arrow(ax, start, end, color: str = "black", width: float = 1.2, style: str = "-", shrink: float = 2,
           bend: float = 0.0) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={
        "arrowstyle": "-|>", "color": color, "linewidth": width, "linestyle": style, "shrinkA": shrink,
        "shrinkB": shrink, "connectionstyle": f"arc3,rad={bend}"})


def _line(ax, points, color: str = "black", width: float = 1.2) -> None:
    xs, ys = zip(*points)
    ax.plot(xs, ys, color=color, linewidth=width, solid_capstyle="round", zorder=1)


def _node(ax, xy, text: str, edge: str = "black", size: int = 10, shape: str = "round,pad=0.3",
          face: str = "white", width: float = 1.4) -> None:
    ax.text(*xy, text, ha="center", va="center", fontsize=size, zorder=3,
            bbox=_BOX | {"edgecolor": edge, "boxstyle": shape, "facecolor": face, "linewidth": width})


def _frame(ax, width: float, height: float) -> None:
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_aspect("equal")
    ax.set_axis_off()


LSTM_GATE_NAMES = ("f", "i", "g", "o")


def draw_lstm_cell(ax, highlight: str | None = None) -> None:
    """Draw one LSTM step (eqs. lstm-gates, lstm-cell, lstm-hidden): the carousel c_{t-1} → c_t along the top,
    multiplied by the forget gate and added to by the input gate's share of the candidate, and the output gate
    reading the squashed cell into h_t. Gates are boxes, elementwise operations circles. With ``highlight`` one of
    ``'f'``, ``'i'``, ``'g'``, ``'o'``, that gate is filled and its arrow drawn in colour, the other gates greyed:
    the cell built gate by gate."""
    if highlight is not None and highlight not in LSTM_GATE_NAMES:
        raise ValueError(f"highlight: expected None or one of {LSTM_GATE_NAMES}, got {highlight!r}")
    blue = PALETTE["LSTM"]
    _frame(ax, 10, 6.2)
    _line(ax, [(0.3, 5), (9.7, 5)], color=blue, width=3.5)  # the carousel
    _arrow(ax, (9.2, 5), (9.8, 5), color=blue, width=3.5, shrink=0)
    ax.text(0.2, 5.35, "$c_{t-1}$", fontsize=11)
    ax.text(9.3, 5.35, "$c_t$", fontsize=11)
    ax.text(3.75, 5.75, r"carousel: $\partial c_t / \partial c_{t-1} = \mathrm{diag}(f_t)$", color=blue,
            ha="center", fontsize=9)
    _line(ax, [(0.3, 1), (7.5, 1)])  # the bus carrying [h_{t-1}, x_t] to every gate
    ax.text(0.2, 0.55, "$h_{t-1}$", fontsize=11)
    _line(ax, [(1.2, 0.2), (1.2, 1)])
    ax.text(1.35, 0.2, "$x_t$", fontsize=11)
    gates = {"f": (2.5, r"$\sigma$", "forget $f_t$"), "i": (4.2, r"$\sigma$", "input $i_t$"),
             "g": (5.8, r"$\tanh$", "candidate $g_t$"), "o": (7.5, r"$\sigma$", "output $o_t$")}
    lit = {name: highlight in (None, name) for name in gates}  # drawn in colour
    for name, (x, symbol, label) in gates.items():
        _line(ax, [(x, 1), (x, 2.2)])
        _node(ax, (x, 2.5), symbol, edge=blue if lit[name] else PALETTE["baseline"], shape="square,pad=0.3",
              face="#cce3f0" if highlight == name else "white", width=2.4 if highlight == name else 1.4)
        ax.text(x + 0.12, 1.75, label, fontsize=8, ha="left" if x > 7 else "center", va="center",
                color="black" if lit[name] else PALETTE["baseline"],
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    path = {name: (blue, 2.2) if highlight == name else ("black", 1.2) for name in gates}
    _node(ax, (2.5, 5), r"$\times$", shape="circle,pad=0.15")
    _node(ax, (5.0, 5), "$+$", shape="circle,pad=0.15")
    _node(ax, (5.0, 3.8), r"$\times$", shape="circle,pad=0.15")
    _arrow(ax, (2.5, 2.85), (2.5, 4.7), *path["f"])
    _arrow(ax, (4.2, 2.85), (4.8, 3.6), *path["i"])
    _arrow(ax, (5.8, 2.85), (5.2, 3.6), *path["g"])
    _arrow(ax, (5.0, 4.1), (5.0, 4.7))
    _node(ax, (8.5, 4.1), r"$\tanh$", shape="round,pad=0.2")
    _arrow(ax, (8.5, 5), (8.5, 4.4), shrink=0)
    _node(ax, (8.5, 3.0), r"$\times$", shape="circle,pad=0.15")
    _arrow(ax, (8.5, 3.8), (8.5, 3.3))
    _arrow(ax, (7.5, 2.85), (8.25, 2.95), *path["o"])
    _arrow(ax, (8.8, 3.0), (9.8, 3.0))
    ax.text(9.3, 3.25, "$h_t$", fontsize=11)


def draw_gru_cell(ax) -> None:
    """Draw one GRU step in PyTorch's reset-after form (eqs. gru-gates, gru-candidate, gru-hidden): the state line
    h_{t-1} → h_t along the top, an interpolation between the old state (weight z_t) and the candidate n_t (weight
    1 - z_t); the reset gate scales the recurrent part of the candidate."""
    green = PALETTE["GRU"]
    _frame(ax, 10, 6.2)
    _line(ax, [(0.3, 5), (9.7, 5)], color=green, width=3.5)
    _arrow(ax, (9.2, 5), (9.8, 5), color=green, width=3.5, shrink=0)
    ax.text(0.2, 5.35, "$h_{t-1}$", fontsize=11)
    ax.text(9.3, 5.35, "$h_t$", fontsize=11)
    ax.text(5.0, 5.75, r"$h_t = z_t \odot h_{t-1} + (1 - z_t) \odot n_t$", color=green, ha="center", fontsize=9)
    _line(ax, [(0.8, 5), (0.8, 1), (6.4, 1)])  # h_{t-1} also feeds every gate
    _line(ax, [(1.5, 0.2), (1.5, 1)])
    ax.text(1.65, 0.2, "$x_t$", fontsize=11)
    gates = {"z": (2.4, r"$\sigma$", "update $z_t$"), "r": (4.2, r"$\sigma$", "reset $r_t$"),
             "n": (6.4, r"$\tanh$", "candidate $n_t$")}
    for x, symbol, name in gates.values():
        _line(ax, [(x, 1), (x, 2.2)])
        _node(ax, (x, 2.5), symbol, edge=green, shape="square,pad=0.3")
        ax.text(x + 0.12, 1.75, name, fontsize=8, ha="center", va="center",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})
    _arrow(ax, (4.5, 2.5), (6.0, 2.5))  # reset-after: r scales the candidate's recurrent term
    ax.text(5.25, 2.95, r"$r_t \odot (W_{hn} h_{t-1} + b_{hn})$", fontsize=7, ha="center")
    _node(ax, (2.4, 5), r"$\times$", shape="circle,pad=0.15")
    _arrow(ax, (2.4, 2.85), (2.4, 4.7))
    _node(ax, (4.6, 3.9), r"$1-$", shape="round,pad=0.15", size=8)
    _arrow(ax, (2.65, 2.85), (4.35, 3.8))
    _node(ax, (6.4, 4.0), r"$\times$", shape="circle,pad=0.15")
    _arrow(ax, (4.9, 3.92), (6.15, 4.0))
    _arrow(ax, (6.4, 2.85), (6.4, 3.7))
    _node(ax, (7.4, 5), "$+$", shape="circle,pad=0.15")
    _arrow(ax, (6.6, 4.2), (7.2, 4.8))


def draw_bptt(ax, steps: int = 6, window: int | None = 3) -> None:
    """Draw backpropagation through time for a loss on the last step: the forward chain h_1 → … → h_T above, and
    below it the gradient travelling back, one factor ∂h_{t+1}/∂h_t per step (eq. bptt-sum). With a truncation
    ``window`` k, the backward steps beyond k from the loss are drawn dotted and grey: the terms truncation drops."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps: expected an int >= 2, got {steps!r}")
    if window is not None and (not isinstance(window, int) or isinstance(window, bool) or not 1 <= window < steps):
        raise ValueError(f"window: expected None or an int in 1 … {steps - 1}, got {window!r}")
    red, grey = PALETTE["RNN"], PALETTE["baseline"]
    ax.set_xlim(0.3, steps + 0.9)
    ax.set_ylim(-0.9, 2.3)
    ax.set_axis_off()
    T = "T" if steps > 4 else str(steps)
    labels = [f"$h_{t}$" for t in range(1, steps)] + [f"$h_{T}$"]
    for t, label in enumerate(labels, start=1):
        _node(ax, (t, 1), label, edge=red)
        if t < steps:
            _arrow(ax, (t + 0.25, 1.05), (t + 0.75, 1.05), shrink=0)
    _node(ax, (steps, 2), "$L$")
    _arrow(ax, (steps, 1.3), (steps, 1.7), shrink=0)
    for t in range(steps - 1, 0, -1):
        dropped = window is not None and steps - t > window
        colour, style = (grey, ":") if dropped else (red, "-")
        _arrow(ax, (t + 0.8, 0.55), (t + 0.2, 0.55), color=colour, style=style, width=1.6, shrink=0)
        later = T if t + 1 == steps else t + 1
        ax.text(t + 0.5, 0.15, rf"$\frac{{\partial h_{{{later}}}}}{{\partial h_{{{t}}}}}$", ha="center",
                va="center", fontsize=11, color=colour)
    if window is not None:
        edge = steps - window  # under h_{T-k}: the k backward steps to its right are kept
        ax.plot([edge, edge], [-0.75, 0.75], color=grey, linestyle="--", linewidth=1)
        ax.text(edge - 0.1, -0.6, f"dropped by truncation (k = {window})", ha="right", fontsize=8, color=grey)
        ax.text(edge + 0.1, -0.6, "kept", ha="left", fontsize=8, color=red)


def draw_rnn_cell(ax) -> None:
    """Draw one plain RNN step (eq. rnn-hidden) in the language of :func:`draw_lstm_cell`: the state line
    h_{t-1} → h_t passes through one tanh, fed by W_hh h_{t-1} and the input; nothing bypasses the weights."""
    red = PALETTE["RNN"]
    _frame(ax, 10, 6.2)
    _line(ax, [(0.3, 5), (4.2, 5)], color=red, width=3.5)
    _line(ax, [(5.8, 5), (9.7, 5)], color=red, width=3.5)
    _arrow(ax, (9.2, 5), (9.8, 5), color=red, width=3.5, shrink=0)
    ax.text(0.2, 5.35, "$h_{t-1}$", fontsize=11)
    ax.text(9.3, 5.35, "$h_t$", fontsize=11)
    ax.text(5.0, 5.75, r"$\partial h_t / \partial h_{t-1} = \mathrm{diag}(\tanh'(a_t))\, W_{hh}$", color=red,
            ha="center", fontsize=9)
    _node(ax, (5.0, 5), r"$\tanh$", edge=red, shape="square,pad=0.3")
    _line(ax, [(1.2, 5), (1.2, 1), (5.0, 1)])  # the old state feeds the weights
    _line(ax, [(3.2, 0.2), (3.2, 1)])
    ax.text(3.35, 0.2, "$x_t$", fontsize=11)
    _node(ax, (5.0, 2.5), r"$W_{hh} h_{t-1} + W_{ih} x_t + b$", shape="round,pad=0.3", size=9)
    _arrow(ax, (5.0, 1), (5.0, 2.15), shrink=0)
    _arrow(ax, (5.0, 2.85), (5.0, 4.65))


def cobweb(ax, step_map: Callable[[Tensor], Tensor], starts: Sequence[float], steps: int,
           domain: tuple[float, float], color: str = PALETTE["RNN"], label: str | None = None) -> Tensor:
    """Draw the cobweb of the scalar map ``x ↦ step_map(x)``: its graph on ``domain``, the diagonal, and from each of
    ``starts`` ``steps`` iterations as a staircase (up or down to the graph, across to the diagonal). Where the graph
    crosses the diagonal is a fixed point; the staircases show states moving towards or away from it. Returns the
    iterates [len(starts), steps + 1] (float64), the values the staircases visit."""
    if not callable(step_map):
        raise TypeError(f"step_map: expected a callable tensor -> tensor, got {type(step_map).__name__}")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps: expected an int >= 1, got {steps!r}")
    low, high = domain
    if not low < high:
        raise ValueError(f"domain: expected (low, high) with low < high, got {domain!r}")
    x = torch.as_tensor(starts, dtype=torch.float64)
    if x.dim() != 1 or x.numel() == 0:
        raise ValueError(f"starts: expected a non-empty sequence of numbers, got {starts!r}")
    grid = torch.linspace(low, high, 400, dtype=torch.float64)
    ax.plot(grid, step_map(grid), color=color, label=label)
    ax.plot([low, high], [low, high], color=PALETTE["baseline"], linewidth=1, linestyle="--")
    iterates = [x]
    for _ in range(steps):
        iterates.append(step_map(iterates[-1]))
    iterates = torch.stack(iterates, dim=1)
    for run in iterates:
        # corners (x_0, x_0), (x_0, x_1), (x_1, x_1), (x_1, x_2), …: on the diagonal, then on the graph
        xs = run.repeat_interleave(2)[:-1]
        ys = torch.cat([run[:1], run[1:].repeat_interleave(2)])
        ax.plot(xs, ys, color=color, linewidth=1, alpha=0.8)
        ax.plot(run[:1], run[:1], "o", color=color, markersize=4)
    ax.set(xlim=domain, ylim=domain, aspect="equal")
    return iterates


def draw_backward(ax, steps: int = 4) -> None:
    """Draw backpropagation through time with a loss term at every step (eq. bptt-delta): the forward chain
    h_1 → … → h_T at the bottom; above it the total gradients δ_t = ∂L/∂h_t, each the sum of its own step's direct
    gradient g_t = ∂ℓ_t/∂h_t (from the loss term above it) and δ_{t+1} carried back one step."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps: expected an int >= 2, got {steps!r}")
    red, grey = PALETTE["RNN"], PALETTE["baseline"]
    ax.set_xlim(0.2, steps + 0.8)
    ax.set_ylim(-0.5, 3.0)
    ax.set_axis_off()
    name = (lambda t: "T" if t == steps else str(t)) if steps > 4 else str
    for t in range(1, steps + 1):
        _node(ax, (t, 0), f"$h_{{{name(t)}}}$", edge=grey)
        _node(ax, (t, 1.3), rf"$\delta_{{{name(t)}}}$", edge=red)
        _node(ax, (t, 2.6), rf"$\ell_{{{name(t)}}}$")
        _arrow(ax, (t, 2.35), (t, 1.6), color=red, width=1.6, shrink=0)
        ax.text(t + 0.06, 1.95, f"$g_{{{name(t)}}}$", fontsize=9, color=red)
        _line(ax, [(t, 0.3), (t, 1.0)], color=grey, width=0.8)
        if t < steps:
            _arrow(ax, (t + 0.25, 0), (t + 0.75, 0), color=grey, shrink=0)
            _arrow(ax, (t + 0.8, 1.3), (t + 0.2, 1.3), color=red, width=1.6, shrink=0)
            ax.text(t + 0.5, 1.0, rf"$(\partial h_{{{name(t + 1)}}} / \partial h_{{{name(t)}}})^{{\top}}$",
                    ha="center", va="center", fontsize=8, color=red)
    ax.text(0.25, -0.45, "forward", fontsize=8, color=grey)
    ax.text(0.25, 1.75, "backward", fontsize=8, color=red)


def draw_lstm_routes(ax, steps: int = 3) -> None:
    """Draw an LSTM unrolled over ``steps`` steps with the two routes its gradient can take back: along the cell
    c_t → c_{t-1}, one factor diag(f_t) per step and no weight matrix (eq. lstm-jac-cc), and through the outputs
    h_t → h_{t-1}, one factor carrying the recurrent weights (eqs. lstm-jac-ch, lstm-jac-hh)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 2:
        raise ValueError(f"steps: expected an int >= 2, got {steps!r}")
    blue, red = PALETTE["LSTM"], PALETTE["RNN"]
    ax.set_xlim(-0.2, 2 * steps + 0.6)
    ax.set_ylim(-0.6, 3.6)
    ax.set_axis_off()
    label = lambda k: "t" if k == steps else f"t-{steps - k}"  # noqa: E731
    for k in range(1, steps + 1):
        x = 2 * k - 1
        _node(ax, (x, 2.4), f"$c_{{{label(k)}}}$", edge=blue)
        _node(ax, (x, 0.6), f"$h_{{{label(k)}}}$", edge=blue)
        _arrow(ax, (x, 2.1), (x, 0.9), shrink=0)  # h = o ⊙ tanh(c)
        if k < steps:
            _arrow(ax, (x + 0.35, 2.4), (x + 1.65, 2.4), color=blue, width=3.0, shrink=0)
            _arrow(ax, (x + 0.35, 0.75), (x + 1.65, 2.2), width=1.0, shrink=0)  # h feeds the next gates
            _arrow(ax, (x + 0.35, 0.6), (x + 1.65, 0.6), width=1.0, shrink=0)  # and the next output gate
            _arrow(ax, (x + 1.65, 2.9), (x + 0.35, 2.9), color=blue, width=2.0, style="--", shrink=0)
            ax.text(x + 1, 3.05, rf"$\times f_{{{label(k + 1)}}}$", ha="center", fontsize=9, color=blue)
            _arrow(ax, (x + 1.65, 0.1), (x + 0.35, 0.1), color=red, width=2.0, style="--", shrink=0)
            ax.text(x + 1, -0.35, r"$\times W$ (and gates' slopes)", ha="center", fontsize=8, color=red)
    ax.text(2 * steps - 0.4, 3.35, "cell: no weight matrix", ha="right", fontsize=8, color=blue)
