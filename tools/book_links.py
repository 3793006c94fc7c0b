"""A Sphinx extension of the book's: the Colab button opens the chapter's executed notebook.

sphinx-book-theme points Colab at the page's source in the repository, a MyST Markdown file that Colab cannot open.
The publishing workflow mirrors the executed notebooks (outputs kept) to the repository's ``notebooks_branch``; the
button is pointed there, at ``<branch>/<page>.ipynb``. The same notebook is the page's ``.ipynb`` download.
"""

from urllib.parse import urlparse

from sphinx.application import Sphinx


def point_colab_at_notebooks(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Rewrite the Colab entry of the theme's launch buttons (added at priority 501) for this page."""
    options = app.config.html_theme_options
    for group in context.get("header_buttons", []):
        if group.get("label") != "launch-buttons":
            continue
        for button in group["buttons"]:
            if button.get("text") == "Colab":
                repository = urlparse(options["repository_url"]).path.strip("/")
                colab = options["launch_buttons"]["colab_url"].rstrip("/")
                button["url"] = f"{colab}/github/{repository}/blob/{app.config.notebooks_branch}/{pagename}.ipynb"


def setup(app: Sphinx) -> dict:
    app.add_config_value("notebooks_branch", "notebooks", "html")
    app.connect("html-page-context", point_colab_at_notebooks, priority=502)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
