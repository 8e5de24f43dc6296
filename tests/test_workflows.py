"""The GitHub workflows: valid against the workflow schema (offline, check-jsonschema's
vendored copy), and doing what the README says they do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"


def _load(name: str) -> dict:
    # PyYAML reads the key `on` as True
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_workflows_match_the_github_workflow_schema():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} == {"ci.yml", "book.yml"}
    cmd = [sys.executable, "-m", "check_jsonschema", "--builtin-schema",
           "vendor.github-workflows", *map(str, files)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_ci_runs_the_ci_script_on_python_311():
    ci = _load("ci.yml")
    (job,) = ci["jobs"].values()
    assert job["container"].startswith("python:3.11")
    assert any(step.get("run") == "bash .ci/run" for step in _steps(ci))
    assert "make test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_book_workflow_builds_with_the_repository_url_and_deploys():
    book = _load("book.yml")
    steps = _steps(book)
    (build,) = [s for s in steps if s.get("run") == "make book"]
    assert build["env"]["NSLMODEL_REPOSITORY_URL"] == "${{ github.server_url }}/${{ github.repository }}"
    uses = [s.get("uses", "").split("@")[0] for s in steps]
    assert "actions/upload-pages-artifact" in uses and "actions/deploy-pages" in uses
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert book["permissions"]["pages"] == "write" and book["permissions"]["id-token"] == "write"
