"""Grade submissions with an otter-grader autograder zip, offline, each in its own directory under a time limit.

    python assignments/grade.py AUTOGRADER.zip SUBMISSION.ipynb [...] --out grades.csv
        [--workers N] [--timeout SECONDS] [--memory GIB] [--feedback DIR] [--python PYTHON]
        [--roster roster.csv] [--manifest submissions.csv] [--deadline ISO-TIME]
        [--late-per-day PERCENT] [--late-cap PERCENT]

Isolation. Every submission and the autograder are read into memory before grading starts; each submission is then
graded from that copy in its own temporary directory, with its own copy of the autograder, in its own process group,
under a time limit (``--timeout``), an address-space limit (``--memory``) and no core files. When its run ends, for
any reason, every process left in its group is killed. A submission that edits another's file, the CSV or the
feedback changes nothing: the others were read before, and the results are written once, after the last grade. If a
submission changes the autograder zip itself, grading stops with an error.

Feedback. With ``--feedback DIR`` every graded submission gets ``DIR/<student or file>.md``: each question's score,
every public test with its failure message, and every hidden test by number and points only (never its code or
message). The CSV links to it.

Roster and deadlines. With ``--roster`` (a CSV with a ``student_id`` column and optionally ``name``), a submission
belongs to the student whose ID appears in its *file name* as a whole token (the file names are what an LMS export
gives; notebook metadata is left alone because a student can edit it). Students without a submission get a row with
status ``missing``; submissions that match no student, or more than one, are graded and reported; of several
submissions by one student the latest counts and the others are reported as ``superseded``. The submission time is
taken from ``--manifest`` (a CSV with columns ``file`` and ``submitted_at``, ISO 8601) or else from the file's
modification time. With ``--deadline``, a late submission loses ``--late-per-day`` percent of its score for every
started day, at most ``--late-cap`` percent; each adjustment is a column of the CSV.

Code in a submission still runs with this user's rights: it can read what this user can read. The instructor guide
says how to grade in Docker or on Gradescope, which isolate each submission completely.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

DEFAULT_TIMEOUT_S = 600
DEFAULT_MEMORY_GIB = 8.0
# How long a run waits for its Jupyter kernel to answer before any cell runs. Jupyter's own 60 s is too short on a
# loaded machine (a kernel importing its packages while other gradings run); the run's --timeout still bounds it all.
KERNEL_START_S = 240
# Every process of one grading run carries this variable, with a value unique to the run, so that the run can be
# cleaned up completely however its processes were started.
TAG_VARIABLE = "GATEDRNN_GRADING_RUN"

# Run inside the grading process: otter grades the notebook and the per-test results are written as JSON. A hidden
# test's message is dropped here already, so that nothing about its code leaves the grading directory.
RUNNER = r"""
import json, os, resource, sys
submission, autograder, out, memory, kernel_start = sys.argv[1:6]
# limits first, before any of the submission's code can run: address space, no core files, and (for a user other
# than root, whom the kernel does not limit) the number of processes
resource.setrlimit(resource.RLIMIT_AS, (int(memory), int(memory)))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
if os.geteuid() != 0:
    resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))
import nbconvert.preprocessors, traitlets
# otter builds its executor from nbconvert's class when it grades, with a configuration of its own: a subclass with
# a longer wait for the kernel to start, put where otter looks it up, is the one way to give it that wait
class PatientExecutePreprocessor(nbconvert.preprocessors.ExecutePreprocessor):
    startup_timeout = traitlets.Integer(int(kernel_start))
nbconvert.preprocessors.ExecutePreprocessor = PatientExecutePreprocessor
import otter.api
results = otter.api.grade_submission(submission, autograder, quiet=True)
report = {}
for name, test_file in results.results.items():
    report[name] = {"score": float(test_file.score), "possible": float(test_file.possible), "cases": [
        {"hidden": bool(r.test_case.hidden), "points": r.test_case.points, "passed": bool(r.passed),
         "message": "" if r.test_case.hidden else str(r.message or "")}
        for r in test_file.test_case_results]}
with open(out, "w") as handle:
    json.dump(report, handle)
"""


@dataclass
class Grade:
    """The outcome of grading one submission: points per question, each test's result, and how the run ended."""

    submission: str
    scores: dict[str, float]
    status: str  # "graded", "timeout" or "error"
    seconds: float
    detail: str = field(default="")
    cases: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.scores.values())


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
    import io

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


def _kill_tagged(tag: str) -> None:
    """Kill every process whose environment carries this grading's tag: the grader, its kernel and anything they
    started, including processes that left the process group or were re-parented (Linux, through /proc)."""
    marker = f"{TAG_VARIABLE}={tag}".encode()
    for _ in range(3):  # a process may fork while the others are being killed
        found = False
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
            except (OSError, ValueError):
                continue
        if not found:
            return


