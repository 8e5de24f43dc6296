"""pyproject.toml, environment.yml and requirements.lock must declare the same dependencies.

The conda environment installs through pip, so every requirement of pyproject.toml (the core
dependencies and every extra) must appear in environment.yml's pip list with the same extras
and the same version specifiers, and nothing else may; the conda-level Python must satisfy
``requires-python``. requirements.lock must pin, with hashes, every requirement and everything
it pulls in, within pyproject's specifiers. The version has one source.
"""

import importlib.metadata
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
# Conda-level entries that are not Python requirements of the package.
CONDA_TOOLING = {"pip"}
SELF_INSTALL = "-e ."


def _key(req: Requirement):
    """What must agree: the canonical name, the extras and the specifier set."""
    return canonicalize_name(req.name), frozenset(req.extras), SpecifierSet(str(req.specifier))


def _pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _pyproject_requirements() -> dict[str, tuple]:
    project = _pyproject()
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs += extra
    merged: dict[str, tuple] = {}
    for text in reqs:
        name, extras, spec = _key(Requirement(text))
        if name in merged:
            assert merged[name] == (extras, spec), (
                f"pyproject.toml lists {name} twice with different extras or versions: "
                f"{merged[name]} and {(extras, spec)}"
            )
        merged[name] = (extras, spec)
    return merged


def _environment():
    env = yaml.safe_load((REPO / "environment.yml").read_text(encoding="utf-8"))
    conda, pip = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
        else:
            conda.append(str(dep))
    return conda, pip


def test_environment_pip_list_matches_pyproject():
    _, pip = _environment()
    assert SELF_INSTALL in pip, "environment.yml must install the package itself (-e .)"
    env_reqs: dict[str, tuple] = {}
    for text in pip:
        if text == SELF_INSTALL:
            continue
        name, extras, spec = _key(Requirement(text))
        assert name not in env_reqs, f"environment.yml lists {name} twice"
        env_reqs[name] = (extras, spec)
    project = _pyproject_requirements()
    assert sorted(env_reqs) == sorted(project), (
        f"only in environment.yml: {sorted(set(env_reqs) - set(project))}; "
        f"only in pyproject.toml: {sorted(set(project) - set(env_reqs))}"
    )
    mismatched = {n: (env_reqs[n], project[n]) for n in project if env_reqs[n] != project[n]}
    assert not mismatched, f"different extras or versions (environment.yml, pyproject): {mismatched}"


def test_conda_python_satisfies_requires_python():
    conda, _ = _environment()
    pythons = [d for d in conda if d.startswith("python")]
    assert len(pythons) == 1, f"expected one python pin in environment.yml, found {pythons}"
    version = pythons[0].split("=", 1)[1].lstrip("=")
    assert SpecifierSet(_pyproject()["requires-python"]).contains(version)
    others = [d for d in conda if not d.startswith("python") and d not in CONDA_TOOLING]
    assert not others, (
        f"conda packages {others} are not checked against pyproject.toml; list them in the "
        "pip section instead"
    )


# --------------------------------------------------------------------------- the lock

LOCK = REPO / "requirements.lock"
# A pin and its hashes: "name==version \" then "    --hash=sha256:..." lines.
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _lock() -> dict[str, tuple[Version, int]]:
    """Canonical name -> (pinned version, number of hashes), from requirements.lock."""
    pins: dict[str, tuple[Version, int]] = {}
    name = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"requirements.lock pins {name} twice"
            pins[name] = (Version(match.group(2)), 0)
        elif line.strip().startswith("--hash=sha256:") and name is not None:
            version, n = pins[name]
            pins[name] = (version, n + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"requirements.lock: unexpected line {line!r}")
    return pins


def test_lock_pins_every_requirement_within_its_specifier():
    pins = _lock()
    unhashed = [n for n, (_, hashes) in pins.items() if hashes == 0]
    assert not unhashed, f"pins without a hash (pip --require-hashes refuses them): {unhashed}"
    project = _pyproject_requirements()
    missing = sorted(set(project) - set(pins))
    assert not missing, f"in pyproject.toml but not in requirements.lock (run make lock): {missing}"
    outside = {n: (str(pins[n][0]), str(spec)) for n, (_, spec) in project.items()
               if not spec.contains(pins[n][0], prereleases=True)}
    assert not outside, f"locked versions outside pyproject's specifiers (run make lock): {outside}"


def _requires(dist: str, extras: frozenset[str]) -> list[Requirement]:
    """The requirements of an installed distribution that apply here, with those extras."""
    reqs = []
    for text in importlib.metadata.requires(dist) or []:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
            reqs.append(req)
    return reqs


def test_lock_is_closed_under_the_installed_dependencies():
    """Every package that pyproject's requirements pull in, transitively, is pinned.

    Walks the metadata of the installed distributions (markers evaluated for this Python and
    platform, so for Python 3.11 on Linux as locked); a requirement added to pyproject.toml
    without `make lock` shows up here even where its name is already in the lock.
    """
    pins = _lock()
    todo = [Requirement(t) for t in _all_pyproject_texts()]
    seen: set[tuple[str, frozenset[str]]] = set()
    unpinned = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(key)
        if name not in pins:
            unpinned.add(name)
            continue
        try:
            todo += _requires(name, frozenset(req.extras))
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is locked but not installed; run make venv")
    assert not unpinned, f"required but not in requirements.lock (run make lock): {sorted(unpinned)}"


