"""The README's local path: ``make install``, then ``.venv/bin/jupyter lab`` opens a chapter as a notebook.

The server is started as the README says (the venv's ``jupyter lab``, from the repository's root) and asked, as
JupyterLab's notebook editor asks it, for a MyST Markdown chapter as a notebook: jupytext's contents manager must
answer with the chapter's cells, the install cell first.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JUPYTER = Path(sys.executable).parent / "jupyter"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_jupyter_lab_opens_a_chapter_as_a_notebook(tmp_path):
    assert JUPYTER.exists(), f"{JUPYTER} is missing: JupyterLab is not installed in the book's environment"
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path), "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    log = tmp_path / "jupyter-lab.log"
    with log.open("w") as stderr:
        model = ask_for_chapter(port, env, stderr, log)
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert cells[0]["cell_type"] == "code" and "find_spec(\"gatedrnn\")" in "".join(cells[0]["source"])
    assert sum(cell["cell_type"] == "code" for cell in cells) > 10


def ask_for_chapter(port: int, env: dict, stderr, log: Path) -> dict:
    """Start ``jupyter lab`` from the repository's root and fetch chapters/lstm.md as a notebook model."""
    server = subprocess.Popen(
        [str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--IdentityProvider.token=",
         "--ServerApp.password=", "--ServerApp.allow_root=True"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        url = f"http://127.0.0.1:{port}/api/contents/chapters/lstm.md?type=notebook&content=1"
        deadline, model = time.monotonic() + 60, None
        while model is None:
            assert server.poll() is None, f"jupyter lab exited: {log.read_text()[-2000:]}"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    model = json.load(response)
            except OSError:
                assert time.monotonic() < deadline, "jupyter lab did not answer within 60 s"
                time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab", timeout=10) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
    return model
