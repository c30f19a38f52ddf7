"""Project-wide test plumbing: the ``mariadb`` marker skips on SQLite."""
import pytest
from django.db import connection

pytest_plugins = ["tests.twelvedata.fixtures"]


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "mysql":
        return
    skip = pytest.mark.skip(reason="needs MariaDB row locks (set DATABASE_URL=mysql://...)")
    for item in items:
        if "mariadb" in item.keywords:
            item.add_marker(skip)
