"""Project-wide test plumbing: the ``mariadb`` marker skips on SQLite; ``slow`` tests run
only with --runslow or RUN_SLOW=1."""
import os

import pytest
from django.db import connection

pytest_plugins = ["tests.twelvedata.fixtures"]


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


def pytest_collection_modifyitems(config, items):
    run_slow = config.getoption("--runslow") or os.environ.get("RUN_SLOW", "") not in ("", "0")
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow or RUN_SLOW=1")
    skip_mariadb = pytest.mark.skip(
        reason="needs MariaDB row locks (set DATABASE_URL=mysql://...)")
    for item in items:
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip_slow)
        if "mariadb" in item.keywords and connection.vendor != "mysql":
            item.add_marker(skip_mariadb)
