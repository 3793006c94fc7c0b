"""Browser tests of the published site: a local server, one Chromium, and one visit per page.

The published tree (``make publish`` writes ``_build/publish``; ``GATEDRNN_PUBLISH_DIR`` points elsewhere) is served
by a threaded ``http.server`` on 127.0.0.1. Playwright drives the system's Chromium (``BROWSER_EXECUTABLE``, else
/usr/bin/chromium, else ``google-chrome`` on PATH); Playwright's own browser downloads are never used. Every page of
both editions is visited once, in one browser context: what the tests assert is collected during that visit and
kept, and a full-page screenshot of it goes to ``_build/screenshots/<edition>/<page>.png``.

    .venv/bin/python -m pytest tests/browser -p no:cacheprovider
"""

import base64
import functools
import http.server
import json
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "_build" / "screenshots"
EDITIONS = {"main": "", "student": "student/"}
# A laptop's window: the narrowest desktop width at which the theme shows both sidebars beside the text.
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Without the background-networking flags Chromium tries to reach Google's servers, and those requests fail here.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 20_000

# Waits until MathJax (when the page loads it) has typeset the page, the fonts are in and every image has settled.
SETTLE_JS = """async (timeout) => {
  const limit = new Promise(resolve => setTimeout(() => resolve('timeout'), timeout));
  const work = (async () => {
    let mathjax = 'absent';
    if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
      await window.MathJax.startup.promise;
      mathjax = 'typeset';
    } else if (window.MathJax) {
      mathjax = 'configured but not loaded';
    }
    await document.fonts.ready;
    await Promise.all([...document.images].map(img => {
      if (img.loading === 'lazy') img.loading = 'eager';
      return img.complete ? null : new Promise(r => { img.onload = img.onerror = r; });
    }));
    return mathjax;
  })();
  return Promise.race([work, limit]);
}"""

# Everything the per-page tests assert, read from the page in one call.
COLLECT_JS = r"""() => {
  const SKIP = new Set(['SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE', 'PRE', 'CODE', 'KBD', 'SAMP', 'TEXTAREA',
                        'MJX-CONTAINER', 'MATH']);
  const skipped = node => {
    for (let e = node.parentElement; e; e = e.parentElement) {
      if (SKIP.has(e.tagName) || e.classList.contains('highlight')) return true;
    }
    return false;
  };
  // Text of the page outside code and typeset formulas, hidden parts (closed solutions) included.
  const pieces = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (!skipped(n)) pieces.push(n.data);
  const text = pieces.join(' ');
  const TEX = /\\[()\[\]]|\$\$|\\(?:frac|begin|end|left|right|math[a-z]*|operatorname|text|sum|prod|partial|odot|sigma|tanh|cdot|nabla|top|ldots|quad)(?![A-Za-z])|\$[^$\s]{1,40}\\[A-Za-z]/g;
  const rawTex = [];
  for (const m of text.matchAll(TEX)) {
    rawTex.push(text.slice(Math.max(0, m.index - 40), m.index + 40).replace(/\s+/g, ' '));
    if (rawTex.length >= 10) break;
  }
  const mathElements = [...document.querySelectorAll('.math')];
  const untypeset = mathElements.filter(e => !e.querySelector('mjx-container'))
    .map(e => e.textContent.trim().slice(0, 80));
  const visible = e => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden';
  const equations = [...document.querySelectorAll('div.math[id^="equation-"]')].map(div => {
    const eqno = div.querySelector('span.eqno');
    let number = null;
    if (eqno) {
      const copy = eqno.cloneNode(true);
      copy.querySelectorAll('a.headerlink').forEach(a => a.remove());
      number = copy.textContent.trim();
    }
    const rect = eqno ? eqno.getBoundingClientRect() : null;
    return {id: div.id.slice('equation-'.length), number, shown: visible(div),
            eqnoVisible: !!(eqno && rect.width > 0 && rect.height > 0 && visible(eqno))};
  });
  const images = [...document.images].map(img => ({
    src: img.currentSrc || img.src, complete: img.complete, naturalWidth: img.naturalWidth}));
  // Collapsed cells (hide-input) are opened while they are measured, as a reader who opens them sees them.
  const closed = [...document.querySelectorAll('details:not([open])')];
  closed.forEach(d => { d.open = true; });
  const wideCode = [...document.querySelectorAll('div.cell_input pre')]
    .filter(pre => pre.scrollWidth > pre.clientWidth + 1)
    .map(pre => ({line: (pre.textContent.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '')).trim(),
                  scrollWidth: pre.scrollWidth, clientWidth: pre.clientWidth}));
  closed.forEach(d => { d.open = false; });
  // Display equations at the desktop width: the typeset formula must fit its box (no scrolling, nothing cut off).
  const wideMath = [...document.querySelectorAll('div.math')].filter(visible).map(div => {
    const formula = div.querySelector('mjx-container');
    if (!formula) return null;
    const box = div.getBoundingClientRect(), inner = formula.getBoundingClientRect();
    const wide = formula.scrollWidth > formula.clientWidth + 1 || inner.right > box.right + 1 || inner.left < box.left - 1;
    return wide ? {id: div.id, width: formula.scrollWidth, room: formula.clientWidth} : null;
  }).filter(Boolean);
  const captions = [...document.querySelectorAll('figcaption')].map(c => c.textContent.replace(/\s+/g, ' ').trim());
  const links = [...document.querySelectorAll('a[href]')];
  const colab = links.filter(a => a.getAttribute('href').startsWith('https://colab.research.google.com/'))
    .map(a => a.getAttribute('href'));
  const download = links.filter(a => a.classList.contains('btn-download-notebook-button') ||
                                     (/\.ipynb$/.test(a.getAttribute('href')) && a.href.startsWith(location.origin)))
    .map(a => a.href);
  const allText = document.body.textContent.replace(/\s+/g, ' ');
  return {
    url: location.href, title: document.title, rawTex,
    mathElements: mathElements.length, untypeset: untypeset.slice(0, 10), untypesetCount: untypeset.length,
    mjx: document.querySelectorAll('mjx-container').length,
    mathErrors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 10),
    equations, images, wideCode, wideMath, captions,
    colab: [...new Set(colab)], download: [...new Set(download)],
    solutionElements: document.querySelectorAll('.solution').length,
    solutionText: (allText.match(/Solution to\s*Exercise[^.]{0,20}/g) || []).slice(0, 5),
  };
}"""

