"""Project-wide test plumbing: the ``mariadb`` marker skips on SQLite; ``slow`` tests run
only with --runslow or RUN_SLOW=1; passwords hashed cheaply."""
import os

import pytest
from django.db import connection
from django.test import override_settings

pytest_plugins = ["tests.twelvedata.fixtures"]


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests")


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes():
    """MD5 instead of production's PBKDF2 (a million rounds: 0.3-0.5 s a user, and the suite
    makes thousands of users; it was a third of its time). A login still checks the
    password; no test is about the hash itself."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


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
