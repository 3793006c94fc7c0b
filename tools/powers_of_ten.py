"""A Sphinx extension of the book's: computed values in scientific notation read as powers of ten.

A chapter glues a number with a format such as ``:.0e`` and Python writes ``3e-45``; a reader should see 3 × 10⁻⁴⁵.
Every value pasted into the prose by MyST-NB's ``glue`` (a ``pasted-text`` inline, on the page of the computation or
on another) is rewritten here, once, after cross-page values are resolved, by the package's
:func:`gatedrnn.book.glue.powers_of_ten`. Code, outputs and formulas are not touched.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.application import Sphinx

from gatedrnn.book.glue import powers_of_ten


def rewrite_pasted_values(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Rewrite the text of every glued value on the page."""
    for inline in doctree.findall(nodes.inline):
        if "pasted-text" not in inline.get("classes", ()):
            continue
        for text in list(inline.findall(nodes.Text)):
            new = powers_of_ten(text.astext())
            if new != text.astext():
                text.parent.replace(text, nodes.Text(new))


def setup(app: Sphinx) -> dict:
    # before reading_time (priority 500) counts the words of the page as the reader sees it
    app.connect("doctree-resolved", rewrite_pasted_values, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