# Sideways overflow of the prose at the current viewport; code blocks and tables scroll in their own boxes.
OVERFLOW_JS = r"""() => {
  const inOwnScroller = e => !!e.closest('pre, table, .highlight, .cell_output, div.math, .table-wrapper');
  const paragraphs = [...document.querySelectorAll('article p')].filter(p => !inOwnScroller(p))
    .filter(p => p.scrollWidth > p.clientWidth + 1)
    .map(p => ({text: p.textContent.trim().replace(/\s+/g, ' ').slice(0, 80),
                scrollWidth: p.scrollWidth, clientWidth: p.clientWidth}));
  // The innermost elements that reach past the viewport, to name the cause of a page-wide overflow.
  const beyond = scope => [...scope.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
      && e.getClientRects().length > 0 && !e.closest('mjx-container'))
    .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 1))
    .map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : ''} (right ${Math.round(e.getBoundingClientRect().right)}px)`)
    .slice(0, 8);
  const article = document.querySelector('article');
  const past = (article && beyond(article).length) ? beyond(article) : beyond(document.body);
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, paragraphs, past};
}"""


def publish_dir() -> Path:
    return Path(os.environ.get("GATEDRNN_PUBLISH_DIR", REPO / "_build" / "publish")).resolve()


def discover_pages() -> list[tuple[str, str]]:
    """(edition, page) for every HTML page of both editions: the top-level pages and chapters/*.html."""
    root = publish_dir()
    pages = []
    for edition, prefix in EDITIONS.items():
        base = root / prefix
        found = sorted(base.glob("*.html")) + sorted(base.glob("chapters/*.html"))
        pages += [(edition, path.relative_to(base).as_posix()) for path in found]
    return pages


def page_id(value) -> str:
    edition, page = value
    return f"{edition}/{page.removesuffix('.html')}"


def pytest_generate_tests(metafunc):
    """Tests that take ``webpage`` run once per page of both editions (``main/chapters/lstm``), and ``chapter`` once
    per chapter page. With no published tree, one placeholder makes the ``site`` fixture fail instead of a silent skip."""
    for name, keep in (("webpage", lambda page: True), ("chapter", lambda page: page.startswith("chapters/"))):
        if name in metafunc.fixturenames:
            pages = [value for value in discover_pages() if keep(value[1])]
            metafunc.parametrize(name, pages or [("missing", "publish tree missing")], ids=page_id)


