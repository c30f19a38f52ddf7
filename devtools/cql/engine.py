"""The semantics of each statement, as ScyllaDB has them (on ``storage``'s tables).

- Tables hold partitions (ordered by the Murmur3 token of their key, as the driver's
  routing computes it), each holding rows ordered by their clustering columns (ASC or
  DESC as declared; ``ORDER BY`` the other way reverses a single partition's rows).
- INSERT and UPDATE are upserts; every cell keeps its write timestamp (``USING
  TIMESTAMP``, else the client's default timestamp, else the server's clock in
  microseconds) and the newest one wins, per cell: on a tie a tombstone beats a value and
  the larger serialized value beats the smaller. INSERT also writes a row marker (the row
  exists while it lives); UPDATE writes cells only.
- DELETE writes a row tombstone (or a partition tombstone, or cell tombstones for the
  columns it names) at its timestamp: whatever was written at that timestamp or before
  is shadowed, whatever is written later lives. ``USING TTL`` makes cells expire.
- ``IF NOT EXISTS`` / ``IF EXISTS`` / ``IF col = x`` (lightweight transactions) answer a
  row with ``[applied]`` (and, when not applied, the row's current values).
- SELECT: the partition key by equality (or no restriction at all: a scan of every
  partition in token order), clustering columns by equality or range, ``ORDER BY`` the
  first clustering column, ``LIMIT``, ``COUNT(*)``; pages of ``page_size`` rows resume
  after the last row handed out (the paging state is that row's key, so rows written or
  deleted between pages are neither repeated nor skipped).
- ``system.local``/``system.peers`` answer as one node of one data center; every other
  ``system*`` table answers no rows (the driver reads schema metadata from them).

Statements are applied one at a time (the server runs on one asyncio loop), so a BATCH
is applied whole. What the parser does not accept is a syntax error; what this module
does not support is an ``InvalidRequest``, both reported as CQL ERRORs, never a crash.
"""
from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from . import parser as p
from .storage import (
    Cell,
    Partition,
    Row,
    Table,
    beyond,
    read_paging_state,
    wins,
    write_paging_state,
)
from .system import is_system, system_rows
from .values import (
    ALREADY_EXISTS,
    BOOLEAN,
    INT,
    LONG,
    TEXT,
    TYPES,
    UNSET,
    UUID_TYPE,
    CqlError,
    Result,
    Rows,
    SchemaChange,
    SetKeyspace,
    Void,
    deserialize,
    invalid,
    serialize,
)


@dataclass
class BindSpec:
    name: str
    kind: type


@dataclass
class Prepared:
    """A statement parsed once, its markers' types and its result columns."""

    statement: p.Statement
    keyspace: str | None  # the connection's keyspace when it was prepared
    binds: list[BindSpec]
    pk_indexes: list[int]
    result: list[tuple[str, type]]
    table: tuple[str, str] | None
    text: str


@dataclass
class Options:
    values: list[Any] = field(default_factory=list)  # bytes | None | UNSET, or python values
    page_size: int | None = None
    paging_state: bytes | None = None
    timestamp: int | None = None
    consistency: int = 0


