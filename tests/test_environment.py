"""pyproject.toml and environment.yml must declare the same dependencies.

The conda environment installs through pip, so every requirement of pyproject.toml (the core
dependencies and every extra) must appear in environment.yml's pip list with the same extras
and the same version specifiers, and nothing else may; the conda-level Python must satisfy
``requires-python``.
"""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

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
