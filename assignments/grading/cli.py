"""Grade submissions with an otter-grader autograder zip, offline, each in its own directory under a time limit.

    python assignments/grade.py AUTOGRADER.zip SUBMISSION.ipynb|FOLDER [...] --out grades.csv
        [--workers N] [--timeout SECONDS] [--memory GIB] [--feedback DIR] [--python PYTHON]
        [--roster roster.csv] [--manifest submissions.csv] [--deadline ISO-TIME]
        [--late-per-day PERCENT] [--late-cap PERCENT] [--rendered DIR]

Isolation. Every submission and the autograder are read into memory before grading starts; each submission is then
graded from that copy in its own temporary directory, with its own copy of the autograder, in its own process group,
under a time limit (``--timeout``), an address-space limit (``--memory``) and no core files. When its run ends, for
any reason, every process left in its group is killed. A submission that edits another's file, the CSV or the
feedback changes nothing: the others were read before, and the results are written once, after the last grade. If a
submission changes the autograder zip itself, grading stops with an error.

Before grading, every notebook's assignment (in its metadata) is checked against the zip's: the zip of another
assignment stops the run with the files it does not fit.

Points. A question whose name starts with ``bonus_`` adds its points to the total but not to what is possible: the
CSV's ``possible`` and ``percent`` count the other questions only, so full marks on them are 100 %.

Feedback. With ``--feedback DIR`` every graded submission gets ``DIR/<student or file>.md``: each question's score,
every public test with its failure message, and every hidden test by number and points only (never its code or
message), with the rule it found broken, if any (autograd where the question forbids it …). The CSV links to it.
With ``--rendered DIR`` every graded submission is also written, as handed in and not run, to ``DIR/<same
name>.html``, for reading answers marked by hand.

Roster and deadlines. With ``--roster`` (a CSV with a ``student_id`` column and optionally ``name``), a submission
belongs to the student whose ID appears in its *file name* whole (the file names are what an LMS export
gives; notebook metadata is left alone because a student can edit it). Students without a submission get a row with
status ``missing``; submissions that match no student, or more than one, are graded and reported; of several
submissions by one student the latest counts and the others are reported as ``superseded``. The submission time is
taken from ``--manifest`` (a CSV with columns ``file`` and ``submitted_at``, ISO 8601) or else from the file's
modification time. A time without a time zone is read as UTC, and said so. With ``--deadline``, a late submission
loses ``--late-per-day`` percent of its score for every
started day, at most ``--late-cap`` percent; each adjustment is a column of the CSV.

Code in a submission still runs with this user's rights: it can read what this user can read. The instructor guide
says how to grade in Docker or on Gradescope, which isolate each submission completely.
"""


from __future__ import annotations

import argparse
import sys
import zipfile
from datetime import datetime
from pathlib import Path

from grading.autograder import assignment_name, hidden_lines, notebook_assignment, possible, questions
from grading.feedback import Row, write_csv, write_feedback, write_rendered
from grading.isolation import DEFAULT_MEMORY_GIB, DEFAULT_TIMEOUT_S, Grade, grade_all
from grading.roster import Selection, late_penalty, parse_time, read_roster, select, submission_times


def grade_rows(chosen: Selection, grades: dict[Path, Grade], roster: dict[str, str], times: dict[Path, datetime],
               deadline: datetime | None, per_day: float, cap: float) -> list[Row]:
    """One row per student of the roster without a submission, and one per graded submission with its lateness
    and notes, students first (by ID), then unmatched files."""
    rows = [Row(student, name, None, note="no submission") for student, name in roster.items()
            if student not in chosen.owner.values()]
    for submission in chosen.graded:
        student = chosen.owner.get(submission, "")
        days, penalty = late_penalty(times[submission], deadline, per_day, cap)
        note = chosen.notes.get(submission, "")
        earlier = [s.name for who, s in chosen.superseded if who == student]
        if earlier:
            note = f"latest of {len(earlier) + 1}; superseded: {', '.join(earlier)}"
        rows.append(Row(student, roster.get(student, ""), grades[submission], times[submission], days, penalty,
                        note))
    rows.sort(key=lambda row: (row.student_id == "", row.student_id, row.grade.submission if row.grade else ""))
    return rows


