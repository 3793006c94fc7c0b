"""Assemble the published tree of the book, and keep every chapter's install cell in step with it.

    python tools/publish.py                 write _build/publish/ from the builds (``make publish`` runs this);
                                            GATEDRNN_PUBLISH_ONLY=student: the student edition alone
    python tools/publish.py install-cells   write the install cell at the top of every chapter
    python tools/publish.py check           fail if a chapter's install cell differs from the one written here

The published tree, exactly what is deployed:

    index.html, chapters/, _static/ ...   the book (``_build/html``)
    student/                              the student edition (``_build/student/_build/html``)
    notebooks/chapters/<name>.ipynb       every chapter's executed notebook, outputs kept, its prose as on the page
    notebooks/student/chapters/<name>.ipynb   the same without the exercise solutions (the student edition's)
    wheels/gatedrnn-<version>-py3-none-any.whl   the package the notebooks install outside the repository

The site's address (``html_baseurl`` in ``_config.yml``) and the package's version (``gatedrnn.__version__``) are
read from their one source; the install cell, the wheel's address and the notebooks' Colab links follow from them.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "_build"
PUBLISH = BUILD / "publish"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
BASE_URL = CONFIG["sphinx"]["config"]["html_baseurl"]
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "code" / "gatedrnn" / "__init__.py").read_text())[1]
WHEEL = f"gatedrnn-{VERSION}-py3-none-any.whl"
WHEEL_URL = f"{BASE_URL}wheels/{WHEEL}"

# The first cell of every chapter. In the book's own environment gatedrnn is importable and the cell does nothing;
# on Colab, on Binder or in a downloaded notebook it installs the package the book was built with. GATEDRNN_WHEEL
# points it at another build of the package (a file:// or https:// address of a wheel).
INSTALL_CELL = f"""```{{code-cell}} ipython3
:tags: [remove-cell]

# Outside the book's repository (Colab, Binder, a downloaded notebook) this installs the book's package first.
import importlib.util, os
_wheel = os.environ.get("GATEDRNN_WHEEL", "{WHEEL_URL}")
if importlib.util.find_spec("gatedrnn") is None:
    %pip install --quiet "gatedrnn[data] @ {{_wheel}}"
```
"""
FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n\n", re.S)


def chapters() -> list[Path]:
    """The pages of ``_toc.yml`` that hold code, in the book's order."""
    pages = [ROOT / f"{TOC['root']}.md"]
    pages += [ROOT / f"{chapter['file']}.md" for part in TOC["parts"] for chapter in part["chapters"]]
    return [page for page in pages if "{code-cell}" in page.read_text()]


def with_install_cell(text: str) -> str:
    """The chapter's text with the install cell right after its front matter (replacing an older one)."""
    front = FRONT_MATTER.match(text)
    if front is None:
        raise ValueError("a chapter must start with jupytext front matter followed by a blank line")
    body = text[front.end():]
    if body.startswith("```{code-cell} ipython3\n:tags: [remove-cell]\n\n# Outside the book's repository"):
        body = body[body.index("```\n", 3) + 4:].lstrip("\n")
    return front.group() + INSTALL_CELL + "\n" + body


def write_install_cells() -> None:
    for page in chapters():
        page.write_text(with_install_cell(page.read_text()))


def check_install_cells() -> list[str]:
    """The chapters whose install cell is missing or differs from ``INSTALL_CELL``."""
    return [page.stem for page in chapters() if with_install_cell(page.read_text()) != page.read_text()]


def build_wheel(destination: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(destination),
                    str(ROOT / "code")], check=True)
    wheel = destination / WHEEL
    if not wheel.exists():
        raise FileNotFoundError(f"pip wheel did not write {wheel}")
    return wheel


# The redirect at the site's root when only the student edition is published.
TO_STUDENT = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Student edition</title>'
              '<meta http-equiv="refresh" content="0; url=student/index.html"></head>'
              '<body><a href="student/index.html">The student edition</a></body></html>\n')


def assemble(student_only: bool = False) -> None:
    """Write ``_build/publish`` from the two builds and their notebooks. With ``student_only`` (while an exercise
    sheet is open) the tree holds the student edition and its notebooks alone, where they always are, and the
    site's root leads to it: no solution is published, and every link of that edition still holds."""
    book, student = BUILD / "html", BUILD / "student" / "_build" / "html"
    editions = {student: (PUBLISH / "student", PUBLISH / "notebooks" / "student")}
    if not student_only:
        editions = {book: (PUBLISH, PUBLISH / "notebooks"), **editions}
    for tree in editions:
        if not (tree / "index.html").exists():
            raise FileNotFoundError(f"{tree} holds no built book: run make book and make student-book first")
    shutil.rmtree(PUBLISH, ignore_errors=True)
    for tree, (site, notebooks) in editions.items():
        shutil.copytree(tree, site, ignore=shutil.ignore_patterns(".buildinfo", ".doctrees"), dirs_exist_ok=True)
        # Each edition's build wrote its notebooks into its _sources/ (tools/jupyter_markdown.py).
        for page in chapters():
            relative = page.relative_to(ROOT).with_suffix(".ipynb")
            source = tree / "_sources" / relative
            if not source.is_file():
                raise FileNotFoundError(f"{source} is missing: the build did not write the chapter's notebook")
            (notebooks / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, notebooks / relative)
    if student_only:
        (PUBLISH / "index.html").write_text(TO_STUDENT)
    build_wheel(PUBLISH / "wheels")
    # GitHub Pages would otherwise run Jekyll, which drops the folders whose names start with "_" (_static).
    (PUBLISH / ".nojekyll").touch()
    size = sum(path.stat().st_size for path in PUBLISH.rglob("*") if path.is_file())
    pages = len(list(PUBLISH.glob("chapters/*.html"))) + len(list(PUBLISH.glob("student/chapters/*.html")))
    print(f"published {pages} chapter pages and {len(editions) * len(chapters())} notebooks "
          f"({'the student edition alone' if student_only else 'both editions'}), and {WHEEL} "
          f"in {PUBLISH}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "assemble"
    if command == "install-cells":
        write_install_cells()
    elif command == "check":
        stale = check_install_cells()
        if stale:
            sys.exit(f"install cell missing or stale in: {', '.join(stale)} (run python tools/publish.py install-cells)")
    elif command == "assemble":
        only = os.environ.get("GATEDRNN_PUBLISH_ONLY", "")
        if only not in ("", "student"):
            sys.exit(f"GATEDRNN_PUBLISH_ONLY: expected student or nothing, got {only!r}")
        assemble(student_only=only == "student")
    else:
        sys.exit(f"unknown command {command!r}: expected assemble, install-cells or check")
