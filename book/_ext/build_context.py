"""Where this copy of the book lives and what it was built from.

``NSLMODEL_REPOSITORY_URL`` (the book workflow sets it from its context) turns on the theme's
repository and issue buttons and a Binder button that launches the source notebook with
environment.yml at the built commit; unset, none of them is shown. ``NSLMODEL_BOOK_URL`` is
where the site is published. Both, the version, the commit and the SHA-256 of
requirements.lock become MyST substitutions; the ``software-bibtex`` directive writes the
BibTeX entries of the software and of the book from CITATION.cff and these values (the commit
followed by "plus uncommitted changes" where the checkout has any). The digest
of the static files (stylesheets) is recorded too, so that a change to them alone rebuilds the
pages that link them.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import subprocess
import textwrap
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

LOCK = "requirements.lock"
BINDERHUB = "https://mybinder.org"
# Figure pages are built from executed copies; Binder opens the source notebook instead.
EXECUTED, SOURCE = "urlpath=tree/book/figures/", "urlpath=tree/notebooks/"


def _commit(root: Path) -> str:
    if not (root / ".git").exists():
        return "unknown"
    res = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"],
                         capture_output=True, text=True, check=False)
    return res.stdout.strip() if res.returncode == 0 else "unknown"


def _dirty(root: Path) -> bool:
    """Whether the checkout has changes not committed (then its commit does not name the code)."""
    if not (root / ".git").exists():
        return False
    res = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                         capture_output=True, text=True, check=False)
    return res.returncode == 0 and bool(res.stdout.strip())


def lock_context(lock: Path) -> dict[str, str]:
    """The lock's SHA-256 and whether the running environment matches its pins."""
    pins = dict(re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", lock.read_text(encoding="utf-8"), re.M))
    installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower(): d.version
                 for d in importlib.metadata.distributions()}  # names as PEP 503 normalises them
    differ = sorted(n for n, v in pins.items() if installed.get(n.lower()) != v)
    status = (f"all {len(pins)} locked packages were installed at their locked versions"
              if not differ else f"{len(differ)} of {len(pins)} locked packages were installed "
              f"at other versions or not at all (an unlocked install): {', '.join(differ[:8])}")
    return {"lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest(), "lock_status": status}


def configure(app, config) -> None:
    root = Path(app.confdir)
    cff = yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))
    url = os.environ.get("NSLMODEL_REPOSITORY_URL", "").strip().rstrip("/")
    context = {"version": str(cff["version"]), "commit": _commit(root), "dirty": _dirty(root),
               "repository_url": url, "book_url": os.environ.get("NSLMODEL_BOOK_URL", "").strip(),
               "cff": cff, **lock_context(root / LOCK)}
    config.nslmodel_context = context  # read by the directive below
    # Sphinx copies the static files only when it writes pages, and a changed stylesheet alone
    # leaves every page up to date: their digest, an "html" value, makes the builder rewrite all.
    static = hashlib.sha256()
    for f in sorted(p for d in config.html_static_path for p in (root / d).rglob("*") if p.is_file()):
        static.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes())
    config.nslmodel_static_sha256 = static.hexdigest()
    config.myst_substitutions = {**config.myst_substitutions,
                                 **{k: v for k, v in context.items() if k != "cff"}}
    if url:
        theme = config.html_theme_options
        theme.update(repository_url=url, use_repository_button=True, use_issues_button=True,
                     repository_branch=context["commit"] if context["commit"] != "unknown" else "main")
        theme.setdefault("launch_buttons", {})["binderhub_url"] = BINDERHUB


def binder_source_notebook(app, pagename, templatename, context, doctree) -> None:
    def fix(buttons):
        for button in buttons:
            if "url" in button:
                button["url"] = button["url"].replace(EXECUTED, SOURCE)
            fix(button.get("buttons", []))
    fix(context.get("header_buttons", []))


class SoftwareBibtex(SphinxDirective):
    """BibTeX of the software (argument ``software``) or of this book (``book``)."""

    required_arguments = 1

    def run(self):
        cfg = self.env.config
        c = cfg.nslmodel_context
        commit = f"{c['commit']} plus uncommitted changes" if c.get("dirty") else c["commit"]
        authors = " and ".join(f"{{{a['name']}}}" if "name" in a else
                               f"{a['family-names']}, {a['given-names']}" for a in c["cff"]["authors"])
        if self.arguments[0] == "software":
            fields = {"author": authors, "title": c["cff"]["title"], "version": c["version"],
                      "year": cfg.copyright, "url": c["repository_url"], "doi": c["cff"].get("doi"),
                      "note": f"Commit {commit}; companion software to arXiv:2405.19398"}
            kind, key = "software", "nslmodel"
        else:
            fields = {"author": authors, "title": cfg.html_title, "year": cfg.copyright,
                      "url": c["book_url"], "note": f"Jupyter Book built with nslmodel "
                      f"{c['version']} at commit {commit}"}
            kind, key = "misc", "nslmodel_book"
        lines = [textwrap.fill(f"  {k:<8}= {{{v}}},", 88, subsequent_indent=" " * 14,
                               break_long_words=False, break_on_hyphens=False)
                 for k, v in fields.items() if v]
        text = "\n".join([f"@{kind}{{{key},", *lines, "}"])
        return [nodes.literal_block(text, text, language="bibtex")]


def setup(app) -> dict:
    app.add_config_value("nslmodel_context", {}, "env")
    app.add_config_value("nslmodel_static_sha256", "", "html")
    app.connect("config-inited", configure)
    app.connect("html-page-context", binder_source_notebook, priority=600)
    app.add_directive("software-bibtex", SoftwareBibtex)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
