"""Whose submission is whose, when it was handed in, and what lateness costs.

A submission belongs to the roster's student whose ID appears in its *file name* whole (the file names
are what an LMS export gives; notebook metadata is left alone because a student can edit it). The submission time
comes from a manifest (columns ``file`` and ``submitted_at``, ISO 8601) or else from the file's modification time.
"""

from __future__ import annotations

import csv
import math
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path


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
            if "/" in student or "\0" in student:
                warnings.warn(f"roster: student_id {student!r} holds a character no file name can, so no "
                              "submission can match it", stacklevel=2)
            roster[student] = (row.get("name") or "").strip()
    if not roster:
        raise ValueError(f"roster: no students in {path}")
    return roster


def owners(submission: Path, roster: dict[str, str]) -> list[str]:
    """The roster IDs that appear in the submission's file name whole: not run on into a letter or a digit on
    either side, and not inside a longer ID that matches there (``doe`` is not found in ``j.doe_hw.ipynb`` when
    ``j.doe`` is on the roster). An ID may hold any characters a file name can (``j.doe``, ``s-12``,
    ``ann@uni.edu``)."""
    spans = {student: [m.span() for m in re.finditer(rf"(?<![0-9A-Za-z]){re.escape(student)}(?![0-9A-Za-z])",
                                                      submission.name)]
             for student in roster}
    found = [(student, span) for student, matches in spans.items() for span in matches]

    def inside_longer(student: str, span: tuple[int, int]) -> bool:
        return any(other != student and o[0] <= span[0] and span[1] <= o[1] and o != span for other, o in found)

    return sorted({student for student, span in found if not inside_longer(student, span)})


def parse_time(text: str, what: str) -> datetime:
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
                listed[row["file"].strip()] = parse_time(row["submitted_at"], f"manifest ({row['file']})")
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


@dataclass
class Selection:
    """Which submissions are graded: ``graded``, in the order given; the ``owner`` (student ID) of each graded
    submission that belongs to one student; ``notes`` on those that match no student or several; and the
    ``superseded`` (student, file) pairs, earlier submissions of a student that are not graded."""

    graded: list[Path]
    owner: dict[Path, str]
    notes: dict[Path, str]
    superseded: list[tuple[str, Path]]


def select(submissions: list[Path], roster: dict[str, str], times: dict[Path, datetime]) -> Selection:
    """With a roster, the latest submission of each student counts, and every submission that matches no student
    or several is graded and noted; without one, every submission is graded."""
    counted, notes, by_student = [], {}, {}
    for submission in submissions:
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
    graded = [s for s in submissions if s in set(counted)]
    owner = {files[-1]: student for student, files in by_student.items()}
    return Selection(graded, owner, notes, superseded)
