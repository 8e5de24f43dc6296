"""The distributions: `python -m build` makes a wheel and an sdist, `twine check` accepts them,
and the wheel installed into a clean virtual environment works on its own.

The wheel and sdist are built once per module, without network access (``--no-isolation``
uses the setuptools of the locked environment), from a scratch copy of the repository. The
clean environment gets the wheel's dependencies from requirements.lock (hash-checked), then
the wheel with ``--no-deps``, so nothing from the repository or the test environment leaks in.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import nslmodel

REPO = Path(__file__).resolve().parents[1]
_NOT_COPIED = {".git", ".venv", "_build", "dist", "build", ".pytest_cache", ".hypothesis",
               "__pycache__", "book", "notebooks", "dask-worker-space"}
# The wheel's runtime requirements plus the plot extra, whose style file is checked below.
EXTRAS = ("plot",)


def _run(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, check=False, **kw)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("pkg") / "src"
    shutil.copytree(REPO, src, ignore=lambda d, names: {
        n for n in names if n in _NOT_COPIED or n.endswith(".egg-info")})
    out = src / "dist"
    res = _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return out


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {dist}, found {[p.name for p in found]}"
    return found[0]


def test_build_makes_a_wheel_and_an_sdist_that_twine_accepts(dist):
    version = nslmodel.__version__
    wheel = _one(dist, f"nslmodel-{version}-py3-none-any.whl")
    sdist = _one(dist, f"nslmodel-{version}.tar.gz")
    res = _run([sys.executable, "-m", "twine", "check", "--strict", wheel, sdist])
    assert res.returncode == 0, res.stdout + res.stderr
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert "nslmodel/nslmodel.mplstyle" in names
    assert f"nslmodel-{version}.dist-info/entry_points.txt" in names
    with tarfile.open(sdist) as tf:
        members = {m.split("/", 1)[1] for m in tf.getnames() if "/" in m}
    assert {"pyproject.toml", "README.md", "nslmodel/nslmodel.mplstyle"} <= members


def _locked_requirements(names: list[str]) -> str:
    """The blocks of requirements.lock (pin and hashes) for `names` and their dependencies."""
    blocks: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", (REPO / "requirements.lock").read_text()):
        if "==" in block.split("\n", 1)[0]:
            lines = [ln for ln in block.splitlines() if not ln.lstrip().startswith("#")]
            blocks[canonicalize_name(block.split("==", 1)[0])] = "\n".join(lines)
    import importlib.metadata as md

    todo, wanted = list(names), set()
    while todo:
        req = Requirement(todo.pop())
        name = canonicalize_name(req.name)
        if name in wanted or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        wanted.add(name)
        for text in md.requires(name) or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in req.extras):
                todo.append(text)
    return "\n".join(blocks[n] for n in sorted(wanted)) + "\n"


@pytest.fixture(scope="module")
def clean_venv(dist, tmp_path_factory) -> Path:
    """A new venv with the wheel's locked dependencies and then the wheel, nothing else."""
    tmp_path = tmp_path_factory.mktemp("clean")
    wheel = _one(dist, "*.whl")
    venv = tmp_path / "venv"
    res = _run([sys.executable, "-m", "venv", "--without-pip", venv])
    assert res.returncode == 0, res.stderr
    py = venv / "bin" / "python"
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(_locked_requirements(_wheel_requirements(wheel)))
    # This environment's pip installs into the new one (--python), which so holds no pip of
    # its own; no bytecode is written ahead: the probes compile what they import as they load.
    pip = [sys.executable, "-m", "pip", "--python", py, "--disable-pip-version-check"]
    install = [*pip, "install", "--no-input", "-q", "--no-compile"]
    res = _run([*install, "--require-hashes", "--no-deps", "-r", reqs])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    res = _run([*install, "--no-deps", wheel])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    res = _run([*pip, "check"])
    assert res.returncode == 0, res.stdout + res.stderr
    return venv


def test_wheel_imports_and_finds_its_style_in_a_clean_venv(clean_venv, tmp_path):
    venv, py = clean_venv, clean_venv / "bin" / "python"
    here = tmp_path  # an empty directory, so that the repository is not on the path
    probe = (
        "import pathlib, nslmodel, nslmodel.plotting as p, matplotlib.style as s\n"
        "print(nslmodel.__version__); print(pathlib.Path(nslmodel.__file__).parent)\n"
        "print(p.STYLE_FILE); s.use(p.STYLE_FILE)\n"
    )
    res = _run([py, "-c", probe], cwd=here)
    assert res.returncode == 0, res.stdout + res.stderr
    version, package, style = res.stdout.split("\n")[:3]
    assert version == nslmodel.__version__
    site = (venv / "lib").resolve()
    assert site in Path(package).resolve().parents, f"imported from {package}, not the venv"
    assert Path(style).resolve().is_file() and site in Path(style).resolve().parents, style


def test_wheel_runs_nslmodel_version_in_a_clean_venv(clean_venv, tmp_path):
    res = _run([clean_venv / "bin" / "nslmodel", "--version"], cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert nslmodel.__version__ in res.stdout


def _wheel_requirements(wheel: Path) -> list[str]:
    """Requires-Dist of the wheel, with the extras of EXTRAS applied."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
    out = []
    for line in text.splitlines():
        if line.startswith("Requires-Dist: "):
            req = Requirement(line.split(": ", 1)[1])
            if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *EXTRAS)):
                req.marker = None
                out.append(str(req))
    return out
