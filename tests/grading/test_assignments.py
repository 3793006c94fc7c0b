"""The assignments grade as they should, leak nothing, and the grader survives bad submissions.

Run by ``make grading`` after ``make assignments``, ``make book`` and ``make student-book``: it grades the built
autograders with ``otter run`` (through ``assignments/grade.py``) and scans the built student files and both books.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from unittest import mock

import nbclient
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "_build" / "assignments"
BOOKS = {"book": ROOT / "_build" / "html", "student book": ROOT / "_build" / "student" / "_build" / "html"}
NAMES = sorted(p.name for p in (ROOT / "assignments").iterdir() if (p / f"{p.name}.md").is_file())
TIMEOUT_S = 300
# The tests of the grader itself (time limits, hostile submissions, feedback) grade the assignment that runs fastest:
# what they check does not depend on which assignment it is.
FASTEST = "rnn-bptt"

sys.path.insert(0, str(ROOT / "assignments"))
sys.path.insert(0, str(ROOT / "tools"))
import build  # noqa: E402
from grading import autograder, cli, isolation  # noqa: E402
import publish  # noqa: E402


def built(name: str, kind: str) -> Path:
    """The built file of assignment ``name``: its autograder zip, student or solution notebook."""
    path = {"autograder": BUILT / name / f"{name}-autograder.zip",
            "student": BUILT / name / "student" / f"{name}.ipynb",
            "solution": BUILT / name / "solution" / f"{name}.ipynb"}[kind]
    if not path.is_file():
        pytest.fail(f"{path} is missing: run `make assignments` first")
    return path


def code_cells(master: Path) -> list[str]:
    """The sources of the master notebook's code cells."""
    return re.findall(r"```\{code-cell\} ipython3\n(.*?)```", master.read_text(), flags=re.S)


def secrets(name: str) -> dict[str, set[str]]:
    """Lines of the master that students must never see: solution lines and hidden tests.

    Only lines that appear nowhere in the rest of the master count (a line such as ``torch.manual_seed(seed)`` is
    also in the provided code), and only lines long enough to be distinctive."""
    master = ROOT / "assignments" / name / f"{name}.md"
    solution, hidden, public = set(), set(), []
    for cell in code_cells(master):
        lines = cell.splitlines()
        if lines and lines[0].strip() == "# HIDDEN":
            hidden.update(line.strip() for line in lines[1:])
            continue
        inside = False
        for line in lines:
            if line.strip() == "# BEGIN SOLUTION":
                inside = True
            elif line.strip() == "# END SOLUTION":
                inside = False
            elif inside:
                solution.add(line.strip())
            elif line.rstrip().endswith("# SOLUTION"):
                solution.add(line.strip())
            else:
                public.append(line)
    shown = "\n".join(public) + master.read_text().split("```{code-cell}")[0]
    keep = lambda lines: {line for line in lines if len(line) >= 16 and line not in shown}
    return {"solution": keep(solution), "hidden test": keep(hidden)}


def student_files(name: str) -> dict[Path, str]:
    files = {path: path.read_text(errors="replace") for path in (BUILT / name / "student").rglob("*") if path.is_file()}
    assert files, f"no student files for {name}"
    return files


def html_pages(book: str) -> dict[Path, str]:
    pages = {path: path.read_text(errors="replace") for path in BOOKS[book].rglob("*.html")}
    if not pages:
        pytest.fail(f"{BOOKS[book]} has no pages: run `make book` and `make student-book` first")
    return pages


def notebook_text(path: Path) -> str:
    """Every cell source and the metadata (where otter keeps public tests) of a notebook, as plain text."""
    nb = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in nb.cells) + json.dumps(nb.metadata, ensure_ascii=False)


def environment_of(zipped: Path) -> dict:
    """The conda environment an autograder zip asks for (its environment.yml)."""
    with zipfile.ZipFile(zipped) as archive:
        return yaml.safe_load(archive.read("environment.yml"))


@pytest.fixture(scope="module")
def zip_python(tmp_path_factory) -> str:
    """A Python environment built from nothing but an autograder zip, the way its setup describes: unpacked where
    Gradescope and otter's Docker image unpack it, then the Python version and pip requirements of its
    environment.yml, in a fresh virtual environment (conda and Docker are not on the CI machine; the paths under
    /autograder/source are mapped to the unpacked copy)."""
    root = tmp_path_factory.mktemp("gradescope")
    environments = {name: environment_of(built(name, "autograder")) for name in NAMES}
    first = environments[NAMES[0]]
    assert all(env == first for env in environments.values()), "the assignments ask for different environments"
    (conda_part, _, _, pip_part) = first["dependencies"]
    assert conda_part == f"python={sys.version_info.major}.{sys.version_info.minor}", conda_part
    source = root / "autograder" / "source"
    zipfile.ZipFile(built(NAMES[0], "autograder")).extractall(source)
    requirements = [line.replace("/autograder/source", str(source)) for line in pip_part["pip"]]
    venv = root / "otter-env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", *requirements], check=True)
    where = subprocess.run([python, "-c", "import gatedrnn, otter, torch; print(gatedrnn.__file__)"],
                           capture_output=True, text=True, check=True, cwd=root).stdout
    assert where.startswith(str(venv)), f"gatedrnn came from {where}, not from the zip's wheel"
    return python


