"""A Sphinx extension of the book's: the executed notebook MyST-NB writes for each chapter keeps its outputs.

MyST-NB writes every chapter's notebook to ``jupyter_execute/``; nbval re-executes those files and compares their
outputs, the publishing step copies them as the notebooks readers open on Colab, and sphinx-book-theme offers them
as the page's ``.ipynb`` download. When the outputs come from the execution cache (``tools/execute_chapters.py``
fills it before the build), MyST-NB 1.4 merges them into a copy of the notebook and writes the notebook it read,
without a single output. Once a document has been read, this writes the cached outputs into that file, less the
values the chapter glued into its text (display data of the ``application/papermill.record/`` types), which MyST-NB
takes out of the notebook it renders, as a notebook viewer would show nothing for them.
"""

from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from sphinx.application import Sphinx
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
GLUE_PREFIX = "application/papermill.record/"


def is_glue_record(output: dict) -> bool:
    data = output.get("data", {})
    return output.get("output_type") == "display_data" and bool(data) and all(k.startswith(GLUE_PREFIX) for k in data)


def write_outputs(app: Sphinx, doctree) -> None:
    """Merge the cached outputs into ``jupyter_execute/<docname>.ipynb`` when MyST-NB wrote it without any."""
    config = app.env.mystnb_config
    path = Path(config.output_folder).joinpath(*f"{app.env.docname}.ipynb".split("/"))
    if not path.is_file():
        return  # not a notebook
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code or any(cell.get("outputs") or cell.get("execution_count") for cell in code):
        return  # executed during the build, or nothing to execute
    try:
        _, executed = get_cache(config.execution_cache_path).merge_match_into_notebook(notebook)
    except KeyError:
        LOGGER.warning(f"{app.env.docname}: no executed notebook in the cache to take the outputs from")
        return
    for cell in executed.cells:
        if cell.cell_type == "code":
            cell.outputs = [output for output in cell.outputs if not is_glue_record(output)]
    nbformat.write(executed, path)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", write_outputs)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
