#!/usr/bin/env python
"""Build the Jupyter Book into ``_build/html``, atomically and with warnings as errors.

Runs ``jupyter-book build ROOT -W -n --keep-going`` into a hidden staging directory under
``ROOT/_build``. Only if the build succeeds and printed no warning does the new site replace
``_build/html`` (two renames); otherwise the previous site is left as it was and the staging
directory is removed. The notebooks must have been executed beforehand
(``scripts/build_notebooks.py``); the book's configuration has ``execute_notebooks: "off"``.

Besides Sphinx's warnings (which ``-W`` turns into a failing exit status), Jupyter Book
prints some problems, such as configuration validation errors, outside Sphinx's logging;
every output line is therefore scanned for warnings too.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
# Lines that signal a problem even when the exit status is 0.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
WARNING_LINE = re.compile(r"\bWARNING\b|\bERROR\b|Validation errors in config|\[Warning\]")


def toc_files(root: Path) -> list[str]:
    """Every document of the table of contents, root first, as paths without suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return files


def toc_notebooks(root: Path) -> list[Path]:
    """The executed notebooks the table of contents expects under ``book/figures``."""
    return [root / f"{f}.ipynb" for f in toc_files(root) if f.startswith("book/figures/")]


def source_date_epoch(root: Path) -> str | None:
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if value:
        return value
    try:
        res = subprocess.run(
            ["git", "-C", str(root), "log", "-1", "--format=%ct"],
            capture_output=True, text=True, check=False,
        )
    except OSError:
        return None
    out = res.stdout.strip()
    return out if res.returncode == 0 and out.isdigit() else None


def build(root: Path, output: Path) -> int:
    missing = [p for p in toc_notebooks(root) if not p.is_file()]
    if missing:
        names = ", ".join(p.relative_to(root).as_posix() for p in missing)
        print(
            f"build_book: error: the table of contents needs {names}, which do(es) not exist; "
            "execute the notebooks first (make book, or scripts/build_notebooks.py)",
            file=sys.stderr,
        )
        return 1
    build_dir = root / "_build"
    build_dir.mkdir(exist_ok=True)
    for stale in build_dir.glob(".staging-*"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=build_dir))
    env = dict(os.environ)
    epoch = source_date_epoch(root)
    if epoch:
        env["SOURCE_DATE_EPOCH"] = epoch
    else:
        env.pop("SOURCE_DATE_EPOCH", None)
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(jb) if jb.exists() else "jupyter-book",
        "build", str(root),
        "--path-output", str(staging),
        "--builder", "html",
        "-W", "-n", "--keep-going",
    ]
    print("+ " + " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    warnings = []
    try:
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=root,
        ) as proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                line = ANSI_ESCAPE.sub("", line)  # Jupyter Book colours its log regardless
                sys.stdout.write(line)
                if WARNING_LINE.search(line):
                    warnings.append(line.rstrip())
            rc = proc.wait()
        seconds = time.perf_counter() - t0
        html = staging / "_build" / "html"
        if rc != 0 or warnings or not (html / "index.html").is_file():
            print(
                f"build_book: error: jupyter-book build failed (exit status {rc}, "
                f"{len(warnings)} warning line(s)); {output} is unchanged",
                file=sys.stderr,
            )
            for line in warnings[:50]:
                print(f"  {line}", file=sys.stderr)
            return 1
        output.parent.mkdir(parents=True, exist_ok=True)
        old = None
        if output.exists():
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=output.parent))
            os.replace(output, old / "html")
        os.replace(html, output)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        print(f"Book built in {seconds:.1f} s: {output / 'index.html'}", flush=True)
        return 0
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=REPO_ROOT, help="book root (holds _config.yml)")
    p.add_argument("--output", type=Path, default=None, help="default: ROOT/_build/html")
    args = p.parse_args(argv)
    root = args.root.resolve()
    output = (args.output or root / "_build" / "html").resolve()
    return build(root, output)


if __name__ == "__main__":
    sys.exit(main())
