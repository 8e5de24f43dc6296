"""The book's build scripts fail clearly, build incrementally and leave no half-written output.

scripts/build_notebooks.py and scripts/build_book.py run as `make book` runs them, on tiny
notebooks and a tiny book made here, so these tests take seconds, not minutes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import build_notebooks as runner
import buildkit

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "scripts" / "build_notebooks.py"
BUILDER = REPO / "scripts" / "build_book.py"


def _notebook(path: Path, body: str, prose: str = "Some prose.") -> None:
    cells = [new_markdown_cell(f"# {path.stem}\n\n{prose}"),
             new_code_cell("x = 1\ngamma = 0.5\nseed = 0", metadata={"tags": ["parameters"]}),
             new_code_cell(body)]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}}), path)


def _start(script, *args, cwd):
    # TMPDIR inside the test's folder: a failed run keeps its scratch directory on purpose
    return subprocess.Popen([sys.executable, str(script), *map(str, args)], cwd=cwd, text=True,
                            env={**os.environ, "TMPDIR": str(cwd)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _run(script, *args, cwd):
    proc = _start(script, *args, cwd=cwd)
    proc.stdout_text, proc.stderr_text = proc.communicate(timeout=300)
    return proc


@pytest.fixture
def project(tmp_path):
    """notebooks/a_ok.ipynb with its quick set, and a previous build's output."""
    nbdir, out = tmp_path / "notebooks", tmp_path / "figures"
    nbdir.mkdir()
    out.mkdir()
    (out / "a_ok.ipynb").write_text("previous build")
    _notebook(nbdir / "a_ok.ipynb", "print('x =', x, 'gamma =', gamma)")
    (nbdir / "params.yml").write_text("a_ok: {x: 2, seed: 5}\n")
    return nbdir, out


def _runner(nbdir, out, *extra):
    return _run(RUNNER, "--set", "quick", "--notebooks-dir", nbdir, "--output-dir", out, *extra,
                cwd=nbdir.parent)


@pytest.mark.parametrize(("body", "message"), [
    ("y = x * 10\nraise ValueError(f'boom y={y}')",
     "b_fail.ipynb failed in cell 3 of 3 ('y = x * 10'): ValueError: boom y=20"),
    # papermill marks every cell "completed" whether or not it finished; nbclient names it
    ("import os; os._exit(1)", "in cell 3 of 3 ('import os; os._exit(1)'): the kernel died"),
    ("import time\ntime.sleep(60)", "failed in cell 3 of 3 ('import time'): timed out after 3 s"),
])
def test_failing_notebook_names_its_cell_and_changes_nothing(project, body, message):
    nbdir, out = project
    _notebook(nbdir / "b_fail.ipynb", body)
    (nbdir / "params.yml").write_text("a_ok: {x: 2}\nb_fail: {x: 2}\n")
    res = _runner(nbdir, out, "--cell-timeout", 3)
    assert res.returncode == 1, res.stderr_text
    assert message in res.stderr_text
    assert len(res.stderr_text.strip().splitlines()) == 1, res.stderr_text
    assert "[1/2] a_ok.ipynb done" in res.stdout_text  # progress was shown
    # all-or-nothing: a_ok ran, but its new output was not published either
    assert sorted(p.name for p in out.iterdir()) == [".lock", "a_ok.ipynb"]
    assert (out / "a_ok.ipynb").read_text() == "previous build"


