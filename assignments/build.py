"""Build every assignment: ``make assignments`` runs this.

For each ``assignments/<name>/<name>.md`` (an otter-grader master notebook in jupytext's MyST form) it writes, under
``_build/assignments/<name>/``:

- ``student/<name>.ipynb``: the notebook to release, without solutions or hidden tests;
- ``<name>-autograder.zip``: the autograder for ``otter run`` and ``assignments/grade.py``;
- ``solution/<name>.ipynb``: the reference solution, for instructors.

``otter assign`` runs the reference solution against all of its tests, public and hidden, and fails if one fails.

Every autograder zip carries its grading environment: the package's wheel (``files/gatedrnn-<version>-...whl``)
and, in its ``environment.yml``, the pinned requirements (from ``requirements.lock``) with that wheel, so that
Gradescope or ``otter grade`` in Docker can build it from the zip alone. The settings are added to each master's
ASSIGNMENT CONFIG here, from their one source, rather than written into the masters.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "assignments"
OUTPUT = ROOT / "_build" / "assignments"
sys.path.insert(0, str(ROOT / "tools"))
import publish  # noqa: E402  (the wheel's name and how it is built)
from grading.autograder import QUESTION_ORDER  # noqa: E402

# What grading a submission needs, pinned as requirements.lock pins it: otter (without its Google plugins) and the
# package's own dependencies; the package itself comes as the wheel inside the zip.
GRADING_PACKAGES = ("otter-grader", "torch", "numpy", "matplotlib", "tqdm")
# The Python of the grading environment: the version `make test` builds and checks it with.
GRADING_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
# Where Gradescope and otter's Docker image unpack the autograder zip.
AUTOGRADER_SOURCE = "/autograder/source"


# Where pip finds PyTorch's CPU build: PyPI's Linux wheel bundles CUDA, several GB that a machine without an NVIDIA
# GPU never uses.
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"

# What the export cell at the end of every assignment tells the student (it writes a zip with the notebook, no PDF:
# that would need LaTeX).
HAND_IN = ("Save the notebook (File → Save; on Colab this is done for you), then run the cell below. It checks "
           "every question once more and writes a zip file next to this notebook; on Colab it downloads the "
           "notebook itself instead. Upload that zip or notebook where your teacher collects the assignment.")


def pinned(packages: tuple[str, ...] = GRADING_PACKAGES) -> list[str]:
    """``name==version`` of each package, from requirements.lock (otter with its grading extra)."""
    lock = (ROOT / "requirements.lock").read_text()
    pins = []
    for package in packages:
        found = re.search(rf"^{re.escape(package)}==(\S+)", lock, flags=re.M)
        if found is None:
            raise ValueError(f"requirements.lock: no pin for {package}")
        name = "otter-grader[grading]" if package == "otter-grader" else package
        pins.append(f"{name}=={found[1]}")
    return pins


def grading_config(wheel: str) -> dict:
    """The ASSIGNMENT CONFIG settings that make the autograder zip carry its environment. Otter's own first cell
    (``import otter``) is replaced by :func:`first_cells`, which installs otter first where it is missing."""
    return {"requirements": [*pinned(), f"{AUTOGRADER_SOURCE}/files/{wheel}"], "overwrite_requirements": True,
            "autograder_files": [wheel], "python_version": GRADING_PYTHON, "init_cell": False,
            "export_cell": {"pdf": False, "force_save": False, "instructions": HAND_IN}}


def first_cells(name: str) -> list[dict]:
    """The two cells every assignment starts with. The first installs otter-grader and the book's package where
    either is missing (Colab, Binder, a laptop), exactly as the chapters' first cell installs the package, after
    the grader's PyTorch where there is none (its CPU build on Linux without an NVIDIA GPU), and on
    Colab saves the notebook to disk, because otter reads the public tests from the notebook's file and Colab keeps
    none. The second starts otter, as its own init cell would."""
    otter_pin = next(pin for pin in pinned() if pin.startswith("otter-grader")).replace("[grading]", "")
    (torch_pin,) = pinned(("torch",))
    install = f"""# On Colab, on Binder or on your own computer this installs what the assignment needs; where both are
# installed already (the book's environment, the grading server) it does nothing.
import importlib.util, json, os, shutil, sys
_wheel = os.environ.get("GATEDRNN_WHEEL", "{publish.WHEEL_URL}")
if importlib.util.find_spec("torch") is None:  # the grader's PyTorch; on Linux without a GPU, its CPU build
    _cpu = sys.platform.startswith("linux") and shutil.which("nvidia-smi") is None
    _index = "--index-url {CPU_TORCH_INDEX}" if _cpu else ""
    %pip install --quiet "{torch_pin}" {{_index}}
