"""Build every assignment: ``make assignments`` runs this.

For each ``assignments/<name>/<name>.md`` (an otter-grader master notebook in jupytext's MyST form) it writes, under
``_build/assignments/<name>/``:

- ``student/<name>.ipynb``: the notebook to release, without solutions or hidden tests;
- ``<name>-autograder.zip``: the autograder for ``otter run`` and ``assignments/grade.py``;
- ``solution/<name>.ipynb``: the reference solution, for instructors.

``otter assign`` runs the reference solution against all of its tests, public and hidden, and fails if one fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "assignments"
OUTPUT = ROOT / "_build" / "assignments"


def masters() -> list[Path]:
    """Every assignment's master notebook, ``assignments/<name>/<name>.md``."""
    found = sorted(path / f"{path.name}.md" for path in SOURCE.iterdir() if (path / f"{path.name}.md").is_file())
    if not found:
        raise FileNotFoundError(f"no assignments/<name>/<name>.md under {SOURCE}")
    return found


def build(master: Path) -> Path:
    """Convert ``master`` to a notebook, run ``otter assign`` on it, and lay out its products; returns the folder."""
    name = master.stem
    out = OUTPUT / name
    shutil.rmtree(out, ignore_errors=True)
    (out / "master").mkdir(parents=True)
    notebook = out / "master" / f"{name}.ipynb"
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "jupytext", "--quiet", "--to", "ipynb", master, "-o", notebook], check=True)
    subprocess.run([bin_dir / "otter", "assign", notebook, out / "dist"], check=True, cwd=master.parent)
    (zip_file,) = (out / "dist" / "autograder").glob(f"{name}-autograder_*.zip")
    shutil.copy(zip_file, out / f"{name}-autograder.zip")
    shutil.copytree(out / "dist" / "student", out / "student")
    (out / "solution").mkdir()
    shutil.copy(out / "dist" / "autograder" / f"{name}.ipynb", out / "solution" / f"{name}.ipynb")
    return out


if __name__ == "__main__":
    for master in masters():
        print(f"assignment {master.stem}: {build(master).relative_to(ROOT)}", flush=True)
