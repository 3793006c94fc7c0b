"""The GitHub Actions workflows: actionlint finds nothing in them, and the book workflow deploys what `make publish`
writes.

actionlint is the binary that requirements.txt installs next to the environment's Python (``.venv/bin/actionlint``).
It runs shellcheck on the ``run:`` scripts when shellcheck is on PATH (as on GitHub's runners), and skips that check
otherwise.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
# Not resolved: in a virtual environment sys.executable is a link into the base Python, and actionlint lies beside
# the link.
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    if not ACTIONLINT.is_file():
        pytest.fail(f"actionlint is missing: no {ACTIONLINT}. It is installed by requirements.txt "
                    "(`make install`), whose actionlint package ships the binary in its wheel.", pytrace=False)
    return subprocess.run([str(ACTIONLINT), "-no-color", *map(str, paths)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def steps(workflow: dict) -> list[tuple[str, dict]]:
    """Every step of every job, with its job's name."""
    return [(name, step) for name, job in workflow["jobs"].items() for step in job.get("steps", [])]


@pytest.fixture(scope="module")
def book() -> dict:
    return yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())


def test_there_are_workflows():
    assert {path.name for path in WORKFLOWS} >= {"book.yml", "test.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_actionlint_finds_nothing(workflow):
    result = actionlint(workflow)
    assert result.returncode == 0, f"actionlint on {workflow.name}:\n{result.stdout}{result.stderr}"


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The check above can fail: an unknown key and a misspelt expression are reported."""
    broken = tmp_path / "broken.yml"
    broken.write_text((ROOT / ".github" / "workflows" / "test.yml").read_text()
                      .replace("timeout-minutes: 60", "timeout-minutes: 60\n    timeout-hours: 1")
                      .replace("github.event.pull_request.number", "github.event.pull_request.numbr ||| 1"))
    result = actionlint(broken)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "timeout-hours" in result.stdout and "|||" in result.stdout, result.stdout


def test_book_is_built_by_make_publish_once(book):
    runs = [(job, step["run"]) for job, step in steps(book) if "run" in step]
    publish = [(job, run) for job, run in runs if re.search(r"\bmake\s+publish\b", run)]
    assert len(publish) == 1 and len(re.findall(r"\bmake\s+publish\b", publish[0][1])) == 1, runs
    # No other make target: the deployed tree is what `make publish` wrote, nothing else builds into it.
    assert not [run for job, run in runs if re.search(r"\bmake\b", run) and (job, run) not in publish], runs


def test_pages_get_the_published_tree(book):
    uploads = [(job, step) for job, step in steps(book)
               if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert len(uploads) == 1, uploads
    job, upload = uploads[0]
    assert upload["with"]["path"] == "_build/publish"
    publish = next(i for i, (_, step) in enumerate(steps(book)) if "make publish" in step.get("run", ""))
    assert steps(book).index((job, upload)) > publish, "the Pages artifact is uploaded before the build"
    deploy = [name for name, step in steps(book) if step.get("uses", "").startswith("actions/deploy-pages@")]
    assert len(deploy) == 1 and book["jobs"][deploy[0]]["needs"] == job
    assert book["jobs"][deploy[0]]["environment"]["name"] == "github-pages"
    assert book["jobs"][deploy[0]]["permissions"] == {"pages": "write", "id-token": "write"}


def test_failed_chapters_leave_their_reports():
    for workflow in ("book.yml", "test.yml"):
        text = (ROOT / ".github" / "workflows" / workflow).read_text()
        kept = [step for _, step in steps(yaml.safe_load(text))
                if step.get("uses", "").startswith("actions/upload-artifact@") and step.get("if") == "failure()"]
        assert len(kept) == 1, workflow
        paths = set(kept[0]["with"]["path"].split())
        assert {"_build/html/reports/", "_build/jupyter_execute/"} <= paths, workflow
