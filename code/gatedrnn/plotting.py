"""One look for every figure of the book: a colour per model, kept across chapters, and a style readable on the
light and the dark theme (figures are drawn on an opaque white card, so dark-theme readers see black on white)."""

from __future__ import annotations

import matplotlib as mpl

# Okabe–Ito colours: distinguishable with the common colour-vision deficiencies, and in greyscale by lightness.
PALETTE = {
    "RNN": "#D55E00",  # vermilion
    "LSTM": "#0072B2",  # blue
    "GRU": "#009E73",  # bluish green
    "baseline": "#555555",  # grey: reference lines (chance, predict-the-mean, bounds)
}
MARKERS = {"RNN": "o", "LSTM": "s", "GRU": "^"}


def color(model: str) -> str:
    """The book's colour for ``model`` (``'RNN'``, ``'LSTM'``, ``'GRU'`` or ``'baseline'``)."""
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