@pytest.mark.parametrize("name", NAMES)
def test_the_zip_alone_grades_the_solution_to_full_marks_and_the_blank_to_zero(name, zip_python):
    zipped = built(name, "autograder")
    points = autograder.questions(zipped)
    assert len(points) >= 3, f"{name}: expected at least three graded questions, got {points}"
    with zipfile.ZipFile(zipped) as archive:
        assert f"files/{publish.WHEEL}" in archive.namelist()
    solution, blank = isolation.grade_all(zipped, [built(name, "solution"), built(name, "student")], TIMEOUT_S,
                                          workers=2, python=zip_python)
    assert solution.status == "graded" and solution.scores == points, solution
    assert blank.status == "graded" and set(blank.scores.values()) == {0.0}, blank


@pytest.mark.parametrize("name", NAMES)
def test_every_question_has_public_and_hidden_tests(name):
    master = (ROOT / "assignments" / name / f"{name}.md").read_text()
    sections = re.findall(r"# BEGIN QUESTION\nname: (\w+)\n(.*?)# END QUESTION", master, flags=re.S)
    # questions graded by hand (manual: true) have no tests
    hidden = {question: body.count("```{code-cell} ipython3\n# HIDDEN") for question, body in sections
              if not body.startswith("manual: true")}
    public = nbformat.read(built(name, "student"), as_version=4).metadata["otter"]["tests"]
    assert set(public) == set(hidden) == set(autograder.questions(built(name, "autograder")))
    assert min(hidden.values()) >= 1, f"{name}: a question without hidden tests: {hidden}"
    for question, source in public.items():
        assert "hidden=True" not in source and "@test_case" in source, f"{name}/{question}: public tests malformed"


@pytest.mark.parametrize("name", NAMES)
def test_no_solution_or_hidden_test_leaks_to_students(name):
    found = secrets(name)
    assert found["solution"] and found["hidden test"], f"{name}: the scan found nothing to look for"
    solution_text = notebook_text(built(name, "solution"))
    assert all(line in solution_text for line in found["solution"]), "positive control: solutions are in the key"
    places = {**student_files(name), **html_pages("book"), **html_pages("student book")}
    student_notebook = built(name, "student")
    places[student_notebook] = notebook_text(student_notebook)
    leaks = [(kind, line, str(path.relative_to(ROOT))) for kind, lines in found.items() for line in lines
             for path, text in places.items() if line in text]
    assert not leaks, f"{name}: {len(leaks)} leaks, first {leaks[:3]}"


def chapter_solution_lines() -> set[str]:
    """Distinctive code lines that the chapters write only inside gated exercise solutions (a line that any chapter
    also writes outside a solution, or prints from the package's source, is not the solution's to hide)."""
    solution = r"```\{solution-start\}.*?```\{solution-end\}"
    texts = [chapter.read_text() for chapter in (ROOT / "chapters").glob("*.md")]
    outside = "\n".join([re.sub(solution, "", text, flags=re.S) for text in texts]
                        + [path.read_text() for path in (ROOT / "code" / "gatedrnn").rglob("*.py")])
    lines = set()
    for block in (block for text in texts for block in re.findall(solution, text, flags=re.S)):
        for cell in re.findall(r"```\{code-cell\} ipython3\n(.*?)```", block, flags=re.S):
            lines.update(line.strip() for line in cell.splitlines()
                         if len(line.strip()) >= 24 and line.strip() not in outside)
    return lines


def test_student_book_has_no_exercise_solutions():
    solution_div = re.compile(r'class="[^"]*\bsolution\b')
    with_solutions = [path for path, text in html_pages("book").items() if solution_div.search(text)]
    assert len(with_solutions) >= 8, "positive control: the book shows solutions behind toggles"
    student = html_pages("student book")
    assert not [path for path, text in student.items() if solution_div.search(text)]
    for path in with_solutions:
        assert (BOOKS["student book"] / path.relative_to(BOOKS["book"])) in student, f"{path.name} missing"
    # the code of the solutions is nowhere in the student edition, not even in a copied source or notebook
    secret_lines = chapter_solution_lines()
    book_sources = "\n".join(path.read_text() for path in (BOOKS["book"] / "_sources").rglob("*.md"))
    assert len(secret_lines) >= 20, f"only {len(secret_lines)} solution lines found to look for"
    assert all(line in book_sources for line in secret_lines), "positive control: the full book has them"
    student_files = [path for path in BOOKS["student book"].rglob("*") if path.is_file()
                     and path.suffix in {".html", ".js", ".md", ".ipynb", ".txt", ".py"}]
    leaks = [(line, path.name) for path in student_files for line in secret_lines
             if line in path.read_text(errors="replace")]
    assert not leaks, f"{len(leaks)} solution lines in the student book, first {leaks[:3]}"


