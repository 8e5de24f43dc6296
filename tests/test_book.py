"""Tests of the book: its notebooks executed once at the quick set, and the site built from them.

One session fixture executes every notebook once, at the quick parameter set, in a scratch copy
of the repository (the working tree is never touched); every check below reads those outputs:

- the output of each cell marked ``# NBVAL_CHECK_OUTPUT`` equals the reference stored in the
  source notebook, compared by nbval's own comparison (nbval would execute the notebooks once
  more; here it compares the outputs papermill produced);
- it also equals the output of the same cell in a second execution of the quick set, made at
  the same time by tests/_second_environment.py under other conditions (all notebooks in one
  kernel, in reverse order, with another number of BLAS threads): the printed digits do not
  depend on the machine, the thread count or the queries made before;
- the book builds from them with ``-W -n --keep-going`` and prints no warning;
- every internal link and anchor of the site resolves, and nothing is loaded from another host
  (the book reads offline);
- in headless Chromium (Debian's package) every page is opened from a loopback server: every
  image loads, MathJax comes from the site and typesets every formula, and no request leaves
  the machine or fails.
"""

from __future__ import annotations

import dataclasses
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import build_book as builder
import build_notebooks as runner
import nbformat
import pytest
from nbval.plugin import IPyNbFile, coalesce_streams, nocolors
from sphinx_external_toc.parsing import parse_toc_yaml

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
NOTEBOOKS = sorted((REPO / "notebooks").glob("[!.]*.ipynb"))
TOC = list(parse_toc_yaml(REPO / "_toc.yml"))  # every page, root first, without suffix
# Left out of the scratch copy of the repository: version control, environments, outputs.
NOT_COPIED = shutil.ignore_patterns(".git", ".venv", "_build", ".pytest_cache", ".hypothesis",
                                    "dask-worker-space", "__pycache__", ".ipynb_checkpoints",
                                    "*.egg-info", "figures")


# --------------------------------------------------------------------------- static checks


def test_params_yml_holds_only_quick_overrides():
    """Each entry overrides a parameter of the notebook, with its type (publication values
    live in the parameters cell only: params.yml used to restate all of them)."""
    params = REPO / "notebooks" / "params.yml"
    overrides = runner.load_overrides(params, [p.stem for p in NOTEBOOKS])
    for path in NOTEBOOKS:
        defaults = runner.check_parameters(path, overrides[path.stem])
        same = [k for k, v in overrides[path.stem].items() if v == defaults[k]]
        assert not same, f"{path.name}: params.yml restates the publication values of {same}"


def test_table_of_contents_lists_every_notebook():
    chapters = {f.rsplit("/", 1)[1] for f in TOC
                if f.startswith("book/figures/")}
    notebooks = {p.stem for p in NOTEBOOKS}
    assert chapters == notebooks, (
        f"notebooks without a chapter: {sorted(notebooks - chapters)}; "
        f"chapters without a notebook: {sorted(chapters - notebooks)}"
    )


# --------------------------------------------------------------------------- session fixtures


@dataclasses.dataclass(frozen=True)
class Run:
    returncode: int
    output: str


def _run(cmd, cwd) -> Run:
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    return Run(res.returncode, res.stdout + res.stderr)


@pytest.fixture(scope="session")
def book_tree(tmp_path_factory) -> Path:
    """A scratch copy of the repository, without generated files."""
    root = tmp_path_factory.mktemp("book") / "repo"
    shutil.copytree(REPO, root, ignore=NOT_COPIED, symlinks=True)
    return root


def _default_blas_threads() -> int:
    """Threads of this process's BLAS pools: what the runner's kernels get (same environment)."""
    from threadpoolctl import threadpool_info

    return max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"),
               default=1)


