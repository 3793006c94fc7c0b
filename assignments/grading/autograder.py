"""What an otter-grader autograder zip holds: the graded questions with their points, and the code of its hidden
tests (which feedback must never show)."""

from __future__ import annotations

import ast
import io
import zipfile
from pathlib import Path


def questions(autograder: Path) -> dict[str, float]:
    """The graded questions of an autograder zip and their points, read from its ``tests/*.py`` files."""
    points: dict[str, float] = {}
    with zipfile.ZipFile(autograder) as archive:
        for name in sorted(archive.namelist()):
            if name.startswith("tests/") and name.endswith(".py"):
                for line in archive.read(name).decode().splitlines():
                    if line.startswith("points = "):
                        value = ast.literal_eval(line.removeprefix("points = "))
                        points[Path(name).stem] = float(sum(value) if isinstance(value, list) else value)
    if not points:
        raise ValueError(f"autograder: no tests/*.py with points found in {autograder}")
    return points


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
