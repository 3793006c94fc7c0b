"""gatedrnn.book.glue: MyST-NB's glue in the book's build, and a plain display where MyST-NB is missing."""

import builtins
import sys

import pytest

from gatedrnn.book.glue import glue


def test_glue_hands_the_value_to_myst_nb(monkeypatch):
    calls = []
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display: calls.append((name, value, display)))
    glue("answer", 42, display=False)
    assert calls == [("answer", 42, False)]


@pytest.mark.parametrize("display, shown", [(True, [3.5]), (False, [])])
def test_glue_without_myst_nb_displays_the_value_or_nothing(monkeypatch, display, shown):
    real_import = builtins.__import__

    def import_without_myst_nb(name, *args, **kwargs):
        if name == "myst_nb" or name.startswith("myst_nb."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    displayed = []
    monkeypatch.delitem(sys.modules, "myst_nb", raising=False)
    monkeypatch.setattr(builtins, "__import__", import_without_myst_nb)
    monkeypatch.setattr("IPython.display.display", lambda value: displayed.append(value))
    glue("x", 3.5, display=display)
    assert displayed == shown
