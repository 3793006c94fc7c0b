"""The chapters' sources as the site shows them: every line of a code cell fits the book's 88 columns, and no
control character hides in the text.

The site's stylesheet (_static/book.css) sets code in 12 px type so that 88 columns fit the text column from a
1280 px window up; the browser tests measure it on the built pages. This finds a long line before any build. The
install cell that tools/publish.py writes is hidden on the site and exempt, as are cell options and metadata.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 88
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def code_lines(cell: str) -> list[str]:
    """The Python lines of a cell: without its ``:option:`` lines and its ``---`` metadata block."""
    lines = cell.split("\n")
    while lines and lines[0].startswith(":"):
        lines.pop(0)
    if lines and lines[0] == "---":
        lines = lines[lines.index("---", 1) + 1:]
    return lines


@pytest.mark.parametrize("chapter", sorted((ROOT / "chapters").glob("*.md")), ids=lambda path: path.stem)
def test_code_lines_fit_the_books_width(chapter):
    cells = [cell for cell in CELL.findall(chapter.read_text()) if "GATEDRNN_WHEEL" not in cell]
    long = [line for cell in cells for line in code_lines(cell) if len(line) > WIDTH]
    assert not long, f"{chapter.name}: {len(long)} code lines over {WIDTH} columns, e.g. {long[0]!r}"


@pytest.mark.parametrize("chapter", sorted((ROOT / "chapters").glob("*.md")), ids=lambda path: path.stem)
def test_no_control_characters_in_the_source(chapter):
    """A control character in the text is invisible in an editor and breaks what reads it: a TeX ``\\approx``
    written through a string that turned ``\\a`` into the bell character made MathJax fail on the page."""
    found = [(number, line) for number, line in enumerate(chapter.read_text().splitlines(), 1)
             if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", line)]
    assert not found, f"{chapter.name}: control characters at lines {[number for number, _ in found]}"


@pytest.mark.parametrize("chapter", sorted((ROOT / "chapters").glob("*.md")), ids=lambda path: path.stem)
def test_no_glue_name_is_written_twice(chapter):
    """A name glued twice in one chapter keeps only the last value, so the text may quote another number than the
    cell it was written for meant: every literal name is glued once (names built at run time are not seen here)."""
    cells = "\n".join(CELL.findall(chapter.read_text()))
    names = re.findall(r"""\bglue\(\s*["']([^"'{}]+)["']""", cells)
    twice = sorted({name for name in names if names.count(name) > 1})
    assert not twice, f"{chapter.name}: glued more than once: {twice}"


def notation_table() -> list[tuple[str, str]]:
    """(symbol, meaning) for every symbol of the introduction's notation table (a row may list several)."""
    text = (ROOT / "chapters" / "introduction.md").read_text()
    table = text.split("## Notation", 1)[1].split("\n\n", 2)[1]
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    return [(symbol.strip(), row[1]) for row in rows
            for symbol in re.findall(r"\$[^$]+\$", row[0].lstrip("| "))]


def test_each_symbol_of_the_notation_table_has_one_meaning_and_is_used():
    symbols = [symbol for symbol, _ in notation_table()]
    assert len(symbols) > 30, symbols
    repeated = sorted({symbol for symbol in symbols if symbols.count(symbol) > 1})
    assert not repeated, f"listed with more than one meaning: {repeated}"
    chapters = "".join(path.read_text() for path in (ROOT / "chapters").glob("*.md")
                       if path.name != "introduction.md")
    # each symbol up to its argument: \rho of \rho(W), \lVert of \lVert \cdot \rVert
    unused = [symbol for symbol in symbols if re.split(r"[ (]", symbol.strip("$"))[0] not in chapters]
    assert not unused, f"in the notation table but in no chapter: {unused}"
