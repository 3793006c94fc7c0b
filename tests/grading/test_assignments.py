"""The assignments grade as they should, leak nothing, and the grader survives bad submissions.

Run by ``make grading`` after ``make assignments``, ``make book`` and ``make student-book``: it grades the built
autograders with ``otter run`` (through ``assignments/grade.py``) and scans the built student files and both books.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "_build" / "assignments"
BOOKS = {"book": ROOT / "_build" / "html", "student book": ROOT / "_build" / "student" / "_build" / "html"}
NAMES = sorted(p.name for p in (ROOT / "assignments").iterdir() if (p / f"{p.name}.md").is_file())
TIMEOUT_S = 300

sys.path.insert(0, str(ROOT / "assignments"))
import grade  # noqa: E402


def built(name: str, kind: str) -> Path:
    """The built file of assignment ``name``: its autograder zip, student or solution notebook."""
    path = {"autograder": BUILT / name / f"{name}-autograder.zip",
            "student": BUILT / name / "student" / f"{name}.ipynb",
            "solution": BUILT / name / "solution" / f"{name}.ipynb"}[kind]
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make assignments` first")
    return path


def code_cells(master: Path) -> list[str]:
    """The sources of the master notebook's code cells."""
    return re.findall(r"```\{code-cell\} ipython3\n(.*?)```", master.read_text(), flags=re.S)


def secrets(name: str) -> dict[str, set[str]]:
    """Lines of the master that students must never see: solution lines and hidden tests.

    Only lines that appear nowhere in the rest of the master count (a line such as ``torch.manual_seed(seed)`` is
    also in the provided code), and only lines long enough to be distinctive."""
    master = ROOT / "assignments" / name / f"{name}.md"
    solution, hidden, public = set(), set(), []
    for cell in code_cells(master):
        lines = cell.splitlines()
        if lines and lines[0].strip() == "# HIDDEN":
            hidden.update(line.strip() for line in lines[1:])
            continue
        inside = False
        for line in lines:
            if line.strip() == "# BEGIN SOLUTION":
                inside = True
            elif line.strip() == "# END SOLUTION":
                inside = False
            elif inside:
                solution.add(line.strip())
            elif line.rstrip().endswith("# SOLUTION"):
                solution.add(line.strip())
            else:
                public.append(line)
    shown = "\n".join(public) + master.read_text().split("```{code-cell}")[0]
    keep = lambda lines: {line for line in lines if len(line) >= 16 and line not in shown}
    return {"solution": keep(solution), "hidden test": keep(hidden)}


def student_files(name: str) -> dict[Path, str]:
    files = {path: path.read_text(errors="replace") for path in (BUILT / name / "student").rglob("*") if path.is_file()}
    assert files, f"no student files for {name}"
    return files


def html_pages(book: str) -> dict[Path, str]:
    pages = {path: path.read_text(errors="replace") for path in BOOKS[book].rglob("*.html")}
    if not pages:
        pytest.fail(f"{BOOKS[book]} has no pages: run `make book` and `make student-book` first")
    return pages


def notebook_text(path: Path) -> str:
    """Every cell source and the metadata (where otter keeps public tests) of a notebook, as plain text."""
    nb = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in nb.cells) + json.dumps(nb.metadata, ensure_ascii=False)


@pytest.mark.parametrize("name", NAMES)
def test_reference_solution_gets_full_marks_and_blank_gets_zero(name):
    autograder = built(name, "autograder")
    points = grade.questions(autograder)
    assert len(points) >= 3, f"{name}: expected at least three graded questions, got {points}"
    solution, blank = grade.grade_all(autograder, [built(name, "solution"), built(name, "student")], TIMEOUT_S)
    assert solution.status == "graded" and solution.scores == points, solution
    assert blank.status == "graded" and set(blank.scores.values()) == {0.0}, blank


@pytest.mark.parametrize("name", NAMES)
def test_every_question_has_public_and_hidden_tests(name):
    master = (ROOT / "assignments" / name / f"{name}.md").read_text()
    sections = re.findall(r"# BEGIN QUESTION\nname: (\w+)\n(.*?)# END QUESTION", master, flags=re.S)
    hidden = {question: body.count("```{code-cell} ipython3\n# HIDDEN") for question, body in sections}
    public = nbformat.read(built(name, "student"), as_version=4).metadata["otter"]["tests"]
    assert set(public) == set(hidden) == set(grade.questions(built(name, "autograder")))
    assert min(hidden.values()) >= 1, f"{name}: a question without hidden tests: {hidden}"
    for question, source in public.items():
        assert "hidden=True" not in source and "@test_case" in source, f"{name}/{question}: public tests malformed"


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_or_hidden_test_leaks_to_students(name):
    found = secrets(name)
    assert found["solution"] and found["hidden test"], f"{name}: the scan found nothing to look for"
    solution_text = notebook_text(built(name, "solution"))
    assert all(line in solution_text for line in found["solution"]), "positive control: solutions are in the key"
    places = {**student_files(name), **html_pages("book"), **html_pages("student book")}
    student_notebook = built(name, "student")
    places[student_notebook] = notebook_text(student_notebook)
    leaks = [(kind, line, str(path.relative_to(ROOT))) for kind, lines in found.items() for line in lines
             for path, text in places.items() if line in text]
    assert not leaks, f"{name}: {len(leaks)} leaks, first {leaks[:3]}"


