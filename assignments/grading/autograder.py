"""What an otter-grader autograder zip holds: the assignment it grades, the graded questions with their points
(bonus questions add to the score, not to what is possible), and the code of its hidden tests (which feedback must
never show)."""

from __future__ import annotations

import ast
import io
import json
import zipfile
from pathlib import Path


# The questions in the assignment's order, which assignments/build.py adds to each zip (otter keeps none).
QUESTION_ORDER = "question_order.json"


def questions(autograder: Path) -> dict[str, float]:
    """The graded questions of an autograder zip and their points, read from its ``tests/*.py`` files, in the
    assignment's order where the zip records it (``question_order.json``), else by name."""
    points: dict[str, float] = {}
    with zipfile.ZipFile(autograder) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                for line in archive.read(name).decode().splitlines():
                    if line.startswith("points = "):
                        value = ast.literal_eval(line.removeprefix("points = "))
                        points[Path(name).stem] = float(sum(value) if isinstance(value, list) else value)
        order = json.loads(archive.read(QUESTION_ORDER)) if QUESTION_ORDER in archive.namelist() else []
    if not points:
        raise ValueError(f"autograder: no tests/*.py with points found in {autograder}")
    ranked = [q for q in order if q in points] + [q for q in points if q not in order]
    return {question: points[question] for question in ranked}


def is_bonus(question: str) -> bool:
    """A bonus question (its name starts with ``bonus_``) adds to the score but not to what is possible."""
    return question.startswith("bonus_")


def possible(points: dict[str, float]) -> float:
    """What the assignment is marked out of: the points of every question that is not a bonus."""
    return sum(value for question, value in points.items() if not is_bonus(question))


def assignment_name(autograder: Path) -> str:
    """The assignment an autograder zip grades (``assignment_name`` of its ``otter_config.json``)."""
    with zipfile.ZipFile(autograder) as archive:
        try:
            return json.loads(archive.read("otter_config.json"))["assignment_name"]
        except KeyError as missing:
            raise ValueError(f"autograder: {autograder} has no assignment name ({missing} missing): is it an "
                             "autograder zip from `make assignments`?") from None


def notebook_assignment(notebook: Path) -> str | None:
    """The assignment a student notebook was released for (otter keeps it in the notebook's metadata), or None
    when the file is not a notebook that says (it is graded, and scores zero as unreadable)."""
    try:
        return json.loads(notebook.read_text())["metadata"]["otter"]["assignment_name"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def hidden_lines(autograder: Path | bytes) -> set[str]:
    """Every line (stripped, at least 8 characters) of the hidden test cases in an autograder zip: the functions
    decorated ``@test_case(..., hidden=True)`` in its ``tests/*.py``. Feedback redacts them from any message, so
    that a submission cannot smuggle hidden test code out through a public test's failure message."""
    secret: set[str] = set()
    with zipfile.ZipFile(io.BytesIO(autograder) if isinstance(autograder, bytes) else autograder) as archive:
        for name in archive.namelist():
            if not (name.startswith("tests/") and name.endswith(".py")):
                continue
            source = archive.read(name).decode()
            lines = source.splitlines()
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef) and any(
                        isinstance(d, ast.Call) and any(k.arg == "hidden" and isinstance(k.value, ast.Constant)
                                                        and k.value.value is True for k in d.keywords)
                        for d in node.decorator_list):
                    body = lines[node.lineno - 1:node.end_lineno]
                    secret.update(line.strip() for line in body if len(line.strip()) >= 8)
    return secret