def find_browser() -> str:
    candidates = [os.environ.get("BROWSER_EXECUTABLE"), "/usr/bin/chromium", shutil.which("google-chrome")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("no browser for the browser tests: none of BROWSER_EXECUTABLE "
                f"({os.environ.get('BROWSER_EXECUTABLE')!r}), /usr/bin/chromium, google-chrome on PATH exists. "
                "Install Chromium (Debian/Ubuntu: sudo apt-get install chromium; Playwright's own browser download is "
                "not used) or set BROWSER_EXECUTABLE to a Chromium or Chrome binary.", pytrace=False)


@pytest.fixture(scope="session")
def publish() -> Path:
    root = publish_dir()
    missing = [str(root / path) for path in ("index.html", "student/index.html", "notebooks") if not (root / path).exists()]
    if missing:
        pytest.fail(f"the published tree is missing ({', '.join(missing)}): run `make publish` first, or point "
                    "GATEDRNN_PUBLISH_DIR at a published tree", pytrace=False)
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(publish):
    """The base address of the published tree, served on 127.0.0.1 at a free port for the session."""
    handler = functools.partial(_QuietHandler, directory=str(publish))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(scope="session")
def browser():
    executable = find_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Recorder:
    """Console errors, page errors, failed requests and the hosts asked, of one page (or one sequence of actions)."""

    def __init__(self, page, origin: str):
        self.origin = origin
        self.inflight = set()
        self.reset()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))
        page.on("request", self._request)
        page.on("requestfinished", lambda request: self.inflight.discard(request))
        page.on("requestfailed", self._failed)
        page.on("response", lambda response: response.status >= 400 and self.failed.append(
            f"HTTP {response.status}: {response.url}"))

    def reset(self):
        self.errors, self.failed, self.foreign = [], [], []

    def _console(self, message):
        if message.type != "error":
            return
        where = message.location.get("url") or ""
        # Chromium asks the server's root for /favicon.ico when a page names no icon: that address lies outside the
        # published tree (on GitHub Pages it is the account's root), so its 404 is not the site's.
        if where == f"{self.origin}/favicon.ico":
            return
        self.errors.append(f"console.error: {message.text}" + (f" ({where})" if where else ""))

    def _request(self, request):
        self.inflight.add(request)
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if parts.scheme == "file" and self.origin == "file":
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign.append(request.url)

    def _failed(self, request):
        self.inflight.discard(request)
        self.failed.append(f"failed ({request.failure}): {request.url}")


def settle(page, recorder: Recorder) -> str:
    """Wait for MathJax, fonts and images, then until no request is in flight (no fixed sleep)."""
    state = page.evaluate(SETTLE_JS, TIMEOUT_MS)
    for _ in range(400):
        if not recorder.inflight:
            break
        page.wait_for_timeout(25)
    return state


def full_screenshot(tab, path: Path) -> None:
    """A full-page PNG through the DevTools protocol: with optimizeForSpeed it takes about half the time of
    Playwright's full_page screenshot, which matters for tall chapters."""
    session = tab.context.new_cdp_session(tab)
    try:
        size = session.send("Page.getLayoutMetrics")["cssContentSize"]
        shot = session.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    finally:
        session.detach()
    path.write_bytes(base64.b64decode(shot["data"]))


def screenshot_path(edition: str, page: str, suffix: str = "") -> Path:
    path = SCREENSHOTS / edition / f"{page.removesuffix('.html')}{suffix}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


class Site:
    """Visits each page once, in one context and one tab, and keeps what the per-page tests assert."""

    def __init__(self, browser, server: str, publish: Path):
        self.server, self.publish = server, publish
        self.context = browser.new_context(viewport=DESKTOP)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.recorder = Recorder(self.page, server.rstrip("/"))
        self.reports = {}
        self.pages = discover_pages()

    def url(self, edition: str, page: str) -> str:
        return f"{self.server}{EDITIONS[edition]}{page}"

    def file(self, edition: str, page: str) -> Path:
        return self.publish / EDITIONS[edition] / page

    def report(self, edition: str, page: str) -> dict:
        key = (edition, page)
        if key not in self.reports:
            self.reports[key] = self._visit(edition, page)
        return self.reports[key]

    def _visit(self, edition: str, page: str) -> dict:
        tab, recorder = self.page, self.recorder
        recorder.reset()
        recorder.inflight.clear()
        tab.set_viewport_size(DESKTOP)
        tab.goto(self.url(edition, page), wait_until="load")
        refresh = re.search(r'http-equiv="refresh"\s+content="\d+;\s*url=([^"]+)"', self.file(edition, page).read_text(),
                            re.I)
        if refresh:  # the root index.html only redirects
            tab.wait_for_url(f"**/{refresh[1]}", wait_until="load")
        mathjax = settle(tab, recorder)
        report = tab.evaluate(COLLECT_JS)
        report["mathjax"] = mathjax
        full_screenshot(tab, screenshot_path(edition, page))
        tab.set_viewport_size(PHONE)
        report["phone"] = tab.evaluate(OVERFLOW_JS)
        if (edition, page) == ("main", "chapters/lstm.html"):
            tab.wait_for_timeout(500)  # the theme's sidebars slide away when the window narrows
            full_screenshot(tab, screenshot_path(edition, page, "-390"))
        tab.set_viewport_size(DESKTOP)
        report["errors"], report["failed"], report["foreign"] = recorder.errors, recorder.failed, recorder.foreign
        report["source_has_math"] = 'class="math' in self.file(edition, page).read_text()
        return report

    def close(self):
        self.context.close()


