"""The published site in a real browser: every page of both editions, served locally and opened from disk.

Per page (``main/chapters/lstm``, ``student/search`` ...): no console error, no failed request, no request outside
127.0.0.1; formulas typeset by MathJax and no raw TeX left; images loaded; equation numbers shown; no sideways
overflow of the prose at 390 px nor of code inputs or display equations at 1280 px; no equation label in a
caption; no solution in the student edition. Per chapter: the Colab and download buttons lead to the published
notebook. Then the search, the dark mode, and a page opened from disk with the network cut.
"""

import json
import re
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import yaml


REPO = Path(__file__).resolve().parents[2]
EDITIONS = {"main": "", "student": "student/"}
TIMEOUT_MS = 20_000
COLAB = "https://colab.research.google.com/"
LSTM = "chapters/lstm.html"
GLOSSARY = "chapters/introduction.html"


def stem(page: str) -> str:
    return Path(page).stem


def listing(items) -> str:
    return "\n  " + "\n  ".join(str(item) for item in items)


# The tree itself


def test_published_tree(publish):
    """Both editions, the offline MathJax of each, the executed notebooks and the wheel are in the tree."""
    expected = ["index.html", "student/index.html", "_static/mathjax/tex-chtml.js",
                "student/_static/mathjax/tex-chtml.js"]
    missing = [path for path in expected if not (publish / path).is_file()]
    if not list((publish / "notebooks" / "chapters").glob("*.ipynb")):
        missing.append("notebooks/chapters/*.ipynb")
    if not list((publish / "wheels").glob("gatedrnn-*.whl")):
        missing.append("wheels/gatedrnn-*.whl")
    assert not missing, f"missing from {publish}:{listing(missing)}"


# a. console, requests, hosts


def test_no_console_error(site, webpage):
    report = site.report(*webpage)
    assert not report["errors"], f"console errors on {report['url']}:{listing(report['errors'])}"


def test_no_failed_request(site, webpage):
    report = site.report(*webpage)
    assert not report["failed"], f"failed requests on {report['url']}:{listing(report['failed'])}"


def test_requests_stay_local(site, webpage):
    report = site.report(*webpage)
    hosts = sorted({urlsplit(url).netloc or url for url in report["foreign"]})
    assert not report["foreign"], (f"{report['url']} asked hosts other than 127.0.0.1 ({', '.join(hosts)}):"
                                   f"{listing(report['foreign'])}")


# b. formulas


def test_no_raw_tex(site, webpage):
    report = site.report(*webpage)
    assert not report["rawTex"], f"raw TeX in the text of {report['url']}:{listing(report['rawTex'])}"


def test_formulas_typeset(site, webpage):
    report = site.report(*webpage)
    if not report["source_has_math"] and not report["mathElements"]:
        return  # no formula on this page
    assert report["mathjax"] == "typeset", f"MathJax on {report['url']}: {report['mathjax']}"
    assert report["mjx"] > 0, f"{report['url']} holds formulas but MathJax rendered none"
    assert not report["untypeset"], (f"{report['untypesetCount']} formulas left untypeset on {report['url']}:"
                                     f"{listing(report['untypeset'])}")
    assert not report["mathErrors"], f"MathJax errors on {report['url']}:{listing(report['mathErrors'])}"


# c. images


def test_images_load(site, webpage):
    report = site.report(*webpage)
    broken = [image["src"] for image in report["images"] if not image["complete"] or image["naturalWidth"] == 0]
    assert not broken, f"images not loaded on {report['url']}:{listing(broken)}"


# d. equation numbers


def source_labels(page: str) -> list[str]:
    """Labels of the numbered display equations of a chapter's MyST source (``$$ (label)``, ``:label:`` of math)."""
    source = REPO / "chapters" / f"{stem(page)}.md"
    if not page.startswith("chapters/") or not source.is_file():
        return []
    text = source.read_text()
    labels = re.findall(r"^\$\$\s*\(([\w-]+)\)\s*$", text, re.M)
    labels += re.findall(r"^```\{math\}[^\n]*\n(?::[a-z]+:[^\n]*\n)*?:label:\s*([\w-]+)", text, re.M)
    return labels


def test_equation_numbers(site, webpage):
    edition, page = webpage
    report = site.report(edition, page)
    equations = {equation["id"]: equation for equation in report["equations"]}
    problems = [f"{name}: number {equation['number']!r}" for name, equation in equations.items()
                if not re.fullmatch(r"\(\d+(\.\d+)*\)", equation["number"] or "")]
    problems += [f"{name}: the number {equation['number']} is not displayed" for name, equation in equations.items()
                 if equation["shown"] and not equation["eqnoVisible"]]
    if edition == "main":  # the student edition leaves out the solutions, and any equation inside them
        problems += [f"{label}: labelled in the source, no numbered equation on the page"
                     for label in source_labels(page) if label not in equations]
    assert not problems, f"equation numbers on {report['url']}:{listing(problems)}"


