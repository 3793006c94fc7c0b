"""The grader (assignments/grading) without otter: roster matching, submission times, late penalties, feedback and the
redaction of hidden tests, checked on synthetic grades (tests/grading runs the real autograders)."""

from __future__ import annotations

import csv
import json
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "assignments"))
from grading import autograder, cli, feedback, isolation, roster  # noqa: E402

TEST_FILE = '''from otter.test_files import test_case
OK_FORMAT = False
name = "q1"
points = 4

@test_case(points=None, hidden=False)
def test_public(f):
    assert f(1) == 2, "f(1) should be 2"

@test_case(points=None, hidden=True)
def test_hidden(f):
    assert f(10) == 20, "secret expectation for ten"
'''


def autograder_zip(tmp_path: Path, bonus: bool = False) -> Path:
    path = tmp_path / "hw-autograder.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("tests/q1.py", TEST_FILE)
        if bonus:
            archive.writestr("tests/bonus_q2.py", TEST_FILE.replace('"q1"', '"bonus_q2"').replace("= 4", "= 3"))
        archive.writestr("otter_config.json", json.dumps({"assignment_name": "hw"}))
    return path


def notebook_of(path: Path, assignment: str) -> Path:
    """A notebook as otter releases it: its assignment's name in its metadata."""
    path.write_text(json.dumps({"cells": [], "metadata": {"otter": {"assignment_name": assignment}},
                                "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_hidden_lines_are_the_hidden_cases_code_only(tmp_path):
    secret = autograder.hidden_lines(autograder_zip(tmp_path))
    assert 'assert f(10) == 20, "secret expectation for ten"' in secret
    assert 'assert f(1) == 2, "f(1) should be 2"' not in secret
    assert autograder.questions(autograder_zip(tmp_path)) == {"q1": 4.0}


def synthetic(label: str, score: float, message: str = "AssertionError: f(1) should be 2") -> isolation.Grade:
    cases = [{"hidden": False, "points": 2.0, "passed": score >= 2, "message": "" if score >= 2 else message},
             {"hidden": True, "points": 2.0, "passed": score >= 4, "message": ""}]
    return isolation.Grade(label, {"q1": score}, "graded", 1.0, cases={"q1": cases})


def test_feedback_shows_public_messages_and_hides_hidden_code():
    smuggled = 'Traceback\nassert f(10) == 20, "secret expectation for ten"\nValueError: nope'
    row = feedback.Row("s1", "Ada", synthetic("s1_hw.ipynb", 0.0, smuggled))
    text = feedback.feedback_text(row, {"q1": 4.0}, "hw", {'assert f(10) == 20, "secret expectation for ten"'})
    assert "public test 1 (2 points): failed" in text and "hidden test 2 (2 points): failed" in text
    assert "ValueError: nope" in text and "secret expectation" not in text
    assert "[line of a hidden test removed]" in text and "**Total: 0 of 4**" in text


def test_late_penalty_counts_started_days_up_to_the_cap():
    deadline = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert roster.late_penalty(deadline, deadline, 10, 30) == (0, 0.0)
    assert roster.late_penalty(deadline + timedelta(minutes=1), deadline, 10, 30) == (1, 10.0)
    assert roster.late_penalty(deadline + timedelta(days=1, hours=1), deadline, 10, 30) == (2, 20.0)
    assert roster.late_penalty(deadline + timedelta(days=9), deadline, 10, 30) == (9, 30.0)
    assert roster.late_penalty(deadline + timedelta(days=9), None, 10, 30) == (0, 0.0)


def test_owners_are_whole_tokens_of_the_file_name():
    students = {"s1": "", "s12": "", "12345": ""}
    assert roster.owners(Path("s12_hw.ipynb"), students) == ["s12"]
    assert roster.owners(Path("smith_12345_678_hw.ipynb"), students) == ["12345"]
    assert roster.owners(Path("hw-s1-s12.ipynb"), students) == ["s1", "s12"]
    assert roster.owners(Path("s123_hw.ipynb"), students) == []


def test_ids_with_dots_dashes_and_at_signs_match_whole(tmp_path):
    """LMS IDs such as j.doe, s-12 or an e-mail address hold characters that are not letters or digits: they match
    where they stand whole in the file name, and not inside a longer ID."""
    students = {"j.doe": "", "s-12": "", "ann@uni.edu": "", "doe": ""}
    assert roster.owners(Path("j.doe_rnn-bptt.ipynb"), students) == ["j.doe"]
    assert roster.owners(Path("hw_s-12.ipynb"), students) == ["s-12"]
    assert roster.owners(Path("s-123_hw.ipynb"), students) == []
    assert roster.owners(Path("ann@uni.edu - rnn-bptt.ipynb"), students) == ["ann@uni.edu"]
    assert roster.owners(Path("jj.doe_hw.ipynb"), students) == ["doe"]  # the ID "doe" stands whole after "."
    bad = tmp_path / "roster.csv"
    bad.write_text("student_id,name\na/b,Ann\nc,Cy\n")
    with pytest.warns(UserWarning, match="student_id 'a/b' holds a character no file name can"):
        assert roster.read_roster(bad) == {"a/b": "Ann", "c": "Cy"}


def test_roster_deadlines_duplicates_and_missing_students(tmp_path, monkeypatch):
    ag = autograder_zip(tmp_path)
    files = {name: tmp_path / name for name in
             ("s1_hw.ipynb", "s1_hw_v2.ipynb", "s2_hw.ipynb", "stranger.ipynb", "s1_s2_hw.ipynb")}
    for path in files.values():
        path.write_text("{}")
    (tmp_path / "roster.csv").write_text("student_id,name\ns1,Ada\ns2,Bob\ns3,Cy\n")
    (tmp_path / "manifest.csv").write_text(
        "file,submitted_at\ns1_hw.ipynb,2026-12-01T10:00:00+00:00\ns1_hw_v2.ipynb,2026-12-02T12:00:00+00:00\n"
        "s2_hw.ipynb,2026-11-30T09:00:00+00:00\nstranger.ipynb,2026-11-30T09:00:00+00:00\n"
        "s1_s2_hw.ipynb,2026-11-30T09:00:00+00:00\n")
    graded = []

    def fake_grade_all(autograder_path, submissions, timeout, **options):
        graded.extend(s.name for s in submissions)
        return [synthetic(str(s), 4.0 if "v2" in s.name or "s2_hw" == s.stem else 2.0) for s in submissions]

    monkeypatch.setattr(cli, "grade_all", fake_grade_all)
    out = tmp_path / "grades.csv"
    assert cli.main([str(ag), *map(str, files.values()), "--out", str(out), "--roster", str(tmp_path / "roster.csv"),
                       "--manifest", str(tmp_path / "manifest.csv"), "--deadline", "2026-12-01T00:00:00+00:00",
                       "--late-per-day", "10", "--late-cap", "15", "--feedback", str(tmp_path / "fb")]) == 0
    assert "s1_hw.ipynb" not in graded and len(graded) == 4  # the superseded file is not graded
    rows = {(r["student_id"], Path(r["submission"]).name): r for r in csv.DictReader(out.read_text().splitlines())}
    ada = rows["s1", "s1_hw_v2.ipynb"]
    assert (ada["days_late"], ada["penalty_percent"], ada["raw_total"], ada["total"]) == ("2", "15.0", "4.0", "3.4")
    assert "superseded: s1_hw.ipynb" in ada["note"] and ada["feedback"] == "fb/s1.md"
    bob = rows["s2", "s2_hw.ipynb"]
    assert (bob["days_late"], bob["total"], bob["status"]) == ("0", "4.0", "graded")
    assert rows["s3", ""]["status"] == "missing" and rows["s3", ""]["total"] == "0.0"
    assert "matches no student" in rows["", "stranger.ipynb"]["note"]
    assert "matches several students (s1, s2)" in rows["", "s1_s2_hw.ipynb"]["note"]
    assert (tmp_path / "fb" / "s1.md").read_text().startswith("# hw: feedback for Ada (s1)")


def test_the_command_line_names_a_bad_input_in_one_line_and_takes_a_folder(tmp_path, monkeypatch, capsys):
    ag = autograder_zip(tmp_path)
    folder = tmp_path / "export"
    folder.mkdir()
    for name in ("s1_hw.ipynb", "s2_hw.ipynb"):
        (folder / name).write_text("{}")
    (folder / "readme.txt").write_text("not a notebook")
    graded = []

    def fake_grade_all(autograder_path, submissions, timeout, **options):
        graded.extend(s.name for s in submissions)
        return [synthetic(str(s), 4.0) for s in submissions]

    monkeypatch.setattr(cli, "grade_all", fake_grade_all)
    out = str(tmp_path / "grades.csv")
    assert cli.main([str(ag), str(folder), "--out", out, "--deadline", "2026-12-01T23:59"]) == 0
    assert graded == ["s1_hw.ipynb", "s2_hw.ipynb"]  # the folder's notebooks, and nothing else
    assert "deadline '2026-12-01T23:59' has no time zone: read as UTC" in capsys.readouterr().err
    bad_roster = tmp_path / "roster.csv"
    bad_roster.write_text("id,name\n1,Ada\n")
    cases = {
        "roster: expected a CSV with a student_id column": [str(ag), str(folder), "--roster", str(bad_roster)],
        "deadline: expected an ISO 8601 time": [str(ag), str(folder), "--deadline", "friday"],
        "manifest: expected columns file and submitted_at": [str(ag), str(folder), "--manifest", str(bad_roster)],
        "autograder: expected the autograder zip from `make assignments` first, got":
            [str(folder / "s1_hw.ipynb"), str(ag)],
        "submissions: no such file or folder": [str(ag), str(tmp_path / "missing")],
        "take out the .ipynb it holds": [str(ag), str(ag)],
        "submissions: no .ipynb file in the folder": [str(ag), str(tmp_path / "fb_none")],
    }
    (tmp_path / "fb_none").mkdir()
    for message, argv in cases.items():
        assert cli.main([*argv, "--out", out]) == 2, message
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    with pytest.raises(SystemExit):
        cli.main([str(ag), str(folder), "--out", out, "--late-per-day", "10"])
    assert "--late-per-day: a late penalty needs --deadline" in capsys.readouterr().err


def test_bad_roster_manifest_and_deadline_are_named(tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("id,name\n1,Ada\n")
    with pytest.raises(ValueError, match="roster: expected a CSV with a student_id column"):
        roster.read_roster(bad)
    submission = tmp_path / "s1.ipynb"
    submission.write_text("{}")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("file,submitted_at\ns1.ipynb,yesterday\n")
    with pytest.raises(ValueError, match="manifest \\(s1.ipynb\\): expected an ISO 8601 time"):
        roster.submission_times([submission], manifest)
    with pytest.raises(ValueError, match="workers: expected an int >= 1, got 0"):
        isolation.grade_all(autograder_zip(tmp_path), [submission], 10, workers=0)


def test_a_kernel_that_does_not_start_is_retried_once_and_only_then(monkeypatch):
    calls = []

    def attempt(autograder, name, notebook, label, points, timeout, memory_gib, python):
        calls.append(timeout)
        if len(calls) == 1:
            return isolation.Grade(label, {"q1": 0.0}, "error", 61.0, "RuntimeError: Kernel didn't respond in 60 seconds")
        return isolation.Grade(label, {"q1": 4.0}, "graded", 9.0)

    monkeypatch.setattr(isolation, "_attempt", attempt)
    result = isolation.grade_one(b"", "s.ipynb", b"{}", "s.ipynb", {"q1": 4.0}, timeout=600)
    assert (result.status, result.total, result.seconds, calls) == ("graded", 4.0, 70.0, [600, 539.0])
    assert "did not start on the first try" in result.detail
    calls.clear()
    monkeypatch.setattr(isolation, "_attempt", lambda *a: calls.append(1) or isolation.Grade("s", {"q1": 0.0}, "error", 1.0,
                                                                                    "NameError: x"))
    assert isolation.grade_one(b"", "s.ipynb", b"{}", "s", {"q1": 4.0}, timeout=600).status == "error" and calls == [1]


def test_a_bonus_adds_to_the_score_not_to_what_is_possible(tmp_path, monkeypatch):
    ag = autograder_zip(tmp_path, bonus=True)
    points = autograder.questions(ag)
    assert points == {"bonus_q2": 3.0, "q1": 4.0} and autograder.possible(points) == 4.0
    submission = notebook_of(tmp_path / "s1_hw.ipynb", "hw")

    def fake_grade_all(autograder_path, submissions, timeout, **options):
        return [isolation.Grade(str(s), {"q1": 4.0, "bonus_q2": 3.0}, "graded", 1.0) for s in submissions]

    monkeypatch.setattr(cli, "grade_all", fake_grade_all)
    out = tmp_path / "grades.csv"
    assert cli.main([str(ag), str(submission), "--out", str(out), "--feedback", str(tmp_path / "fb")]) == 0
    (row,) = csv.DictReader(out.read_text().splitlines())
    assert (row["total"], row["possible"], row["percent"]) == ("7.0", "4.0", "175.0")
    text = (tmp_path / "fb" / "s1_hw.md").read_text()
    assert "**Total: 7 of 4** (bonus questions add to the total: bonus_q2)" in text and "| 3 (bonus) |" in text


def test_the_zip_of_another_assignment_stops_before_grading(tmp_path, monkeypatch, capsys):
    ag = autograder_zip(tmp_path)
    right, wrong = notebook_of(tmp_path / "s1_hw.ipynb", "hw"), notebook_of(tmp_path / "s2_hw.ipynb", "claims")
    monkeypatch.setattr(cli, "grade_all", lambda *args, **kwargs: pytest.fail("graded with the wrong zip"))
    assert cli.main([str(ag), str(right), str(wrong), "--out", str(tmp_path / "grades.csv")]) == 2
    err = capsys.readouterr().err
    assert "hw-autograder.zip grades 'hw', but s2_hw.ipynb is 'claims'" in err and "s1_hw" not in err
    assert not (tmp_path / "grades.csv").exists()


def test_a_hidden_test_names_the_rule_broken_and_nothing_else():
    message = ('Traceback (most recent call last):\n  File "tests/q1.py", line 9, in test_hidden\n'
               '    assert f(10) == 20, "secret expectation for ten"\n'
               'AssertionError: rule: f must not use autograd\nValueError: rule: assert f(10) == 20, "secret '
               'expectation for ten"')
    kept = isolation.rules(message)
    assert kept.splitlines() == ["rule: f must not use autograd",
                                 'rule: assert f(10) == 20, "secret expectation for ten"']
    grade = synthetic("s1_hw.ipynb", 2.0)
    grade.cases["q1"][1]["message"] = kept
    text = feedback.feedback_text(feedback.Row("s1", "", grade), {"q1": 4.0}, "hw",
                                  {'assert f(10) == 20, "secret expectation for ten"'})
    assert "hidden test 2 (2 points): failed\n  - rule: f must not use autograd" in text
    assert "secret expectation" not in text and "[line of a hidden test removed]" in text


def test_questions_in_the_assignments_order_and_what_a_rerun_leaves(tmp_path, monkeypatch):
    ag = autograder_zip(tmp_path, bonus=True)
    assert list(autograder.questions(ag)) == ["bonus_q2", "q1"]  # no recorded order: by name
    with zipfile.ZipFile(ag, "a") as archive:
        archive.writestr(autograder.QUESTION_ORDER, json.dumps(["q1", "bonus_q2"]))
    assert list(autograder.questions(ag)) == ["q1", "bonus_q2"]
    submissions = [notebook_of(tmp_path / f"{who}_hw.ipynb", "hw") for who in ("s1", "s2")]
    grades = [synthetic(str(submissions[0]), 1.0), isolation.Grade(str(submissions[1]), {"q1": 0.0, "bonus_q2": 0.0},
                                                                 "error", 2.0, "Traceback\nNotJSONError: bad file\n")]
    grades[0].scores["bonus_q2"] = 0.0
    grades[0].cases["q1"][0]["points"] = 1.0
    monkeypatch.setattr(cli, "grade_all", lambda *args, **kwargs: grades)
    fb, out = tmp_path / "fb", tmp_path / "grades.csv"
    fb.mkdir()
    (fb / "s9_hw.md").write_text("# hw: feedback for someone graded before\n")
    (fb / "notes.md").write_text("# my own notes\n")
    assert cli.main([str(ag), *map(str, submissions), "--out", str(out), "--feedback", str(fb)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert header[3:5] == ["q1", "bonus_q2"] and header[-1] == "detail"
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [row["detail"] for row in rows] == ["", "NotJSONError: bad file"]
    assert sorted(path.name for path in fb.iterdir()) == ["notes.md", "s1_hw.md", "s2_hw.md"]
    assert "public test 1 (1 point): failed" in (fb / "s1_hw.md").read_text()


def test_each_submission_rendered_as_handed_in_sanitised_even_if_grading_changes_the_file(tmp_path, monkeypatch):
    """``--rendered`` writes each graded notebook, as read before grading, to HTML named as its feedback; the
    student's answer is there, a script of the student's is not, and a file changed during grading changes nothing."""
    ag = autograder_zip(tmp_path)
    submissions = []
    for who in ("s1", "s2"):
        nb = {"cells": [{"cell_type": "markdown", "id": "answer", "metadata": {},
                         "source": f"My answer, by {who}: the interval excludes zero.\n\n<script>alert(1)</script>"}],
              "metadata": {"otter": {"assignment_name": "hw"}}, "nbformat": 4, "nbformat_minor": 5}
        path = tmp_path / f"{who}_hw.ipynb"
        path.write_text(json.dumps(nb))
        submissions.append(path)

    def fake_grade_all(autograder_path, graded, timeout, **options):
        submissions[1].write_text("{}")  # a submission that overwrites another's file while it is graded
        return [synthetic(str(s), 2.0) for s in graded]

    monkeypatch.setattr(cli, "grade_all", fake_grade_all)
    (tmp_path / "roster.csv").write_text("student_id,name\ns1,Ada\ns2,Bob\n")
    assert cli.main([str(ag), *map(str, submissions), "--out", str(tmp_path / "grades.csv"), "--roster",
                     str(tmp_path / "roster.csv"), "--rendered", str(tmp_path / "rendered")]) == 0
    assert sorted(p.name for p in (tmp_path / "rendered").iterdir()) == ["s1.html", "s2.html"]
    for who in ("s1", "s2"):
        html = (tmp_path / "rendered" / f"{who}.html").read_text()
        assert f"My answer, by {who}: the interval excludes zero." in html
        assert "<script>alert(1)</script>" not in html