class Database:
    def __init__(self, *, address: str = "127.0.0.1",
                 clock: Callable[[], float] = time.time) -> None:
        self.keyspaces: dict[str, dict[str, Any]] = {}
        self.tables: dict[tuple[str, str], Table] = {}
        self.address = address
        self.clock = clock

    def now_micros(self) -> int:
        return int(self.clock() * 1_000_000)

    # -- preparing -------------------------------------------------------------------------

    def prepare(self, text: str, keyspace: str | None) -> Prepared:
        statement, count = p.parse(text)
        binds: dict[int, BindSpec] = {}
        pk_indexes: list[int] = []
        result: list[tuple[str, type]] = []
        table_key = None

        def note(term: p.Term | None, name: str, kind: type) -> None:
            if isinstance(term, p.Bind):
                binds[term.index] = BindSpec(name, kind)

        if isinstance(statement, p.Select) and is_system(statement.table, keyspace):
            if count:
                raise invalid("bind markers are not supported on system tables")
        elif isinstance(statement, p.Insert | p.Update | p.Delete | p.Select):
            table = self.table(statement.table, keyspace)
            table_key = (table.keyspace, table.name)
            if isinstance(statement, p.Insert):
                for name, term in zip(statement.columns, statement.values, strict=True):
                    note(term, name, self.column(table, name))
            if isinstance(statement, p.Update):
                for name, term in statement.assignments:
                    note(term, name, self.column(table, name))
            if not isinstance(statement, p.Insert):
                for relation in statement.where:
                    note(relation.term, relation.column, self.column(table, relation.column))
            if isinstance(statement, p.Update | p.Delete):
                for relation in statement.conditions:
                    note(relation.term, relation.column, self.column(table, relation.column))
            if not isinstance(statement, p.Select):
                note(statement.using.timestamp, "[timestamp]", LONG)
                note(statement.using.ttl, "[ttl]", INT)
            else:
                note(statement.limit, "[limit]", INT)
                result = self._select_columns(table, statement)
            pk_indexes = self._pk_indexes(table, statement)
        if sorted(binds) != list(range(count)):
            raise invalid("bind markers must name columns, TIMESTAMP, TTL or LIMIT")
        return Prepared(statement, keyspace, [binds[i] for i in range(count)], pk_indexes,
                        result, table_key, text)

    @staticmethod
    def _pk_indexes(table: Table, statement: p.Statement) -> list[int]:
        found: dict[str, int] = {}
        if isinstance(statement, p.Insert):
            pairs = zip(statement.columns, statement.values, strict=True)
        else:
            pairs = ((r.column, r.term) for r in statement.where if r.op == "=")
        for name, term in pairs:
            if name in table.partition_key and isinstance(term, p.Bind):
                found[name] = term.index
        if set(found) != set(table.partition_key):
            return []
        return [found[name] for name in table.partition_key]

    def _select_columns(self, table: Table, statement: p.Select) -> list[tuple[str, type]]:
        if statement.count:
            return [("count", LONG)]
        names = table.star() if statement.columns is None else statement.columns
        return [(name, self.column(table, name)) for name in names]

    def table(self, name: p.TableName, keyspace: str | None) -> Table:
        space = name.keyspace or keyspace
        if space is None:
            raise invalid("No keyspace has been specified. USE a keyspace, or explicitly "
                          "specify keyspace.tablename")
        table = self.tables.get((space, name.name))
        if table is None:
            raise invalid(f"unconfigured table {name.name}")
        return table

    @staticmethod
    def column(table: Table, name: str) -> type:
        if name not in table.types:
            raise invalid(f"Undefined column name {name} in table {table.keyspace}.{table.name}")
        return table.types[name]

    # -- executing -------------------------------------------------------------------------

    def execute(self, prepared: Prepared, options: Options, keyspace: str | None) -> Result:
        statement = prepared.statement
        if isinstance(statement, p.Select) and is_system(statement.table, keyspace):
            return system_rows(statement, self.address)
        if isinstance(statement, p.CreateKeyspace):
            return self._create_keyspace(statement)
        if isinstance(statement, p.CreateTable):
            return self._create_table(statement, keyspace)
        if isinstance(statement, p.Use):
            if statement.keyspace not in self.keyspaces and statement.keyspace != "system":
                raise invalid(f"Keyspace '{statement.keyspace}' does not exist")
            return SetKeyspace(statement.keyspace)
        if isinstance(statement, p.Drop):
            return self._drop(statement, keyspace)
        values = self.bind_values(prepared, options.values)
        table = self.table(statement.table, prepared.keyspace)
        if isinstance(statement, p.Truncate):
            table.partitions.clear()
            return Void()
        if isinstance(statement, p.Select):
            return self._select(table, prepared, statement, values, options)
        timestamp = options.timestamp if options.timestamp is not None else self.now_micros()
        return self.write(table, statement, values, timestamp)

    @staticmethod
    def bind_values(prepared: Prepared, raw: list[Any]) -> list[Any]:
        if len(raw) != len(prepared.binds):
            raise invalid(f"There were {len(prepared.binds)} markers(?) in CQL but "
                          f"{len(raw)} bound variables")
        values = []
        for spec, value in zip(prepared.binds, raw, strict=True):
            if value is UNSET or value is None:
                values.append(value)
                continue
            try:
                values.append(deserialize(spec.kind, value))
            except Exception as error:  # the driver's decoders raise struct/Value errors
                raise invalid(f"Invalid value for {spec.name}: {error}") from None
        return values

    # -- schema ----------------------------------------------------------------------------

    def _create_keyspace(self, statement: p.CreateKeyspace) -> Result:
        if statement.name in self.keyspaces:
            if statement.if_not_exists:
                return Void()
            raise CqlError(ALREADY_EXISTS, f"Keyspace {statement.name} already exists",
                           keyspace=statement.name)
        self.keyspaces[statement.name] = {key: term.value if isinstance(term, p.Literal)
                                          else None for key, term in statement.options.items()}
        return SchemaChange("CREATED", "KEYSPACE", statement.name)

    def _create_table(self, statement: p.CreateTable, keyspace: str | None) -> Result:
        space = statement.table.keyspace or keyspace
        if space is None or space not in self.keyspaces:
            raise invalid(f"Keyspace '{space}' does not exist")
        key = (space, statement.table.name)
        if key in self.tables:
            if statement.if_not_exists:
                return Void()
            raise CqlError(ALREADY_EXISTS, f"Table {space}.{key[1]} already exists",
                           keyspace=space, table=key[1])
        types = {}
        for name, kind in statement.columns:
            if kind not in TYPES:
                raise invalid(f"Unsupported type {kind} for column {name}")
            if name in types:
                raise invalid(f"Multiple definition of identifier {name}")
            types[name] = TYPES[kind]
        for name in [*statement.partition_key, *statement.clustering, *statement.descending]:
            if name not in types:
                raise invalid(f"Unknown definition {name} referenced in PRIMARY KEY")
        if not statement.descending <= set(statement.clustering):
            raise invalid("Only clustering key columns can be defined in CLUSTERING ORDER")
        self.tables[key] = Table(space, key[1], types, statement.partition_key,
                                 statement.clustering, statement.descending)
        return SchemaChange("CREATED", "TABLE", space, key[1])

    def _drop(self, statement: p.Drop, keyspace: str | None) -> Result:
        if statement.what == "keyspace":
            if statement.name not in self.keyspaces:
                if statement.if_exists:
                    return Void()
                raise invalid(f"Cannot drop non existing keyspace '{statement.name}'.")
            del self.keyspaces[statement.name]
            for key in [key for key in self.tables if key[0] == statement.name]:
                del self.tables[key]
            return SchemaChange("DROPPED", "KEYSPACE", statement.name)
        space = statement.keyspace or keyspace or ""
        if (space, statement.name) not in self.tables:
            if statement.if_exists:
                return Void()
            raise invalid(f"unconfigured table {statement.name}")
        del self.tables[space, statement.name]
        return SchemaChange("DROPPED", "TABLE", space, statement.name)

    # -- terms -----------------------------------------------------------------------------

    @staticmethod
    def value(term: p.Term, values: list[Any], kind: type, name: str) -> Any:
        if isinstance(term, p.Bind):
            return values[term.index]
        value = term.value
        if value is None:
            return None
        try:
            if kind in (LONG, INT, TYPES["varint"], TYPES["smallint"], TYPES["tinyint"]):
                if isinstance(value, int) and not isinstance(value, bool):
                    return value
            elif kind is TYPES["decimal"]:
                if isinstance(value, int | Decimal) and not isinstance(value, bool):
                    return Decimal(value)
            elif kind in (TYPES["double"], TYPES["float"]):
                if isinstance(value, int | Decimal) and not isinstance(value, bool):
                    return float(value)
            elif kind in (TEXT, TYPES["varchar"], TYPES["ascii"]):
                if isinstance(value, str):
                    return value
            elif kind is BOOLEAN:
                if isinstance(value, bool):
                    return value
            elif kind in (UUID_TYPE, TYPES["timeuuid"]):
                if isinstance(value, uuid.UUID):
                    return value
            elif kind is TYPES["timestamp"] and isinstance(value, int):
                return value
        except (ArithmeticError, ValueError):
            pass
        raise invalid(f"Invalid literal {value!r} for {name} of type {kind.typename}")

    def _key(self, table: Table, given: dict[str, Any], *, full: bool) -> tuple[Any, ...]:
        names = table.key_columns if full else table.partition_key
        for name in names:
            if given.get(name) is None or given[name] is UNSET:
                raise invalid(f"Some {'primary' if full else 'partition'} key parts are "
                              f"missing: {name}")
        return tuple(given[name] for name in names)

    def _equalities(self, table: Table, where: list[p.Relation],
                    values: list[Any]) -> dict[str, Any]:
        found = {}
        for relation in where:
            if relation.column not in table.key_columns:
                raise invalid(f"Non PRIMARY KEY columns found in where clause: "
                              f"{relation.column}")
            found[relation.column] = self.value(relation.term, values,
                                                table.types[relation.column], relation.column)
        return found

    # -- writes ----------------------------------------------------------------------------

    def write(self, table: Table, statement: p.Insert | p.Update | p.Delete,
              values: list[Any], default_timestamp: int) -> Result:
        using = statement.using
        timestamp = default_timestamp
        if using.timestamp is not None:
            timestamp = self.value(using.timestamp, values, LONG, "[timestamp]")
            if timestamp is None or timestamp is UNSET:
                raise invalid("Invalid null value of timestamp")
        expires = None
        if using.ttl is not None:
            ttl = self.value(using.ttl, values, INT, "[ttl]")
            if isinstance(ttl, int) and ttl > 0:
                expires = self.clock() + ttl
        if isinstance(statement, p.Insert):
            given = {name: self.value(term, values, self.column(table, name), name)
                     for name, term in zip(statement.columns, statement.values, strict=True)}
            key = self._key(table, given, full=True)
            if statement.if_not_exists:
                current = self._live_row(table, key)
                if current is not None:
                    return self._not_applied(table, current, table.star())
            row = self._row(table, key)
            marker = Cell(timestamp, True, expires)
            if wins(marker, row.marker, BOOLEAN):
                row.marker = marker
            self._set(table, row, given, timestamp, expires)
            return self._applied() if statement.if_not_exists else Void()
        given = self._equalities(table, statement.where, values)
        if isinstance(statement, p.Update):
            key = self._key(table, given, full=True)
            if statement.if_exists or statement.conditions:
                refused = self._check(table, key, statement, values)
                if refused is not None:
                    return refused
            assigned = {name: self.value(term, values, self.column(table, name), name)
                        for name, term in statement.assignments}
            for name in assigned:
                if name in table.key_columns:
                    raise invalid(f"PRIMARY KEY part {name} found in SET part")
            self._set(table, self._row(table, key), assigned, timestamp, expires)
            return self._applied() if statement.if_exists or statement.conditions else Void()
        return self._delete(table, statement, given, values, timestamp)

    def _delete(self, table: Table, statement: p.Delete, given: dict[str, Any],
                values: list[Any], timestamp: int) -> Result:
        conditional = statement.if_exists or bool(statement.conditions)
        if set(given) >= set(table.key_columns):
            key = self._key(table, given, full=True)
            if conditional:
                refused = self._check(table, key, statement, values)
                if refused is not None:
                    return refused
            row = self._row(table, key)
            if statement.columns:
                for name in statement.columns:
                    if name in table.key_columns:
                        raise invalid(f"Invalid identifier {name} for deletion (should not "
                                      "be a PRIMARY KEY part)")
                    self.column(table, name)
                    tombstone = Cell(timestamp, None)
                    if wins(tombstone, row.cells.get(name), table.types[name]):
                        row.cells[name] = tombstone
            else:
                row.deleted_at = max(row.deleted_at, timestamp)
            return self._applied() if conditional else Void()
        if set(given) == set(table.partition_key) and not statement.columns and not conditional:
            partition = self._partition(table, self._key(table, given, full=False))
            partition.deleted_at = max(partition.deleted_at, timestamp)
            return Void()
        raise invalid("Range deletions are not supported by this emulator: give the whole "
                      "primary key, or the partition key alone")

    def _set(self, table: Table, row: Row, given: dict[str, Any], timestamp: int,
             expires: float | None) -> None:
        for name, value in given.items():
            if name in table.key_columns or value is UNSET:
                continue
            cell = Cell(timestamp, value, expires if value is not None else None)
            if wins(cell, row.cells.get(name), table.types[name]):
                row.cells[name] = cell

    def _partition(self, table: Table, key: tuple[Any, ...]) -> Partition:
        return table.partitions.setdefault(key, Partition())

    def _row(self, table: Table, key: tuple[Any, ...]) -> Row:
        size = len(table.partition_key)
        return self._partition(table, key[:size]).rows.setdefault(key[size:], Row())

    def _live_row(self, table: Table, key: tuple[Any, ...]) -> dict[str, Any] | None:
        size = len(table.partition_key)
        partition = table.partitions.get(key[:size])
        row = None if partition is None else partition.rows.get(key[size:])
        if row is None:
            return None
        return self._visible(table, key, row, max(partition.deleted_at, row.deleted_at))

    def _visible(self, table: Table, key: tuple[Any, ...], row: Row,
                 shadow: int) -> dict[str, Any] | None:
        """The row's live values (key included), or None if it does not exist."""
        now = self.clock()
        cells = {name: cell.value for name, cell in row.cells.items()
                 if cell.live(shadow, now)}
        if not cells and (row.marker is None or not row.marker.live(shadow, now)):
            return None
        return {**dict(zip(table.key_columns, key, strict=True)), **cells}

    def _check(self, table: Table, key: tuple[Any, ...], statement: p.Update | p.Delete,
               values: list[Any]) -> Rows | None:
        current = self._live_row(table, key)
        if statement.if_exists:
            return None if current is not None else self._not_applied(table, None, [])
        for relation in statement.conditions:
            expected = self.value(relation.term, values, self.column(table, relation.column),
                                  relation.column)
            if (current or {}).get(relation.column) != expected:
                return self._not_applied(table, current,
                                         [r.column for r in statement.conditions])
        return None

    @staticmethod
    def _applied() -> Rows:
        return Rows("", "", [("[applied]", BOOLEAN)], [[serialize(BOOLEAN, True)]])

    def _not_applied(self, table: Table, current: dict[str, Any] | None,
                     names: list[str]) -> Rows:
        columns = [("[applied]", BOOLEAN)]
        row = [serialize(BOOLEAN, False)]
        if current is not None:
            for name in names:
                columns.append((name, table.types[name]))
                row.append(serialize(table.types[name], current.get(name)))
        return Rows(table.keyspace, table.name, columns, [row])

    # -- reads -----------------------------------------------------------------------------

    def _select(self, table: Table, prepared: Prepared, statement: p.Select,
                values: list[Any], options: Options) -> Rows:
        partition_eq: dict[str, Any] = {}
        clustering: list[tuple[str, str, Any]] = []
        for relation in statement.where:
            value = self.value(relation.term, values, self.column(table, relation.column),
                               relation.column)
            if relation.column in table.partition_key and relation.op == "=":
                partition_eq[relation.column] = value
            elif relation.column in table.clustering:
                clustering.append((relation.column, relation.op, value))
            else:
                raise invalid(f"Cannot execute this query: {relation.column} {relation.op} "
                              "needs ALLOW FILTERING, which this emulator does not support")
        if partition_eq and set(partition_eq) != set(table.partition_key):
            raise invalid("Partition key parts are missing: "
                          f"{[n for n in table.partition_key if n not in partition_eq]}")
        reverse = False
        if statement.order_by is not None:
            column, descending = statement.order_by
            if not partition_eq:
                raise invalid("ORDER BY is only supported when the partition key is "
                              "restricted by an EQ or an IN.")
            if not table.clustering or column != table.clustering[0]:
                raise invalid(f"Order by is currently only supported on the clustering "
                              f"columns of the PRIMARY KEY, got {column}")
            reverse = descending != (column in table.descending)
        limit = None
        if statement.limit is not None:
            limit = self.value(statement.limit, values, INT, "[limit]")
            if not isinstance(limit, int) or limit <= 0:
                raise invalid("LIMIT must be strictly positive")
        rows = self._scan(table, partition_eq, clustering, reverse)
        if statement.count:
            total = sum(1 for _ in rows)
            if limit is not None:
                total = min(total, limit)
            return Rows(table.keyspace, table.name, prepared.result,
                        [[serialize(LONG, total)]])
        names = [name for name, _ in prepared.result]
        after, handed = read_paging_state(table, options.paging_state)
        if limit is not None:
            limit -= handed
        page_size = options.page_size if options.page_size and options.page_size > 0 else None
        found: list[list[bytes | None]] = []
        last: tuple[Any, ...] | None = None
        more = False
        for position, key, row in rows:
            if after is not None and not beyond(position, after, reverse):
                continue
            if (limit is not None and len(found) >= limit) or (
                    page_size is not None and len(found) >= page_size):
                more = limit is None or len(found) < limit
                break
            found.append([serialize(table.types[name], row.get(name)) for name in names])
            last = key
        state = None
        if more and last is not None:
            state = write_paging_state(table, last, handed + len(found))
        return Rows(table.keyspace, table.name, prepared.result, found, state)

    def _scan(self, table: Table, partition_eq: dict[str, Any],
              clustering: list[tuple[str, str, Any]],
              reverse: bool) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], dict[str, Any]]]:
        """(position, primary key, live values) of the matching rows, in order."""
        if partition_eq:
            key = tuple(partition_eq[name] for name in table.partition_key)
            keys = [key] if key in table.partitions else []
        else:
            keys = sorted(table.partitions, key=table.partition_order)
        for partition_key in keys:
            partition = table.partitions[partition_key]
            ordered = sorted(partition.rows.items(),
                             key=lambda item: table.clustering_order(item[0]), reverse=reverse)
            for clustering_key, row in ordered:
                values = dict(zip(table.clustering, clustering_key, strict=True))
                if not all(_holds(values[name], op, value) for name, op, value in clustering):
                    continue
                key = partition_key + clustering_key
                live = self._visible(table, key, row, max(partition.deleted_at, row.deleted_at))
                if live is not None:
                    position = (table.partition_order(partition_key),
                                table.clustering_order(clustering_key))
                    yield position, key, live


_OPS = {"=": lambda a, b: a == b, "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _holds(value: Any, op: str, bound: Any) -> bool:
    return bound is not None and _OPS[op](value, bound)