def blank_with_cell(name: str, source: str, where: Path, answers: bool = False) -> Path:
    """The blank student notebook of ``name`` with one extra code cell, saved as ``where``: after the first cell,
    or with ``answers``, after every cell that holds a template to fill in, so that its definitions replace the
    template's before any check runs (otter grades each question at its first check in the notebook)."""
    nb = nbformat.read(built(name, "student"), as_version=4)
    if not answers:
        nb.cells.insert(1, nbformat.v4.new_code_cell(source))
    else:
        templates = [index for index, cell in enumerate(nb.cells)
                     if cell.cell_type == "code" and re.search(r"^def \w+\(", cell.source, re.M)
                     and re.search(r"^\s+\.\.\.\s*$", cell.source, re.M)]
        assert templates, f"{name}: no template cell found in the student notebook"
        for index in reversed(templates):
            nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, where)
    return where


def test_an_endless_loop_scores_zero_within_the_time_limit(tmp_path):
    name = FASTEST
    looping = blank_with_cell(name, "while True:\n    pass", tmp_path / f"{name}.ipynb")
    (result,) = isolation.grade_all(built(name, "autograder"), [looping], timeout=20)
    assert result.status == "timeout" and result.total == 0
    assert result.seconds < 20 + 10


def test_a_kernel_slower_to_start_than_jupyter_waits_is_waited_for(tmp_path, monkeypatch):
    """A kernel that answers only after 8 s fails to start within a 3 s wait (both tries), and is graded within
    a 40 s one: the wait the grader gives (``KERNEL_START_S``, 240 s, where Jupyter gives 60) is the one used."""
    kernel = tmp_path / "jupyter" / "kernels" / "python3"
    kernel.mkdir(parents=True)
    launch = f'sleep 8; exec {sys.executable} -m ipykernel_launcher -f "$0"'
    (kernel / "kernel.json").write_text(json.dumps(
        {"argv": ["bash", "-c", launch, "{connection_file}"], "display_name": "slow", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    name = FASTEST
    assert isolation.KERNEL_START_S >= 4 * 60
    monkeypatch.setattr(isolation, "KERNEL_START_S", 3)
    (impatient,) = isolation.grade_all(built(name, "autograder"), [built(name, "student")], TIMEOUT_S)
    assert impatient.status == "error" and "Kernel didn't respond in 3 seconds" in impatient.detail
    assert "did not start on the first try" in impatient.detail
    monkeypatch.setattr(isolation, "KERNEL_START_S", 40)
    (patient,) = isolation.grade_all(built(name, "autograder"), [built(name, "student")], TIMEOUT_S)
    assert patient.status == "graded" and patient.seconds > 8, (patient.status, patient.detail)


def test_a_submission_cannot_change_the_autograder(tmp_path):
    name = FASTEST
    autograder = tmp_path / "autograder.zip"
    autograder.write_bytes(built(name, "autograder").read_bytes())
    vandal = blank_with_cell(name, f"open({str(autograder)!r}, 'ab').write(b'tests changed')",
                             tmp_path / f"{name}.ipynb")
    with pytest.raises(RuntimeError, match="changed while"):
        isolation.grade_all(autograder, [vandal, built(name, "solution")], TIMEOUT_S)


def test_a_submission_cannot_change_another_grade(tmp_path):
    name = FASTEST
    out = tmp_path / "grades.csv"
    solution = tmp_path / "other" / f"{name}.ipynb"
    solution.parent.mkdir()
    solution.write_bytes(built(name, "solution").read_bytes())
    vandal = blank_with_cell(name, f"open({str(out)!r}, 'w').write('all zero')", tmp_path / f"{name}.ipynb")
    assert cli.main([str(built(name, "autograder")), str(vandal), str(solution), "--out", str(out)]) == 0
    rows = {row["submission"]: row for row in csv.DictReader(out.read_text().splitlines())}
    assert (rows[str(vandal)]["total"], rows[str(vandal)]["status"]) == ("0.0", "graded"), rows
    assert (rows[str(solution)]["total"], rows[str(solution)]["status"]) == ("10.0", "graded"), rows


HOSTILE = {
    # forks children that would sleep for ten minutes; none may outlive the grading
    "fork": "import os\nfor _ in range(40):\n    if os.fork() == 0:\n        os.execvp('sleep', ['sleep', '600.4242'])",
    # asks for more memory than the limit allows
    "memory": "hog = bytearray(64 * 2**30)",
    # reads a hidden test from the autograder and tries to smuggle it out through a public test's message
    "smuggle": ("import glob, os, zipfile\nsecret = ''\nroot = os.environ.get('TMPDIR', '/tmp')\n"
                "for path in glob.glob(root + '/**/tests/rnn_forward.py', recursive=True):\n"
                "    secret += open(path).read()\n"
                "for path in glob.glob(root + '/**/*.zip', recursive=True):\n    try:\n"
                "        secret += zipfile.ZipFile(path).read('tests/rnn_forward.py').decode()\n"
                "    except Exception:\n        pass\n"
                "def rnn_forward(*args):\n    raise ValueError(secret)"),
}


def test_hostile_submissions_score_zero_in_parallel_and_harm_no_one(tmp_path):
    name = FASTEST
    other = tmp_path / f"s9_{name}.ipynb"
    other.write_bytes(built(name, "solution").read_bytes())
    submissions = [blank_with_cell(name, source, tmp_path / f"{label}_{name}.ipynb", answers=label == "smuggle")
                   for label, source in HOSTILE.items()]
    # overwrites a classmate's submission with a blank notebook before that one is graded
    submissions.insert(0, blank_with_cell(
        name, f"open({str(other)!r}, 'wb').write(open({str(tmp_path / f'fork_{name}.ipynb')!r}, 'rb').read())",
        tmp_path / f"vandal_{name}.ipynb"))
    (tmp_path / "corrupt.ipynb").write_bytes(built(name, "solution").read_bytes()[:500])
    (tmp_path / "text.ipynb").write_text("these are my answers")
    submissions += [tmp_path / "corrupt.ipynb", tmp_path / "text.ipynb", other]
    out, feedback = tmp_path / "grades.csv", tmp_path / "feedback"
    assert cli.main([str(built(name, "autograder")), *map(str, submissions), "--out", str(out), "--workers", "2",
                       "--timeout", str(TIMEOUT_S), "--memory", "6", "--feedback", str(feedback)]) == 0
    rows = {Path(row["submission"]).name: row for row in csv.DictReader(out.read_text().splitlines())}
    assert rows[other.name]["total"] == "10.0", rows[other.name]
    for submission in submissions[:-1]:
        assert rows[submission.name]["total"] == "0.0", rows[submission.name]
    assert {rows[f"{n}.ipynb"]["status"] for n in ("corrupt", "text")} == {"error"}
    leftovers = subprocess.run(["pgrep", "-f", "sleep 600.4242"], capture_output=True, text=True).stdout
    assert not leftovers.strip(), f"processes outlived their grading: {leftovers}"
    smuggler = (feedback / f"smuggle_{name}.md").read_text()
    hidden = secrets(name)["hidden test"] | autograder.hidden_lines(built(name, "autograder"))
    # the hidden test did reach the public test's message, and was removed line by line
    assert "[line of a hidden test removed]" in smuggler and not [line for line in hidden if line in smuggler]


def test_feedback_lists_every_test_and_hides_hidden_tests(tmp_path):
    name = FASTEST
    out, feedback = tmp_path / "grades.csv", tmp_path / "feedback"
    blank = tmp_path / f"s1_{name}.ipynb"
    blank.write_bytes(built(name, "student").read_bytes())
    assert cli.main([str(built(name, "autograder")), str(blank), "--out", str(out),
                       "--feedback", str(feedback)]) == 0
    text = (feedback / f"s1_{name}.md").read_text()
    (row,) = csv.DictReader(out.read_text().splitlines())
    assert row["feedback"] == f"feedback/s1_{name}.md"
    for question in autograder.questions(built(name, "autograder")):
        assert f"## {question}: 0 of" in text
    assert "public test 1" in text and "hidden test" in text and "failed" in text
    assert not [line for line in secrets(name)["hidden test"] if line in text]


FAKE_COLAB = """
import sys, types
message = types.ModuleType("google.colab._message")
message.blocking_request = lambda request: {"ipynb": {"cells": [], "metadata": {"saved": request},
                                                      "nbformat": 4, "nbformat_minor": 5}}
colab = types.ModuleType("google.colab")
colab._message = message
sys.modules.update({"google": types.ModuleType("google"), "google.colab": colab, "google.colab._message": message})
from IPython.core.interactiveshell import InteractiveShell
result = InteractiveShell.instance().run_cell(open("install.py").read())
assert result.success, result
"""


@pytest.mark.parametrize("name", NAMES)
def test_student_notebooks_install_what_they_need_and_save_themselves_on_colab(name, tmp_path):
    nb = nbformat.read(built(name, "student"), as_version=4)
    install, start = nb.cells[0], nb.cells[1]
    assert "otter-grader==7.0.0" in install.source and publish.WHEEL_URL in install.source
    assert f'_notebook = _this_notebook("{name}")' in start.source and "otter.Notebook(_notebook" in start.source
    assert not install.metadata["editable"] and not start.metadata["editable"]
    # Where everything is installed, the cell installs nothing; on (a stand-in for) Colab it saves the notebook,
    # which otter then opens to find the public tests.
    (tmp_path / "install.py").write_text(install.source)
    subprocess.run([sys.executable, "-c", FAKE_COLAB], cwd=tmp_path, check=True, timeout=120)
    assert json.loads((tmp_path / f"{name}.ipynb").read_text())["metadata"] == {"saved": "get_ipynb"}




# The install cell where PyTorch is missing, on Linux, with or without nvidia-smi: what it asks pip for.
NO_TORCH = """
import importlib.util, shutil, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
asked = []
shell.register_magic_function(asked.append, "line", "pip")
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *args: None if name in {missing!r} else find_spec(name, *args)
shutil.which = lambda command: {which!r}
sys.platform = "linux"
result = shell.run_cell(open("install.py").read())
print(repr((asked, repr(result.error_in_exec))))
"""


def test_without_pytorch_the_install_cell_asks_for_the_graders_version_as_a_cpu_build_without_a_gpu(tmp_path):
    """And an installation that fails says so in the install cell."""
    (torch_pin,) = build.pinned(("torch",))
    (tmp_path / "install.py").write_text(nbformat.read(built(FASTEST, "student"), as_version=4).cells[0].source)
    def install(which, missing):
        out = subprocess.run([sys.executable, "-c", NO_TORCH.format(which=which, missing=missing)], cwd=tmp_path,
                             check=True, capture_output=True, text=True, timeout=120).stdout
        return eval(out.strip().splitlines()[-1])

    asked, error = install(None, ("torch",))
    assert asked == [f'install --quiet "{torch_pin}" --index-url {build.CPU_TORCH_INDEX}'] and error == "None", asked
    asked, error = install("/usr/bin/nvidia-smi", ("torch",))
    assert [line.strip() for line in asked] == [f'install --quiet "{torch_pin}"'] and error == "None", asked
    # an installation that fails (offline, say) stops here, naming what is missing, not at the next cell's import
    asked, error = install(None, ("torch", "otter"))
    assert len(asked) == 2 and "RuntimeError('installing torch, otter failed (pip says why above)" in error, error


def run_without_a_session_name(nb: nbformat.NotebookNode, where: Path) -> None:
    """Execute ``nb`` in ``where`` in a kernel that is not told which notebook it runs (no ``JPY_SESSION_NAME``, as
    on Colab and in some Jupyter front ends), and fail on any cell's error."""
    env = {key: value for key, value in os.environ.items() if key != "JPY_SESSION_NAME"}
    client = nbclient.NotebookClient(nb, timeout=TIMEOUT_S, resources={"metadata": {"path": str(where)}})
    with mock.patch.dict(os.environ, env, clear=True):
        client.execute()
    errors = [output for cell in nb.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert not errors, errors


# A stand-in for Colab, run as a notebook's first cell: otter knows Colab by the class of the IPython shell
# (google.colab._shell.Shell), the notebook lives in the browser (``_message``) and ``files.download`` hands a file
# to the student. BROWSER is the notebook as the browser holds it; DOWNLOADS, where downloads land.
COLAB_CELL = """
import json, shutil, sys, types
message = types.ModuleType("google.colab._message")
message.blocking_request = lambda request: {{"ipynb": json.loads(open({browser!r}).read())}}
files = types.ModuleType("google.colab.files")
files.download = lambda path: shutil.copy(path, {downloads!r})
colab = types.ModuleType("google.colab")
colab._message, colab.files = message, files
sys.modules.update({{"google": types.ModuleType("google"), "google.colab": colab, "google.colab._message": message,
                    "google.colab.files": files}})
_shell = get_ipython()
_shell.__class__ = type("Shell", (type(_shell),), {{"__module__": "google.colab._shell"}})
"""


def test_on_colab_the_public_checks_run_and_the_notebook_is_downloaded(tmp_path):
    """On (a stand-in for) Colab, where otter refuses tests kept in the notebook and refuses to export, the answered
    notebook, opened from the browser with no file on disk, runs every public check and hands in the notebook as
    it is in the browser."""
    name = FASTEST
    browser, downloads = tmp_path / "browser.ipynb", tmp_path / "downloads"
    downloads.mkdir()
    work = tmp_path / "content"
    work.mkdir()
    browser.write_bytes(built(name, "solution").read_bytes())
    nb = nbformat.read(browser, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(COLAB_CELL.format(browser=str(browser), downloads=str(downloads))))
    nb.cells.append(nbformat.v4.new_code_cell('assert grader.interpreter.name == "COLAB", "otter did not see Colab"'))
    run_without_a_session_name(nb, work)
    checks = [cell for cell in nb.cells if cell.cell_type == "code" and "grader.check(" in cell.source]
    assert checks and all("passed" in json.dumps(cell.outputs) for cell in checks)
    assert sorted(path.stem for path in (work / f"tests-{name}").glob("*.py")) == sorted(
        autograder.questions(built(name, "autograder")))
    assert json.loads((downloads / f"{name}.ipynb").read_text()) == json.loads(browser.read_text())


# What a student could hand in for rnn-bptt without doing the work: the book's chapter 3 and the package hold the
# tanh RNN's forward and backward passes (alpha = 1), and autograd holds every gradient.
ATTACKS = {
    # the package's functions imported under other names, behind the assignment's signatures
    "renamed": ("from gatedrnn.instruments.bptt import rnn_forward as _forward, rnn_backward as _backward\n"
                "def rnn_forward(x, h0, W_ih, W_hh, b, alpha):\n    return _forward(x, h0, W_ih, W_hh, b)\n"
                "def rnn_backward(x, h0, states, W_ih, W_hh, g, alpha):\n"
                "    grads = _backward(g, x, h0, states, W_ih, W_hh)\n"
                "    return grads.weight_ih, grads.weight_hh, grads.bias, grads.h0"),
    # the code chapter 3 prints, copied and fitted to the signatures
    "copied": None,  # written from the package's source below
    # the right forward pass, and the gradients from autograd
    "autograd": ("def rnn_forward(x, h0, W_ih, W_hh, b, alpha):\n    states, h = [], h0\n    for x_t in x:\n"
                 "        h = (1 - alpha) * h + alpha * torch.tanh(x_t @ W_ih.T + h @ W_hh.T + b)\n"
                 "        states.append(h)\n    return torch.stack(states)\n"
                 "def rnn_backward(x, h0, states, W_ih, W_hh, g, alpha):\n"
                 "    params = [p.detach().clone().requires_grad_() for p in (W_ih, W_hh, h0)]\n"
                 "    b = torch.zeros(W_hh.shape[0], requires_grad=True)\n"
                 "    (rnn_forward(x, params[2], params[0], params[1], b, alpha) * g).sum().backward()\n"
                 "    return params[0].grad, params[1].grad, b.grad, params[2].grad"),
}


def copied_from_the_book() -> str:
    """Chapter 3's two functions as the book prints them (from the package's source), renamed to the assignment's
    and given its signatures."""
    import inspect

    from gatedrnn.instruments import bptt
    source = inspect.getsource(bptt.rnn_forward).replace("_check_shapes(x, h0, weight_ih, weight_hh, bias)", "pass")
    source += inspect.getsource(bptt.rnn_backward).replace("-> Gradients:", ":").replace(
        "return Gradients(", "return dict(").replace("delta=delta,", "")
    return ("from torch import Tensor\n"
            + source.replace("def rnn_forward(", "def _forward(").replace("def rnn_backward(", "def _backward(")
            + "def rnn_forward(x, h0, W_ih, W_hh, b, alpha):\n    return _forward(x, h0, W_ih, W_hh, b)\n"
            + "def rnn_backward(x, h0, states, W_ih, W_hh, g, alpha):\n"
            + "    d = _backward(g, x, h0, states, W_ih, W_hh)\n"
            + "    return d['weight_ih'], d['weight_hh'], d['bias'], d['h0']\n")


def graded_answers(name: str, sources: dict[str, str], tmp_path: Path) -> tuple[dict[str, dict], Path]:
    """Grade one notebook per source (its definitions in place of the templates, see :func:`blank_with_cell`),
    two at a time, with feedback; returns the CSV rows by label and the feedback folder."""
    submissions = [blank_with_cell(name, "import torch\n" + source, tmp_path / f"{label}_{name}.ipynb", answers=True)
                   for label, source in sources.items()]
    out, feedback = tmp_path / "grades.csv", tmp_path / "feedback"
    assert cli.main([str(built(name, "autograder")), *map(str, submissions), "--out", str(out), "--workers", "2",
                       "--timeout", str(TIMEOUT_S), "--feedback", str(feedback)]) == 0
    rows = {Path(row["submission"]).name.split("_")[0]: row for row in csv.DictReader(out.read_text().splitlines())}
    return rows, feedback


def test_answers_from_the_book_the_package_or_autograd_do_not_pass(tmp_path):
    """The renaming attack and the copy from the book score nothing on the backward pass, public or hidden; the
    autograd answer fails the public check already, which names the rule, as does the hidden test's feedback."""
    name = "rnn-bptt"
    rows, feedback = graded_answers(name, {label: source or copied_from_the_book() for label, source in ATTACKS.items()},
                                    tmp_path)
    for label, row in rows.items():
        assert row["status"] == "graded" and float(row["rnn_backward"]) == 0.0, (label, row)
    assert float(rows["autograd"]["rnn_forward"]) == 2.0  # its forward pass is right: the rule alone costs it
    assert float(rows["renamed"]["rnn_forward"]) < 2.0 and float(rows["copied"]["rnn_forward"]) < 2.0
    text = (feedback / f"autograd_{name}.md").read_text()
    public, hidden = text.split("## rnn_backward")[1].split("hidden test", 1)
    assert "rule: rnn_backward must not use autograd" in public and "rule: rnn_backward must not use" in hidden
    assert not [line for line in secrets(name)["hidden test"] if line in text]


def test_a_bonus_adds_to_full_marks():
    points = autograder.questions(built("rnn-bptt", "autograder"))
    assert autograder.possible(points) == 7.0 and sum(points.values()) == 10.0, points
    assert [question for question in points if autograder.is_bonus(question)] == ["bonus_lstm_step_backward"]


def test_the_zip_of_another_assignment_stops_before_grading(tmp_path, capsys):
    out = tmp_path / "grades.csv"
    assert cli.main([str(built("claims", "autograder")), str(built("rnn-bptt", "student")), "--out", str(out)]) == 2
    assert "claims-autograder.zip grades 'claims', but rnn-bptt.ipynb is 'rnn-bptt'" in capsys.readouterr().err
    assert not out.exists()


def test_a_renamed_notebook_checks_and_exports_itself(tmp_path):
    """A browser's second download ("rnn-bptt (1).ipynb"), beside another notebook, in a kernel that does not say
    which notebook it runs: every check runs (no NameError), and the export cell writes a zip of this notebook,
    without LaTeX."""
    name = FASTEST
    notebook = tmp_path / f"{name} (1).ipynb"
    notebook.write_bytes(built(name, "student").read_bytes())
    (tmp_path / "notes.ipynb").write_text(json.dumps(nbformat.v4.new_notebook()))
    nb = nbformat.read(notebook, as_version=4)
    run_without_a_session_name(nb, tmp_path)
    (export,) = tmp_path.glob("*.zip")
    with zipfile.ZipFile(export) as archive:
        assert notebook.name in archive.namelist() and not any(n.endswith(".pdf") for n in archive.namelist())


CELL_ATTACKS = {
    # the package's LSTM step, imported under another name, fed the multiplicative input: the cell done right, by
    # the package; and its GRU step for the minimal gated unit
    "renamed": ("from gatedrnn.nn.cells import lstm_step as _step, gru_step as _gru\n"
                "def mlstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh, W_mx, W_mh):\n"
                "    return _step(x @ W_ih.T + b_ih, (x @ W_mx.T) * (h @ W_mh.T), c, W_hh, b_hh)\n"
                "def mgu_cell(x, h, W_ih, W_hh, b_ih, b_hh):\n    return _gru(x @ W_ih.T + b_ih, h, W_hh, b_hh)\n"
                "def mlstm_layer(xs, h0, c0, *weights):\n    h, c, out = h0, c0, []\n    for x in xs:\n"
                "        h, c = mlstm_cell(x, h, c, *weights)\n        out.append(h)\n"
                "    return torch.stack(out), (h, c)"),
    # the LSTM and GRU steps as the book prints them (the package's source), fitted to the signatures
    "copied": None,
}


def cells_copied_from_the_book() -> str:
    import inspect

    from gatedrnn.nn import cells
    source = "\n".join(inspect.getsource(f) for f in (cells.lstm_gates, cells.lstm_step, cells.gru_gates, cells.gru_step))
    return ("import torch.nn.functional as F\nfrom torch import Tensor\n" + source
            + "def mlstm_cell(x, h, c, W_ih, W_hh, b_ih, b_hh, W_mx, W_mh):\n"
            + "    return lstm_step(x @ W_ih.T + b_ih, h, c, W_hh, b_hh)\n"
            + "def mgu_cell(x, h, W_ih, W_hh, b_ih, b_hh):\n    return gru_step(x @ W_ih.T + b_ih, h, W_hh, b_hh)\n")


def test_cells_from_the_book_or_the_package_do_not_pass(tmp_path):
    """The package's LSTM step under another name is refused (its code is swapped, whatever it is called), and the
    book's LSTM and GRU steps, copied, are not these cells."""
    name = "lstm-gru-cells"
    rows, feedback = graded_answers(
        name, {label: source or cells_copied_from_the_book() for label, source in CELL_ATTACKS.items()}, tmp_path)
    for label, row in rows.items():
        assert row["status"] == "graded", (label, row)
        assert float(row["mlstm_cell"]) == 0.0 and float(row["mgu_cell"]) == 0.0, (label, row)
    assert float(rows["renamed"]["mlstm_layer"]) == 0.0, rows["renamed"]
    # the copied cells' layer is consistent with those cells (the public check): at most that case's point
    assert float(rows["copied"]["total"]) <= 1.0, rows["copied"]
    text = (feedback / f"renamed_{name}.md").read_text()
    assert "rule: mlstm_cell must be written with tensor arithmetic" in text


# What a student could hand in for diagnose-training from the book and the package: chapter 4's measurement (which
# the assignment asks them to use), with the fixes chapters 5 to 7 print in place of the ones the assignment asks for.
MEASURED = ("def gradient_factor(model, T, seed):\n"
            "    x, y = tasks.adding_problem(T, BATCH, generator=torch.Generator().manual_seed(seed))\n"
            "    norms = gatedrnn.grad_norms_through_time(model.rnn, x, lambda out: tasks.adding_loss(model.readout(out[-1]), y))\n"
            "    return gatedrnn.decay_factor(norms)\n"
            "def diagnose(model, T, seed):\n"
            "    return 'exploding' if gradient_factor(model, T, seed) > 1 else 'vanishing'\n")
DIAGNOSE_ATTACKS = {
    # chapter 5's norm clipping at the threshold, and chapter 6's forget bias of 1, imported under other names
    "book": (MEASURED + "from gatedrnn.experiments.clipping import clip_by_norm_ as _clip\n"
             "from gatedrnn.nn.initialisation import forget_gate_bias_ as _forget\n"
             "def adaptive_clip_(parameters, lam, eps=1e-3):\n    return int(_clip(list(parameters), lam) > lam)\n"
             "def retention_bias(T, keep):\n    return 1.0\n"
             "def fixed_model(seed):\n    model = vanishing_model(seed)\n    _forget(model.rnn, 1.0)\n"
             "    return model\n"),
    # PyTorch's value clipping, and the package's chrono initialisation over run B's length
    "package": (MEASURED + "from gatedrnn.nn.initialisation import chrono_bias_ as _chrono\n"
                "def adaptive_clip_(parameters, lam, eps=1e-3):\n"
                "    torch.nn.utils.clip_grad_value_(list(parameters), lam)\n    return 1\n"
                "def retention_bias(T, keep):\n    return math.log(T - 1)\n"
                "def fixed_model(seed):\n    model = vanishing_model(seed)\n"
                "    _chrono(model.rnn, 20.0, generator=torch.Generator().manual_seed(seed))\n    return model\n"),
}


def test_fixes_from_the_book_or_the_package_do_not_pass(tmp_path):
    """diagnose-training asks for a clipping rule and a forget bias that the book does not print: the book's own
    fixes (norm clipping, a forget bias of 1) and the package's (value clipping, chrono initialisation), under any
    name, score nothing on those two questions, though each rescues its run; the measurement the assignment asks
    the student to use scores in full."""
    name = "diagnose-training"
    rows, feedback = graded_answers(name, DIAGNOSE_ATTACKS, tmp_path)
    for label, row in rows.items():
        assert row["status"] == "graded", (label, row)
        assert float(row["diagnose"]) == 3.0, (label, row)
        assert float(row["adaptive_clipping"]) == 0.0 and float(row["fix_vanishing"]) == 0.0, (label, row)
    text = (feedback / f"book_{name}.md").read_text()
    assert "rule: adaptive_clip_ must bound each unit's gradient by that unit's own weights" in text
    assert not [line for line in secrets(name)["hidden test"] if line in text]


def test_neither_the_book_nor_the_package_computes_the_claims_statistic():
    """claims' question 3 asks for a percentile bootstrap interval of a difference of medians: no module of the
    package and no chapter's code computes one, so there is nothing to import or copy (its five claims are ones the
    book does not test, so its experiment cannot be copied from a chapter either)."""
    pattern = re.compile(r"bootstrap|resampl", re.I)
    assert any(pattern.search(cell) for cell in code_cells(ROOT / "assignments" / "claims" / "claims.md"))
    sources = {path: path.read_text() for path in (ROOT / "code" / "gatedrnn").rglob("*.py")}
    sources.update({path: "\n".join(code_cells(path)) for path in (ROOT / "chapters").glob("*.md")})
    assert len(sources) > 40
    found = sorted(path.name for path, text in sources.items() if pattern.search(text))
    assert not found, f"a bootstrap in {found}: claims' question 3 would be answered by the book"
