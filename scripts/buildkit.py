"""What the two build scripts share: errors, the build time, a lock and all-or-nothing output."""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


class BuildError(Exception):
    """A problem that stops the build; its message is printed without a traceback."""


def git(*args: str, cwd: Path = REPO_ROOT) -> str | None:
    """Output of a git command, or None (no git, or not a repository)."""
    try:
        res = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True)
    except OSError:
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def source_date_epoch(cwd: Path = REPO_ROOT) -> int | None:
    """SOURCE_DATE_EPOCH from the environment, else the time of the last commit, else None."""
    value = os.environ.get("SOURCE_DATE_EPOCH", "").strip() or git("log", "-1", "--format=%ct",
                                                                   cwd=cwd)
    if value and not value.isdigit():
        raise BuildError(f"SOURCE_DATE_EPOCH={value!r} is not a non-negative integer")
    return int(value) if value else None


@contextlib.contextmanager
def locked(directory: Path, who: str):
    """Hold ``directory/.lock`` for a whole build (a second build says so, then waits); then
    staging directories found there were left by a killed build and are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a") as lock:  # closing it releases the lock
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"{who}: waiting for the build holding {directory / '.lock'}", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        for stale in directory.glob(".staging-*"):
            shutil.rmtree(stale, ignore_errors=True)
        yield


@contextlib.contextmanager
def staged(directory: Path):
    """Yield a scratch directory in `directory`; if the block succeeds, its entries replace
    their namesakes by renames (directories swapped whole); the scratch is removed anyway."""
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=directory))
    try:
        yield staging
        for new in sorted(staging.iterdir()):
            old = directory / new.name
            if new.is_file() and old.is_file() and filecmp.cmp(new, old, shallow=False):
                continue  # unchanged: keep its time stamp (Sphinx rereads by time stamp)
            if new.is_dir() and old.is_dir():
                os.replace(old, staging / f".old-{new.name}")
            os.replace(new, old)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(who: str, run, argv=None) -> int:
    """Run ``run(argv)``; a BuildError or Ctrl-C ends in one line on stderr (exit 1 or 130)."""
    try:
        return run(argv)
    except BuildError as err:
        print(f"{who}: error: {err}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print(f"{who}: interrupted; the previous output is unchanged", file=sys.stderr, flush=True)
        return 130
