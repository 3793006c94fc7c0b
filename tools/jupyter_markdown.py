"""A Sphinx extension of the book's: every chapter's notebook as a reader opens it in Jupyter or on Colab.

The notebook MyST-NB executes holds the chapter's MyST source in its Markdown cells: roles, directive fences, labels.
Jupyter shows them as they are, without the numbers the chapter glued into its text. This writes each chapter's
notebook again from the page's resolved doctree, the one the HTML is written from, so that it says what the page
says, in Markdown that Jupyter and Colab render:

- glued values, cross-references, equation numbers and citations as the page shows them, each reference a link to
  the published page (``html_baseurl``) and its anchor;
- display equations with their number as ``\\tag{6.3}``;
- exercises, theorems and admonitions as block quotes under a bold title, solutions folded in ``<details>`` (their
  code cells folded as well, in JupyterLab), figure captions under the cell that draws the figure;
- every code cell as executed, outputs kept, in its order: the cells the page leaves out (the install cell, cells
  tagged ``remove-cell``) stay where they were, the code of a removed solution (the student edition) goes with it.

Because it reads the doctree of whatever build runs it, the student edition (without solutions) and a translated
edition get their own notebooks from the same code. Each is written to ``_sources/<page>.ipynb`` of the build's
output, which is what the page's download button offers and what ``tools/publish.py`` publishes.
"""

from __future__ import annotations

import copy
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.locale import _
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
CODE_CELL = "cell_code"


@dataclass
class CodeCell:
    """A code cell of the executed notebook, where the page shows it."""

    index: int
    folded: bool = False


Chunk = str | CodeCell


def escape(text: str) -> str:
    """Text that Markdown shows as it is (no emphasis, link, code, HTML or math delimiter)."""
    return re.sub(r"([\\`*_\[\]<>$|])", r"\\\1", text)


def fence(text: str, info: str = "") -> str:
    """A fenced code block that no run of backticks inside ``text`` can close."""
    ticks = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{ticks}{info}\n{text.rstrip()}\n{ticks}"


def code_span(text: str) -> str:
    ticks = "`" * (1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))


def indented(text: str, first: str) -> str:
    """``text`` as a list item's content: the marker ``first`` on the first line, the rest indented under it."""
    pad = " " * len(first)
    lines = text.split("\n")
    return "\n".join([first + lines[0], *[(pad + line) if line else "" for line in lines[1:]]])


def joined(blocks: list[str]) -> str:
    return "\n\n".join(block for block in blocks if block)


