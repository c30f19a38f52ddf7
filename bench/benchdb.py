"""The benches' own MariaDB database: dropped, created, migrated and given the currencies.

Imported by a bench after ``django.setup()``. Refuses anything but MariaDB and a database
whose name ends in ``_bench`` (a bench must never drop a database someone works in).
"""
import sys

from django.conf import settings
from django.core.management import call_command
from django.db import connection, connections


def recreate_database() -> None:
    db = settings.DATABASES["default"]
    if connection.vendor != "mysql" or not db["NAME"].endswith("_bench"):
        sys.exit("DATABASE_URL must point at MariaDB, at a database whose name ends in _bench")
    name = db["NAME"]
    with connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    connections.close_all()
    call_command("migrate", verbosity=0)
    call_command("loaddata", "fixtures/currencies.json", verbosity=0)
