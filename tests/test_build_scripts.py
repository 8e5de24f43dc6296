"""The book's build scripts fail loudly and leave no half-written output.

scripts/build_notebooks.py and scripts/build_book.py are run as `make book` runs them, on
tiny notebooks and a tiny book made here, so these tests take seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "scripts" / "build_notebooks.py"
BUILDER = REPO / "scripts" / "build_book.py"


def _notebook(path: Path, body: str) -> None:
    nb = new_notebook(
        cells=[
            new_markdown_cell(f"# {path.stem}"),
            new_code_cell("x = 1\nseed = 0", metadata={"tags": ["parameters"]}),
            new_code_cell(body),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}},
    )
    nbformat.write(nb, path)


def _params(path: Path, names: list[str], quick: dict | None = None) -> None:
    quick = quick or {}
    data = {
        "quick": {n: quick.get(n, {"x": 2, "seed": 5}) for n in names},
        "publication": {n: {"x": 3} for n in names},
    }
    path.write_text(yaml.safe_dump(data))


def _run(*args, cwd):
    # TMPDIR inside the test's folder: a failed run keeps its scratch directory on purpose
    env = {**os.environ, "TMPDIR": str(cwd)}
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


@pytest.fixture
def project(tmp_path):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    out = tmp_path / "figures"
    out.mkdir()
    (out / "a_ok.ipynb").write_text("previous build")
    _notebook(nbdir / "a_ok.ipynb", "print('x =', x)")
    return nbdir, out


def _runner(nbdir, out, *extra):
    return _run(RUNNER, "--set", "quick", "--notebooks-dir", nbdir, "--output-dir", out, *extra,
                cwd=nbdir.parent)


def test_failing_notebook_stops_the_run_and_changes_nothing(project):
    nbdir, out = project
    _notebook(nbdir / "b_fail.ipynb", "y = x * 10\nraise ValueError(f'boom y={y}')")
    _params(nbdir / "params.yml", ["a_ok", "b_fail"])
    res = _runner(nbdir, out)
    assert res.returncode == 1
    # names the notebook, the cell (index 2 of the source notebook) and the exception
    assert "b_fail.ipynb failed in cell 2" in res.stderr
    assert "ValueError: boom y=20" in res.stderr
    assert "[1/2] a_ok.ipynb done" in res.stdout  # progress was shown
    # all-or-nothing: a_ok ran, but its new output was not published either
    assert sorted(p.name for p in out.iterdir()) == ["a_ok.ipynb"]
    assert (out / "a_ok.ipynb").read_text() == "previous build"


def test_successful_run_publishes_deterministic_notebooks_and_provenance(project):
    nbdir, out = project
    _params(nbdir / "params.yml", ["a_ok"])
    res = _runner(nbdir, out)
    assert res.returncode == 0, res.stderr
    nb = nbformat.read(out / "a_ok.ipynb", as_version=4)
    assert nb.cells[-1].outputs[0]["text"] == "x = 2\n"  # the quick value was injected
    assert "start_time" not in nb.metadata["papermill"]
    assert not any("execution" in c.metadata or "papermill" in c.metadata for c in nb.cells)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameter_set"] == "quick"
    assert prov["notebooks"]["a_ok"]["seeds"] == {"seed": 5}
    assert prov["notebooks"]["a_ok"]["wall_time_s"] > 0
    assert "a_ok" in (out / "provenance.md").read_text()
    first = (out / "a_ok.ipynb").read_bytes()
    assert _runner(nbdir, out).returncode == 0
    assert (out / "a_ok.ipynb").read_bytes() == first
    assert not list(out.glob(".staging-*"))


@pytest.mark.parametrize(
    ("quick", "message"),
    [
        ({"a_ok": {"x": 2, "nope": 1}}, "params.yml sets ['nope']"),
        ({"a_ok": "not a mapping"}, "must be a mapping"),
    ],
)
def test_bad_parameters_are_rejected_before_running(project, quick, message):
    nbdir, out = project
    _params(nbdir / "params.yml", ["a_ok"], quick=quick)
    res = _runner(nbdir, out)
    assert res.returncode == 1
    assert message in res.stderr
    assert (out / "a_ok.ipynb").read_text() == "previous build"


def test_notebook_missing_from_params_is_rejected(project):
    nbdir, out = project
    _notebook(nbdir / "c_new.ipynb", "pass")
    _params(nbdir / "params.yml", ["a_ok"])
    res = _runner(nbdir, out)
    assert res.returncode == 1
    assert "no entry for notebook(s) ['c_new']" in res.stderr


def _tiny_book(root: Path, page: str) -> None:
    (root / "_config.yml").write_text(
        "title: tiny\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n"
    )
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (root / "intro.md").write_text(page)


def test_failed_book_build_keeps_the_previous_site(tmp_path):
    _tiny_book(tmp_path, "# Intro\n\nSee {doc}`missing-page`.\n")
    site = tmp_path / "_build" / "html"
    site.mkdir(parents=True)
    (site / "index.html").write_text("previous site")
    res = _run(BUILDER, "--root", tmp_path, cwd=tmp_path)
    assert res.returncode == 1
    assert "missing-page" in res.stdout + res.stderr  # the warning is shown
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]
    assert (site / "index.html").read_text() == "previous site"
    assert sorted(p.name for p in (tmp_path / "_build").iterdir()) == ["html"]

    _tiny_book(tmp_path, "# Intro\n\nFixed.\n")
    res = _run(BUILDER, "--root", tmp_path, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (site / "intro.html").is_file()
    assert (site / "index.html").read_text() != "previous site"
    assert sorted(p.name for p in (tmp_path / "_build").iterdir()) == ["html"]
