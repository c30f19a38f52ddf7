"""What every part of the emulator shares: CQL errors, the driver's types and their
encoding, and the results a statement has."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cassandra import cqltypes

PROTOCOL_VERSION = 4

# Error codes of the native protocol (v4 spec, section 9).
SERVER_ERROR = 0x0000
PROTOCOL_ERROR = 0x000A
SYNTAX_ERROR = 0x2000
INVALID = 0x2200
ALREADY_EXISTS = 0x2400
UNPREPARED = 0x2500


class CqlError(Exception):
    def __init__(self, code: int, message: str, *, keyspace: str = "", table: str = "",
                 statement_id: bytes = b"") -> None:
        super().__init__(message)
        self.code, self.message = code, message
        self.keyspace, self.table, self.statement_id = keyspace, table, statement_id


def invalid(message: str) -> CqlError:
    return CqlError(INVALID, message)


class Unset:
    """A bind value the client left unset (-2): the column is not written."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()

TYPES: dict[str, type] = {name: cls for name, cls in cqltypes._cqltypes.items()
                          if name in {"ascii", "bigint", "blob", "boolean", "decimal", "double",
                                      "float", "int", "text", "timestamp", "uuid", "varchar",
                                      "varint", "timeuuid", "inet", "date", "time", "smallint",
                                      "tinyint"}}
LONG, INT, BOOLEAN, TEXT = TYPES["bigint"], TYPES["int"], TYPES["boolean"], TYPES["text"]
UUID_TYPE = TYPES["uuid"]


def serialize(kind: type, value: Any) -> bytes | None:
    return None if value is None else kind.serialize(value, PROTOCOL_VERSION)


def deserialize(kind: type, raw: bytes | None) -> Any:
    return None if raw is None else kind.deserialize(raw, PROTOCOL_VERSION)


# -- results -----------------------------------------------------------------------------------

@dataclass
class Void:
    pass


@dataclass
class SetKeyspace:
    keyspace: str


@dataclass
class SchemaChange:
    change: str  # CREATED, UPDATED, DROPPED
    target: str  # KEYSPACE, TABLE
    keyspace: str
    table: str = ""


@dataclass
class Rows:
    keyspace: str
    table: str
    columns: list[tuple[str, type]]
    rows: list[list[bytes | None]]
    paging_state: bytes | None = None


Result = Void | SetKeyspace | SchemaChange | Rows