def _all_pyproject_texts() -> list[str]:
    project = _pyproject()
    return [*project.get("dependencies", []),
            *(r for extra in project.get("optional-dependencies", {}).values() for r in extra)]


def test_lock_targets_python_311_on_linux():
    """The lock is compiled for the Python of environment.yml and of the README."""
    conda, _ = _environment()
    python = next(d for d in conda if d.startswith("python")).split("=", 1)[1].lstrip("=")
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert f"--python-version {python}" in makefile and "--python-platform linux" in makefile


# A stand-in for uv that writes the bytes of $FAKE_LOCK to the file after -o, as `uv pip
# compile` does, or fails half-way with $FAKE_FAIL: the lock target runs offline against it.
_FAKE_UV = """#!/usr/bin/env bash
while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done
if [ -n "${FAKE_FAIL:-}" ]; then printf 'half' > "$out"; exit 1; fi
cp "$FAKE_LOCK" "$out"
"""
#: A fixed past mtime for the lock, so that a rewrite within the same clock tick still shows.
_PAST_NS = 10**18


def _lock_checkout(root):
    """The Makefile, pyproject.toml and lock in ``root``, with the stand-in uv in its venv."""
    import os

    root.mkdir()
    for name in ("Makefile", "pyproject.toml", "requirements.lock"):
        (root / name).write_bytes((REPO / name).read_bytes())
    os.utime(root / "requirements.lock", ns=(_PAST_NS, _PAST_NS))
    uv = root / ".venv" / "uv" / "bin" / "uv"
    uv.parent.mkdir(parents=True)
    uv.write_text(_FAKE_UV)
    uv.chmod(0o755)
    return root / "requirements.lock"


def _make_lock(root, compiled: bytes, *, fail=False):
    import os
    import subprocess

    (root.parent / "compiled").write_bytes(compiled)
    env = dict(os.environ, FAKE_LOCK=str(root.parent / "compiled"))
    if fail:
        env["FAKE_FAIL"] = "1"
    return subprocess.run(["make", "--no-print-directory", "-C", str(root), "lock"],
                          capture_output=True, text=True, env=env, timeout=60)


_CHECKOUT = [".venv", "Makefile", "pyproject.toml", "requirements.lock"]


def test_make_lock_leaves_an_unchanged_lock_untouched(tmp_path):
    """Same content: the lock keeps its inode and mtime (the venv stamp depends on it, so
    `make venv` does not reinstall), and no temporary file is left."""
    lock = _lock_checkout(tmp_path / "repo")
    before = lock.stat()
    r = _make_lock(tmp_path / "repo", LOCK.read_bytes())
    after = lock.stat()
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert "unchanged" in r.stdout, r.stdout
    assert lock.read_bytes() == LOCK.read_bytes()
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == _CHECKOUT


def test_make_lock_replaces_a_changed_lock(tmp_path):
    lock = _lock_checkout(tmp_path / "repo")
    compiled = LOCK.read_bytes() + b"# a new pin\n"
    r = _make_lock(tmp_path / "repo", compiled)
    assert r.returncode == 0 and "updated" in r.stdout, (r.stdout, r.stderr)
    assert lock.read_bytes() == compiled and lock.stat().st_mtime_ns != _PAST_NS
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == _CHECKOUT


def test_make_lock_that_fails_leaves_the_lock_and_no_partial_file(tmp_path):
    lock = _lock_checkout(tmp_path / "repo")
    r = _make_lock(tmp_path / "repo", b"", fail=True)
    assert r.returncode != 0
    assert lock.read_bytes() == LOCK.read_bytes() and lock.stat().st_mtime_ns == _PAST_NS
    assert sorted(p.name for p in (tmp_path / "repo").iterdir()) == _CHECKOUT


# --------------------------------------------------------------------------- one version


def test_one_version_everywhere():
    """pyproject takes the version from nslmodel.__version__; CITATION.cff, .zenodo.json and the
    installed metadata agree with it (the cite page writes its entry from CITATION.cff)."""
    import nslmodel

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "nslmodel.__version__"}
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    zenodo = json.loads((REPO / ".zenodo.json").read_text(encoding="utf-8"))
    versions = {
        "nslmodel.__version__": nslmodel.__version__,
        "installed metadata": importlib.metadata.version("nslmodel"),
        "CITATION.cff": str(cff["version"]),
        ".zenodo.json": zenodo["version"],
    }
    assert len(set(versions.values())) == 1, versions


def test_zenodo_metadata_matches_citation_file():
    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    zenodo = json.loads((REPO / ".zenodo.json").read_text(encoding="utf-8"))
    assert zenodo["title"] == cff["title"]
    assert zenodo["description"] == " ".join(cff["abstract"].split())
    assert zenodo["creators"] == [{"name": a["name"]} if "name" in a else
                                  {"name": f"{a['family-names']}, {a['given-names']}"}
                                  for a in cff["authors"]]
    assert zenodo["license"] == cff["license"] == _pyproject()["license"]["text"]
    paper = {r["identifier"]: r["relation"] for r in zenodo["related_identifiers"]}
    assert paper.get("arXiv:2405.19398") == "isSupplementTo"
    assert any(i["value"] == "arXiv:2405.19398" for i in cff["preferred-citation"]["identifiers"])