def notebooks(paths: list[Path]) -> list[Path]:
    """The submissions named: each notebook as given, and the ``.ipynb`` files directly in each folder, sorted."""
    found = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.glob("*.ipynb"))
            if not inside:
                raise ValueError(f"submissions: no .ipynb file in the folder {path}")
            found += inside
        elif path.suffix == ".zip":
            raise ValueError(f"submissions: {path} is a zip: the autograder zip comes first, then the notebooks; "
                             "from a zip that the notebook's export cell wrote, take out the .ipynb it holds")
        elif not path.is_file():
            raise ValueError(f"submissions: no such file or folder: {path}")
        else:
            found.append(path)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("autograder", type=Path, help="the autograder zip from `make assignments`")
    parser.add_argument("submissions", type=Path, nargs="+",
                        help="submitted notebooks (.ipynb), or folders of them; a student's export zip holds "
                             "the notebook, to be taken out first")
    parser.add_argument("--out", type=Path, required=True, help="the CSV of grades to write")
    parser.add_argument("--workers", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help=f"seconds allowed per submission (default {DEFAULT_TIMEOUT_S})")
    parser.add_argument("--memory", type=float, default=DEFAULT_MEMORY_GIB,
                        help=f"address space allowed per submission, GiB (default {DEFAULT_MEMORY_GIB:g})")
    parser.add_argument("--python", default=sys.executable,
                        help="the interpreter that grades (default: this one), e.g. a venv built from the zip")
    parser.add_argument("--feedback", type=Path, help="write one Markdown feedback file per submission here")
    parser.add_argument("--rendered", type=Path,
                        help="write each submission as handed in (not run) as HTML here, to read answers by hand")
    parser.add_argument("--roster", type=Path, help="CSV with a student_id column (and optionally name)")
    parser.add_argument("--manifest", type=Path, help="CSV with columns file and submitted_at (ISO 8601)")
    parser.add_argument("--deadline", help="ISO 8601 time after which a submission is late")
    parser.add_argument("--late-per-day", type=float, default=0.0, help="percent off per started day late")
    parser.add_argument("--late-cap", type=float, default=100.0, help="largest percent taken off for lateness")
    args = parser.parse_args(argv)
    if not 0 <= args.late_per_day <= 100 or not 0 <= args.late_cap <= 100:
        parser.error("--late-per-day and --late-cap: expected percentages between 0 and 100")
    if args.late_per_day and not args.deadline:
        parser.error("--late-per-day: a late penalty needs --deadline")
    try:  # a bad input is one line naming it, not a traceback
        if args.autograder.suffix != ".zip" or not args.autograder.is_file():
            raise ValueError(f"autograder: expected the autograder zip from `make assignments` first, got "
                             f"{args.autograder}")
        deadline = parse_time(args.deadline, "deadline") if args.deadline else None
        if args.deadline and datetime.fromisoformat(args.deadline.strip()).tzinfo is None:
            print(f"deadline {args.deadline!r} has no time zone: read as UTC", file=sys.stderr)
        points = questions(args.autograder)
        args.submissions = notebooks(args.submissions)
        expected = assignment_name(args.autograder)
        other = {path: found for path in args.submissions
                 if (found := notebook_assignment(path)) is not None and found != expected}
        if other:
            raise ValueError(f"autograder: {args.autograder.name} grades {expected!r}, but "
                             + ", ".join(f"{path.name} is {found!r}" for path, found in other.items())
                             + ": is it the zip of another assignment?")
        times = submission_times(args.submissions, args.manifest)
        roster = read_roster(args.roster) if args.roster else {}
    except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2

    chosen = select(args.submissions, roster, times)
    handed_in = {str(path): path.read_bytes() for path in chosen.graded} if args.rendered else {}
    grades = dict(zip(chosen.graded, grade_all(args.autograder, chosen.graded, args.timeout, workers=args.workers,
                                               memory_gib=args.memory, python=args.python)))
    rows = grade_rows(chosen, grades, roster, times, deadline, args.late_per_day, args.late_cap)
    if args.feedback:
        assignment = args.autograder.stem.removesuffix("-autograder")
        write_feedback(rows, points, assignment, hidden_lines(args.autograder), args.feedback, args.out.resolve().parent)
    if args.rendered:
        write_rendered(rows, handed_in, args.rendered)
    write_csv(rows, points, args.out)

    for row in rows:
        who = row.student_id or (row.grade.submission if row.grade else "")
        status = row.grade.status if row.grade else "missing"
        print(f"{who}: {row.total:g}/{possible(points):g} ({status}{', ' + row.note if row.note else ''})")
    if roster:
        missing = [s for s in roster if s not in chosen.owner.values()]
        unmatched = [s for s in args.submissions if s in chosen.notes]
        print(f"{len(roster) - len(missing)} of {len(roster)} students submitted; missing: {', '.join(missing) or 'none'}; "
              f"unmatched files: {', '.join(map(str, unmatched)) or 'none'}; "
              f"superseded files: {len(chosen.superseded)}")
    return 0
