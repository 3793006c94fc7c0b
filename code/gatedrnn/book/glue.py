"""The bridge from a chapter's computations to its prose, which works outside the book's build too.

Every number the book's text quotes is computed in a cell and handed to the text with MyST-NB's ``glue``. A reader
who runs a chapter's notebook on Colab, on Binder or on a laptop has no MyST-NB, and needs none: there the values
are shown as ``glue`` would show them, or not at all when the chapter asked for no display.
"""

from __future__ import annotations

from typing import Any


def glue(name: str, value: Any, display: bool = True) -> None:
    """MyST-NB's ``glue(name, value, display)`` where MyST-NB is installed; elsewhere ``value`` is displayed when
    ``display`` is true, and the name, which only the book's build reads, is dropped."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        if display:
            from IPython.display import display as show

            show(value)
        return
    myst_glue(name, value, display=display)