@pytest.fixture(scope="session")
def executions(book_tree, tmp_path_factory) -> tuple[Run, Run, Path, int]:
    """The quick set executed twice, side by side (two kernels at a time): by the book's runner
    into the copy's book/figures, and by tests/_second_environment.py (one kernel, reverse
    order, another BLAS thread count) into a folder of its own."""
    second_dir = tmp_path_factory.mktemp("second_environment")
    threads = 1 if _default_blas_threads() > 1 else 2
    second = subprocess.Popen(
        [sys.executable, str(book_tree / "tests" / "_second_environment.py"),
         str(book_tree / "notebooks"), str(second_dir), "--blas-threads", str(threads)],
        cwd=book_tree, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first = _run([sys.executable, book_tree / "scripts" / "build_notebooks.py", "--set",
                      "quick"], cwd=book_tree)
        output, _ = second.communicate()
    finally:
        second.kill()  # no-op once it has exited
    return first, Run(second.wait(), output), second_dir, threads


@pytest.fixture(scope="session")
def quick_notebooks(executions, book_tree) -> Path:
    """Every notebook executed once, at the quick set, into the copy's book/figures."""
    run = executions[0]
    if run.returncode != 0:
        pytest.fail(f"executing the notebooks (quick set) failed:\n{run.output[-5000:]}",
                    pytrace=False)
    executed = re.findall(r"\] (\S+\.ipynb) done in", run.output)
    assert sorted(executed) == [p.name for p in NOTEBOOKS], run.output  # each exactly once
    return book_tree / "book" / "figures"


@pytest.fixture(scope="session")
def second_environment(executions) -> tuple[Path, int]:
    """The quick set executed in the second environment: (folder, BLAS threads used)."""
    _, run, folder, threads = executions
    if run.returncode != 0:
        pytest.fail(f"executing the notebooks in the second environment failed:\n"
                    f"{run.output[-5000:]}", pytrace=False)
    return folder, threads


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


def _checked_cells(src: Path, executed: Path, request) -> list[tuple]:
    """nbval's items for the '# NBVAL_CHECK_OUTPUT' cells of `src` (each holds the stored
    reference), with the same cells of the executed copy in folder `executed`."""
    ran = runner.code_cells(nbformat.read(executed / src.name, as_version=4))
    assert all(c.execution_count for c in ran if c.source.strip()), f"{src.name}: not run"
    nbfile = IPyNbFile.from_parent(request.session, path=src)
    nbfile.compare_outputs = False  # as --nbval-lax: only the marked cells are compared
    items = list(nbfile.collect())
    assert [i.cell.source for i in items] == [c.source for c in ran], src.name
    checked = [(item, cell) for item, cell in zip(items, ran) if item.options["check"]]
    assert checked, f"{src.name}: no '{runner.NBVAL_MARKER}' cell, so nothing is checked"
    for item, _ in checked:
        item.colors = nocolors
    return checked


def test_checked_outputs_match_the_stored_reference(quick_notebooks, request):
    """Every code cell ran; marked cells print what the source notebook stores (nbval-lax)."""
    differing = []
    for src in NOTEBOOKS:
        for item, cell in _checked_cells(src, quick_notebooks, request):
            assert item.cell.outputs, (f"{src.name}, {item.name}: no stored reference output; "
                                       "run `make nbval-reference` and commit the notebook")
            if not item.compare_outputs(coalesce_streams(cell.outputs),
                                        coalesce_streams(item.cell.outputs)):
                differing += [f"{src.name}, {item.name}:", *item.comparison_traceback]
    assert not differing, "\n".join(differing)


def test_checked_outputs_are_the_same_in_a_second_environment(quick_notebooks,
                                                              second_environment, request):
    """Every marked cell of every notebook prints the same text (nbval's comparison) when the
    notebook runs after all the others in one kernel, in reverse order, with another number
    of BLAS threads: a printed digit that depends on the machine, the thread count or the
    queries made before is caught here, whichever machine runs the suite."""
    folder, threads = second_environment
    pools = json.loads((folder / "threadpools.json").read_text())
    blas = [p for p in pools if p["internal_api"] in ("openblas", "mkl", "blis")]
    assert blas and all(p["num_threads"] == threads for p in blas), (threads, pools)
    differing = []
    for src in NOTEBOOKS:
        pairs = zip(_checked_cells(src, folder, request),
                    _checked_cells(src, quick_notebooks, request), strict=True)
        for (item, second), (_, first) in pairs:
            if not item.compare_outputs(coalesce_streams(second.outputs),
                                        coalesce_streams(first.outputs)):
                differing += [f"{src.name}, {item.name} (second environment, then the "
                              "runner's):", *item.comparison_traceback]
    assert not differing, "\n".join(differing)


@pytest.mark.slow
def test_rerun_gives_byte_identical_notebooks(book_tree, quick_notebooks, tmp_path):
    """Executed notebooks, figures included, do not change from one run to the next, except
    the output of the cells tagged ``run-time`` (each chapter's rerun note states the measured
    wall and CPU time of its own execution)."""
    run = _run([sys.executable, book_tree / "scripts" / "build_notebooks.py", "--set", "quick",
                "--force", "--output-dir", tmp_path], cwd=book_tree)
    assert run.returncode == 0, run.output[-5000:]

    def without_run_times(path):
        nb = nbformat.read(path, as_version=4)
        timed = [c for c in nb.cells if "run-time" in c.get("metadata", {}).get("tags", [])]
        for cell in timed:
            cell.outputs = []
        return len(timed), nbformat.writes(nb)

    differing = [p.name for p in NOTEBOOKS
                 if without_run_times(quick_notebooks / p.name) != without_run_times(tmp_path / p.name)]
    assert not differing, f"reruns differ: {differing}"
    # the rerun note is the only thing left out: one cell per chapter
    assert all(without_run_times(tmp_path / p.name)[0] == 1 for p in NOTEBOOKS)


# --------------------------------------------------------------------------- build


def test_book_builds_without_warnings(built_book, book_tree):
    assert built_book.returncode == 0, built_book.output[-8000:]
    # the same scan build_book.py applies, minus its own closing error line
    scan = [line for line in built_book.output.splitlines()
            if builder.WARNING_LINE.search(line) and not line.startswith("build_book: error")]
    assert not scan, "the build printed warnings:\n" + "\n".join(scan[:30])
    html = book_tree / "_build" / "html"
    missing = [f for f in TOC if not (html / f"{f}.html").is_file()]
    assert not missing, f"pages missing from the site: {missing}"


def test_each_chapter_lists_its_parameters_once_with_the_values_used(site):
    """The quick build shows one parameters listing per chapter, holding every value the run
    used, overrides included (papermill's cell; the publication values' cell is removed)."""
    import papermill
    from papermill.translators import PythonTranslator

    names = [p.stem for p in NOTEBOOKS]
    overrides = runner.load_overrides(REPO / "notebooks" / "params.yml", names)
    for src in NOTEBOOKS:
        page = (site / "book" / "figures" / f"{src.stem}.html").read_text(encoding="utf-8")
        starts = [m.end() for m in re.finditer(
            r'<div class="cell [^"]*\btag_(?:injected-)?parameters\b', page)]
        assert len(starts) == 1, f"{src.name}: {len(starts)} parameters listings"
        listing = re.search(r"<pre>(.*?)</pre>", page[starts[0]:], re.S).group(1)
        listing = html.unescape(re.sub(r"<[^>]+>", "", listing)).splitlines()
        used = {**runner.check_parameters(src, overrides[src.stem]), **overrides[src.stem]}
        # papermill writes every value when it injects any; else the cell's own text shows
        written = ({k: PythonTranslator.translate(v) for k, v in used.items()}
                   if overrides[src.stem] else
                   {k: i["default"] for k, i in papermill.inspect_notebook(str(src)).items()})
        missing = [f"{k} = {v}" for k, v in written.items() if not any(
            re.match(re.escape(f"{k} = {v}") + r"\s*(#|$)", line) for line in listing)]
        assert not missing, f"{src.name}: the listing lacks {missing}: {listing}"


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


def test_displayed_markdown_is_rendered(site):
    """Markdown a chapter displays (its tables, its rerun note) is rendered, not shown as text:
    myst-nb's default for such output, commonmark, has no tables and printed their source."""
    raw_rows = []
    for rel in TOC:
        page = (site / f"{rel}.html").read_text(encoding="utf-8")
        text = re.sub(r"<[^>]+>", "", re.sub(r"(?s)<pre.*?</pre>", "", page))  # prose, not code
        raw_rows += [f"{rel}: {m.group(0)}" for m in re.finditer(r"\|\s*:?-{3,}:?\s*\|", text)]
    assert not raw_rows, "Markdown tables shown as text:\n" + "\n".join(raw_rows)


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
  // each displayed formula: its typeset box against the free width of its div.math (the
  // equation number, if any, takes the right end)
  const displays = Array.from(document.querySelectorAll('div.math')).flatMap(div => {
    const box = div.querySelector('.MathJax_Display .MathJax');
    if (!box) return [];
    const d = div.getBoundingClientRect(), f = box.getBoundingClientRect();
    const eqno = div.querySelector('.eqno');
    const gap = eqno ? parseFloat(getComputedStyle(div).columnGap) || 0 : 0;
    const right = eqno ? eqno.getBoundingClientRect().left - gap : d.right;
    return [{text: div.textContent.trim().slice(0, 60), left: f.left - d.left, right: right - f.right,
             width: f.width, free: right - d.left}];
  });
  // glued text (myst-nb's span.pasted-text) whose weight differs from its parent's
  const pasted = Array.from(document.querySelectorAll('span.pasted-text')).filter(el =>
    getComputedStyle(el).fontWeight !== getComputedStyle(el.parentElement).fontWeight
  ).map(el => el.textContent.slice(0, 60));
  return {images, math: math.length, mathjax, displays, pasted,
          n_pasted: document.querySelectorAll('span.pasted-text').length};
})()
"""


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Debian's Chromium: skipped where it is missing, except in CI, which installs it."""
    from _browser import CHROMIUM

    path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{reason}; .ci/run installs it, so CI must have it", pytrace=False)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser(site, chromium_path):
    """Headless Chromium with one page, and a loopback server of the site: (browser, server)."""
    from _browser import Chromium, SiteServer

    with Chromium(chromium_path) as chromium:  # started before the server's thread
        chromium.open_page()
        with SiteServer(site) as server:
            yield chromium, server


