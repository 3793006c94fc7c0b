"""One look for every figure of the book: a colour per model, kept across chapters, and a style readable on the
light and the dark theme (figures are drawn on an opaque white card, so dark-theme readers see black on white)."""

from __future__ import annotations

import matplotlib as mpl
import torch

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
    """The book's colour for ``model`` (one of :data:`PALETTE`: ``'RNN'``, ``'orthogonal RNN'``, ``'IRNN'``,
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
