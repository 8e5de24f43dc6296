"""Tests of the book: its notebooks under nbval, the Jupyter Book build, and the built site.

The expensive step, executing every notebook at the quick parameter set, runs once per test
session in a scratch copy of the repository (so the working tree is never touched); the book
is built from that copy. Then:

- nbval reruns every notebook (quick set injected by papermill) and compares the output of
  each cell marked ``# NBVAL_CHECK_OUTPUT`` with the reference stored in the source notebook;
- a second run of the notebooks must give byte-identical files (figures included);
- the book must build with ``-W -n --keep-going`` and print no warning;
- every internal link and anchor of the built site must resolve, and nothing may be loaded
  from another host (the book must read offline);
- in headless Chromium (Debian's package) every page is opened from a loopback server: every
  image must load, MathJax must come from the site itself and typeset every formula without
  error, and no request may leave the machine or fail.
"""

from __future__ import annotations

import dataclasses
import html.parser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import papermill
import pytest

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# Left out of the scratch copy of the repository: version control, environments, outputs.
_NOT_COPIED = {
    ".git", ".venv", "_build", ".pytest_cache", ".hypothesis", "dask-worker-space",
    "__pycache__", ".ipynb_checkpoints",
}


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


runner = _load_script("build_notebooks")
builder = _load_script("build_book")


def _ignore(directory, names):
    rel = Path(directory).resolve().relative_to(REPO)
    skipped = {n for n in names if n in _NOT_COPIED or n.endswith(".egg-info")}
    if rel == Path("book"):
        skipped.add("figures")  # generated; the copy must start without it
    return skipped


def _toc_files() -> list[str]:
    return builder.toc_files(REPO)


def _notebooks() -> list[Path]:
    return runner.discover_notebooks(REPO / "notebooks")


# --------------------------------------------------------------------------- static checks


def test_every_notebook_has_both_parameter_sets():
    names = [p.stem for p in _notebooks()]
    sets = runner.load_parameter_sets(REPO / "notebooks" / "params.yml", names)
    for set_name, entries in sets.items():
        for path in _notebooks():
            # raises naming the notebook if a key is not set in its parameters cell
            runner.check_parameters(path, entries[path.stem])
        assert set(entries) == set(names), set_name


def test_table_of_contents_lists_every_notebook():
    chapters = {f.rsplit("/", 1)[1] for f in _toc_files() if f.startswith("book/figures/")}
    notebooks = {p.stem for p in _notebooks()}
    assert chapters == notebooks, (
        f"notebooks without a chapter: {sorted(notebooks - chapters)}; "
        f"chapters without a notebook: {sorted(chapters - notebooks)}"
    )


# --------------------------------------------------------------------------- session fixtures


@dataclasses.dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    seconds: float


def _run(cmd, cwd, env=None) -> Run:
    t0 = time.perf_counter()
    res = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    return Run(res.returncode, res.stdout + res.stderr, time.perf_counter() - t0)


@pytest.fixture(scope="session")
def book_tree(tmp_path_factory) -> Path:
    """A scratch copy of the repository, without generated files."""
    root = tmp_path_factory.mktemp("book") / "repo"
    shutil.copytree(REPO, root, ignore=_ignore, symlinks=True)
    return root


@pytest.fixture(scope="session")
def quick_notebooks(book_tree) -> Path:
    """Every notebook executed at the quick set into the copy's book/figures (once)."""
    run = _run([sys.executable, book_tree / "scripts" / "build_notebooks.py", "--set", "quick"],
               cwd=book_tree)
    if run.returncode != 0:
        pytest.fail(f"executing the notebooks (quick set) failed:\n{run.output[-5000:]}",
                    pytrace=False)
    return book_tree / "book" / "figures"


@pytest.fixture(scope="session")
def built_book(book_tree, quick_notebooks) -> Run:
    return _run([sys.executable, book_tree / "scripts" / "build_book.py"], cwd=book_tree)


