"""A published notebook opened in JupyterLab reads like the book: its Markdown rendered, its equations typeset.

The main edition's notebook of one chapter (the LSTM: equations, figures, glued values, exercises) is served by the
book environment's ``jupyter lab`` from a temporary folder, as a reader who downloaded it would open it, and read in
Chromium. Every display equation must be typeset by JupyterLab's MathJax with the page's number, no MyST syntax or
TeX source may show, and the solutions must be folded. A full-page screenshot goes to
``_build/screenshots/jupyterlab/<chapter>.png``.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "_build" / "screenshots"
# How long MathJax may take to typeset the notebook on a loaded machine.
WAIT_MS = 60_000

JUPYTER = Path(sys.executable).parent / "jupyter"
CHAPTER = "lstm"

# Every cell rendered, not only those in view (JupyterLab 4 renders a long notebook lazily), and no news or update
# check, which would ask the network.
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}

READ_JS = r"""() => {
  const rendered = [...document.querySelectorAll('.jp-MarkdownCell .jp-RenderedMarkdown')];
  const text = rendered.map(e => {
    const copy = e.cloneNode(true);
    copy.querySelectorAll('mjx-container, code, pre').forEach(n => n.remove());
    return copy.textContent;
  }).join('\n');
  const display = [...document.querySelectorAll('.jp-RenderedMarkdown mjx-container[display="true"]')];
  return {
    markdownCells: rendered.length,
    typeset: document.querySelectorAll('.jp-RenderedMarkdown mjx-container').length,
    displayed: display.length,
    // MathJax draws characters from its fonts, so the text is read back from the glyphs' classes (mjx-c36 is "6").
    tags: [...document.querySelectorAll('.jp-RenderedMarkdown mjx-labels')].map(labels =>
      [...labels.querySelectorAll('mjx-c')].map(c => {
        const code = [...c.classList].map(k => k.match(/^mjx-c([0-9A-F]+)$/)).find(Boolean);
        return code ? String.fromCodePoint(parseInt(code[1], 16)) : '';
      }).join('')),
    mathErrors: document.querySelectorAll('.jp-RenderedMarkdown mjx-merror').length,
    leftovers: (text.match(/\$\$|\\tag\{|\{(glue:text|eq|numref|cite|term|ref)\}`|```\{/g) || []).slice(0, 10),
    details: document.querySelectorAll('.jp-RenderedMarkdown details').length,
    openDetails: document.querySelectorAll('.jp-RenderedMarkdown details[open]').length,
    figures: (text.match(/Fig\. 6\.[0-9]+/g) || []).length,
  };
}"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(publish, tmp_path_factory):
    """``jupyter lab`` serving a folder that holds the published notebook; yields the notebook's address."""
    folder = tmp_path_factory.mktemp("reader")
    notebook = publish / "notebooks" / "chapters" / f"{CHAPTER}.ipynb"
    shutil.copyfile(notebook, folder / notebook.name)
    settings = folder / ".settings"
    for name, values in SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"), "JUPYTER_CONFIG_DIR": str(folder / ".config"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".workspaces")}
    log = folder / ".jupyter-lab.log"
    with log.open("w") as stderr:
        server = subprocess.Popen(
            [str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--IdentityProvider.token=",
             "--ServerApp.password=", "--ServerApp.allow_root=True", f"--ServerApp.root_dir={folder}"],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, f"jupyter lab exited: {log.read_text()[-2000:]}"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=5):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "jupyter lab did not answer within 60 s"
                    time.sleep(0.5)
            yield f"http://127.0.0.1:{port}/lab/tree/{notebook.name}"
        finally:
            server.terminate()
            server.wait(timeout=30)


def test_notebook_reads_like_the_page(browser, lab, publish):
    notebook = json.loads((publish / "notebooks" / "chapters" / f"{CHAPTER}.ipynb").read_text())
    markdown = "\n".join("".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown")
    expected = [f"({number})" for number in re.findall(r"\\tag\{([^}]+)\}", markdown)]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    try:
        tab.goto(lab, wait_until="load")
        tab.wait_for_selector(".jp-MarkdownCell .jp-RenderedMarkdown", timeout=60_000)
        # MathJax typesets after the Markdown renders, in batches: wait until every tagged equation is typeset and the
        # count of typeset formulas has stopped changing (a loaded machine can pause between batches).
        previous, report = -1, None
        for _ in range(WAIT_MS // 500):
            report = tab.evaluate(READ_JS)
            if len(report["tags"]) >= len(expected) and report["typeset"] == previous:
                break
            previous = report["typeset"]
            tab.wait_for_timeout(500)
        shot = SCREENSHOTS / "jupyterlab" / f"{CHAPTER}.png"
        shot.parent.mkdir(parents=True, exist_ok=True)
        scroller = tab.locator(".jp-WindowedPanel-outer").first
        height = scroller.evaluate("e => e.scrollHeight")
        tab.set_viewport_size({"width": 1280, "height": min(height + 200, 16_000)})
        tab.wait_for_timeout(500)
        tab.screenshot(path=str(shot))
    finally:
        context.close()
    assert report["markdownCells"] > 10, report
    assert not report["leftovers"], f"TeX or MyST source shows in the rendered notebook: {report['leftovers']}"
    assert report["mathErrors"] == 0, f"{report['mathErrors']} formulas failed to typeset"
    assert len(expected) >= 5 and report["tags"] == expected, (
        f"display equations numbered {report['tags']} in JupyterLab, {expected} in the notebook: {report}")
    assert report["details"] >= 3 and report["openDetails"] == 0, "the solutions should be folded"
    assert report["figures"] >= 3, "figure captions missing"
