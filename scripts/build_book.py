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

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # Jupyter Book colours its log regardless
WARNING_LINE = re.compile(r"\bWARNING\b|\bERROR\b|Validation errors in config|\[Warning\]")


def build(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=REPO_ROOT, help="book root (holds _config.yml)")
    root = p.parse_args(argv).root.resolve()
    epoch = source_date_epoch(root)
    env = os.environ | ({"SOURCE_DATE_EPOCH": str(epoch)} if epoch is not None else {})
    jb = shutil.which("jupyter-book", path=Path(sys.executable).parent) or "jupyter-book"
    build_dir, cache, t0, warnings = root / "_build", root / "_build" / ".cache", time.time(), []
    with locked(build_dir, "build_book"), staged(build_dir) as staging:
        cmd = [jb, "build", str(root), "--path-output", str(cache), "--builder", "html", "-W",
               "-n", "--keep-going"]
        print("+ " + " ".join(cmd), flush=True)
        # its own session: Ctrl-C reaches this script only, which stops the build below
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=env, cwd=root, start_new_session=True) as proc:
            try:
                for line in proc.stdout:
                    sys.stdout.write(line := ANSI_ESCAPE.sub("", line))
                    warnings += [line.rstrip()] if WARNING_LINE.search(line) else []
            finally:
                proc.kill()  # no-op once it has exited
                if proc.wait() or warnings:
                    shutil.rmtree(cache, ignore_errors=True)
        html = cache / "_build" / "html"
        if proc.returncode or warnings or not (html / "index.html").is_file():
            raise BuildError(f"jupyter-book build failed (exit status {proc.returncode}, "
                             f"{len(warnings)} warning line(s)); {build_dir / 'html'} is "
                             "unchanged\n  " + "\n  ".join(warnings[:50]))
        shutil.copytree(html, staging / "html")
    print(f"Book built in {time.time() - t0:.1f} s: {build_dir / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main("build_book", build))
