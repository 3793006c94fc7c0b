"""Grade submissions with an otter-grader autograder zip, offline, one at a time, each under a time limit.

    python assignments/grade.py AUTOGRADER.zip SUBMISSION.ipynb [...] --out grades.csv [--timeout SECONDS]

Every submission is graded by ``otter run`` in its own process group and its own temporary directory, holding a
fresh copy of the autograder. A submission that runs past ``--timeout`` is killed and scores zero on every question;
so does one that crashes the grader. The autograder's SHA-256 is checked before every submission: if a submission
changed it, grading stops with an error instead of grading the others against altered tests. Scores are kept in
memory and the CSV is written once, after the last submission, so no submission can edit another's grade.

Code in a submission still runs with this user's rights; the instructor guide says how to isolate it further.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_TIMEOUT_S = 600


@dataclass
class Grade:
    """The outcome of grading one submission: points per question, and how the run ended."""

    submission: str
    scores: dict[str, float]
    status: str  # "graded", "timeout" or "error"
    seconds: float
    detail: str = field(default="")

    @property
    def total(self) -> float:
        return sum(self.scores.values())


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


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def grade_one(autograder: Path, submission: Path, timeout: float, points: dict[str, float]) -> Grade:
    """Grade ``submission`` with ``otter run`` in a fresh directory, killing it after ``timeout`` seconds."""
    zero = dict.fromkeys(points, 0.0)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gatedrnn-grade-") as workdir:
        work = Path(workdir)
        shutil.copy(autograder, work / "autograder.zip")
        shutil.copy(submission, work / submission.name)
        (work / "results").mkdir()
        command = [sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(work / "autograder.zip"),
                   "-o", str(work / "results"), str(work / submission.name)]
        environment = {**os.environ, "TMPDIR": workdir}
        process = subprocess.Popen(command, cwd=workdir, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            log, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return Grade(str(submission), zero, "timeout", time.monotonic() - start,
                         f"killed after the {timeout:g} s limit")
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
        results = work / "results" / "results.json"
        if process.returncode != 0 or not results.is_file():
            return Grade(str(submission), zero, "error", time.monotonic() - start, log[-2000:])
        scores = dict(zero)
        for test in json.loads(results.read_text())["tests"]:
            if test["name"] in scores:
                scores[test["name"]] = float(test["score"])
        return Grade(str(submission), scores, "graded", time.monotonic() - start)


def grade_all(autograder: Path, submissions: list[Path], timeout: float) -> list[Grade]:
    """Grade every submission in turn; raises ``RuntimeError`` if one of them changes the autograder."""
    if not timeout > 0:
        raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    points = questions(autograder)
    expected = sha256(autograder)
    grades = []
    for submission in submissions:
        if not submission.is_file():
            raise ValueError(f"submission: no such file {submission}")
        grades.append(grade_one(autograder, submission, timeout, points))
        if sha256(autograder) != expected:
            raise RuntimeError(f"the autograder {autograder} changed while {submission} was graded; "
                               "restore it and grade that submission in isolation")
    return grades


def write_csv(grades: list[Grade], points: dict[str, float], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["submission", *points, "total", "possible", "status", "seconds"])
        for grade in grades:
            writer.writerow([grade.submission, *(grade.scores[q] for q in points), grade.total,
                             sum(points.values()), grade.status, f"{grade.seconds:.1f}"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("autograder", type=Path, help="the autograder zip from `make assignments`")
    parser.add_argument("submissions", type=Path, nargs="+", help="submitted notebooks (.ipynb)")
    parser.add_argument("--out", type=Path, required=True, help="the CSV of grades to write")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds allowed per submission (default {DEFAULT_TIMEOUT_S})")
    args = parser.parse_args(argv)
    grades = grade_all(args.autograder, args.submissions, args.timeout)
    points = questions(args.autograder)
    write_csv(grades, points, args.out)
    for grade in grades:
        print(f"{grade.submission}: {grade.total:g}/{sum(points.values()):g} ({grade.status}, {grade.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
