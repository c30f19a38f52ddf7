"""Model fields shared by every app."""
from django.db import models

# Binary collations per vendor: byte-exact comparison (MariaDB's NO PAD variant also keeps
# trailing spaces significant). SQLite's default BINARY already compares bytes.
_MYSQL_BINARY = "utf8mb4_bin"
_MARIADB_BINARY = "utf8mb4_nopad_bin"
_POSTGRESQL_BINARY = "C"


def binary_collation(connection) -> str | None:
    """The collation under which ``connection`` compares strings byte for byte, or None
    where its default already does (SQLite)."""
    if connection.vendor == "mysql":
        return _MARIADB_BINARY if connection.mysql_is_mariadb else _MYSQL_BINARY
    if connection.vendor == "postgresql":
        return _POSTGRESQL_BINARY
    return None


class ExactCharField(models.CharField):
    """A CharField compared byte-exact on every database: for codes, symbols, keys and
    client ids. The collation is chosen for the connection when the column is created, so
    a migration stays portable (it records no vendor-specific collation name)."""

    def __init__(self, *args, **kwargs):
        if kwargs.get("db_collation"):
            raise ValueError("ExactCharField chooses its own collation")
        super().__init__(*args, **kwargs)

    def db_parameters(self, connection):
        params = super().db_parameters(connection)
        params["collation"] = binary_collation(connection)
        return params
