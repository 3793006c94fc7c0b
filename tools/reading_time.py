"""A Sphinx extension of the book's: each chapter says under its title how long it takes to read.

The estimate comes from the chapter's words as the page shows them (prose, captions, exercises, glued values;
not code, outputs or formulas) at ``reading_words_per_minute``. The default, 40 words a minute, is the pace of the
one timed reading of the book there is: a learner who worked through the derivations of chapters 1 to 8 took
about six hours for their 15,400 words as counted here, and about 70 minutes for each of chapters 4 and 6 (about
2,550 words each). A skim is several times faster; the figure is for a first careful reading.
"""

from __future__ import annotations

import math
import re

from docutils import nodes
from sphinx.application import Sphinx

# Parts of a page that are read differently from prose (or not at all): code, outputs and formulas.
SKIPPED = (nodes.literal_block, nodes.math_block, nodes.math, nodes.raw, nodes.comment, nodes.system_message)
SKIPPED_CLASSES = {"cell_input", "cell_output"}
WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def skipped(node: nodes.Node) -> bool:
    """Whether ``node`` lies in code, an output or a formula."""
    parent = node
    while parent is not None:
        if isinstance(parent, SKIPPED):
            return True
        if isinstance(parent, nodes.Element) and SKIPPED_CLASSES & set(parent.get("classes", ())):
            return True
        parent = parent.parent
    return False


def count_words(doctree: nodes.Node) -> int:
    """The words of the page's prose: every text node outside code, outputs and formulas."""
    return sum(len(WORD.findall(text.astext())) for text in doctree.findall(nodes.Text) if not skipped(text))


def reading_minutes(words: int, per_minute: float) -> int:
    """``words`` at ``per_minute`` words a minute, rounded to 5 minutes above 10 (at least 1)."""
    if words < 0 or per_minute <= 0:
        raise ValueError(f"words, per_minute: expected words >= 0 and a positive pace, got {words}, {per_minute}")
    minutes = words / per_minute
    return max(1, math.ceil(minutes)) if minutes <= 10 else 5 * round(minutes / 5)


def add_reading_time(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Put "About N minutes to read (W words)" under the first title of a chapter page."""
    if not docname.startswith("chapters/") or docname in app.config.reading_time_skip:
        return
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is None or not isinstance(section[0], nodes.title):
        return
    words = count_words(doctree)
    minutes = reading_minutes(words, app.config.reading_words_per_minute)
    unit = "minute" if minutes == 1 else "minutes"
    note = nodes.paragraph("", "", nodes.emphasis(text=f"About {minutes} {unit} to read ({words:,} words)."),
                           classes=["reading-time"])
    section.insert(1, note)


def setup(app: Sphinx) -> dict:
    app.add_config_value("reading_words_per_minute", 40, "env")
    app.add_config_value("reading_time_skip", [], "env")
    app.connect("doctree-resolved", add_reading_time)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
