"""Grading one submission in isolation, and many at once.

Every submission and the autograder are read into memory before grading starts; each submission is then graded
from that copy in its own temporary directory, with its own copy of the autograder, in its own process group,
under a time limit, an address-space limit and no core files. When its run ends, for any reason, every process
left in its group, or carrying its tag, is killed. If a submission changes the autograder zip itself, grading stops
with an error. Code in a submission still runs with this user's rights: it can read what this user can read.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from grading.autograder import questions

DEFAULT_TIMEOUT_S = 600
DEFAULT_MEMORY_GIB = 8.0
# How long a run waits for its Jupyter kernel to answer before any cell runs. Jupyter's own 60 s is too short on a
# loaded machine (a kernel importing its packages while other gradings run); the run's --timeout still bounds it all.
KERNEL_START_S = 240
# Every process of one grading run carries this variable, with a value unique to the run, so that the run can be
# cleaned up completely however its processes were started.
TAG_VARIABLE = "GATEDRNN_GRADING_RUN"

# Run inside the grading process: otter grades the notebook and the per-test results are written as JSON. A hidden
# test's message is dropped here already, so that nothing about its code leaves the grading directory, except the
# rules it found broken: an exception whose message starts with "rule: " (autograd used where it is not allowed …).
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
import re
# RULES
import otter.api
results = otter.api.grade_submission(submission, autograder, quiet=True)
report = {}
for name, test_file in results.results.items():
    report[name] = {"score": float(test_file.score), "possible": float(test_file.possible), "cases": [
        {"hidden": bool(r.test_case.hidden), "points": r.test_case.points, "passed": bool(r.passed),
         "message": rules(str(r.message or "")) if r.test_case.hidden else str(r.message or "")}
        for r in test_file.test_case_results]}
with open(out, "w") as handle:
    json.dump(report, handle)
"""


def rules(message: str) -> str:
    """Of a hidden test's message, only the rules it found broken: the lines ``<name>Error: rule: <what>``."""
    return "\n".join(re.findall(r"^\w*(?:Error|Exception): (rule: .*)$", message, flags=re.M))


RUNNER = RUNNER.replace("# RULES\n", inspect.getsource(rules).replace("message: str) -> str", "message)"))


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
