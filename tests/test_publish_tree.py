"""The published tree (tools/publish.py) from stand-in builds: both editions, or the student edition alone.

While an exercise sheet is open a teacher publishes the student edition only: the tree must then hold no page and
no notebook of the main edition (which shows the solutions), and the student edition where it always is, so that
its links, its Colab buttons and its notebooks' links still hold.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import publish  # noqa: E402


@pytest.fixture
def builds(tmp_path, monkeypatch):
    """Two stand-in builds, each with its pages and the notebooks it wrote, and the tree published from them."""
    build = tmp_path / "_build"
    for edition, tree in (("main", build / "html"), ("student", build / "student" / "_build" / "html")):
        (tree / "chapters").mkdir(parents=True)
        (tree / "index.html").write_text(f"<p>{edition}</p>")
        for page in publish.chapters():
            relative = page.relative_to(publish.ROOT)
            (tree / relative.with_suffix(".html")).write_text(f"<p>{edition}</p>")
            notebook = tree / "_sources" / relative.with_suffix(".ipynb")
            notebook.parent.mkdir(parents=True, exist_ok=True)
            notebook.write_text(f'{{"edition": "{edition}"}}')
    monkeypatch.setattr(publish, "BUILD", build)
    monkeypatch.setattr(publish, "PUBLISH", build / "publish")
    monkeypatch.setattr(publish, "build_wheel", lambda folder: folder.mkdir(parents=True) or folder / "wheel")
    return build / "publish"


def test_both_editions(builds):
    publish.assemble()
    lstm = Path("chapters") / "lstm.ipynb"
    assert (builds / "index.html").read_text() == "<p>main</p>"
    assert (builds / "student" / "index.html").read_text() == "<p>student</p>"
    assert (builds / "notebooks" / lstm).read_text() == '{"edition": "main"}'
    assert (builds / "notebooks" / "student" / lstm).read_text() == '{"edition": "student"}'


def test_student_edition_alone(builds):
    publish.assemble(student_only=True)
    texts = {path.relative_to(builds): path.read_text() for path in builds.rglob("*") if path.is_file()}
    assert not [path for path, text in texts.items() if "main" in text], "a page or notebook of the main edition"
    assert "url=student/index.html" in texts[Path("index.html")]
    assert texts[Path("student/chapters/lstm.html")] == "<p>student</p>"
    assert texts[Path("notebooks/student/chapters/lstm.ipynb")] == '{"edition": "student"}'
    assert not (builds / "chapters").exists() and not (builds / "notebooks" / "chapters").exists()
