"""A Sphinx extension of the book's: the Colab button opens the chapter's executed notebook; no script twice.

sphinx-book-theme points Colab at the page's source in the repository, a MyST Markdown file that Colab cannot open.
The publishing workflow mirrors the executed notebooks (outputs kept, prose in Jupyter's Markdown: see
``tools/jupyter_markdown.py``) to the repository's ``notebooks_branch``; the button is pointed there, at
``<branch>/<notebooks_path><page>.ipynb`` (``notebooks_path`` is ``student/`` for the student edition, whose notebooks
have no solutions). The same notebook is the page's ``.ipynb`` download, and an edition that does not copy its page
sources (the student edition) offers no download of them.

sphinx-thebe (which Jupyter Book always loads) registers its inline configuration script once per reading of the
sources, so a page can carry it twice, and the second copy throws "Identifier 'THEBE_JS_URL' has already been
declared" in the browser's console. Each page keeps the first copy of every script.
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
                button["url"] = (f"{colab}/github/{repository}/blob/{app.config.notebooks_branch}/"
                                 f"{app.config.notebooks_path}{pagename}.ipynb")


def point_downloads_at_notebook(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """The download menu offers the notebook ``tools/jupyter_markdown.py`` wrote, and no page source that the
    edition does not copy."""
    for group in context.get("header_buttons", []):
        if group.get("label") != "download-buttons":
            continue
        buttons = [button for button in group["buttons"] if button.get("label") != "download-notebook-button"
                   and (app.config.html_copy_source or button.get("label") != "download-source-button")]
        if context.get("ipynb_source"):
            buttons.insert(0, {"type": "link", "url": f"{context['pathto']('_sources', 1)}/{context['ipynb_source']}",
                               "text": ".ipynb", "icon": "fas fa-code", "tooltip": "Download notebook file",
                               "label": "download-notebook-button"})
        group["buttons"] = buttons


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Keep the first of identical script entries (same file, same attributes and inline body); an inline script
    comes with the file name ``None`` or ``""``, as the extension that added it chose."""
    seen, scripts = set(), []
    for script in context.get("script_files", []):
        attributes = getattr(script, "attributes", {})
        key = (str(getattr(script, "filename", script) or ""),
               tuple(sorted((name, str(value)) for name, value in attributes.items())))
        if key not in seen:
            seen.add(key)
            scripts.append(script)
    context["script_files"] = scripts


def setup(app: Sphinx) -> dict:
    app.add_config_value("notebooks_branch", "notebooks", "html")
    app.add_config_value("notebooks_path", "", "html")
    app.connect("html-page-context", point_colab_at_notebooks, priority=502)
    # After tools/jupyter_markdown.py (priority 502), which writes the notebook and names it in the context.
    app.connect("html-page-context", point_downloads_at_notebook, priority=503)
    app.connect("html-page-context", drop_repeated_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
