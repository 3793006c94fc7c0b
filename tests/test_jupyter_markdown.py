"""The published notebooks' Markdown (tools/jupyter_markdown.py), read back by a CommonMark parser.

A document is built with docutils from reStructuredText, rendered to Markdown, and parsed again as Jupyter would
parse it (markdown-it, CommonMark with tables): the text a reader sees must be the document's text, whatever
characters it holds, and code cells must stay where the document has them.
"""

import sys
from pathlib import Path

import nbformat
import pytest
from docutils import nodes
from docutils.core import publish_doctree
from markdown_it import MarkdownIt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import jupyter_markdown  # noqa: E402

PARSER = MarkdownIt("commonmark", {"html": True}).enable("table")
PAGE = "https://example.org/book/chapters/page.html"


def rendered(rst: str) -> str:
    renderer = jupyter_markdown.Renderer(PAGE, {}, {"figure": "Fig. %s", "exercise": "Exercise %s"})
    return jupyter_markdown.joined(renderer.blocks(publish_doctree(rst)))


def seen(markdown: str) -> list:
    """The inline tokens' children as (type, content) pairs: what Jupyter renders."""
    return [(child.type, child.content) for token in PARSER.parse(markdown) if token.type == "inline"
            for child in token.children if child.type not in ("softbreak",)]


@pytest.mark.parametrize("text", ["a * b * c and 2*3 = 6", "snake_case and _under_", "[not a link](x)",
                                  "costs $5 and $6", "x < y > z & <b>tag</b>", "a | b | c", "back\\slash",
                                  "1. not a list", "# not a heading", "- not an item", "+ nor this"])
def test_text_reads_back_unchanged(text):
    renderer = jupyter_markdown.Renderer(PAGE, {}, {})
    markdown = jupyter_markdown.joined(renderer.blocks(nodes.container("", nodes.paragraph("", "", nodes.Text(text)))))
    tokens = PARSER.parse(markdown)
    assert [token.type for token in tokens] == ["paragraph_open", "inline", "paragraph_close"], markdown
    assert "".join(content for kind, content in seen(markdown) if kind == "text") == text


def test_inline_markup():
    markdown = rendered("Some *emphasis*, **strong**, ``code with ` tick`` and `a link <https://example.org/x>`_.")
    assert ("code_inline", "code with ` tick") in seen(markdown)
    html = PARSER.render(markdown)
    assert "<em>emphasis</em>" in html and "<strong>strong</strong>" in html
    assert '<a href="https://example.org/x">a link</a>' in html


def test_relative_link_resolved_against_the_page():
    doctree = publish_doctree("A reference.")
    paragraph = doctree.next_node(nodes.paragraph)
    paragraph += nodes.reference("", "", nodes.Text("Chapter 5"), refuri="other.html#chap-other", internal=True)
    paragraph += nodes.reference("", "", nodes.Text("(6.1)"), refid="equation-x", internal=True)
    markdown = jupyter_markdown.joined(jupyter_markdown.Renderer(PAGE, {}, {}).blocks(doctree))
    links = [token.attrs["href"] for token in PARSER.parse(markdown)[1].children if token.type == "link_open"]
    assert links == ["https://example.org/book/chapters/other.html#chap-other", f"{PAGE}#equation-x"]


def test_numbered_equation_gets_a_tag():
    block = nodes.math_block("", "a = b\n\n", ids=["equation-e"], number=3)
    renderer = jupyter_markdown.Renderer(PAGE, {"displaymath": {"equation-e": (6, 3)}}, {})
    assert renderer.equation(block) == "$$\na = b\n\\tag{6.3}\n$$"
    assert "\\tag{3}" in jupyter_markdown.Renderer(PAGE, {}, {}).equation(block)  # numbered without numfig


def test_lists_and_tables_parse():
    markdown = rendered("- one\n- two with *stress*\n\n1. first\n2. second\n\n"
                        "===== =====\nname  value\n===== =====\na|b   1\n===== =====\n")
    kinds = [token.type for token in PARSER.parse(markdown)]
    for kind in ("bullet_list_open", "ordered_list_open", "table_open", "th_open", "td_open"):
        assert kind in kinds, (kind, markdown)
    cells = [token.content for token in PARSER.parse(markdown) if token.type == "inline"]
    assert "a|b" in [" ".join(content for _, content in seen(cell)) for cell in cells]


def test_code_cells_keep_their_place():
    executed = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("install", metadata={"tags": ["remove-cell"]}, execution_count=1),
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("shown", execution_count=2),
        nbformat.v4.new_code_cell("solution", execution_count=3)])
    chunks = ["# Title", "Text before.", jupyter_markdown.CodeCell(2), "Text after.", "## Next", "More."]
    notebook = jupyter_markdown.rewrite(executed, chunks)
    assert [(cell["cell_type"], cell["source"]) for cell in notebook["cells"]] == [
        ("code", "install"), ("markdown", "# Title\n\nText before."), ("code", "shown"),
        ("markdown", "Text after."), ("markdown", "## Next\n\nMore.")]
    nbformat.validate(nbformat.from_dict(notebook))  # a valid notebook: the new Markdown cells have ids
    folded = jupyter_markdown.rewrite(executed, [jupyter_markdown.CodeCell(3, folded=True)])
    assert folded["cells"][-1]["metadata"]["jupyter"] == {"source_hidden": True, "outputs_hidden": True}
    with pytest.raises(ValueError, match="does not have"):
        jupyter_markdown.rewrite(executed, [jupyter_markdown.CodeCell(7)])
