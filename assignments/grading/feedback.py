"""What a teacher and a student get back: one row of the grade CSV per student (or unmatched file), and a Markdown
feedback file per graded submission that shows public tests with their messages and hidden tests by number and
points only.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grading.autograder import is_bonus, possible
from grading.isolation import Grade


@dataclass
class Row:
    """One line of the grade CSV: a student (or an unmatched file), the grade that counts, and the adjustments."""

    student_id: str
    name: str
    grade: Grade | None  # None: no submission
    submitted_at: datetime | None = None
    days_late: int = 0
    penalty_percent: float = 0.0
    note: str = ""
    feedback: str = ""

    @property
    def total(self) -> float:
        raw = self.grade.total if self.grade else 0.0
        return raw * (1 - self.penalty_percent / 100)


def feedback_text(row: Row, points: dict[str, float], assignment: str, secret: set[str] = frozenset()) -> str:
    """The Markdown feedback for one row: score per question, public tests with their messages (any line of a
    hidden test, from ``secret``, removed), hidden tests by number and points only."""
    grade = row.grade
    who = f"{row.name} ({row.student_id})" if row.name else (row.student_id or Path(grade.submission).name)
    lines = [f"# {assignment}: feedback for {who}", "",
             f"Submission: `{Path(grade.submission).name}`" + (f", handed in {row.submitted_at:%Y-%m-%d %H:%M %Z}"
                                                                if row.submitted_at else ""), ""]
    if row.penalty_percent:
        lines += [f"Late by {row.days_late} day(s): {row.penalty_percent:g} % taken off.", ""]
    bonus = [question for question in points if is_bonus(question)]
    lines += [f"**Total: {row.total:g} of {possible(points):g}**" + (
        f" (bonus questions add to the total: {', '.join(bonus)})" if bonus else ""), ""]
    if grade.status != "graded":
        reason = ("it ran past the time limit and was stopped" if grade.status == "timeout"
                  else "the grader could not run it (is it a notebook that opens in Jupyter?)")
        lines += [f"This submission scored zero on every question: {reason}.", ""]
    lines += ["| question | score | possible |", "|---|---|---|"]
    lines += [f"| {q} | {grade.scores[q]:g} | {p:g}{' (bonus)' if is_bonus(q) else ''} |" for q, p in points.items()]
    for question in points:
        cases = grade.cases.get(question)
        if not cases:
            continue
        lines += ["", f"## {question}: {grade.scores[question]:g} of {points[question]:g}", ""]
        for number, case in enumerate(cases, start=1):
            kind = "hidden test" if case["hidden"] else "public test"
            worth = (f" ({case['points']:g} point{'' if case['points'] == 1 else 's'})"
                     if case.get("points") is not None else "")
            lines.append(f"- {kind} {number}{worth}: {'passed' if case['passed'] else 'failed'}")
            if case["hidden"] and not case["passed"] and case["message"].strip():  # the rules it found broken
                lines += [f"  - {redacted(line, secret)}" for line in case["message"].strip().splitlines()]
            if not case["hidden"] and not case["passed"] and case["message"].strip():
                message = "\n".join("[line of a hidden test removed]" if line.strip() in secret else line
                                    for line in case["message"].strip().splitlines())
                message = message[-2000:].replace("```", "'''")
                lines += ["", "  ```", *(f"  {line}" for line in message.splitlines()), "  ```"]
    return "\n".join(lines) + "\n"


def redacted(line: str, secret: set[str]) -> str:
    """The line, unless it holds a line of a hidden test."""
    return "[line of a hidden test removed]" if any(hidden in line for hidden in secret) else line


def detail(grade: Grade | None) -> str:
    """Why a run scored nothing (time limit, a notebook that would not run), in its last non-empty line."""
    if grade is None or (grade.status == "graded" and not grade.detail):
        return ""
    lines = [line.strip() for line in grade.detail.splitlines() if line.strip()]
    return lines[-1][:300] if lines else grade.status


def write_csv(rows: list[Row], points: dict[str, float], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "name", "submission", *points, "raw_total", "days_late", "penalty_percent",
                         "total", "possible", "percent", "status", "submitted_at", "seconds", "feedback", "note",
                         "detail"])
        for row in rows:
            grade = row.grade
            scores = [grade.scores[q] for q in points] if grade else [0.0] * len(points)
            writer.writerow([row.student_id, row.name, grade.submission if grade else "", *scores,
                             grade.total if grade else 0.0, row.days_late, row.penalty_percent,
                             round(row.total, 6), possible(points), round(100 * row.total / possible(points), 2),
                             grade.status if grade else "missing",
                             row.submitted_at.isoformat() if row.submitted_at else "",
                             f"{grade.seconds:.1f}" if grade else "", row.feedback, row.note,
                             detail(grade)])


def output_names(rows: list[Row]) -> list[tuple[Row, str]]:
    """Each graded row with the name its files get: the student ID, or the submission's file stem, with anything
    but letters, digits, ``_``, ``.`` and ``-`` replaced, made unique with -2, -3, ..."""
    named, used = [], set()
    for row in rows:
        if row.grade is None:
            continue
        stem = re.sub(r"[^0-9A-Za-z_.-]+", "_", row.student_id or Path(row.grade.submission).stem)
        key, n = stem, 1
        while key in used:
            n += 1
            key = f"{stem}-{n}"
        used.add(key)
        named.append((row, key))
    return named


def write_feedback(rows: list[Row], points: dict[str, float], assignment: str, secret: set[str], directory: Path,
                   csv_dir: Path) -> None:
    """Write :func:`feedback_text` of every graded row to ``directory/<name>.md`` (:func:`output_names`) and set the
    row's ``feedback`` to that file's path relative to ``csv_dir``. The feedback files of an earlier run for the
    same assignment are removed first; other files are left alone."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.md"):  # an earlier run's feedback for this assignment, which this run replaces
        with old.open() as handle:
            if handle.readline().startswith(f"# {assignment}: feedback for "):
                old.unlink()
    for row, key in output_names(rows):
        target = directory / f"{key}.md"
        target.write_text(feedback_text(row, points, assignment, secret))
        row.feedback = os.path.relpath(target, csv_dir)


def write_rendered(rows: list[Row], notebooks: dict[str, bytes], directory: Path) -> None:
    """Write every graded row's notebook, as the student handed it in (``notebooks``: its bytes by submission path,
    read before grading), to ``directory/<name>.html`` (:func:`output_names`), for reading answers by hand. Nothing
    is run; the HTML is sanitised, so a notebook's own HTML or JavaScript does not run in the teacher's browser."""
    import nbformat
    from nbconvert import HTMLExporter

    directory.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter(sanitize_html=True)
    for row, key in output_names(rows):
        notebook = nbformat.reads(notebooks[row.grade.submission].decode("utf-8", errors="replace"), as_version=4)
        html, _ = exporter.from_notebook_node(notebook)
        (directory / f"{key}.html").write_text(html)