def test_run_is_deterministic_and_incremental(project):
    nbdir, out = project
    _notebook(nbdir / "a_ok.ipynb", "import matplotlib.pyplot as plt\nprint('x =', x)\n"
              "plt.plot([0, x], [1, seed])\nplt.show()")
    assert (res := _runner(nbdir, out)).returncode == 0, res.stderr_text
    nb = nbformat.read(out / "a_ok.ipynb", as_version=4)
    assert nb.cells[-1].outputs[0]["text"] == "x = 2\n"  # the quick value was injected
    assert "image/png" in nb.cells[-1].outputs[1]["data"]
    assert "start_time" not in nb.metadata["papermill"]
    assert not any("execution" in c.metadata or "papermill" in c.metadata for c in nb.cells)
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["parameter_set"] == "quick"
    assert prov["notebooks"]["a_ok"]["seeds"] == {"seed": 5}
    assert prov["notebooks"]["a_ok"]["wall_time_s"] > 0
    assert "a_ok" in (out / "provenance.md").read_text()
    first = (out / "a_ok.ipynb").read_bytes()
    # a rerun from scratch gives the same bytes, figure included
    assert _runner(nbdir, out, "--force").returncode == 0
    assert (out / "a_ok.ipynb").read_bytes() == first
    # unchanged inputs: nothing is executed
    res = _runner(nbdir, out)
    assert "not re-executed" in res.stdout_text and (out / "a_ok.ipynb").read_bytes() == first
    # a prose edit reaches the output without executing the notebook
    src = nbformat.read(nbdir / "a_ok.ipynb", as_version=4)
    src.cells[0].source += " Edited."
    nbformat.write(src, nbdir / "a_ok.ipynb")
    res = _runner(nbdir, out)
    assert "not re-executed" in res.stdout_text, res.stdout_text
    edited = nbformat.read(out / "a_ok.ipynb", as_version=4)
    assert edited.cells[0].source.endswith("Edited.") and edited.cells[1:] == nb.cells[1:]
    # so do changed parameters
    (nbdir / "params.yml").write_text("a_ok: {x: 3, seed: 5}\n")
    res = _runner(nbdir, out)
    assert "done in" in res.stdout_text
    rerun = nbformat.read(out / "a_ok.ipynb", as_version=4)
    assert rerun.cells[-1].outputs[0]["text"] == "x = 3\n"
    assert not list(out.glob(".staging-*"))


def test_the_copy_lists_every_value_used_once(project, tmp_path):
    """Quick set: papermill's cell holds every parameter (overridden or not) and the parameters
    cell is removed from the page; publication set: nothing is injected or removed."""
    nbdir, out = project
    (nbdir / "params.yml").write_text("a_ok: {x: 2, seed: 5}\n")
    assert (res := _runner(nbdir, out)).returncode == 0, res.stderr_text
    cells = nbformat.read(out / "a_ok.ipynb", as_version=4).cells
    assert [c.metadata.get("tags") for c in cells] == [
        None, ["parameters", "remove-cell"], [runner.INJECTED], None]
    assert cells[2].source.splitlines()[1:] == ["x = 2", "gamma = 0.5", "seed = 5"]
    publication = _run(RUNNER, "--notebooks-dir", nbdir, "--output-dir", tmp_path / "pub",
                       cwd=nbdir.parent)
    assert publication.returncode == 0, publication.stderr_text
    cells = nbformat.read(tmp_path / "pub" / "a_ok.ipynb", as_version=4).cells
    assert [c.metadata.get("tags") for c in cells] == [None, ["parameters"], None]
    assert cells[2].outputs[0]["text"] == "x = 1 gamma = 0.5\n"


@pytest.mark.parametrize(("params", "message"), [
    ("a_ok: {x: 2, nope: 1}", "params.yml sets ['nope'], which the parameters cell does not"),
    ("a_ok: not a mapping", "a_ok must be a mapping of parameters"),
    ("a_ok: {}\nc_new: {}", "entries without a notebook: ['c_new']"),
    ("publication: {a_ok: {}}", "no entry for notebook(s) ['a_ok']"),
    ("a_ok: {x: [1, 2]}", "parameter 'x' expects int, params.yml gives list[int] [1, 2]"),
    ("a_ok: {x: 2\n  seed: 3", "params.yml: YAML syntax error at line 2, column"),
])
def test_bad_parameters_are_rejected(project, params, message):
    nbdir, _ = project
    (nbdir / "params.yml").write_text(params + "\n")
    with pytest.raises(runner.BuildError, match=re.escape(message)) as err:
        overrides = runner.load_overrides(nbdir / "params.yml", ["a_ok"])
        runner.check_parameters(nbdir / "a_ok.ipynb", overrides["a_ok"])
    assert "\n" not in str(err.value)