def all_labels() -> set[str]:
    return {label for source in (REPO / "chapters").glob("*.md") for label in source_labels(f"chapters/{source.name}")}


def test_captions_show_equation_numbers_not_labels(site, webpage):
    """A caption refers to an equation by its number, (6.3), never by the label in the source, (lstm-cell-bound):
    a label in parentheses, or a label with a hyphen anywhere, is a reference that was not resolved."""
    report = site.report(*webpage)
    labels = all_labels()
    raw = [caption for caption in report["captions"]
           if any(f"({label})" in caption or ("-" in label and re.search(rf"(?<![\w-]){re.escape(label)}(?![\w-])",
                                                                         caption)) for label in labels)]
    assert not raw, f"captions on {report['url']} show equation labels:{listing(raw)}"


# e. Colab and download buttons


def repository() -> str:
    url = yaml.safe_load((REPO / "_config.yml").read_text())["repository"]["url"]
    return urlsplit(url).path.strip("/")


def notebooks_of(edition: str) -> str:
    """The folder of an edition's notebooks under notebooks/ (in the tree and on the notebooks branch)."""
    return "student/" if edition == "student" else ""


def test_colab_link(site, publish, chapter):
    edition, page = chapter
    report = site.report(edition, page)
    name = stem(page)
    notebook = publish / "notebooks" / notebooks_of(edition) / "chapters" / f"{name}.ipynb"
    expected = f"{COLAB}github/{repository()}/blob/notebooks/{notebooks_of(edition)}chapters/{name}.ipynb"
    if not report["colab"]:
        assert not notebook.exists(), (
            f"{report['url']} has no Colab link, though its notebook {notebook.relative_to(publish)} is published")
        return
    wrong = [href for href in report["colab"] if href != expected]
    assert not wrong, f"Colab links of {report['url']} should all be {expected}:{listing(wrong)}"
    assert notebook.is_file(), f"{report['url']} links Colab to {expected}, but the tree has no {notebook}"


def cells(notebook: dict) -> list[dict]:
    """The cells' types, sources, execution counts and outputs, multi-line strings joined."""

    def joined(value):
        return "".join(value) if isinstance(value, list) else value

    def output(out: dict) -> dict:
        out = dict(out)
        if "text" in out:
            out["text"] = joined(out["text"])
        if "data" in out:
            out["data"] = {mime: joined(value) for mime, value in out["data"].items()}
        return out

    return [{"cell_type": cell["cell_type"], "source": joined(cell["source"]),
             "execution_count": cell.get("execution_count"),
             "outputs": [output(out) for out in cell.get("outputs", [])]} for cell in notebook["cells"]]


def test_download_notebook(site, publish, chapter):
    edition, page = chapter
    report = site.report(edition, page)
    notebook = publish / "notebooks" / notebooks_of(edition) / "chapters" / f"{stem(page)}.ipynb"
    if not report["download"]:
        assert not notebook.exists(), (
            f"{report['url']} has no .ipynb download link, though its notebook is published")
        return
    for url in report["download"]:
        response = site.context.request.get(url)
        assert response.status == 200, f"{report['url']}: its .ipynb download {url} answers HTTP {response.status}"
        downloaded = json.loads(response.body())
        assert notebook.is_file(), f"{report['url']} offers {url}, but the tree has no {notebook}"
        expected, got = cells(json.loads(notebook.read_text())), cells(downloaded)
        if got != expected:
            differing = [index for index, (a, b) in enumerate(zip(got, expected)) if a != b]
            where = (f"cell {differing[0]} differs in "
                     f"{[key for key in got[differing[0]] if got[differing[0]][key] != expected[differing[0]][key]]}"
                     if differing else f"{len(got)} cells against {len(expected)}")
            pytest.fail(f"{url} is not the published {notebook.relative_to(publish)}: {where}", pytrace=False)


# f. search


