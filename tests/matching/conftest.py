"""Matching tests need no database; ``slow`` ones run only with --runslow or RUN_SLOW=1."""

import os

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    # Registered only when pytest starts with a path inside tests/matching (pytest reads
    # options from initial conftests); RUN_SLOW=1 works from anywhere.
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def _run_slow(config: pytest.Config) -> bool:
    return bool(config.getoption("--runslow", default=False)) or os.environ.get(
        "RUN_SLOW", ""
    ) not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _run_slow(config):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow or RUN_SLOW=1")
    here = os.path.dirname(__file__)
    for item in items:
        if "slow" in item.keywords and str(item.path).startswith(here):
            item.add_marker(skip)