class Renderer:
    """Markdown for one page's resolved doctree.

    ``page_url`` is the page's published address, against which relative links are resolved; ``numbers`` is the
    build's ``env.toc_fignumbers[docname]`` (figure, equation, exercise and theorem numbers by node id);
    ``formats`` is ``numfig_format`` (``"Fig. %s"`` …).
    """

    def __init__(self, page_url: str, numbers: dict, formats: dict) -> None:
        self.page_url, self.numbers, self.formats = page_url, numbers, formats

    # ---- numbers and links
    def number(self, kind: str, node: nodes.Element) -> str:
        return ".".join(map(str, self.numbers.get(kind, {}).get((node.get("ids") or [""])[0], ())))

    def url(self, node: nodes.Element) -> str:
        if node.get("refuri") is not None:
            return urljoin(self.page_url, node["refuri"])
        return f"{self.page_url}#{node['refid']}"

    # ---- inline content
    def inline(self, node: nodes.Node) -> str:
        return "".join(self.span(child) for child in node.children)

    def span(self, node: nodes.Node) -> str:
        if isinstance(node, nodes.Text):
            return escape(str(node).replace("\n", " "))
        if isinstance(node, nodes.math):
            return f"${' '.join(node.astext().split())}$"
        if isinstance(node, nodes.literal):
            return code_span(node.astext().replace("\n", " "))
        if isinstance(node, nodes.strong):
            return self.wrapped("**", node)
        if isinstance(node, nodes.emphasis):
            return self.wrapped("*", node)
        if isinstance(node, nodes.subscript):
            return f"<sub>{self.inline(node)}</sub>"
        if isinstance(node, nodes.superscript):
            return f"<sup>{self.inline(node)}</sup>"
        if isinstance(node, nodes.reference) and ("refuri" in node or "refid" in node):
            return self.wrapped("[", node, f"]({self.url(node)})")
        if isinstance(node, nodes.raw) and "html" in node.get("format", "").split():
            return node.astext()
        if isinstance(node, (nodes.target, addnodes.index, nodes.comment, nodes.substitution_definition)):
            return ""
        if isinstance(node, nodes.footnote_reference):
            return f"[{escape(node.astext())}]({self.url(node)})"
        if isinstance(node, (nodes.inline, nodes.reference, addnodes.pending_xref, nodes.abbreviation,
                             nodes.title_reference, nodes.generated)) or type(node).__name__ == "number_reference":
            return self.inline(node)
        if isinstance(node, nodes.image):
            return f"![{escape(node.get('alt', ''))}]({urljoin(self.page_url, node['uri'])})"
        LOGGER.warning(f"{self.page_url}: no Markdown for the inline node {type(node).__name__}",
                       type="jupyter_markdown")
        return escape(node.astext())

    def wrapped(self, mark: str, node: nodes.Element, closing: str | None = None) -> str:
        """The node's text between ``mark`` and ``closing`` (the same mark by default), its outer spaces outside
        (emphasis must not start or end with a space, nor a link's text)."""
        text = self.inline(node)
        core = text.strip()
        if not core:
            return text
        return text[:len(text) - len(text.lstrip())] + mark + core + (closing or mark) + text[len(text.rstrip()):]

    def paragraph(self, node: nodes.Element) -> str:
        text = self.inline(node).strip()
        # A paragraph that starts like a list item, a heading or a quote must not become one.
        return re.sub(r"^(\d+)([.)])(\s)", r"\1\\\2\3", re.sub(r"^([-+#>=])", r"\\\1", text))

    # ---- blocks: a list of Markdown blocks and code cells, in the page's order
    def blocks(self, node: nodes.Node, depth: int = 1) -> list[Chunk]:
        chunks: list[Chunk] = []
        for child in node.children:
            chunks += self.block(child, depth)
        return chunks

    def block(self, node: nodes.Node, depth: int) -> list[Chunk]:
        if isinstance(node, nodes.container) and node.get("nb_element") == CODE_CELL:
            return self.cell(node)
        if isinstance(node, nodes.section):
            title = node.next_node(nodes.title)
            heading = f"{'#' * min(depth, 6)} {self.inline(title).strip()}" if title is not None else ""
            return [heading, *self.blocks(node, depth + 1)]
        if isinstance(node, nodes.title):
            return []  # written by its section, exercise or admonition
        if isinstance(node, nodes.paragraph):
            return [self.paragraph(node)]
        if isinstance(node, nodes.math_block):
            return [self.equation(node)]
        if isinstance(node, nodes.literal_block):
            return [fence(node.astext(), node.get("language", "") if node.get("language") != "default" else "")]
        if isinstance(node, (nodes.bullet_list, nodes.enumerated_list)):
            return [self.listing(node, depth)]
        if isinstance(node, nodes.definition_list):
            return [self.definitions(node, depth)]
        if isinstance(node, nodes.table):
            return [self.table(node)]
        if isinstance(node, nodes.figure):
            return self.figure(node, depth)
        if isinstance(node, nodes.block_quote):
            return self.boxed(node, "", depth)
        if isinstance(node, nodes.raw):  # HTML, not the scripts the theme's extensions add (Jupyter drops those)
            shown = "html" in node.get("format", "").split() and "<script" not in node.astext()
            return [node.astext()] if shown else []
        if isinstance(node, nodes.transition):
            return ["---"]
        if isinstance(node, nodes.rubric):
            return [f"**{self.inline(node).strip()}**"]
        kind = type(node).__name__
        if kind == "proof_node":  # sphinx-proof's wrapper of the proof's admonition
            return self.blocks(node, depth)
        if kind == "exercise_enumerable_node":
            number = self.number("exercise", node)
            title = self.formats.get("exercise", "Exercise %s") % number
            extra = self.inline(node.next_node(nodes.title)).strip()
            return self.boxed(node, f"**{title}**" + (f" ({extra})" if extra else ""), depth)
        if kind == "solution_node":
            return self.solution(node, depth)
        if kind.endswith("_node") and node.get("realtype"):  # sphinx-proof's theorem, proposition, corollary …
            name = _(node["realtype"].title())
            number = self.number(node["countertype"], node) if node.get("countertype") else ""
            extra = self.inline(node.next_node(nodes.title)).strip()
            return self.boxed(node, f"**{name} {number}**".replace(" **", "**") + (f" {extra}" if extra else ""),
                              depth)
        if isinstance(node, nodes.Admonition):
            return self.admonition(node, depth)
        if isinstance(node, (nodes.target, addnodes.index, nodes.comment, nodes.substitution_definition,
                             nodes.system_message, addnodes.toctree, nodes.footnote, nodes.citation)):
            return []
        if isinstance(node, nodes.Element) and not isinstance(node, nodes.TextElement):
            return self.blocks(node, depth)  # a wrapper (a cell's output, the content of an exercise …)
        LOGGER.warning(f"{self.page_url}: no Markdown for the block node {kind}", type="jupyter_markdown")
        return [escape(node.astext())]

    def cell(self, node: nodes.Element) -> list[Chunk]:
        """The code cell, then the caption of the figure it draws, numbered as on the page."""
        chunks: list[Chunk] = [CodeCell(int(node["cell_index"]))]
        for figure in node.findall(nodes.figure):
            chunks += self.caption(figure)
        return chunks

    def caption(self, figure: nodes.figure) -> list[str]:
        caption = figure.next_node(nodes.caption)
        if caption is None:
            return []
        number = self.number("figure", figure)
        label = (self.formats.get("figure", "Fig. %s") % number) if number else ""
        return [f"**{label}** {self.inline(caption).strip()}" if label else self.inline(caption).strip()]

    def figure(self, node: nodes.figure, depth: int) -> list[Chunk]:
        images = [self.span(image) for image in node.findall(nodes.image)]
        return [" ".join(images), *self.caption(node)]

    def equation(self, node: nodes.math_block) -> str:
        body = "\n".join(line for line in node.astext().strip().split("\n") if line.strip())
        number = self.number("displaymath", node) or (str(node["number"]) if node.get("number") else "")
        tag = f"\n\\tag{{{number}}}" if number else ""
        return f"$$\n{body}{tag}\n$$"

    def listing(self, node: nodes.Element, depth: int) -> str:
        items = []
        start = node.get("start", 1)
        for position, item in enumerate(node.children):
            marker = f"{start + position}. " if isinstance(node, nodes.enumerated_list) else "- "
            items.append(indented(joined(self.text_only(item, depth)), marker))
        loose = any(len(item.children) > 1 for item in node.children)
        return ("\n\n" if loose else "\n").join(items)

    def definitions(self, node: nodes.Element, depth: int) -> str:
        items = []
        for item in node.children:
            terms = [self.inline(term).strip() for term in item.findall(nodes.term)]
            definition = item.next_node(nodes.definition)
            body = joined(self.text_only(definition, depth)) if definition is not None else ""
            items.append(indented(f"**{' / '.join(terms)}**" + (f": {body}" if body else ""), "- "))
        return "\n".join(items)

    def table(self, node: nodes.table) -> str:
        rows = []
        for row in node.findall(nodes.row):
            cells = [" ".join(self.inline(paragraph) for paragraph in entry.findall(nodes.paragraph)).strip() or
                     escape(entry.astext()) for entry in row.children]
            rows.append("| " + " | ".join(cells) + " |")
        thead = next(node.findall(nodes.thead), None)
        head = len(thead.children) if thead is not None else 0
        width = max((len(row.children) for row in node.findall(nodes.row)), default=0)
        rule = "|" + "---|" * width
        if not head:  # Markdown tables need a header row: an empty one
            rows.insert(0, "|" + " |" * width)
            head = 1
        rows.insert(head, rule)
        caption = node.next_node(nodes.title)
        return joined([f"**{self.inline(caption).strip()}**" if caption is not None else "", "\n".join(rows)])

    def text_only(self, node: nodes.Element, depth: int) -> list[str]:
        chunks = self.blocks(node, depth)
        if any(isinstance(chunk, CodeCell) for chunk in chunks):
            raise ValueError(f"{self.page_url}: a code cell inside a list, a table or a definition")
        return chunks

    def boxed(self, node: nodes.Element, title: str, depth: int) -> list[Chunk]:
        """A block quote under a bold title; a code cell inside it splits it in two quotes around the cell."""
        chunks, out, run = self.blocks(node, depth), [], [title] if title else []
        for chunk in chunks:
            if isinstance(chunk, CodeCell):
                out += [quoted(joined(run)), chunk] if run else [chunk]
                run = []
            else:
                run.append(chunk)
        return out + ([quoted(joined(run))] if run else [])

    def admonition(self, node: nodes.Element, depth: int) -> list[Chunk]:
        title = node.next_node(nodes.title) if node.children and isinstance(node.children[0], nodes.title) else None
        name = self.inline(title).strip() if title is not None else ""
        if not name and not isinstance(node, nodes.admonition):
            name = _(type(node).__name__.title())  # note, warning, tip … carry no title node
        return self.boxed(node, f"**{name}**" if name else "", depth)

    def solution(self, node: nodes.Element, depth: int) -> list[Chunk]:
        """Folded in ``<details>``; its code cells folded in JupyterLab, each after the text it follows."""
        title = html.escape(" ".join(node.next_node(nodes.title).astext().split()))  # <summary> holds no Markdown
        out, run = [], []

        def details(blocks: list[str], more: bool) -> str:
            summary = title + (" (continued)" if more else "")
            return f"<details>\n<summary>{summary}</summary>\n\n{joined(blocks)}\n\n</details>"

        cells = 0
        for chunk in self.blocks(node, depth):
            if isinstance(chunk, CodeCell):
                if run:
                    out.append(details(run, cells > 0))
                out.append(CodeCell(chunk.index, folded=True))
                cells, run = cells + 1, []
            else:
                run.append(chunk)
        return out + ([details(run, cells > 0)] if run else [])


