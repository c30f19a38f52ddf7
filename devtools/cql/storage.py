"""The emulator's tables: partitions in token order, rows in clustering order, cells with
their write timestamps, tombstones; and the paging state, a row's position in that order.
"""
from __future__ import annotations

import base64
import json
import struct
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from functools import total_ordering
from typing import Any

from cassandra.murmur3 import murmur3

from .values import PROTOCOL_ERROR, CqlError, invalid, serialize


@dataclass
class Cell:
    timestamp: int
    value: Any  # None: a tombstone
    expires: float | None = None

    def live(self, shadow: int, now: float) -> bool:
        return (self.value is not None and self.timestamp > shadow
                and (self.expires is None or now < self.expires))


@dataclass
class Row:
    marker: Cell | None = None
    deleted_at: int = -(2**63)
    cells: dict[str, Cell] = field(default_factory=dict)


@dataclass
class Partition:
    deleted_at: int = -(2**63)
    rows: dict[tuple[Any, ...], Row] = field(default_factory=dict)


def wins(new: Cell, old: Cell | None, kind: type) -> bool:
    if old is None or new.timestamp > old.timestamp:
        return True
    if new.timestamp < old.timestamp:
        return False
    if new.value is None or old.value is None:
        return new.value is None
    return serialize(kind, new.value) > serialize(kind, old.value)


@total_ordering
class _Descending:
    """A clustering value in a DESC column: sorts the other way round."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: _Descending) -> bool:
        return self.value > other.value

    def __hash__(self) -> int:
        return hash(self.value)


@dataclass
class Table:
    keyspace: str
    name: str
    types: dict[str, type]  # in declaration order
    partition_key: list[str]
    clustering: list[str]
    descending: set[str]
    partitions: dict[tuple[Any, ...], Partition] = field(default_factory=dict)

    @property
    def key_columns(self) -> list[str]:
        return self.partition_key + self.clustering

    @property
    def regular(self) -> list[str]:
        return [name for name in self.types if name not in self.key_columns]

    def star(self) -> list[str]:
        """``SELECT *``'s columns: partition key, clustering, then the rest by name."""
        return self.key_columns + sorted(self.regular)

    def routing_key(self, key: tuple[Any, ...]) -> bytes:
        parts = [serialize(self.types[name], value) for name, value in
                 zip(self.partition_key, key, strict=True)]
        if len(parts) == 1:
            return parts[0]
        return b"".join(struct.pack(">H", len(part)) + part + b"\x00" for part in parts)

    def partition_order(self, key: tuple[Any, ...]) -> tuple[int, bytes]:
        routing = self.routing_key(key)
        return murmur3(routing), routing

    def clustering_order(self, key: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(_Descending(value) if name in self.descending else value
                     for name, value in zip(self.clustering, key, strict=True))


def beyond(position: tuple[Any, ...], after: tuple[Any, ...], reverse: bool) -> bool:
    # Partitions always come in token order; only the rows of one partition reverse.
    if position[0] != after[0]:
        return position[0] > after[0]
    return position[1] < after[1] if reverse else position[1] > after[1]


# A paging state names the last row handed out (its table's key values, typed) and how
# many rows the pages so far held (what LIMIT still allows).
def _tag(value: Any) -> list[Any]:
    for tag, kind in (("b", bool), ("i", int), ("s", str), ("d", Decimal), ("u", uuid.UUID),
                      ("f", float)):
        if isinstance(value, kind):
            return [tag, value if tag in "bis" else str(value)]
    if isinstance(value, bytes):
        return ["x", value.hex()]
    raise invalid(f"cannot page on a key of type {type(value).__name__}")


_UNTAG = {"b": bool, "i": int, "s": str, "d": Decimal, "u": uuid.UUID, "f": float,
          "x": bytes.fromhex}


def write_paging_state(table: Table, key: tuple[Any, ...], handed: int) -> bytes:
    body = {"t": [table.keyspace, table.name], "k": [_tag(v) for v in key], "n": handed,
            "p": len(table.partition_key)}
    return base64.b64encode(json.dumps(body).encode())


def read_paging_state(table: Table, state: bytes | None
                        ) -> tuple[tuple[Any, ...] | None, int]:
    """(the position to resume after, rows handed so far) of a paging state of ``table``."""
    if not state:
        return None, 0
    try:
        body = json.loads(base64.b64decode(state, validate=True))
        key = tuple(_UNTAG[tag](value) for tag, value in body["k"])
        handed, size = int(body["n"]), int(body["p"])
        if body["t"] != [table.keyspace, table.name] or size != len(table.partition_key) \
                or len(key) != len(table.key_columns):
            raise ValueError("not a paging state of this table")
        position = (table.partition_order(key[:size]), table.clustering_order(key[size:]))
    except (ValueError, KeyError, TypeError, struct.error) as error:
        raise CqlError(PROTOCOL_ERROR, f"Invalid value for the paging state: {error}") from None
    return position, handed
