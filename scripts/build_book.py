#!/usr/bin/env python
"""Build the Jupyter Book into ``_build/html``, all or nothing, with warnings as errors.

Only a ``jupyter-book build -W -n --keep-going`` that succeeds and prints no warning line (some,
such as config validation errors, bypass Sphinx's logging) replaces ``_build/html``. Sphinx
keeps the state of the last successful build in ``_build/.cache`` and re-reads only changed
pages; a failed or interrupted build deletes it (it would hide the failed pages' warnings).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from buildkit import REPO_ROOT, BuildError, locked, main, source_date_epoch, staged
from sphinx_external_toc.parsing import parse_toc_yaml

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # Jupyter Book colours its log regardless
WARNING_LINE = re.compile(r"\bWARNING\b|\bERROR\b|Validation errors in config|\[Warning\]")


def toc_files(root: Path) -> list[str]:
    """Every document of the table of contents, root first, as paths without suffix."""
    return list(parse_toc_yaml(root / "_toc.yml"))


def build(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=REPO_ROOT, help="book root (holds _config.yml)")
    root = p.parse_args(argv).root.resolve()
    missing = [f for f in toc_files(root)
               if f.startswith("book/figures/") and not (root / f"{f}.ipynb").is_file()]
    if missing:
        raise BuildError(f"the table of contents needs {', '.join(missing)}: execute the "
                         "notebooks first (make book, or scripts/build_notebooks.py)")
    epoch = source_date_epoch(root)
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env |= {"SOURCE_DATE_EPOCH": str(epoch)} if epoch is not None else {}
    jb = Path(sys.executable).with_name("jupyter-book")
    build_dir, t0, warnings = root / "_build", time.perf_counter(), []
    cache = build_dir / ".cache"
    with locked(build_dir, "build_book"), staged(build_dir) as staging:
        cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(root), "--path-output",
               str(cache), "--builder", "html", "-W", "-n", "--keep-going"]
        print("+ " + " ".join(cmd), flush=True)
        # its own session: Ctrl-C reaches this script only, which stops the build below
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=root, start_new_session=True) as proc:
            try:
                for line in proc.stdout:
                    sys.stdout.write(line := ANSI_ESCAPE.sub("", line))
                    warnings += [line.rstrip()] if WARNING_LINE.search(line) else []
            finally:
                if proc.poll() is None:
                    proc.kill()
                if proc.wait() or warnings:
                    shutil.rmtree(cache, ignore_errors=True)
        html = cache / "_build" / "html"
        if proc.returncode or warnings or not (html / "index.html").is_file():
            raise BuildError(f"jupyter-book build failed (exit status {proc.returncode}, "
                             f"{len(warnings)} warning line(s)); {build_dir / 'html'} is "
                             "unchanged\n  " + "\n  ".join(warnings[:50]))
        shutil.copytree(html, staging / "html")
    print(f"Book built in {time.perf_counter() - t0:.1f} s: {build_dir / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main("build_book", build))