@pytest.fixture(scope="session")
def rendered(browser, site) -> dict[str, tuple[dict, list[dict]]]:
    """Every page (not redirect stubs) opened once: page -> (PAGE_CHECK_JS report, events)."""
    chromium, server = browser
    reports = {}
    for page, parsed in _pages(site).items():
        if any(tag == "meta" for tag, _, _ in parsed.urls):
            continue
        rel = page.relative_to(site).as_posix()
        since = len(chromium.events)
        chromium.navigate(f"{server.origin}/{rel}")
        reports[rel] = (chromium.evaluate(PAGE_CHECK_JS, timeout=90), chromium.events_since(since))
    time.sleep(0.5)  # let late requests (fonts) reach the server's log
    return reports


def test_images_and_mathjax_render_in_chromium(rendered, browser):
    _, server = browser
    problems, n_images, n_formulae = [], 0, 0
    for rel, (report, _) in rendered.items():
        n_images += len(report["images"])
        problems += [f"{rel}: image {im['src']} did not load"
                     for im in report["images"] if not im["ok"]]
        mj = report["mathjax"]
        if report["math"] and mj is None:
            problems.append(f"{rel}: {report['math']} formulae but MathJax never ran")
        elif report["math"]:
            n_formulae += mj["jax"]
            if not mj["root"].startswith(server.origin + "/_static/mathjax"):
                problems.append(f"{rel}: MathJax loaded from {mj['root']}")
            if not mj["version"].startswith("2.7"):
                problems.append(f"{rel}: unexpected MathJax {mj['version']}")
            problems += [f"{rel}: TeX error in {t!r}" for t in mj["texErrors"]]
            problems += [f"{rel}: formula not typeset: {t!r}" for t in mj["untypeset"]]
    assert not problems, f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:40])
    # the checks above must not pass vacuously
    assert n_images > 0, "the book shows no image"
    assert n_formulae > 0, "the book typeset no formula"


