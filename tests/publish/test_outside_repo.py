"""The published book works outside its repository: a notebook and the wheel, in a fresh environment.

Run after ``make publish``; ``GATEDRNN_PUBLISH_DIR`` names another published tree (default ``_build/publish``).

A virtual environment is made from the base interpreter with nothing but ``ipykernel``. One published chapter
notebook is executed in a kernel of that environment, started in a temporary folder with ``PYTHONPATH`` unset, so
the repository's source cannot be imported: the notebook's first cell must install the published wheel
(``GATEDRNN_WHEEL``) with its ``[data]`` extra, and every later cell must run on what it installed. In the same
environment the package README's example runs, and the installed distribution's metadata is checked against
``code/pyproject.toml``. torch is pinned to the repository environment's release (``PIP_CONSTRAINT``), which lies
on disk, so that pip does not fetch another build.
"""

import json
import os
import re
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import nbclient
import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PUBLISH = Path(os.environ.get("GATEDRNN_PUBLISH_DIR", ROOT / "_build" / "publish")).resolve()
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "code" / "gatedrnn" / "__init__.py").read_text())[1]
WHEEL = PUBLISH / "wheels" / f"gatedrnn-{VERSION}-py3-none-any.whl"
# The chapter executed outside the repository: a real one (backpropagation through time by hand, checked against
# autograd, and its cost measured) and the quickest of them, about 7 s once installed on two cores (the recurrent
# network 9 s, the GRU 55 s). GATEDRNN_PUBLISH_CHAPTER names another.
CHAPTER = os.environ.get("GATEDRNN_PUBLISH_CHAPTER", "bptt")
NOTEBOOK = PUBLISH / "notebooks" / "chapters" / f"{CHAPTER}.ipynb"
KERNEL = "gatedrnn-outside"
CELL_TIMEOUT = 900


def published() -> None:
    """Fail (not skip) when the published tree is missing: these tests exist to check it."""
    for path in (NOTEBOOK, WHEEL):
        if not path.is_file():
            pytest.fail(f"{path} does not exist: run `make publish` first (or set GATEDRNN_PUBLISH_DIR)", pytrace=False)


def run(command: list, env: dict, cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(part) for part in command], env=env, cwd=cwd, capture_output=True, text=True,
                            **kwargs)
    assert result.returncode == 0, f"{command} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


class Outside:
    """A fresh virtual environment in a temporary folder, and the environment variables its processes get."""

    def __init__(self, home: Path):
        self.home = home
        self.venv = home / "venv"
        self.python = self.venv / "bin" / "python"
        self.timings: dict[str, float] = {}
        constraints = home / "constraints.txt"
        # The repository's torch, without its local label (2.13.0+cpu -> 2.13.0): the build on disk satisfies it.
        constraints.write_text(f"torch=={metadata.version('torch').split('+')[0]}\n")
        env = {key: value for key, value in os.environ.items()
               if key not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_PATH", "PYTHONSTARTUP"}}
        env.update(GATEDRNN_WHEEL=WHEEL.as_uri(), PIP_CONSTRAINT=str(constraints), GATEDRNN_PROFILE="quick",
                   TQDM_DISABLE="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0", PIP_DISABLE_PIP_VERSION_CHECK="1",
                   IPYTHONDIR=str(home / "ipython"), MPLCONFIGDIR=str(home / "matplotlib"))
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        self.env = env

    def python_says(self, code: str) -> subprocess.CompletedProcess:
        return run([self.python, "-c", code], self.env, self.home)

    def finds_gatedrnn(self) -> bool:
        found = self.python_says("import importlib.util; print(importlib.util.find_spec('gatedrnn') is not None)")
        return found.stdout.strip() == "True"


@pytest.fixture(scope="session")
def outside(tmp_path_factory) -> Outside:
    """The fresh environment with a Jupyter kernel and nothing else; the package is installed by the tests."""
    home = tmp_path_factory.mktemp("outside")
    assert not home.resolve().is_relative_to(ROOT), "the temporary folder must lie outside the repository"
    env = Outside(home)
    base = getattr(sys, "_base_executable", None) or "python3"
    start = time.perf_counter()
    run([base, "-m", "venv", env.venv], env.env, home)
    env.timings["venv"] = time.perf_counter() - start
    start = time.perf_counter()
    run([env.python, "-m", "pip", "install", "--quiet", "ipykernel"], env.env, home)
    run([env.python, "-m", "ipykernel", "install", "--prefix", env.venv, "--name", KERNEL], env.env, home)
    env.timings["kernel install"] = time.perf_counter() - start
    return env


def test_chapter_notebook_installs_the_package_and_runs(request, record_property):
    published()
    env: Outside = request.getfixturevalue("outside")
    for phase, seconds in env.timings.items():
        record_property(phase, seconds)
    assert not env.finds_gatedrnn(), "the fresh environment must not see gatedrnn before the notebook installs it"

    specs = KernelSpecManager(kernel_dirs=[str(env.venv / "share" / "jupyter" / "kernels")])
    spec = specs.get_kernel_spec(KERNEL)
    assert Path(spec.argv[0]).resolve() == env.python.resolve(), spec.argv
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "GATEDRNN_WHEEL" in code_cells[0].source and "%pip install" in code_cells[0].source, \
        "the notebook's first code cell must be the install cell of tools/publish.py"
    for cell in code_cells:
        cell.outputs, cell.execution_count = [], None

    client = nbclient.NotebookClient(notebook, km=AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs),
                                     kernel_name=KERNEL, timeout=CELL_TIMEOUT, allow_errors=False,
                                     resources={"metadata": {"path": str(env.home)}})
    start = time.perf_counter()
    # CellExecutionError names the failing cell and its traceback. cleanup_kc: the client does not own the kernel
    # manager given to it, and would otherwise leave the kernel's sockets open.
    client.execute(cleanup_kc=True, env=env.env, cwd=str(env.home))
    record_property(f"notebook {CHAPTER}", time.perf_counter() - start)

    assert code_cells[-1].execution_count is not None, "the notebook did not run to its last code cell"
    where = Path(env.python_says("import gatedrnn; print(gatedrnn.__file__)").stdout.strip()).resolve()
    assert where.is_relative_to(env.venv.resolve()), f"gatedrnn came from {where}, not the fresh environment"
    assert not where.is_relative_to(ROOT), f"gatedrnn came from the repository: {where}"