def grade_one(autograder: bytes, name: str, notebook: bytes, label: str, points: dict[str, float], *,
              timeout: float, memory_gib: float = DEFAULT_MEMORY_GIB, python: str = sys.executable) -> Grade:
    """Grade one submission (``notebook``, its bytes; ``name``, its file name) with the ``autograder`` zip's bytes,
    in a fresh directory, with ``python`` (an interpreter with otter-grader and the assignment's requirements).

    A run whose Jupyter kernel fails to start is the grading machine's failure, not the submission's (no cell has
    run yet). The kernel is given ``KERNEL_START_S`` to answer, not Jupyter's 60 s, since on a loaded machine it
    may take longer; a run whose kernel still fails to start (or dies before answering) is repeated once, within
    the same time limit, and the repetition is noted in the grade's detail."""
    first = _attempt(autograder, name, notebook, label, points, timeout, memory_gib, python)
    remaining = timeout - first.seconds
    if first.status == "error" and any(m in first.detail for m in KERNEL_START_FAILURES) and remaining > 0:
        second = _attempt(autograder, name, notebook, label, points, remaining, memory_gib, python)
        second.seconds += first.seconds
        second.detail = ("the kernel did not start on the first try; graded on the second. " + second.detail).strip()
        return second
    return first


# What Jupyter says when a kernel does not start or does not answer before any cell runs.
KERNEL_START_FAILURES = ("Kernel didn't respond in", "Kernel died before replying to kernel_info")


def _attempt(autograder: bytes, name: str, notebook: bytes, label: str, points: dict[str, float], timeout: float,
             memory_gib: float, python: str) -> Grade:
    """One grading run of :func:`grade_one`."""
    zero = dict.fromkeys(points, 0.0)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gatedrnn-grade-") as workdir:
        work = Path(workdir)
        (work / "autograder.zip").write_bytes(autograder)
        (work / name).write_bytes(notebook)
        report = work / "report.json"
        command = [python, "-c", RUNNER, str(work / name), str(work / "autograder.zip"), str(report),
                   str(int(memory_gib * 2**30)), str(KERNEL_START_S)]
        tag = Path(workdir).name
        environment = {**os.environ, "TMPDIR": workdir, "HOME": workdir, TAG_VARIABLE: tag}
        process = subprocess.Popen(command, cwd=workdir, env=environment, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            log, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            _kill_tagged(tag)
            process.communicate()
            return Grade(label, zero, "timeout", time.monotonic() - start, f"killed after the {timeout:g} s limit")
        finally:
            _kill_group(process)
            _kill_tagged(tag)
        if process.returncode != 0 or not report.is_file():
            return Grade(label, zero, "error", time.monotonic() - start, log[-2000:])
        results = json.loads(report.read_text())
        scores = {q: float(results[q]["score"]) if q in results else 0.0 for q in points}
        cases = {q: results[q]["cases"] for q in points if q in results}
        return Grade(label, scores, "graded", time.monotonic() - start, cases=cases)


def _kill_group(process: subprocess.Popen) -> None:
    """Kill every process left in the grading process's group (a submission's forks included)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def grade_all(autograder: Path, submissions: list[Path], timeout: float, *, workers: int = 1,
              memory_gib: float = DEFAULT_MEMORY_GIB, python: str = sys.executable) -> list[Grade]:
    """Grade every submission, ``workers`` at a time, in the order given; raises ``RuntimeError`` if one of them
    changed the autograder zip."""
    if not timeout > 0:
        raise ValueError(f"timeout: expected a number of seconds > 0, got {timeout!r}")
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f"workers: expected an int >= 1, got {workers!r}")
    if not memory_gib > 0:
        raise ValueError(f"memory: expected a number of GiB > 0, got {memory_gib!r}")
    for submission in submissions:
        if not submission.is_file():
            raise ValueError(f"submission: no such file {submission}")
    points = questions(autograder)
    frozen = autograder.read_bytes()
    expected = hashlib.sha256(frozen).hexdigest()
    snapshots = [(s.name, s.read_bytes(), str(s)) for s in submissions]

    def one(snapshot: tuple[str, bytes, str]) -> Grade:
        grade = grade_one(frozen, *snapshot, points, timeout=timeout, memory_gib=memory_gib, python=python)
        if hashlib.sha256(autograder.read_bytes()).hexdigest() != expected:
            raise RuntimeError(f"the autograder {autograder} changed while {snapshot[2]} was graded; "
                               "restore it and grade that submission in isolation")
        return grade

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, snapshots))


# --- roster, times and deadlines ---------------------------------------------------------------------------------


def read_roster(path: Path) -> dict[str, str]:
    """Student ID → name, from a CSV with a ``student_id`` column (and optionally ``name``)."""
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "student_id" not in reader.fieldnames:
            raise ValueError(f"roster: expected a CSV with a student_id column, got columns {reader.fieldnames}")
        roster = {}
        for row in reader:
            student = row["student_id"].strip()
            if not student:
                continue
            if student in roster:
                raise ValueError(f"roster: student_id {student!r} appears twice")
            roster[student] = (row.get("name") or "").strip()
    if not roster:
        raise ValueError(f"roster: no students in {path}")
    return roster


def owners(submission: Path, roster: dict[str, str]) -> list[str]:
    """The roster IDs that appear in the submission's file name as whole tokens (split on anything that is not a
    letter or a digit)."""
    tokens = set(re.split(r"[^0-9A-Za-z]+", submission.name))
    return sorted(student for student in roster if student in tokens)


def _parse_time(text: str, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}: expected an ISO 8601 time such as 2026-12-01T23:59:00+00:00, got {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def submission_times(submissions: list[Path], manifest: Path | None) -> dict[Path, datetime]:
    """When each submission was handed in: from the manifest (columns ``file``, ``submitted_at``; a file is named by
    its path or its file name) or else the file's modification time."""
    listed: dict[str, datetime] = {}
    if manifest is not None:
        with manifest.open(newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"file", "submitted_at"} <= set(reader.fieldnames):
                raise ValueError(f"manifest: expected columns file and submitted_at, got {reader.fieldnames}")
            for row in reader:
                listed[row["file"].strip()] = _parse_time(row["submitted_at"], f"manifest ({row['file']})")
    times = {}
    for submission in submissions:
        moment = listed.get(str(submission), listed.get(submission.name))
        if moment is None and manifest is not None:
            raise ValueError(f"manifest: no submitted_at for {submission}")
        times[submission] = moment or datetime.fromtimestamp(submission.stat().st_mtime, tz=timezone.utc)
    return times