def test_wrong_type_is_one_line_before_any_kernel_starts(project):
    nbdir, out = project
    # YAML 1.1 reads 1e-7 (no dot) as a string: it used to fail inside the notebook
    (nbdir / "params.yml").write_text("a_ok: {gamma: 1e-7}\n")
    res = _runner(nbdir, out)
    assert res.returncode == 1
    assert res.stderr_text == ("build_notebooks: error: a_ok.ipynb: parameter 'gamma' expects "
                               "float, params.yml gives str '1e-7' (YAML reads 1e-7 as a string: "
                               "write 1.0e-7)\n")
    assert res.stdout_text == ""  # no notebook was started
    assert (out / "a_ok.ipynb").read_text() == "previous build"


def test_notebook_missing_from_params_is_rejected(project):
    nbdir, _ = project
    _notebook(nbdir / "c_new.ipynb", "pass")
    with pytest.raises(runner.BuildError, match=re.escape("no entry for notebook(s) ['c_new']")):
        runner.load_overrides(nbdir / "params.yml", ["a_ok", "c_new"])


def _tiny_book(root: Path, page: str) -> None:
    (root / "_config.yml").write_text(
        "title: tiny\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: 'off'\n")
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
    (root / "intro.md").write_text(page)


def _entries(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "_build").iterdir())


def test_failed_book_build_keeps_the_previous_site(tmp_path):
    _tiny_book(tmp_path, "# Intro\n\nSee {doc}`missing-page`.\n")
    site = tmp_path / "_build" / "html"
    site.mkdir(parents=True)
    (site / "index.html").write_text("previous site")
    res = _run(BUILDER, "--root", tmp_path, cwd=tmp_path)
    assert res.returncode == 1
    assert "missing-page" in res.stdout_text + res.stderr_text  # the warning is shown
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]
    assert (site / "index.html").read_text() == "previous site"
    assert _entries(tmp_path) == [".lock", "html"]


def test_concurrent_builds_wait_and_an_interrupted_one_keeps_the_site(tmp_path):
    _tiny_book(tmp_path, "# Intro\n\nFixed.\n")
    # two builds started a second apart: the second used to delete the first's staging
    # directory as stale, and the first then failed with a FileNotFoundError
    first = _start(BUILDER, "--root", tmp_path, cwd=tmp_path)
    time.sleep(1)
    second = _run(BUILDER, "--root", tmp_path, cwd=tmp_path)
    first.stdout_text, first.stderr_text = first.communicate(timeout=300)
    for res in (first, second):
        assert res.returncode == 0, res.stdout_text[-3000:] + res.stderr_text[-3000:]
    assert "build_book: waiting for the build holding" in second.stdout_text
    site = tmp_path / "_build" / "html"
    assert (site / "intro.html").is_file()
    assert _entries(tmp_path) == [".cache", ".lock", "html"]  # .cache: Sphinx's saved state
    before = (site / "intro.html").read_bytes()
    # Ctrl-C during a build: one line, exit status 130, the previous site as it was
    _tiny_book(tmp_path, "# Intro\n\nChanged.\n")
    proc = _start(BUILDER, "--root", tmp_path, cwd=tmp_path)
    assert proc.stdout.readline().startswith("+ ")  # jupyter-book has started
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "build_book: interrupted; the previous output is unchanged"
    assert (site / "intro.html").read_bytes() == before
    assert _entries(tmp_path) == [".lock", "html"]


