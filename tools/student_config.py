"""Write the student edition's Jupyter Book config: ``_config.yml`` with every exercise solution removed.

    python tools/student_config.py OUT.yml

The local extension ``tools/remove_solutions.py`` removes every solution, with the code cells inside gated ones,
from the pages. Sphinx's copies of the page sources (``_sources/``, which hold the solutions) are not made, and the
buttons that lead to the sources (repository, edit, Binder) are off; the Colab button and the download lead to the
student notebooks. The execution cache is the main
build's, so the student edition reuses its executed notebooks.
"""

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

config = yaml.safe_load((ROOT / "_config.yml").read_text())
config["title"] += " (student edition)"
config["execute"]["cache"] = str(ROOT / "_build" / ".jupyter_cache")
config["sphinx"]["local_extensions"] = {name: str(ROOT / "tools") for name in [*config["sphinx"]["local_extensions"],
                                                                             "remove_solutions"]}
config["sphinx"]["config"]["html_copy_source"] = False
# The student edition's notebooks (tools/jupyter_markdown.py writes them without the solutions) are published in
# notebooks/student/: its Colab button and its .ipynb download lead there, and its links into student/.
config["launch_buttons"] = {"notebook_interface": "classic", "colab_url": config["launch_buttons"]["colab_url"]}
config["html"] = {"use_repository_button": False, "use_issues_button": False, "use_edit_page_button": False}
config["sphinx"]["config"]["notebooks_path"] = "student/"
config["sphinx"]["config"]["html_baseurl"] += "student/"
config["bibtex_bibfiles"] = [str(ROOT / name) for name in config["bibtex_bibfiles"]]
Path(sys.argv[1]).write_text(yaml.safe_dump(config, sort_keys=False))
