"""Test-suite options: slow tests on request, and deterministic property tests under CI.

``pytest --runslow`` (or any ``-m`` expression that names ``slow``) runs the tests marked
``slow``; otherwise they are reported as skipped, so the default suite stays fast.
"""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings


# the build scripts' modules (scripts/build_notebooks.py, ...) for the tests of the book
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    # The book's tests first: their fixtures (the notebooks, the site) take longest, and
    # `make test` hands test files to its pytest-xdist workers in this order.
    items.sort(key=lambda item: item.path.name != "test_book.py")
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# Property tests draw fresh examples on every local run, which keeps exploring; under CI
# (CI=true) they are derandomized so that a submission's result does not depend on luck.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")
