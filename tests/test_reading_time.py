"""The reading time under each chapter's title (tools/reading_time.py): which words count, and the rounding."""

import sys
from pathlib import Path

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import reading_time  # noqa: E402


def page() -> nodes.document:
    """A chapter as Sphinx resolves it: a title, prose with inline math, a code cell with its output, a formula."""
    document = new_document("chapter", get_default_settings(Parser))
    section = nodes.section()
    section += nodes.title(text="The LSTM")
    formula = nodes.math(text="c_t = f_t c_{t-1}")
    section += nodes.paragraph("", "", nodes.Text("The forget gate's bias keeps "), formula,
                               nodes.Text(" open, about 0.73 of it."))
    cell = nodes.container(classes=["cell"])
    cell += nodes.container("", nodes.literal_block(text="print('not prose at all')"), classes=["cell_input"])
    cell += nodes.container("", nodes.paragraph(text="an output line"), classes=["cell_output"])
    section += cell
    section += nodes.math_block(text="h_t = o_t \\odot \\tanh c_t")
    section += nodes.paragraph(text="Fig. 6.1 shows the cell's two routes back.")
    document += section
    return document


def test_only_the_prose_counts():
    # "The LSTM" (2) + "The forget gate's bias keeps open, about 0 73 of it" (11) + "Fig 6 1 shows the cell's two
    # routes back" (9); not the code, its output or either formula
    assert reading_time.count_words(page()) == 22


@pytest.mark.parametrize("words, minutes", [(0, 1), (39, 1), (41, 2), (400, 10), (419, 10), (2547, 65), (2573, 65),
                                            (15429, 385)])
def test_minutes_at_40_words_a_minute(words, minutes):
    """Chapters 4 and 6 as counted in the build (2,547 and 2,573 words) come to 65 minutes; the timed reading took
    about 70 for each. Chapters 1 to 8 (15,429 words) come to 385, about the six hours it took."""
    assert reading_time.reading_minutes(words, 40) == minutes


def test_a_bad_pace_is_refused():
    with pytest.raises(ValueError, match="per_minute"):
        reading_time.reading_minutes(100, 0)


class App:
    class config:
        reading_time_skip = ["chapters/api"]
        reading_words_per_minute = 40


def test_the_note_goes_under_the_title_of_chapters_only():
    chapter = page()
    reading_time.add_reading_time(App, chapter, "chapters/lstm")
    section = next(iter(chapter.findall(nodes.section)))
    assert isinstance(section[0], nodes.title) and section[1].astext() == "About 1 minute to read (22 words)."
    assert "reading-time" in section[1]["classes"]
    skipped = page()
    reading_time.add_reading_time(App, skipped, "chapters/api")
    assert not list(skipped.findall(lambda node: "reading-time" in getattr(node, "get", lambda *a: [])("classes", [])))