@pytest.fixture(scope="session")
def installed(outside) -> Outside:
    """The fresh environment with the published wheel installed (by the notebook test already, when it ran first)."""
    published()
    if not outside.finds_gatedrnn():
        run([outside.python, "-m", "pip", "install", "--quiet", f"gatedrnn[data] @ {WHEEL.as_uri()}"],
            outside.env, outside.home)
    return outside


def test_readme_example_runs(request, record_property):
    published()
    env: Outside = request.getfixturevalue("installed")
    blocks = re.findall(r"^```python\n(.*?)^```", (ROOT / "code" / "README.md").read_text(), re.S | re.M)
    assert blocks, "code/README.md holds no ```python block"
    example = env.home / "readme_example.py"
    example.write_text("\n".join(blocks))
    start = time.perf_counter()
    result = subprocess.run([str(env.python), str(example)], env=env.env, cwd=env.home, capture_output=True,
                            text=True, timeout=600)
    record_property("README example", time.perf_counter() - start)
    assert result.returncode == 0, f"the README example exited {result.returncode}:\n{result.stderr}"
    assert result.stderr == "", f"the README example wrote to stderr:\n{result.stderr}"


def test_distribution_metadata(request):
    published()
    env: Outside = request.getfixturevalue("installed")
    said = env.python_says(
        "import json, gatedrnn; from importlib import metadata; m = metadata.metadata('gatedrnn'); print(json.dumps("
        "{'version': metadata.version('gatedrnn'), 'module': gatedrnn.__version__,"
        " 'license': m.get('License-Expression'), 'requires': metadata.requires('gatedrnn') or [],"
        " 'extras': m.get_all('Provides-Extra') or [], 'urls': m.get_all('Project-URL') or []}))")
    found = json.loads(said.stdout)
    project = tomllib.loads((ROOT / "code" / "pyproject.toml").read_text())["project"]

    assert found["version"] == found["module"] == VERSION
    assert found["license"] == "MIT"
    requirements = [Requirement(line) for line in found["requires"]]
    always = {req.name for req in requirements if req.marker is None}
    assert {"torch", "numpy", "matplotlib", "tqdm"} <= always, found["requires"]
    assert "data" in found["extras"]
    data = {req.name for req in requirements if req.marker is not None and req.marker.evaluate({"extra": "data"})
            and not req.marker.evaluate({"extra": ""})}
    assert {"scikit-learn", "statsmodels"} <= data, found["requires"]
    urls = dict(entry.split(", ", 1) for entry in found["urls"])
    assert urls and urls == project["urls"], (urls, project["urls"])