def test_displayed_formulae_are_centred(rendered):
    """Once MathJax has typeset a page, every displayed formula sits in the middle of the width
    its equation number leaves free (the theme lays div.math out as a flex row for MathJax 3;
    book/_static/math.css). Tolerance: 2 CSS px, the rounding of two box edges and of the
    centring."""
    problems, n = [], 0
    for rel, (report, _) in rendered.items():
        for f in report["displays"]:
            n += 1
            if f["width"] < f["free"] and abs(f["left"] - f["right"]) > 2:
                problems.append(f"{rel}: {f['text']!r} has {f['left']:.0f} px of room on the left "
                                f"and {f['right']:.0f} px on the right")
    assert not problems, f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:20])
    assert n > 0, "the book displays no formula"


def test_glued_text_reads_as_the_text_around_it(rendered):
    """myst-nb sets every glued value in bold; the book's numbers and glued sentences are part
    of its prose, so book/_static/text.css gives them the weight of the text around them."""
    problems = [f"{rel}: {t!r}" for rel, (report, _) in rendered.items() for t in report["pasted"]]
    assert not problems, f"{len(problems)} glued text(s) in another weight:\n  " + "\n  ".join(problems[:20])
    assert sum(report["n_pasted"] for report, _ in rendered.values()) > 0, "the book glues no text"


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
    figure = next(f for f in TOC if f.startswith("book/figures/"))
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
    assert landed == f"/{TOC[0]}.html", landed
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


def test_no_request_leaves_the_machine_or_fails_in_chromium(rendered, browser):
    _, server = browser
    problems = []
    for rel, (_, events) in rendered.items():
        for ev in events:
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if _is_remote(url) and not url.startswith(server.origin):
                    problems.append(f"{rel}: request to another host: {url}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description") or details["text"]
                problems.append(f"{rel}: JavaScript exception: {text[:200]}")
    problems += [f"HTTP {status} for {path}" for path, status in server.requests
                 if isinstance(status, int) and status >= 400]
    assert not problems, f"{len(problems)} problem(s):\n  " + "\n  ".join(problems[:40])
    assert server.requests, "the browser requested nothing"
