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


def test_glue_table_is_a_markdown_table_that_markdown_parses(monkeypatch):
    import markdown_it

    calls = []
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display: calls.append((name, value, display)))
    from gatedrnn.book.glue import glue_table

    table = glue_table("rates", ["scale $s$", "factor per step"], [[0.5, "0.46"], [2.0, "1.1 | 1.2"]])
    assert table == ("| scale $s$ | factor per step |\n|---|---|\n| 0.5 | 0.46 |\n| 2.0 | 1.1 \\| 1.2 |")
    (name, value, display), = calls
    assert (name, display, value.data) == ("rates", False, table)
    # an independent parser reads it as a table of two columns and two body rows, the escaped bar kept in its cell
    html = markdown_it.MarkdownIt("gfm-like").render(table)
    assert html.count("<tr>") == 3 and html.count("<th>") == 2 and "1.1 | 1.2" in html
    with pytest.raises(ValueError, match=r"rows\[1\]: expected 2 cells like the header, got \[1\]"):
        glue_table("bad", ["a", "b"], [[1, 2], [1]])
    with pytest.raises(ValueError, match="rows: expected at least one row"):
        glue_table("bad", ["a"], [])
    with pytest.raises(ValueError, match="header: expected a non-empty sequence"):
        glue_table("bad", "ab", [["a", "b"]])


@pytest.mark.parametrize("count, total, sentence", [
    (4, 4, "all 4 runs end on an infinite loss"),
    (2, 2, "both runs end on an infinite loss"),
    (1, 1, "the run ends on an infinite loss"),
    (0, 1, "no run ends on an infinite loss"),
    (3, 4, "3 of 4 runs end on an infinite loss"),
    (1, 4, "1 of 4 runs ends on an infinite loss"),
    (0, 4, "none of the 4 runs ends on an infinite loss"),
])
def test_count_of_reads_as_english_in_every_case(count, total, sentence):
    from gatedrnn.book.glue import count_of

    assert count_of(count, total, "run", ("ends", "end")) + " on an infinite loss" == sentence


def test_count_of_rejects_impossible_counts():
    from gatedrnn.book.glue import count_of

    for count, total in ((5, 4), (-1, 4), (0, 0), (1.0, 2)):
        with pytest.raises(ValueError, match="count, total: expected integers"):
            count_of(count, total, "run", ("ends", "end"))