if importlib.util.find_spec("otter") is None or importlib.util.find_spec("gatedrnn") is None:
    %pip install --quiet "{otter_pin}" "gatedrnn @ {{_wheel}}"
    importlib.invalidate_caches()
    _missing = [name for name in ("torch", "otter", "gatedrnn") if importlib.util.find_spec(name) is None]
    if _missing:
        raise RuntimeError(f"installing {{', '.join(_missing)}} failed (pip says why above): "
                           "check the internet connection and run this cell again")
if "google.colab" in sys.modules and not os.path.exists("{name}.ipynb"):
    from google.colab import _message
    with open("{name}.ipynb", "w") as _file:
        json.dump(_message.blocking_request("get_ipynb")["ipynb"], _file)"""
    start = f"""# Initialize Otter: this notebook under any file name (a browser's second download adds " (1)").
import glob, json, os, sys
import otter

def _this_notebook(name):
    session = os.environ.get("JPY_SESSION_NAME", "")  # the notebook's path, where the Jupyter server says
    if session.endswith(".ipynb") and os.path.isfile(session):
        return session
    if os.path.isfile(name + ".ipynb"):
        return name + ".ipynb"
    def assignment(path):
        try:
            with open(path) as file:
                return json.load(file)["metadata"]["otter"]["assignment_name"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
    mine = [path for path in glob.glob("*.ipynb") if assignment(path) == name]
    return max(mine, key=os.path.getmtime) if mine else None

_notebook = _this_notebook("{name}")
if "google.colab" not in sys.modules:
    grader = otter.Notebook(_notebook)
else:  # otter on Colab reads public tests from files only, and cannot export: both are done here
    with open(_notebook) as _file:
        _tests = json.load(_file)["metadata"]["otter"]["tests"]
    os.makedirs("tests-{name}", exist_ok=True)
    for _question, _source in _tests.items():
        with open(os.path.join("tests-{name}", _question + ".py"), "w") as _file:
            _file.write(_source)
    grader = otter.Notebook(_notebook, tests_dir="tests-{name}")

    def _download_current(*args, **kwargs):
        from google.colab import _message, files
        with open(_notebook, "w") as _file:  # the notebook as it is in the browser now
            json.dump(_message.blocking_request("get_ipynb")["ipynb"], _file)
        print(f"Downloading {{_notebook}}: upload this notebook where your teacher collects the assignment.")
        files.download(_notebook)
    grader.export = _download_current"""
    locked = {"editable": False, "deletable": False}
    return [{"cell_type": "code", "execution_count": None, "id": f"gatedrnn-{role}", "metadata": dict(locked),
             "outputs": [], "source": source} for role, source in (("install", install), ("otter-init", start))]


def with_grading_environment(notebook: Path, wheel: str) -> None:
    """Add :func:`grading_config` to the ASSIGNMENT CONFIG cell of ``notebook`` (a master converted to .ipynb) and
    :func:`first_cells` after it."""
    nb = json.loads(notebook.read_text())
    (cell,) = [c for c in nb["cells"] if c["cell_type"] == "raw" and "".join(c["source"]).startswith(
        "# ASSIGNMENT CONFIG")]
    header, _, body = "".join(cell["source"]).partition("\n")
    config = yaml.safe_load(body) or {}
    added = grading_config(wheel)
    if set(config) & set(added):
        raise ValueError(f"{notebook.name}: the ASSIGNMENT CONFIG sets {sorted(set(config) & set(added))}, which "
                         "assignments/build.py sets for every assignment")
    cell["source"] = header + "\n" + yaml.safe_dump({**config, **added}, sort_keys=False)
    after = nb["cells"].index(cell) + 1
    nb["cells"][after:after] = first_cells(notebook.stem)
    notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False))


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
    wheel = publish.build_wheel(out / "master")
    with_grading_environment(notebook, wheel.name)
    subprocess.run([bin_dir / "otter", "assign", notebook.name, out / "dist"], check=True, cwd=out / "master")
    (zip_file,) = (out / "dist" / "autograder").glob(f"{name}-autograder_*.zip")
    shutil.copy(zip_file, out / f"{name}-autograder.zip")
    with zipfile.ZipFile(out / f"{name}-autograder.zip", "a") as archive:  # the questions in the notebook's order
        archive.writestr(QUESTION_ORDER, json.dumps(re.findall(r"# BEGIN QUESTION\nname: (\w+)", master.read_text())))
    shutil.copytree(out / "dist" / "student", out / "student")
    (out / "solution").mkdir()
    shutil.copy(out / "dist" / "autograder" / f"{name}.ipynb", out / "solution" / f"{name}.ipynb")
    return out


if __name__ == "__main__":
    for master in masters():
        print(f"assignment {master.stem}: {build(master).relative_to(ROOT)}", flush=True)