@pytest.fixture(scope="session")
def site(browser, server, publish):
    site = Site(browser, server, publish)
    yield site
    site.close()


LUMINANCE_JS = """(color) => {
  const m = color.match(/[\\d.]+/g);
  if (!m) return null;
  const [r, g, b] = m.slice(0, 3).map(v => { v = v / 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}"""

DARK_JS = """() => {
  const luminance = """ + LUMINANCE_JS + """;
  const opaque = c => c && c !== 'transparent' && !/rgba\\([^)]*,\\s*0\\)$/.test(c);
  const background = start => {
    for (let e = start; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (opaque(c)) return {color: c, element: e === start ? 'itself' : e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).trim().split(/\\s+/).join('.') : '')};
    }
    return {color: 'rgb(255, 255, 255)', element: 'none (canvas)'};
  };
  const page = background(document.body);
  const images = [...new Set(document.querySelectorAll('figure img, .cell_output img, div.output img'))].map(img => {
    const bg = background(img);
    const filter = getComputedStyle(img).filter;
    return {src: img.getAttribute('src'), background: bg.color, backgroundFrom: bg.element,
            backgroundLuminance: luminance(bg.color), filter, naturalWidth: img.naturalWidth};
  });
  return {theme: document.documentElement.dataset.theme, mode: document.documentElement.dataset.mode,
          pageBackground: page.color, pageLuminance: luminance(page.color), images};
}"""


@pytest.fixture(scope="module")
def dark(browser, server):
    """The main edition's LSTM chapter, switched to dark with the theme button; what it looks like and logs."""
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    recorder = Recorder(tab, server.rstrip("/"))
    url = f"{server}chapters/lstm.html"
    tab.goto(url, wait_until="load")
    settle(tab, recorder)
    before = list(recorder.errors)
    recorder.reset()
    switch = tab.locator(".theme-switch-button").first
    clicks = []
    if switch.count():
        for _ in range(3):
            switch.click()
            clicks.append(tab.evaluate("() => document.documentElement.dataset.theme"))
            if clicks[-1] == "dark":
                break
    else:
        tab.evaluate("() => { document.documentElement.dataset.theme = 'dark'; }")
        clicks.append("no .theme-switch-button: data-theme set by hand")
    tab.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
    state = tab.evaluate(DARK_JS)
    state.update(url=url, clicks=clicks, errors_on_load=before, errors_after_switch=list(recorder.errors))
    full_screenshot(tab, screenshot_path("main", "chapters/lstm.html", "-dark"))
    (SCREENSHOTS / "main" / "chapters" / "lstm-dark.json").write_text(json.dumps(state, indent=1))
    yield state
    context.close()


@pytest.fixture(scope="session")
def open_from_disk(browser, publish):
    """Opens a page of the tree as a file, every request other than a file's aborted; returns MathJax's state, the
    collected report and the cut-off requests."""

    def open_page(edition: str, page: str):
        path = publish / EDITIONS[edition] / page
        context = browser.new_context(viewport=DESKTOP)
        context.set_default_timeout(TIMEOUT_MS)
        aborted = []

        def route(route):
            if route.request.url.startswith("file:"):
                route.continue_()
            else:
                aborted.append(route.request.url)
                route.abort()

        try:
            tab = context.new_page()
            tab.route("**/*", route)
            tab.goto(path.as_uri(), wait_until="load")
            mathjax = tab.evaluate(SETTLE_JS, TIMEOUT_MS)
            report = tab.evaluate(COLLECT_JS)
        finally:
            context.close()
        report.update(url=path.as_uri(), mathjax=mathjax, aborted=aborted)
        return report

    return open_page
