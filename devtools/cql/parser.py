"""A parser for the CQL the order store and its tests send, and nothing more.

Statements (keywords case-insensitive, identifiers folded to lower case unless "quoted"):

- ``CREATE KEYSPACE [IF NOT EXISTS] ks WITH replication = {...} [AND durable_writes = b]``
- ``CREATE TABLE [IF NOT EXISTS] [ks.]t (col type, ..., PRIMARY KEY ((p1, p2), c1, c2))``
  (or ``PRIMARY KEY (p, c)``, or ``col type PRIMARY KEY``) ``[WITH CLUSTERING ORDER BY
  (c1 DESC, ...)] [AND option = value ...]``; scalar types only (text, varchar, ascii,
  bigint, int, smallint, tinyint, varint, boolean, decimal, double, float, timestamp, uuid,
  timeuuid, blob, inet, date, time)
- ``USE ks``, ``TRUNCATE [TABLE] [ks.]t``, ``DROP TABLE|KEYSPACE [IF EXISTS] name``
- ``INSERT INTO [ks.]t (cols) VALUES (terms) [IF NOT EXISTS] [USING TIMESTAMP n [AND TTL n]]``
- ``UPDATE [ks.]t [USING ...] SET col = term, ... WHERE key = term AND ... [IF EXISTS |
  IF col = term AND ...]``
- ``DELETE [col, ...] FROM [ks.]t [USING TIMESTAMP n] WHERE key = term AND ... [IF EXISTS |
  IF col = term AND ...]``
- ``SELECT * | COUNT(*) | col, ... FROM [ks.]t [WHERE col op term AND ...]
  [ORDER BY col [ASC|DESC]] [LIMIT n] [ALLOW FILTERING]`` with op one of = < <= > >=
- ``BEGIN [UNLOGGED] BATCH ... APPLY BATCH`` in a QUERY is refused (the driver sends
  batches as BATCH messages, which the server handles).

A term is ``?`` (a bind marker, numbered in order of appearance), a string literal
('it''s'), a number, ``true``/``false``, ``null``, a UUID, or a ``{...}`` map literal
(kept as text: only the keyspace options use one). Anything else raises ``CqlSyntaxError``,
which the server answers with a CQL syntax ERROR (0x2000).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID


class CqlSyntaxError(Exception):
    pass


_TOKEN = re.compile(r"""
    (?P<space>\s+|--[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")+")
  | (?P<uuid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<symbol><=|>=|!=|[(),;.=<>?*{}:\[\]])
""", re.VERBOSE | re.DOTALL)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise CqlSyntaxError(f"line 1:{position} unexpected character {text[position]!r}")
        position = match.end()
        kind = match.lastgroup
        if kind != "space":
            tokens.append(Token(kind, match.group()))
    return tokens


@dataclass(frozen=True)
class Bind:
    """A ``?`` marker; ``index`` counts the statement's markers from 0."""

    index: int


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, Decimal, bool, None, UUID; a map literal as its text


Term = Bind | Literal


@dataclass(frozen=True)
class TableName:
    keyspace: str | None
    name: str


@dataclass(frozen=True)
class Relation:
    column: str
    op: str
    term: Term


@dataclass(frozen=True)
class Using:
    timestamp: Term | None = None
    ttl: Term | None = None


@dataclass(frozen=True)
class CreateKeyspace:
    name: str
    if_not_exists: bool
    options: dict[str, Term]


@dataclass(frozen=True)
class CreateTable:
    table: TableName
    if_not_exists: bool
    columns: list[tuple[str, str]]
    partition_key: list[str]
    clustering: list[str]
    descending: set[str]


@dataclass(frozen=True)
class Use:
    keyspace: str


@dataclass(frozen=True)
class Truncate:
    table: TableName


@dataclass(frozen=True)
class Drop:
    what: str  # "table" or "keyspace"
    keyspace: str | None
    name: str
    if_exists: bool


@dataclass(frozen=True)
class Insert:
    table: TableName
    columns: list[str]
    values: list[Term]
    if_not_exists: bool
    using: Using


@dataclass(frozen=True)
class Update:
    table: TableName
    assignments: list[tuple[str, Term]]
    where: list[Relation]
    using: Using
    if_exists: bool
    conditions: list[Relation]


@dataclass(frozen=True)
class Delete:
    table: TableName
    columns: list[str]
    where: list[Relation]
    using: Using
    if_exists: bool
    conditions: list[Relation]


@dataclass(frozen=True)
class Select:
    table: TableName
    columns: list[str] | None  # None: *
    count: bool
    where: list[Relation]
    order_by: tuple[str, bool] | None  # (column, descending)
    limit: Term | None


Statement = (CreateKeyspace | CreateTable | Use | Truncate | Drop | Insert | Update | Delete
             | Select)


@dataclass
class _Parser:
    tokens: list[Token]
    position: int = 0
    binds: int = field(default=0)

    # -- primitives ------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def fail(self, expected: str) -> CqlSyntaxError:
        token = self.peek()
        found = "end of statement" if token is None else repr(token.text)
        return CqlSyntaxError(f"line 1:{self.position} expected {expected}, found {found}")

    def at(self, *words: str) -> bool:
        for offset, word in enumerate(words):
            token = self.peek(offset)
            if token is None or token.text.upper() != word or token.kind not in ("name",
                                                                                 "symbol"):
                return False
        return True

    def accept(self, *words: str) -> bool:
        if self.at(*words):
            self.position += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.accept(*words):
            raise self.fail(" ".join(words))

    def identifier(self) -> str:
        token = self.peek()
        if token is None or token.kind not in ("name", "quoted"):
            raise self.fail("an identifier")
        self.position += 1
        if token.kind == "quoted":
            return token.text[1:-1].replace('""', '"')
        return token.text.lower()

    def table_name(self) -> TableName:
        first = self.identifier()
        if self.accept("."):
            return TableName(first, self.identifier())
        return TableName(None, first)

    def term(self) -> Term:
        token = self.peek()
        if token is None:
            raise self.fail("a term")
        if token.text == "?":
            self.position += 1
            self.binds += 1
            return Bind(self.binds - 1)
        if token.text == "{":
            return Literal(self.map_literal())
        self.position += 1
        if token.kind == "string":
            return Literal(token.text[1:-1].replace("''", "'"))
        if token.kind == "number":
            text = token.text
            if re.fullmatch(r"-?\d+", text):
                return Literal(int(text))
            return Literal(Decimal(text))
        if token.kind == "uuid":
            return Literal(UUID(token.text))
        if token.kind == "name" and token.text.lower() in ("true", "false"):
            return Literal(token.text.lower() == "true")
        if token.kind == "name" and token.text.lower() == "null":
            return Literal(None)
        self.position -= 1
        raise self.fail("a term")

    def map_literal(self) -> str:
        start, depth = self.position, 0
        while True:
            token = self.peek()
            if token is None:
                raise self.fail("}")
            self.position += 1
            depth += {"{": 1, "}": -1}.get(token.text, 0)
            if depth == 0:
                return " ".join(t.text for t in self.tokens[start:self.position])

    def end(self) -> None:
        self.accept(";")
        if self.peek() is not None:
            raise self.fail("end of statement")

    def relations(self, operators: tuple[str, ...]) -> list[Relation]:
        found = [self.relation(operators)]
        while self.accept("AND"):
            found.append(self.relation(operators))
        return found

    def relation(self, operators: tuple[str, ...]) -> Relation:
        column = self.identifier()
        token = self.peek()
        if token is None or token.text not in operators:
            raise self.fail(" or ".join(operators))
        self.position += 1
        return Relation(column, token.text, self.term())

    def using(self) -> Using:
        timestamp = ttl = None
        if self.accept("USING"):
            while True:
                if self.accept("TIMESTAMP"):
                    timestamp = self.term()
                elif self.accept("TTL"):
                    ttl = self.term()
                else:
                    raise self.fail("TIMESTAMP or TTL")
                if not self.accept("AND"):
                    break
        return Using(timestamp, ttl)

    def conditions(self) -> tuple[bool, list[Relation]]:
        if not self.accept("IF"):
            return False, []
        if self.accept("EXISTS"):
            return True, []
        return False, self.relations(("=",))

    # -- statements ------------------------------------------------------------------------

    def statement(self) -> Statement:
        if self.accept("CREATE", "KEYSPACE"):
            found = self.create_keyspace()
        elif self.accept("CREATE", "TABLE") or self.accept("CREATE", "COLUMNFAMILY"):
            found = self.create_table()
        elif self.accept("USE"):
            found = Use(self.identifier())
        elif self.accept("TRUNCATE"):
            self.accept("TABLE")
            found = Truncate(self.table_name())
        elif self.accept("DROP"):
            found = self.drop()
        elif self.accept("INSERT", "INTO"):
            found = self.insert()
        elif self.accept("UPDATE"):
            found = self.update()
        elif self.accept("DELETE"):
            found = self.delete()
        elif self.accept("SELECT"):
            found = self.select()
        else:
            raise self.fail("a statement this emulator supports")
        self.end()
        return found

    def create_keyspace(self) -> CreateKeyspace:
        if_not_exists = self.accept("IF", "NOT", "EXISTS")
        name = self.identifier()
        self.expect("WITH")
        options = {}
        while True:
            key = self.identifier()
            self.expect("=")
            options[key] = self.term()
            if not self.accept("AND"):
                break
        if "replication" not in options:
            raise CqlSyntaxError("CREATE KEYSPACE needs a replication option")
        return CreateKeyspace(name, if_not_exists, options)

    def create_table(self) -> CreateTable:
        if_not_exists = self.accept("IF", "NOT", "EXISTS")
        table = self.table_name()
        self.expect("(")
        columns: list[tuple[str, str]] = []
        partition: list[str] = []
        clustering: list[str] = []
        while True:
            if self.accept("PRIMARY", "KEY"):
                self.expect("(")
                if self.accept("("):
                    partition = [self.identifier()]
                    while self.accept(","):
                        partition.append(self.identifier())
                    self.expect(")")
                else:
                    partition = [self.identifier()]
                while self.accept(","):
                    clustering.append(self.identifier())
                self.expect(")")
            else:
                name = self.identifier()
                kind = self.identifier()
                columns.append((name, kind))
                if self.accept("PRIMARY", "KEY"):
                    partition = [name]
            if not self.accept(","):
                break
        self.expect(")")
        descending: set[str] = set()
        if self.accept("WITH"):
            while True:
                if self.accept("CLUSTERING", "ORDER", "BY"):
                    self.expect("(")
                    while True:
                        column = self.identifier()
                        if self.accept("DESC"):
                            descending.add(column)
                        else:
                            self.accept("ASC")
                        if not self.accept(","):
                            break
                    self.expect(")")
                else:
                    self.identifier()
                    self.expect("=")
                    self.term()
                if not self.accept("AND"):
                    break
        if not partition:
            raise CqlSyntaxError("a table needs a PRIMARY KEY")
        return CreateTable(table, if_not_exists, columns, partition, clustering, descending)

    def drop(self) -> Drop:
        if self.accept("TABLE"):
            if_exists = self.accept("IF", "EXISTS")
            table = self.table_name()
            return Drop("table", table.keyspace, table.name, if_exists)
        self.expect("KEYSPACE")
        if_exists = self.accept("IF", "EXISTS")
        return Drop("keyspace", None, self.identifier(), if_exists)

    def insert(self) -> Insert:
        table = self.table_name()
        self.expect("(")
        columns = [self.identifier()]
        while self.accept(","):
            columns.append(self.identifier())
        self.expect(")")
        self.expect("VALUES")
        self.expect("(")
        values = [self.term()]
        while self.accept(","):
            values.append(self.term())
        self.expect(")")
        if len(values) != len(columns):
            raise CqlSyntaxError("unmatched column names/values")
        if_not_exists = self.accept("IF", "NOT", "EXISTS")
        using = self.using()
        return Insert(table, columns, values, if_not_exists, using)

    def update(self) -> Update:
        table = self.table_name()
        using = self.using()
        self.expect("SET")
        assignments = []
        while True:
            column = self.identifier()
            self.expect("=")
            assignments.append((column, self.term()))
            if not self.accept(","):
                break
        self.expect("WHERE")
        where = self.relations(("=",))
        if_exists, conditions = self.conditions()
        return Update(table, assignments, where, using, if_exists, conditions)

    def delete(self) -> Delete:
        columns = []
        if not self.at("FROM"):
            columns.append(self.identifier())
            while self.accept(","):
                columns.append(self.identifier())
        self.expect("FROM")
        table = self.table_name()
        using = self.using()
        self.expect("WHERE")
        where = self.relations(("=",))
        if_exists, conditions = self.conditions()
        return Delete(table, columns, where, using, if_exists, conditions)

    def select(self) -> Select:
        columns: list[str] | None = []
        count = False
        if self.accept("*"):
            columns = None
        elif self.accept("COUNT", "(", "*", ")"):
            count, columns = True, None
        else:
            columns = [self.identifier()]
            while self.accept(","):
                columns.append(self.identifier())
        self.expect("FROM")
        table = self.table_name()
        where = self.relations(("=", "<", "<=", ">", ">=")) if self.accept("WHERE") else []
        order_by = None
        if self.accept("ORDER", "BY"):
            column = self.identifier()
            descending = self.accept("DESC")
            if not descending:
                self.accept("ASC")
            order_by = (column, descending)
        limit = self.term() if self.accept("LIMIT") else None
        self.accept("ALLOW", "FILTERING")
        return Select(table, columns, count, where, order_by, limit)


def parse(text: str) -> tuple[Statement, int]:
    """The statement in ``text`` and how many bind markers it has."""
    parser = _Parser(tokenize(text))
    if not parser.tokens:
        raise CqlSyntaxError("empty statement")
    statement = parser.statement()
    return statement, parser.binds
