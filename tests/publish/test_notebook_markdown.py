"""The published notebooks read like the book: Jupyter's Markdown, with the page's numbers, links and equations.

``tools/jupyter_markdown.py`` writes every chapter's notebook from the page's resolved doctree, in both editions.
Here each published notebook is read as a reader's Jupyter reads it (a CommonMark parser, with HTML and tables) and
held against the page it comes from: no MyST role, directive or label left; every value the page glued into its
text present; every display equation carrying the page's number; every link leading to a page and an anchor of the
published tree; the code cells exactly the executed ones (less, in the student edition, the code of the solutions).
"""

import functools
import html
import json
import re
from pathlib import Path

import nbformat
import pytest
from markdown_it import MarkdownIt
from test_notebooks import CHAPTERS, PUBLISH, publish

EDITIONS = {"main": "", "student": "student/"}
EXECUTED = publish.BUILD / "jupyter_execute"
# What MyST would read as a role ({eq}`label`), a directive fence (```{note}, :::{note}) or a label ((label)=).
ROLE = re.compile(r"\{[A-Za-z][\w:.-]*\}`")
LABEL = re.compile(r"^\([\w.:-]+\)=\s*$", re.M)
COLON_FENCE = re.compile(r"^:{3,}", re.M)
PARSER = MarkdownIt("commonmark", {"html": True}).enable("table")


def notebook(edition: str, chapter: Path) -> dict:
    path = PUBLISH / "notebooks" / EDITIONS[edition] / chapter
    if not path.is_file():
        pytest.fail(f"{path} does not exist: run `make publish` first", pytrace=False)
    return json.loads(path.read_text())


def source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def markdown(nb: dict) -> list[str]:
    return [source(cell) for cell in nb["cells"] if cell["cell_type"] == "markdown"]


def page(edition: str, chapter: Path) -> str:
    return (PUBLISH / EDITIONS[edition] / chapter.with_suffix(".html")).read_text()


def tokens(text: str):
    """Every token of the parsed Markdown, inline children included."""
    for token in PARSER.parse(text):
        yield token
        yield from token.children or []


def myst_syntax(text: str) -> list[str]:
    """What is left of MyST's syntax in one Markdown cell, as Jupyter's parser reads it."""
    found = []
    for token in tokens(text):
        if token.type == "fence" and token.info.strip().startswith("{"):
            found.append(f"directive fence ```{token.info.strip()}")
        if token.type == "inline":
            found += [f"role {match.group()}" for match in ROLE.finditer(token.content)]
            found += [f"label {match.group().strip()}" for match in LABEL.finditer(token.content)]
            found += [f"colon fence {match.group()}" for match in COLON_FENCE.finditer(token.content)]
    return found


def plain_text(texts: list[str]) -> str:
    """The text a reader sees: the Markdown rendered, tags dropped, entities decoded, spaces collapsed."""
    rendered = re.sub(r"<[^>]+>", " ", "\n".join(PARSER.render(text) for text in texts))
    return " ".join(html.unescape(rendered).split())


CASES = [(edition, chapter) for edition in EDITIONS for chapter in CHAPTERS]
IDS = [f"{edition}/{chapter.stem}" for edition, chapter in CASES]


@pytest.mark.parametrize("edition, chapter", CASES, ids=IDS)
def test_valid_notebook(edition, chapter):
    nbformat.validate(nbformat.from_dict(notebook(edition, chapter)))


@pytest.mark.parametrize("edition, chapter", CASES, ids=IDS)
def test_no_myst_syntax_left(edition, chapter):
    left = {index: found for index, text in enumerate(markdown(notebook(edition, chapter)))
            if (found := myst_syntax(text))}
    assert not left, f"{edition}/{chapter}: MyST syntax in Markdown cells {left}"


@pytest.mark.parametrize("edition, chapter", CASES, ids=IDS)
def test_glued_values_in_the_text(edition, chapter):
    glued = {" ".join(html.unescape(re.sub(r"<[^>]+>", "", value)).split())
             for value in re.findall(r'<span class="pasted-text">(.*?)</span>', page(edition, chapter), re.S)}
    text = plain_text(markdown(notebook(edition, chapter)))
    missing = sorted(value for value in glued if value not in text)
    assert not missing, f"{edition}/{chapter}: glued values of the page missing from the notebook: {missing}"


@pytest.mark.parametrize("edition, chapter", CASES, ids=IDS)
def test_equations_numbered_as_on_the_page(edition, chapter):
    numbers = re.findall(r'<span class="eqno">\(([^)]+)\)', page(edition, chapter))
    tags = re.findall(r"\\tag\{([^}]+)\}", "\n".join(markdown(notebook(edition, chapter))))
    assert tags == numbers, f"{edition}/{chapter}: equation tags {tags} in the notebook, {numbers} on the page"


@functools.cache
def anchors(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text()))


@pytest.mark.parametrize("edition, chapter", CASES, ids=IDS)
def test_links_resolve_in_the_published_tree(edition, chapter):
    site = publish.BASE_URL + EDITIONS[edition]
    links = [token.attrs["href"] for text in markdown(notebook(edition, chapter)) for token in tokens(text)
             if token.type == "link_open"]
    assert links, f"{edition}/{chapter}: no link at all"
    broken = []
    for link in links:
        if not link.startswith(publish.BASE_URL):
            if not link.startswith("https://"):
                broken.append(f"{link}: neither the published site nor another https address")
            continue
        if not link.startswith(site):
            broken.append(f"{link}: outside the {edition} edition ({site})")
            continue
        path, _, anchor = link[len(site):].partition("#")
        target = PUBLISH / EDITIONS[edition] / path
        if not target.is_file():
            broken.append(f"{link}: no page {target.relative_to(PUBLISH)}")
        elif anchor and anchor not in anchors(target):
            broken.append(f"{link}: no anchor #{anchor} in {target.relative_to(PUBLISH)}")
    assert not broken, f"{edition}/{chapter}: " + "\n".join(broken)


def code_cells(nb: dict) -> list[dict]:
    return [{"source": source(cell), "outputs": cell["outputs"], "execution_count": cell["execution_count"]}
            for cell in nb["cells"] if cell["cell_type"] == "code"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[chapter.stem for chapter in CHAPTERS])
def test_code_cells_as_executed(chapter):
    executed = code_cells(json.loads((EXECUTED / chapter).read_text()))
    main, student = notebook("main", chapter), notebook("student", chapter)
    assert code_cells(main) == executed, f"{chapter}: the main edition's code cells are not the executed ones"
    folded = [cell.get("metadata", {}).get("jupyter", {}).get("source_hidden", False)
              for cell in main["cells"] if cell["cell_type"] == "code"]
    kept = [cell for cell, solution in zip(executed, folded) if not solution]
    assert code_cells(student) == kept, f"{chapter}: the student edition's code cells are not the executed ones " \
        "less the solutions' code"
    main_text, student_text = "\n".join(markdown(main)), "\n".join(markdown(student))
    exercises = page("main", chapter).count('class="exercise admonition"')
    assert main_text.count("<details>") >= exercises, f"{chapter}: {exercises} exercises, fewer folded solutions"
    assert "<details>" not in student_text and "Solution to" not in student_text, (
        f"{chapter}: the student edition's notebook holds a solution")


def test_no_role_left_across_all_notebooks():
    """The count the issue asks for: MyST roles left in every published notebook of both editions (0)."""
    count = sum(len(myst_syntax(text)) for edition, chapter in CASES
                for text in markdown(notebook(edition, chapter)))
    assert count == 0