@pytest.mark.parametrize("query", ["forget gate", "遗忘门"])
@pytest.mark.parametrize("edition", EDITIONS)
def test_search(site, edition, query):
    tab, recorder = site.page, site.recorder
    recorder.reset()
    url = f"{site.url(edition, 'search.html')}?q={quote(query)}"
    tab.goto(url, wait_until="load")
    tab.wait_for_function("""() => {
        const summary = document.querySelector('#search-results .search-summary, #search-results p');
        return summary && /finished|did not match|found/i.test(summary.textContent);
    }""", timeout=TIMEOUT_MS)
    hits = tab.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")
    pages = sorted({urlsplit(href).path for href in hits})
    wanted = {f"/{EDITIONS[edition]}{LSTM}", f"/{EDITIONS[edition]}{GLOSSARY}"}
    assert wanted & set(pages), f"search for {query!r} ({url}) lists neither {' nor '.join(sorted(wanted))}:{listing(pages)}"
    assert not recorder.errors, f"console errors on {url}:{listing(recorder.errors)}"


# g. dark mode


def test_dark_mode_switches(dark):
    assert dark["theme"] == "dark", f"html[data-theme] is {dark['theme']!r} after the clicks {dark['clicks']}"
    assert dark["pageLuminance"] < 0.1, (f"{dark['url']} in dark mode: the page background {dark['pageBackground']} "
                                         f"is not dark (luminance {dark['pageLuminance']:.2f})")


def test_dark_mode_figures_visible(dark):
    """Each figure image keeps a light background (its own or its nearest coloured ancestor's) or a CSS filter.
    What was found is written next to the dark screenshot, ``lstm-dark.json``."""
    images = dark["images"]
    assert images, f"no figure or output image on {dark['url']} to check in dark mode"
    dim = [f"{image['src']}: background {image['background']} from {image['backgroundFrom']}, filter {image['filter']}"
           for image in images if image["backgroundLuminance"] < 0.5 and image["filter"] == "none"]
    assert not dim, f"figure images on a dark background, without a filter, in dark mode:{listing(dim)}"


def test_dark_mode_no_console_error(dark):
    errors = dark["errors_on_load"] + dark["errors_after_switch"]
    assert not errors, (f"console errors on {dark['url']}; on load:{listing(dark['errors_on_load'])}\n"
                        f"after switching to dark:{listing(dark['errors_after_switch'])}")


# h, i. widths


def test_prose_fits_phone_width(site, webpage):
    report = site.report(*webpage)
    phone = report["phone"]
    problems = []
    if phone["scrollWidth"] > phone["innerWidth"] + 1:
        problems.append(f"the page is {phone['scrollWidth']} px wide for {phone['innerWidth']}; reaching past the "
                        f"edge: {', '.join(phone['past']) or '(nothing in the article)'}")
    problems += [f"paragraph {p['scrollWidth']} px wide in its {p['clientWidth']} px: {p['text']}"
                 for p in phone["paragraphs"]]
    assert not problems, f"{report['url']} overflows sideways at 390 px:{listing(problems)}"


def test_display_equations_fit_desktop(site, webpage):
    report = site.report(*webpage)
    assert not report["wideMath"], (f"display equations of {report['url']} are wider than their box at 1280x800:"
                                    f"{listing(report['wideMath'])}")


def test_code_inputs_fit_desktop(site, webpage):
    report = site.report(*webpage)
    assert not report["wideCode"], (f"code cells of {report['url']} scroll sideways at 1280x800 (longest line of each):"
                                    f"{listing(report['wideCode'])}")


# j. solutions


def test_student_edition_has_no_solution(site, webpage):
    edition, page = webpage
    if edition != "student":
        return
    report = site.report(edition, page)
    assert report["solutionElements"] == 0 and not report["solutionText"], (
        f"{report['url']} shows solutions: {report['solutionElements']} .solution elements, "
        f"text{listing(report['solutionText'])}")


def test_main_edition_has_solutions(site):
    """The student check above can fail: the main edition does hold solutions, found the same way."""
    pages = [page for edition, page in site.pages if edition == "main"]
    found = [page for page in pages if site.report("main", page)["solutionElements"]
             and site.report("main", page)["solutionText"]]
    assert found, "no page of the main edition shows an exercise solution (.solution, 'Solution to Exercise')"


# k. a page opened from disk, network cut


@pytest.mark.parametrize("edition", EDITIONS)
def test_page_from_disk(open_from_disk, edition):
    report = open_from_disk(edition, LSTM)
    cut = f" (requests cut off:{listing(report['aborted'])})" if report["aborted"] else ""
    assert report["mathjax"] == "typeset" and report["mjx"] > 0, (
        f"{report['url']} opened from disk: MathJax {report['mathjax']}, {report['mjx']} formulas typeset{cut}")
    assert not report["untypeset"], f"untypeset formulas in {report['url']}:{listing(report['untypeset'])}{cut}"
    assert not report["rawTex"], f"raw TeX in {report['url']} opened from disk:{listing(report['rawTex'])}{cut}"