def late_penalty(submitted_at: datetime, deadline: datetime | None, per_day: float, cap: float) -> tuple[int, float]:
    """(started days late, percent of the score taken off): ``per_day`` percent for every started day after the
    ``deadline``, at most ``cap`` percent."""
    if deadline is None or submitted_at <= deadline:
        return 0, 0.0
    days = math.ceil((submitted_at - deadline).total_seconds() / 86400)
    return days, min(cap, per_day * days)


# --- feedback and the CSV ----------------------------------------------------------------------------------------


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
    lines += [f"**Total: {row.total:g} of {sum(points.values()):g}**", ""]
    if grade.status != "graded":
        reason = ("it ran past the time limit and was stopped" if grade.status == "timeout"
                  else "the grader could not run it (is it a notebook that opens in Jupyter?)")
        lines += [f"This submission scored zero on every question: {reason}.", ""]
    lines += ["| question | score | possible |", "|---|---|---|"]
    lines += [f"| {q} | {grade.scores[q]:g} | {p:g} |" for q, p in points.items()]
    for question in points:
        cases = grade.cases.get(question)
        if not cases:
            continue
        lines += ["", f"## {question}: {grade.scores[question]:g} of {points[question]:g}", ""]
        for number, case in enumerate(cases, start=1):
            kind = "hidden test" if case["hidden"] else "public test"
            worth = f" ({case['points']:g} points)" if case.get("points") is not None else ""
            lines.append(f"- {kind} {number}{worth}: {'passed' if case['passed'] else 'failed'}")
            if not case["hidden"] and not case["passed"] and case["message"].strip():
                message = "\n".join("[line of a hidden test removed]" if line.strip() in secret else line
                                    for line in case["message"].strip().splitlines())
                message = message[-2000:].replace("```", "'''")
                lines += ["", "  ```", *(f"  {line}" for line in message.splitlines()), "  ```"]
    return "\n".join(lines) + "\n"


