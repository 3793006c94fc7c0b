"""The grader behind ``assignments/grade.py``, one module per role:

* :mod:`grading.autograder` — what an otter-grader autograder zip holds (questions, points, hidden tests);
* :mod:`grading.isolation` — grading each submission in its own directory, process group and limits;
* :mod:`grading.roster` — whose submission is whose, when it was handed in, and lateness;
* :mod:`grading.feedback` — the grade CSV and each student's Markdown feedback;
* :mod:`grading.cli` — the command line that puts them together.
"""
