"""book/_ext/build_context.py: repository links only when the repository URL is known.

A small Sphinx project with the book's theme and one notebook page under book/figures/ is
built twice, with and without NSLMODEL_REPOSITORY_URL (a few seconds each), and the generated
HTML is read: with the URL, the repository and issue buttons point at it and the Binder
button launches the *source* notebook at the built commit; without it, none of them exists.
The built book itself (tests/test_book.py) is built without the variable.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
URL = "https://github.com/example-org/nslmodel"

CONF = f"""
import sys
sys.path.insert(0, {str(REPO / "book" / "_ext")!r})
project = html_title = "A test book"
copyright = "2026"
extensions = ["myst_nb", "sphinx_book_theme", "build_context"]
html_theme = "sphinx_book_theme"
myst_enable_extensions = ["substitution"]
nb_execution_mode = "off"
"""

INDEX = """# Index

```{toctree}
book/figures/01_demo
cite
```
"""

CITE = """# Cite

Lock {{ lock_sha256 }}, version {{ version }}.

```{software-bibtex} software
```

```{software-bibtex} book
```
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("context")
    (root / "conf.py").write_text(CONF)
    (root / "index.md").write_text(INDEX)
    (root / "cite.md").write_text(CITE)
    for name in ("CITATION.cff", "requirements.lock"):
        shutil.copy(REPO / name, root / name)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Demo")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "book" / "figures").mkdir(parents=True)
    nbformat.write(nb, root / "book" / "figures" / "01_demo.ipynb")
    return root


def _build(project: Path, out: Path, url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NSLMODEL_")}
    if url:
        env["NSLMODEL_REPOSITORY_URL"] = url
    res = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-q", "-E", project, out],
                         capture_output=True, text=True, env=env, check=False)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return {p: (out / p).read_text(encoding="utf-8")
            for p in ("book/figures/01_demo.html", "cite.html")}


@pytest.fixture(scope="module")
def unset(project, tmp_path_factory) -> dict[str, str]:
    return _build(project, tmp_path_factory.mktemp("unset"), None)


@pytest.fixture(scope="module")
def with_url(project, tmp_path_factory) -> dict[str, str]:
    return _build(project, tmp_path_factory.mktemp("set"), URL)


def _hrefs(page: str) -> list[str]:
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', page)]


def test_without_a_repository_url_there_are_no_repository_links(unset):
    pages = unset
    for name, page in pages.items():
        links = [h for h in _hrefs(page) if "example-org" in h or "mybinder" in h
                 or h.endswith("/issues") or "github.com" in h]
        assert not links, f"{name}: {links}"
        assert "launch-buttons" not in page and "btn-source-repository-button" not in page
    bibtex = re.sub(r"<[^>]+>", "", pages["cite.html"])
    assert "url" not in re.findall(r"^\s*(\w+)\s*=", bibtex, re.M)


def test_with_a_repository_url_the_buttons_point_at_it(with_url):
    pages = with_url
    hrefs = set(_hrefs(pages["book/figures/01_demo.html"]))
    assert URL in hrefs, "no repository button"
    assert any(h.startswith(f"{URL}/issues/new?") for h in hrefs), "no issues button"
    binder = [h for h in hrefs if h.startswith("https://mybinder.org/v2/gh/example-org/nslmodel/")]
    assert len(binder) == 1, hrefs
    # launches the source notebook (the executed copy under book/figures is not in the
    # repository); the project here is not a git checkout, so the branch is the default
    assert binder[0].endswith("?urlpath=tree/notebooks/01_demo.ipynb"), binder[0]
    cite = re.sub(r"<[^>]+>", "", pages["cite.html"])
    assert f"url     = {{{URL}}}" in cite
    digest = hashlib.sha256((REPO / "requirements.lock").read_bytes()).hexdigest()
    assert f"Lock {digest}" in cite


def test_version_on_the_cite_page_is_the_package_version(unset):
    import nslmodel

    cite = re.sub(r"<[^>]+>", "", unset["cite.html"])
    assert f"version = {{{nslmodel.__version__}}}" in cite
    assert f"version {nslmodel.__version__}." in cite


def test_a_changed_stylesheet_alone_reaches_the_site(project, tmp_path):
    """Sphinx copies static files only when it writes pages; the stylesheets' digest (an "html"
    config value of build_context) makes an incremental build rewrite them all when one changes."""
    root = tmp_path / "static"
    shutil.copytree(project, root)
    (root / "conf.py").write_text(CONF + 'html_static_path = ["_static"]\n')
    (root / "_static").mkdir()
    css, out = root / "_static" / "extra.css", tmp_path / "out"
    cmd = [sys.executable, "-m", "sphinx", "-b", "html", "-q", root, out]  # incremental: no -E
    for rule in ("p { color: red; }", "p { color: blue; }"):
        css.write_text(rule)
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert (out / "_static" / "extra.css").read_text() == rule


def test_the_cite_entries_say_when_the_checkout_has_uncommitted_changes(project, tmp_path):
    """A commit names the code only if nothing was changed since: built from a checkout with
    uncommitted changes, both BibTeX notes say so after the commit; from a clean one, they don't."""
    root = tmp_path / "repo"
    shutil.copytree(project, root)
    git = ["git", "-C", str(root), "-c", "user.name=test", "-c", "user.email=test@example.org"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "state"]):
        subprocess.run(git + args, check=True, capture_output=True)
    commit = subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    text = lambda page: " ".join(re.sub(r"<[^>]+>", "", page).split())  # noqa: E731 (entries wrap)
    clean = text(_build(root, tmp_path / "clean", None)["cite.html"])
    (root / "index.md").write_text(INDEX + "\nAn edit not committed.\n")
    dirty = text(_build(root, tmp_path / "dirty", None)["cite.html"])
    assert clean.count(f"commit {commit}") + clean.count(f"Commit {commit}") == 2
    assert "uncommitted" not in clean
    assert dirty.count(f"{commit} plus uncommitted changes") == 2
