"""Test-suite options: tests marked ``slow`` run only on request.

``pytest --runslow`` (or any ``-m`` expression that names ``slow``) runs them; otherwise they
are reported as skipped, so the default suite stays fast.
"""

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow") or "slow" in (config.getoption("-m") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
