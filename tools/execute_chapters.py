"""Execute the book's chapters into its execution cache, as many at a time as there are cores.

    python tools/execute_chapters.py [CACHE]

``jupyter-book build`` executes one notebook after another, so on a two-core machine one core waits. This runs
jupyter-cache's parallel executor on the chapters of ``_toc.yml`` that have code cells, read as MyST-NB reads them
and with the timeout of ``_config.yml``, into the cache the build reads (``_build/.jupyter_cache`` unless CACHE is
given). The build then finds every chapter executed and renders it. A chapter already cached with the same code is
not run again. A chapter that fails here fails the build at once: its traceback is printed and written to
``_build/html/reports/<chapter>.err.log`` (where Jupyter Book writes its own), and the script exits with status 1.
Nothing executes a failed chapter a second time, so a check that fails once cannot pass on a second try.
"""

import os
import sys
import time
from pathlib import Path

import yaml
from jupyter_cache import get_cache
from jupyter_cache.executors import load_executor

ROOT = Path(__file__).resolve().parent.parent
# The reader MyST-NB uses for MyST Markdown notebooks: the same cells, hence the same cache key as the build's.
MYST_READER = {"type": "plugin", "name": "myst_nb_md"}

config = yaml.safe_load((ROOT / "_config.yml").read_text())
toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
pages = [ROOT / f"{toc['root']}.md"] + [ROOT / f"{c['file']}.md" for part in toc["parts"] for c in part["chapters"]]
chapters = [str(page) for page in pages if "{code-cell}" in page.read_text()]

cache = get_cache(sys.argv[1] if len(sys.argv) > 1 else ROOT / "_build" / ".jupyter_cache")
for chapter in chapters:
    cache.add_nb_to_project(chapter, read_data=MYST_READER)
begun = time.perf_counter()
result = load_executor("local-parallel", cache).run_and_cache(
    filter_uris=chapters, timeout=config["execute"]["timeout"], allow_errors=config["execute"]["allow_errors"])
failed = [Path(uri).stem for uri in result.excepted + result.errored]
cached = len(chapters) - len(result.succeeded) - len(failed)
report = f"executed {len(result.succeeded)} of {len(chapters)} chapters in {time.perf_counter() - begun:.0f} s on "
report += f"{os.cpu_count()} cores" + (f"; already cached: {cached}" if cached else "")
if failed:
    report += f"; failed: {', '.join(failed)}"
print(report)
for uri in result.excepted + result.errored:
    traceback = cache.get_project_record(uri).traceback or "(no traceback recorded)"
    log = ROOT / "_build" / "html" / "reports" / Path(uri).relative_to(ROOT).with_suffix(".err.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(traceback)
    print(f"\n{Path(uri).relative_to(ROOT)} failed (report: {log.relative_to(ROOT)}):\n{traceback}", file=sys.stderr)
if failed:
    sys.exit(1)
