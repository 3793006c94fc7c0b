"""The published notebooks are the executed chapters: every code cell ran, and the results are there to read.

A reader who opens a chapter on Colab, or downloads it, sees its results before running anything. MyST-NB 1.4 once
wrote these notebooks without a single output when the build took them from the execution cache; nbval, which
compares a re-execution with them, then compared nothing. This fails on such a tree.
"""

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
import publish  # noqa: E402

PUBLISH = Path(os.environ.get("GATEDRNN_PUBLISH_DIR", publish.PUBLISH)).resolve()
CHAPTERS = [page.relative_to(publish.ROOT).with_suffix(".ipynb") for page in publish.chapters()]


@pytest.mark.parametrize("notebook", CHAPTERS, ids=[path.stem for path in CHAPTERS])
def test_published_notebook_is_executed(notebook):
    path = PUBLISH / "notebooks" / notebook
    if not path.is_file():
        pytest.fail(f"{path} does not exist: run `make publish` first", pytrace=False)
    cells = [cell for cell in json.loads(path.read_text())["cells"] if cell["cell_type"] == "code"]
    not_run = [index for index, cell in enumerate(cells) if cell.get("execution_count") is None]
    assert not not_run, f"{notebook}: code cells {not_run} were never executed"
    assert any(cell["outputs"] for cell in cells), f"{notebook}: no cell has an output"
    assert "find_spec(\"gatedrnn\")" in "".join(cells[0]["source"]), f"{notebook} does not begin with the install cell"


def test_every_chapter_is_published():
    published = sorted(path.relative_to(PUBLISH / "notebooks") for path in (PUBLISH / "notebooks").rglob("*.ipynb"))
    assert published == sorted([*CHAPTERS, *(Path("student") / path for path in CHAPTERS)])