def test_one_staging_helper_and_one_build_time_for_both_scripts(tmp_path, monkeypatch):
    """Both scripts stage through buildkit.staged and date through buildkit.source_date_epoch
    (each used to have its own copy)."""
    for script in (RUNNER, BUILDER):
        text = script.read_text()
        assert "staged(" in text and "mkdtemp(prefix=\".staging" not in text, script.name
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "old.html").write_text("old")
    with pytest.raises(RuntimeError), buildkit.staged(tmp_path) as staging:
        (staging / "site").mkdir()
        raise RuntimeError("the build failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    assert (tmp_path / "site" / "old.html").read_text() == "old"
    with buildkit.staged(tmp_path) as staging:
        (staging / "site").mkdir()
        (staging / "site" / "new.html").write_text("new")
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["new.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert buildkit.source_date_epoch() == 1700000000
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(buildkit.BuildError, match="SOURCE_DATE_EPOCH='yesterday'"):
        buildkit.source_date_epoch()


def test_jobs_run_notebooks_side_by_side_with_the_same_bytes(project, tmp_path):
    nbdir, out = project
    for name in ("a_ok", "b_ok"):  # long enough that the second starts before the first ends
        _notebook(nbdir / f"{name}.ipynb", "import time\ntime.sleep(3)\nprint('x =', x)")
    (nbdir / "params.yml").write_text("a_ok: {x: 2}\nb_ok: {x: 3}\n")
    res = _runner(nbdir, out, "--jobs", 2)
    assert res.returncode == 0, res.stderr_text
    lines = res.stdout_text.splitlines()
    first_done = next(i for i, line in enumerate(lines) if " done in " in line)
    started = [line.split()[1] for line in lines[:first_done] if line.endswith(" ...")]
    assert sorted(started) == ["a_ok.ipynb", "b_ok.ipynb"], res.stdout_text
    one_at_a_time = _runner(nbdir, tmp_path / "serial", "--jobs", 1)
    assert one_at_a_time.returncode == 0, one_at_a_time.stderr_text
    assert [line.split(" (")[0].split(" done")[0] for line in
            one_at_a_time.stdout_text.splitlines()[1:5]] == ["[1/2] a_ok.ipynb"] * 2 + [
        "[2/2] b_ok.ipynb"] * 2
    for name in ("a_ok.ipynb", "b_ok.ipynb"):
        assert (out / name).read_bytes() == (tmp_path / "serial" / name).read_bytes()
    assert json.loads((out / "provenance.json").read_text())["jobs"] == 2
    bad = _runner(nbdir, out, "--jobs", 0)
    assert bad.returncode == 2 and "--jobs: expected a positive integer, got 0" in bad.stderr_text


def _kernels_of(root: Path) -> list[str]:
    """Process ids of the kernels whose environment names `root` (the runner's TMPDIR)."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (b"ipykernel" in (proc / "cmdline").read_bytes()
                    and str(root).encode() in (proc / "environ").read_bytes()):
                found.append(proc.name)
        except OSError:
            pass  # the process ended meanwhile, or is not ours
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs /proc")
def test_interrupted_run_is_one_line_and_leaves_no_kernel(project):
    nbdir, out = project
    _notebook(nbdir / "a_ok.ipynb", "import time\ntime.sleep(120)")
    proc = _start(RUNNER, "--set", "quick", "--notebooks-dir", nbdir, "--output-dir", out,
                  cwd=nbdir.parent)
    while not (line := proc.stdout.readline()).endswith(" ...\n"):
        assert line, proc.stderr.read()  # the notebook has started
    time.sleep(3)  # its kernel runs the sleeping cell
    assert _kernels_of(nbdir.parent), "no kernel found"  # the check below can see one
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "build_notebooks: interrupted; the previous output is unchanged"
    assert sorted(p.name for p in out.iterdir()) == [".lock", "a_ok.ipynb"]
    assert (out / "a_ok.ipynb").read_text() == "previous build"
    # the kernel notices that its parent is gone (ipykernel polls it every second)
    deadline = time.monotonic() + 20
    while (left := _kernels_of(nbdir.parent)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not left, f"processes left running: {left}"
