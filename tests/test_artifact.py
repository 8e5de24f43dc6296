"""`make artifact`: one archive to deposit, whose SHA256SUMS verify.

The archive of the quick book is built and opened in the browser in tests/test_book.py
(``test_artifact_verifies_and_its_site_opens``), which reuses the site that the test session
has already built; the helpers it calls are here, with the checks that need no book.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# What a deposit must hold, besides the site and the notebooks.
METADATA = ("requirements.lock", "provenance.json", "CITATION.cff", ".zenodo.json")


def make_artifact(root: Path, **variables: str) -> subprocess.CompletedProcess:
    args = [f"{k}={v}" for k, v in variables.items()]
    env = {**os.environ, "SOURCE_DATE_EPOCH": "1700000000"}
    return subprocess.run(["make", "--no-print-directory", "-C", str(root), "artifact", *args],
                          capture_output=True, text=True, env=env, check=False)


def unpack_and_verify(archive: Path, dest: Path) -> Path:
    """Unpack `archive` into `dest`, check every SHA256SUMS line and that it lists every file;
    return the archive's top directory."""
    with tarfile.open(archive) as tf:
        tops = {name.split("/", 1)[0] for name in tf.getnames()}
        assert len(tops) == 1, f"the archive must have one top directory, has {sorted(tops)}"
        tf.extractall(dest, filter="data")
    top = dest / tops.pop()
    sums = {}
    for line in (top / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        sums[name] = digest
    files = {p.relative_to(top).as_posix() for p in top.rglob("*") if p.is_file()}
    assert set(sums) == files - {"SHA256SUMS"}, (
        f"not in SHA256SUMS: {sorted(files - set(sums) - {'SHA256SUMS'})[:10]}; "
        f"listed but absent: {sorted(set(sums) - files)[:10]}")
    bad = [n for n, d in sums.items() if hashlib.sha256((top / n).read_bytes()).hexdigest() != d]
    assert not bad, f"checksums that do not verify: {bad[:10]}"
    for name in METADATA:
        assert name in sums, f"the archive lacks {name}"
    assert "site/index.html" in sums
    assert any(n.startswith("notebooks/") and n.endswith(".ipynb") for n in sums)
    # the lock shipped is the lock of the repository, byte for byte
    assert (top / "requirements.lock").read_bytes() == (REPO / "requirements.lock").read_bytes()
    zenodo = json.loads((top / ".zenodo.json").read_text(encoding="utf-8"))
    assert zenodo["related_identifiers"][0]["identifier"] == "arXiv:2405.19398"
    return top


def _files_for_make(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("Makefile", "requirements.lock", "CITATION.cff", ".zenodo.json"):
        shutil.copy(REPO / name, root / name)
    (root / "nslmodel").mkdir()
    shutil.copy(REPO / "nslmodel" / "__init__.py", root / "nslmodel" / "__init__.py")
    return root


def test_artifact_refuses_without_a_built_book(tmp_path):
    root = _files_for_make(tmp_path)
    res = make_artifact(root)
    assert res.returncode != 0
    assert "run make book first" in res.stderr
    assert not list(root.rglob("*.tar.gz")), "a failed run left an archive"


def test_artifact_of_a_small_tree_verifies_and_is_reproducible(tmp_path):
    """The recipe on a stand-in site: checksums verify, and the same inputs give the same
    bytes (SOURCE_DATE_EPOCH dates every member)."""
    root = _files_for_make(tmp_path)
    (root / "site").mkdir()
    (root / "site" / "index.html").write_text("<!doctype html><title>t</title>")
    (root / "figs").mkdir()
    (root / "figs" / "provenance.json").write_text("{}")
    (root / "figs" / "a b.ipynb").write_text("{}")  # a space in a name must survive
    first = make_artifact(root, SITE="site", FIGURES="figs")
    assert first.returncode == 0, first.stderr
    (archive,) = (root / "_build").glob("nslmodel-*-book.tar.gz")
    top = unpack_and_verify(archive, tmp_path / "unpacked")
    assert (top / "notebooks" / "a b.ipynb").is_file()
    data = archive.read_bytes()
    again = make_artifact(root, SITE="site", FIGURES="figs")
    assert again.returncode == 0, again.stderr
    assert archive.read_bytes() == data, "a second run with the same inputs differs"
    assert not list((root / "_build").glob(".artifact-*")), "staging left behind"