def markdown_cell(text: str, identity: str | None) -> dict:
    """A Markdown cell, with an id where the notebook's format has them (nbformat 4.5 and later require one)."""
    return {"cell_type": "markdown", **({"id": identity} if identity else {}), "metadata": {}, "source": text}


def headed(chunks: list[str]) -> list[str]:
    """Markdown blocks grouped into cells, a new cell at each heading."""
    cells: list[list[str]] = []
    for chunk in chunks:
        if not cells or chunk.startswith("#"):
            cells.append([])
        cells[-1].append(chunk)
    return [joined(cell) for cell in cells if joined(cell)]


def is_removed(cell: dict) -> bool:
    return "remove-cell" in cell.get("metadata", {}).get("tags", [])


def rewrite(executed: dict, chunks: list[Chunk]) -> dict:
    """The executed notebook with its Markdown cells replaced by ``chunks``' Markdown, its code cells kept.

    A code cell that the page leaves out, if it is tagged ``remove-cell``, stays at the top when it came before all
    text (the install cell), else before the next code cell the page shows; a code cell left out without that tag
    went with a removed solution, and is left out here too.
    """
    notebook = copy.deepcopy(executed)
    code = {index: cell for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"}
    shown = {chunk.index for chunk in chunks if isinstance(chunk, CodeCell)}
    unknown = shown - set(code)
    if unknown:
        raise ValueError(f"the page shows code cells {sorted(unknown)} that its notebook does not have")
    hidden = sorted(index for index in code if index not in shown and is_removed(code[index]))
    # The cells before the first Markdown cell (the install cell) stay at the very top.
    first_text = next((index for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] != "code"),
                      len(notebook["cells"]))
    cells = [code[index] for index in hidden if index < first_text]
    hidden = [index for index in hidden if index >= first_text]
    text: list[str] = []

    with_ids = (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5)

    def flush() -> None:
        for block in headed(text):
            cells.append(markdown_cell(block, f"markdown-{len(cells) + 1}" if with_ids else None))
        text.clear()

    for chunk in chunks:
        if isinstance(chunk, str):
            text.append(chunk)
            continue
        flush()
        while hidden and hidden[0] < chunk.index:
            cells.append(code[hidden.pop(0)])
        cell = code[chunk.index]
        if chunk.folded:
            cell["metadata"].setdefault("jupyter", {}).update(source_hidden=True, outputs_hidden=True)
        cells.append(cell)
    flush()
    cells += [code[index] for index in hidden]
    notebook["cells"] = cells
    return notebook


def write_notebook(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Write ``_sources/<page>.ipynb`` for a page that MyST-NB executed as a notebook."""
    if doctree is None:
        return
    executed_path = Path(app.env.mystnb_config.output_folder).joinpath(*f"{pagename}.ipynb".split("/"))
    if not executed_path.is_file():
        return
    executed = json.loads(executed_path.read_text())
    site = app.config.html_baseurl.rstrip("/") + "/"
    renderer = Renderer(f"{site}{pagename}.html", app.env.toc_fignumbers.get(pagename, {}),
                        dict(app.config.numfig_format))
    notebook = rewrite(executed, renderer.blocks(doctree))
    path = Path(app.outdir, "_sources", *f"{pagename}.ipynb".split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Sphinx) -> dict:
    # After sphinx-book-theme, which copies the executed notebook to _sources/ at priority 501.
    app.connect("html-page-context", write_notebook, priority=501 + 1)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