def chapter_solution_lines() -> set[str]:
    """Distinctive code lines that the chapters write only inside gated exercise solutions."""
    lines = set()
    for chapter in (ROOT / "chapters").glob("*.md"):
        text = chapter.read_text()
        inside = re.findall(r"```\{solution-start\}.*?```\{solution-end\}", text, flags=re.S)
        outside = re.sub(r"```\{solution-start\}.*?```\{solution-end\}", "", text, flags=re.S)
        for block in inside:
            for cell in re.findall(r"```\{code-cell\} ipython3\n(.*?)```", block, flags=re.S):
                lines.update(line.strip() for line in cell.splitlines()
                             if len(line.strip()) >= 24 and line.strip() not in outside)
    return lines


def test_student_book_has_no_exercise_solutions():
    solution_div = re.compile(r'class="[^"]*\bsolution\b')
    with_solutions = [path for path, text in html_pages("book").items() if solution_div.search(text)]
    assert len(with_solutions) >= 8, "positive control: the book shows solutions behind toggles"
    student = html_pages("student book")
    assert not [path for path, text in student.items() if solution_div.search(text)]
    for path in with_solutions:
        assert (BOOKS["student book"] / path.relative_to(BOOKS["book"])) in student, f"{path.name} missing"
    # the code of the solutions is nowhere in the student edition, not even in a copied source or notebook
    secret_lines = chapter_solution_lines()
    book_sources = "\n".join(path.read_text() for path in (BOOKS["book"] / "_sources").rglob("*.md"))
    assert len(secret_lines) >= 20, f"only {len(secret_lines)} solution lines found to look for"
    assert all(line in book_sources for line in secret_lines), "positive control: the full book has them"
    student_files = [path for path in BOOKS["student book"].rglob("*") if path.is_file()
                     and path.suffix in {".html", ".js", ".md", ".ipynb", ".txt", ".py"}]
    leaks = [(line, path.name) for path in student_files for line in secret_lines
             if line in path.read_text(errors="replace")]
    assert not leaks, f"{len(leaks)} solution lines in the student book, first {leaks[:3]}"


def blank_with_cell(name: str, source: str, where: Path) -> Path:
    """The blank student notebook of ``name`` with one extra code cell after the first, saved as ``where``."""
    nb = nbformat.read(built(name, "student"), as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, where)
    return where


def test_an_endless_loop_scores_zero_within_the_time_limit(tmp_path):
    name = NAMES[0]
    looping = blank_with_cell(name, "while True:\n    pass", tmp_path / f"{name}.ipynb")
    (result,) = grade.grade_all(built(name, "autograder"), [looping], timeout=20)
    assert result.status == "timeout" and result.total == 0
    assert result.seconds < 20 + 10


def test_a_submission_cannot_change_the_autograder(tmp_path):
    name = NAMES[0]
    autograder = tmp_path / "autograder.zip"
    autograder.write_bytes(built(name, "autograder").read_bytes())
    vandal = blank_with_cell(name, f"open({str(autograder)!r}, 'ab').write(b'tests changed')",
                             tmp_path / f"{name}.ipynb")
    with pytest.raises(RuntimeError, match="changed while"):
        grade.grade_all(autograder, [vandal, built(name, "solution")], TIMEOUT_S)


def test_a_submission_cannot_change_another_grade(tmp_path):
    name = NAMES[0]
    out = tmp_path / "grades.csv"
    solution = tmp_path / "other" / f"{name}.ipynb"
    solution.parent.mkdir()
    solution.write_bytes(built(name, "solution").read_bytes())
    vandal = blank_with_cell(name, f"open({str(out)!r}, 'w').write('all zero')", tmp_path / f"{name}.ipynb")
    assert grade.main([str(built(name, "autograder")), str(vandal), str(solution), "--out", str(out)]) == 0
    rows = out.read_text().splitlines()
    assert rows[1].startswith(str(vandal)) and ",0.0,10.0,graded," in rows[1], rows
    assert rows[2].startswith(str(solution)) and ",10.0,10.0,graded," in rows[2], rows