@pytest.fixture(scope="session")
def site(built_book, book_tree) -> Path:
    if built_book.returncode != 0:
        pytest.fail("the book did not build; see test_book_builds_without_warnings",
                    pytrace=False)
    return book_tree / "_build" / "html"


# --------------------------------------------------------------------------- notebooks


def test_nbval_reproduces_checked_outputs(tmp_path):
    """nbval reruns each notebook at the quick set; marked cells must match the stored output."""
    names = [p.stem for p in _notebooks()]
    quick = runner.load_parameter_sets(REPO / "notebooks" / "params.yml", names)["quick"]
    nb_dir = tmp_path / "nbval"
    nb_dir.mkdir()
    unchecked, unreferenced, n_code_cells = [], [], 0
    for src in _notebooks():
        prepared = nb_dir / src.name
        # prepare_only injects the parameters and keeps the stored outputs: the reference
        papermill.execute_notebook(
            str(src), str(prepared), parameters=quick[src.stem], prepare_only=True,
            kernel_name=runner.KERNEL_NAME, progress_bar=False,
        )
        nb = nbformat.read(prepared, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        n_code_cells += len(code)
        checked = [c for c in code if c.source.lstrip().startswith(runner.NBVAL_MARKER)]
        if not checked:
            unchecked.append(src.name)
        unreferenced += [f"{src.name}: {c.source.splitlines()[1:2]}" for c in checked
                         if not c.outputs]
    assert not unchecked, (
        f"notebooks without a '{runner.NBVAL_MARKER}' cell, so nbval checks nothing: {unchecked}"
    )
    assert not unreferenced, (
        "cells marked for output checking have no stored reference output; run "
        "`make nbval-reference` and commit the notebooks:\n  " + "\n  ".join(unreferenced)
    )
    env = runner.kernel_environment(runner.source_date_epoch(), tmp_path / "kernel")
    env.pop("PYTEST_ADDOPTS", None)
    ini = nb_dir / "pytest.ini"
    ini.write_text("[pytest]\n")  # keep the repository's pytest settings out of this run
    cmd = [
        sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env",
        "--nbval-cell-timeout", "900", "-p", "no:cacheprovider", "-q",
        "-c", ini, "--rootdir", nb_dir, *sorted(nb_dir.glob("*.ipynb")),
    ]
    run = _run(cmd, cwd=nb_dir, env=env)
    output = builder.ANSI_ESCAPE.sub("", run.output)
    if run.returncode != 0:
        pytest.fail(f"nbval failed (exit status {run.returncode}):\n{output[-8000:]}",
                    pytrace=False)
    # nbval makes one test item per code cell; all of them must have run and passed
    passed = re.search(r"(\d+) passed", output)
    assert passed and int(passed.group(1)) == n_code_cells, output[-3000:]


def test_rerun_gives_byte_identical_notebooks(book_tree, quick_notebooks, tmp_path):
    """Executed notebooks, figures included, do not change from one run to the next."""
    out = tmp_path / "rerun"
    run = _run([sys.executable, book_tree / "scripts" / "build_notebooks.py", "--set", "quick",
                "--output-dir", out], cwd=book_tree)
    assert run.returncode == 0, run.output[-5000:]
    first = sorted(p.name for p in quick_notebooks.glob("*.ipynb"))
    assert first == sorted(p.name for p in out.glob("*.ipynb"))
    differing = []
    for name in first:
        a = nbformat.read(quick_notebooks / name, as_version=4)
        b = nbformat.read(out / name, as_version=4)
        if (quick_notebooks / name).read_bytes() != (out / name).read_bytes():
            cells = [i for i, (x, y) in enumerate(zip(a.cells, b.cells)) if x != y]
            differing.append(f"{name}: cells {cells} (or metadata) differ")
    assert not differing, "reruns differ:\n  " + "\n  ".join(differing)


# --------------------------------------------------------------------------- build


def test_book_builds_without_warnings(built_book, book_tree):
    assert built_book.returncode == 0, built_book.output[-8000:]
    # the same scan build_book.py applies, minus its own closing error line
    scan = [line for line in built_book.output.splitlines()
            if builder.WARNING_LINE.search(line) and not line.startswith("build_book: error")]
    assert not scan, "the build printed warnings:\n" + "\n".join(scan[:30])
    html = book_tree / "_build" / "html"
    missing = [f for f in _toc_files() if not (html / f"{f}.html").is_file()]
    assert not missing, f"pages missing from the site: {missing}"


class _PageParser(html.parser.HTMLParser):
    """Collects the ids of a page and every URL it references."""

    LINK_ATTRS = {
        "a": "href", "link": "href", "script": "src", "img": "src", "iframe": "src",
        "source": "src", "video": "src", "audio": "src", "embed": "src", "object": "data",
    }

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.urls: list[tuple[str, str, dict]] = []  # (tag, url, attrs)
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name") if tag == "a" else ("id",):
            if attrs.get(key):
                self.ids.add(attrs[key])
        attr = self.LINK_ATTRS.get(tag)
        if attr and attrs.get(attr):
            self.urls.append((tag, attrs[attr].strip(), attrs))
        if tag == "meta" and (attrs.get("http-equiv") or "").lower() == "refresh":
            target = re.search(r"url=(.+)$", attrs.get("content", ""), re.I)
            if target:
                self.urls.append(("meta", target.group(1).strip().strip("'\""), attrs))
        self._in_script = tag == "script" and not attrs.get("src")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.inline_scripts.append(data)


def _parse(path: Path) -> _PageParser:
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _pages(site: Path) -> dict[Path, _PageParser]:
    # _static and _sources hold theme template fragments and page sources, not pages
    return {path: _parse(path) for path in sorted(site.rglob("*.html"))
            if path.relative_to(site).parts[0] not in ("_static", "_sources")}


def _is_remote(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme in ("http", "https", "ws", "wss")


def test_internal_links_and_anchors_resolve(site):
    pages = _pages(site)
    assert pages, "no HTML pages were built"
    broken = []
    for page, parsed in pages.items():
        for tag, url, _ in parsed.urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                continue  # external links (arXiv, ...) and data:/mailto: URLs
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            where = f"{page.relative_to(site)}: <{tag}> {url}"
            if site.resolve() not in (target, *target.parents):
                broken.append(f"{where} points outside the site")
                continue
            if target.is_dir():
                target = target / "index.html"
            if not target.is_file():
                broken.append(f"{where}: no such file")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html":
                ids = (pages[target] if target in pages else _parse(target)).ids
                if fragment not in ids:
                    broken.append(f"{where}: no anchor #{fragment}")
    assert not broken, f"{len(broken)} broken link(s):\n  " + "\n  ".join(broken[:40])


def test_nothing_is_loaded_from_another_host(site):
    """Scripts, styles, fonts, images and frames are all part of the site (offline reading)."""
    remote = []
    for page, parsed in _pages(site).items():
        for tag, url, attrs in parsed.urls:
            if tag in ("a", "meta"):
                continue  # links are followed only when clicked
            rel = (attrs.get("rel") or "").lower()
            if tag == "link" and not re.search(r"stylesheet|icon|preload|prefetch|manifest", rel):
                continue
            if _is_remote(url):
                remote.append(f"{page.relative_to(site)}: <{tag}> {url}")
        for script in parsed.inline_scripts:
            for url in re.findall(r"""["'](?:https?:)?//[^"']+\.(?:m?js|css)\b[^"']*["']""", script):
                remote.append(f"{page.relative_to(site)}: inline script loads {url}")
    for css in (site / "_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        for url in re.findall(r"""(?:url\(|@import)\s*["']?((?:https?:)?//[^"')\s]+)""", text):
            remote.append(f"{css.relative_to(site)}: {url}")
    assert not remote, "assets from other hosts:\n  " + "\n  ".join(remote[:40])


def test_mathjax_is_served_from_the_site(site):
    mathjax = site / "_static" / "mathjax" / "MathJax.js"
    assert mathjax.is_file(), "MathJax was not copied into the site"
    pages_with_math = 0
    for page, parsed in _pages(site).items():
        text = page.read_text(encoding="utf-8")
        sources = [url for tag, url, _ in parsed.urls if tag == "script" and "mathjax" in url.lower()]
        if 'class="math notranslate' not in text:
            continue
        pages_with_math += 1
        assert len(sources) == 1, f"{page.relative_to(site)}: MathJax scripts {sources}"
        resolved = (page.parent / urlsplit(sources[0]).path).resolve()
        assert resolved == mathjax.resolve(), f"{page.relative_to(site)} loads {sources[0]}"
    assert pages_with_math > 0, "no page of the book contains math"


# --------------------------------------------------------------------------- browser

# Runs in the page after its load event: waits for images and MathJax, then reports.
PAGE_CHECK_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const imgs = Array.from(document.images);
  imgs.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(r => {
    img.addEventListener('load', r); img.addEventListener('error', r); setTimeout(r, 20000);
  })));
  const images = imgs.map(img => ({src: img.getAttribute('src'),
                                   ok: img.complete && img.naturalWidth > 0}));
  const math = Array.from(document.querySelectorAll('.math.notranslate'));
  let mathjax = null;
  if (math.length) {
    const t0 = Date.now();
    while (!(window.MathJax && MathJax.isReady) && Date.now() - t0 < 30000) await sleep(50);
    if (window.MathJax && MathJax.Hub) {
      await new Promise(r => MathJax.Hub.Queue(r));
      const jax = MathJax.Hub.getAllJax();
      mathjax = {
        version: MathJax.version,
        root: MathJax.Ajax.config.root,
        jax: jax.length,
        texErrors: jax.filter(j => j.texError || (j.root && j.root.texError))
                      .map(j => j.originalText).slice(0, 5),
        untypeset: math.filter(el => !el.querySelector('.MathJax, .MathJax_Display'))
                       .map(el => el.textContent.slice(0, 80)).slice(0, 5),
      };
    }
  }
  return {images, math: math.length, mathjax};
})()
"""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    from _browser import CHROMIUM

    path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{reason}; .ci/run installs it, so CI must have it", pytrace=False)
        pytest.skip(reason)
    return path


def test_site_renders_in_headless_chromium(site, chromium_path):
    from _browser import Chromium, SiteServer

    pages = [p for p, parsed in _pages(site).items()
             if not any(tag == "meta" for tag, _, _ in parsed.urls)]  # skip redirect stubs
    problems, n_images, n_formulae = [], 0, 0
    with Chromium(chromium_path) as browser:  # started before the server's thread
        browser.open_page()
        with SiteServer(site) as server:
            for page in pages:
                rel = page.relative_to(site).as_posix()
                since = len(browser.events)
                browser.navigate(f"{server.origin}/{rel}")
                report = browser.evaluate(PAGE_CHECK_JS, timeout=90)
                n_images += len(report["images"])
                problems += [f"{rel}: image {im['src']} did not load"
                             for im in report["images"] if not im["ok"]]
                mj = report["mathjax"]
                if report["math"]:
                    if mj is None:
                        problems.append(f"{rel}: {report['math']} formulae but MathJax never ran")
                    else:
                        n_formulae += mj["jax"]
                        if not mj["root"].startswith(server.origin + "/_static/mathjax"):
                            problems.append(f"{rel}: MathJax loaded from {mj['root']}")
                        if not mj["version"].startswith("2.7"):
                            problems.append(f"{rel}: unexpected MathJax {mj['version']}")
                        problems += [f"{rel}: TeX error in {t!r}" for t in mj["texErrors"]]
                        problems += [f"{rel}: formula not typeset: {t!r}" for t in mj["untypeset"]]
                for ev in browser.events_since(since):
                    method, params = ev.get("method"), ev.get("params", {})
                    if method == "Network.requestWillBeSent":
                        url = params["request"]["url"]
                        if _is_remote(url) and not url.startswith(server.origin):
                            problems.append(f"{rel}: request to another host: {url}")
                    elif method == "Runtime.exceptionThrown":
                        details = params["exceptionDetails"]
                        text = details.get("exception", {}).get("description") or details["text"]
                        problems.append(f"{rel}: JavaScript exception: {text[:200]}")
            time.sleep(0.5)  # let late requests (fonts) reach the log
            problems += [f"HTTP {status} for {path}" for path, status in server.requests
                         if isinstance(status, int) and status >= 400]
    assert not problems, f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:40])
    # the checks above must not pass vacuously
    assert n_images > 0, "the book shows no image"
    assert n_formulae > 0, "the book typeset no formula"


# --------------------------------------------------------------------------- deposit, inline math


def test_artifact_verifies_and_its_site_opens(book_tree, site, chromium_path, tmp_path):
    """`make artifact` on the session's quick book: every checksum verifies, and the unpacked
    site's index.html opens in Chromium with its images, MathJax and no failed request."""
    from _browser import Chromium, SiteServer
    from test_artifact import make_artifact, unpack_and_verify

    res = make_artifact(book_tree)
    assert res.returncode == 0, res.stdout + res.stderr
    (archive,) = (book_tree / "_build").glob("nslmodel-*-book.tar.gz")
    top = unpack_and_verify(archive, tmp_path)
    unpacked = top / "site"
    assert sorted(p.name for p in (top / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in (book_tree / "book" / "figures").glob("*.ipynb"))
    figure = next(f for f in _toc_files() if f.startswith("book/figures/"))
    reports, failed, events = {}, [], []
    with Chromium(chromium_path) as browser:
        browser.open_page()
        with SiteServer(unpacked) as server:
            since = len(browser.events)
            browser.navigate(f"{server.origin}/index.html")
            # index.html redirects to the root page of the table of contents: wait for it
            first = next(i for i, ev in enumerate(browser.events) if i >= since
                         and ev.get("method") == "Page.loadEventFired")
            browser.wait_event("Page.loadEventFired", first + 1)
            landed = browser.evaluate("location.pathname")
            reports["index.html"] = browser.evaluate(PAGE_CHECK_JS, timeout=90)
            browser.navigate(f"{server.origin}/{figure}.html")  # a page with figures
            reports[figure] = browser.evaluate(PAGE_CHECK_JS, timeout=90)
            time.sleep(0.5)  # let late requests (fonts) reach the log
            # the redirect stub index.html names no icon, so Chromium asks for the default
            # /favicon.ico: a request of the browser's own, not a link of the site
            failed = [s for s in server.requests if isinstance(s[1], int) and s[1] >= 400
                      and s[0] != "/favicon.ico"]
            seen = browser.events_since(since)
    urls = {e["params"]["requestId"]: e["params"]["request"]["url"] for e in seen
            if e.get("method") == "Network.requestWillBeSent"}
    # failed loads of the site's own files (MathJax's font probes load about:blank, which
    # Chromium refuses as a font; that is no file of the site) and JavaScript exceptions
    events = [e for e in seen if e.get("method") == "Runtime.exceptionThrown"
              or (e.get("method") == "Network.loadingFailed"
                  and urls.get(e["params"]["requestId"], "").startswith(server.origin))]
    assert landed == f"/{_toc_files()[0]}.html", landed
    assert reports[figure]["images"], f"{figure} shows no image"
    for page, report in reports.items():
        assert all(im["ok"] for im in report["images"]), (page, report["images"])
        if report["math"]:
            mj = report["mathjax"]
            assert mj and mj["jax"] and not mj["untypeset"] and not mj["texErrors"], (page, mj)
    assert not failed, failed
    assert not events, events[:5]


# Finds an inline formula that is one capital letter in a paragraph of text, puts the same
# letter in the text's font right after it and a zero-height box on the baseline before it.
INLINE_MATH_JS = r"""
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  while (!(window.MathJax && MathJax.isReady)) await sleep(50);
  await new Promise(r => MathJax.Hub.Queue(r));
  const host = Array.from(document.querySelectorAll('p > span.math')).find(el => {
    const tex = el.querySelector('script[type^="math/tex"]');
    return tex && /^[A-Z]$/.test(tex.textContent.trim()) && !el.closest('table');
  });
  if (!host) return null;
  const letter = host.querySelector('script').textContent.trim();
  host.scrollIntoView({block: 'center'});
  const ref = document.createElement('span');
  ref.textContent = letter;
  const probe = document.createElement('span');
  probe.style.cssText = 'display:inline-block;width:0;height:0';
  host.after(ref);
  host.before(probe);
  await sleep(200);
  const box = el => { const r = el.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const style = getComputedStyle(host.parentElement);
  return {letter, formula: box(host.querySelector('.MathJax')), text: box(ref),
          baseline: probe.getBoundingClientRect().bottom, scale: devicePixelRatio,
          lineHeight: parseFloat(style.lineHeight), fontSize: parseFloat(style.fontSize)};
})()
"""


def _ink_rows(image, box, scale: float, pad: int) -> tuple[int, int]:
    """First and one-past-last pixel row with ink (darker than mid-grey) inside `box`'s columns."""
    import numpy as np

    left, top, right, bottom = (round(v * scale) for v in box)
    gray = np.asarray(image.convert("L"), dtype=float)[top - pad:bottom + pad, left:right]
    rows = np.flatnonzero((gray < 128).any(axis=1))
    assert rows.size, f"no ink in the screenshot at {box}"
    return top - pad + rows[0], top - pad + rows[-1] + 1


def test_inline_math_sits_on_the_baseline_at_the_text_size(site, chromium_path):
    """A screenshot of one inline formula (a single capital, e.g. $M$) next to the same
    capital set in the text's font: the formula's ink ends on the text's baseline and is as
    tall as the text's capital, not raised and enlarged (the MathJax 2 + theme defect)."""
    import base64
    import io

    from PIL import Image

    from _browser import Chromium, SiteServer

    with Chromium(chromium_path) as browser:
        browser.open_page()
        with SiteServer(site) as server:
            browser.navigate(f"{server.origin}/book/model.html")
            m = browser.evaluate(INLINE_MATH_JS, timeout=90)
            assert m is not None, "book/model.html has no inline formula of one capital letter"
            shot = browser.send("Page.captureScreenshot", {"format": "png"},
                                session=browser.session)
    image = Image.open(io.BytesIO(base64.b64decode(shot["data"])))
    pad = 2  # rows around each element's own box: antialiasing may spill past it
    f_top, f_bottom = _ink_rows(image, m["formula"], m["scale"], pad)
    t_top, t_bottom = _ink_rows(image, m["text"], m["scale"], pad)
    baseline = round(m["baseline"] * m["scale"])
    # One device pixel: glyph outlines are rounded to the pixel grid and antialiased, so the
    # first/last row darker than mid-grey can move by one row between two fonts.
    assert abs(t_bottom - baseline) <= 1, (t_bottom, baseline)  # the probe is on the baseline
    assert abs(f_bottom - baseline) <= 1, (
        f"inline ${m['letter']}$ ends {baseline - f_bottom} px above the baseline")
    assert abs((f_bottom - f_top) - (t_bottom - t_top)) <= 1, (
        f"inline ${m['letter']}$ is {f_bottom - f_top} px tall, the text's "
        f"{m['letter']} {t_bottom - t_top} px (line height {m['lineHeight']} px)")