def write_csv(rows: list[Row], points: dict[str, float], path: Path) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "name", "submission", *points, "raw_total", "days_late", "penalty_percent",
                         "total", "possible", "status", "submitted_at", "seconds", "feedback", "note"])
        for row in rows:
            grade = row.grade
            scores = [grade.scores[q] for q in points] if grade else [0.0] * len(points)
            writer.writerow([row.student_id, row.name, grade.submission if grade else "", *scores,
                             grade.total if grade else 0.0, row.days_late, row.penalty_percent,
                             round(row.total, 6), sum(points.values()), grade.status if grade else "missing",
                             row.submitted_at.isoformat() if row.submitted_at else "",
                             f"{grade.seconds:.1f}" if grade else "", row.feedback, row.note])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("autograder", type=Path, help="the autograder zip from `make assignments`")
    parser.add_argument("submissions", type=Path, nargs="+", help="submitted notebooks (.ipynb)")
    parser.add_argument("--out", type=Path, required=True, help="the CSV of grades to write")
    parser.add_argument("--workers", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds allowed per submission (default {DEFAULT_TIMEOUT_S})")
    parser.add_argument("--memory", type=float, default=DEFAULT_MEMORY_GIB,
                        help=f"address space allowed per submission, GiB (default {DEFAULT_MEMORY_GIB:g})")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter that grades (default: this one), e.g. a venv built from the zip")
    parser.add_argument("--feedback", type=Path, help="write one Markdown feedback file per submission here")
    parser.add_argument("--roster", type=Path, help="CSV with a student_id column (and optionally name)")
    parser.add_argument("--manifest", type=Path, help="CSV with columns file and submitted_at (ISO 8601)")
    parser.add_argument("--deadline", help="ISO 8601 time after which a submission is late")
    parser.add_argument("--late-per-day", type=float, default=0.0, help="percent off per started day late")
    parser.add_argument("--late-cap", type=float, default=100.0, help="largest percent taken off for lateness")
    args = parser.parse_args(argv)
    if not 0 <= args.late_per_day <= 100 or not 0 <= args.late_cap <= 100:
        parser.error("--late-per-day and --late-cap: expected percentages between 0 and 100")
    deadline = _parse_time(args.deadline, "deadline") if args.deadline else None
    points = questions(args.autograder)
    times = submission_times(args.submissions, args.manifest)
    roster = read_roster(args.roster) if args.roster else {}

    # Which submissions count: with a roster, the latest per student; every unmatched one is graded too.
    counted, notes, by_student = [], {}, {}
    for submission in args.submissions:
        matched = owners(submission, roster) if roster else []
        if roster and len(matched) != 1:
            notes[submission] = ("matches no student in the roster" if not matched
                                 else f"matches several students ({', '.join(matched)}): not attributed")
            counted.append(submission)
        elif matched:
            by_student.setdefault(matched[0], []).append(submission)
        else:
            counted.append(submission)
    superseded = []
    for student, files in by_student.items():
        files.sort(key=lambda s: times[s])
        counted.append(files[-1])
        superseded += [(student, s) for s in files[:-1]]
    order = [s for s in args.submissions if s in set(counted)]
    grades = dict(zip(order, grade_all(args.autograder, order, args.timeout, workers=args.workers,
                                       memory_gib=args.memory, python=args.python)))

    rows = []
    owner = {files[-1]: student for student, files in by_student.items()}
    for student, name in roster.items():
        if student not in by_student:
            rows.append(Row(student, name, None, note="no submission"))
    for submission in order:
        student = owner.get(submission, "")
        days, penalty = late_penalty(times[submission], deadline, args.late_per_day, args.late_cap)
        note = notes.get(submission, "")
        earlier = [s.name for who, s in superseded if who == student]
        if earlier:
            note = f"latest of {len(earlier) + 1}; superseded: {', '.join(earlier)}"
        rows.append(Row(student, roster.get(student, ""), grades[submission], times[submission], days, penalty,
                        note))
    rows.sort(key=lambda row: (row.student_id == "", row.student_id, row.grade.submission if row.grade else ""))

    if args.feedback:
        args.feedback.mkdir(parents=True, exist_ok=True)
        secret = hidden_lines(args.autograder)
        used: set[str] = set()
        for row in rows:
            if row.grade is None:
                continue
            stem = re.sub(r"[^0-9A-Za-z_.-]+", "_", row.student_id or Path(row.grade.submission).stem)
            key, n = stem, 1
            while key in used:
                n += 1
                key = f"{stem}-{n}"
            used.add(key)
            target = args.feedback / f"{key}.md"
            target.write_text(feedback_text(row, points, args.autograder.stem.removesuffix("-autograder"), secret))
            row.feedback = os.path.relpath(target, args.out.resolve().parent)
    write_csv(rows, points, args.out)

    possible = sum(points.values())
    for row in rows:
        who = row.student_id or (row.grade.submission if row.grade else "")
        status = row.grade.status if row.grade else "missing"
        print(f"{who}: {row.total:g}/{possible:g} ({status}{', ' + row.note if row.note else ''})")
    missing = [s for s in roster if s not in by_student]
    unmatched = [s for s in args.submissions if roster and s in notes]
    if roster:
        print(f"{len(roster) - len(missing)} of {len(roster)} students submitted; missing: {', '.join(missing) or 'none'}; "
              f"unmatched files: {', '.join(map(str, unmatched)) or 'none'}; superseded files: {len(superseded)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
