"""Set-based writes of many model rows in few statements, for the settlement paths whose
batches write hundreds of rows: Django's ``bulk_update`` builds an expression per row and
field, ``bulk_create`` prepares every value through its field, and ``executemany`` of an
UPDATE is one round trip per row (the MySQL client batches only INSERTs); each cost a
batch more than everything else it did. Here values are written into the statement where
that is safe (numbers, and text of a few plain characters: a price, a status, a key, a
timestamp), the rest are parameters, and a field prepares a value once however many rows
share it (a batch's timestamps)."""
import functools
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import CharField, Field, Model, TextField

UPDATE_CHUNK = 100
INSERT_CHUNK = 1000
# Nothing here is special inside an SQL string literal on any database (no quote, no
# backslash, no percent sign, which the drivers' parameter formatting would read).
_PLAIN_TEXT = re.compile(r"[A-Za-z0-9 _.:@/+\-]*\Z")


def sql_literal(value, params: list) -> str:
    """``value`` in SQL: NULL, a boolean, an int or a finite Decimal written out (they
    print only digits, a sign and a point), text of plain characters quoted as it is
    (``_PLAIN_TEXT``: nothing can be injected), anything else a parameter appended to
    ``params``. Escaping every value as a parameter cost a batch a fifth of its time."""
    if value is None:
        return "NULL"
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is Decimal and value.is_finite():
        return f"{value:f}"
    if kind is bool:
        return "TRUE" if value else "FALSE"
    if kind is str and _PLAIN_TEXT.match(value):
        return f"'{value}'"
    params.append(value)
    return "%s"


def preparer(field: Field, connection) -> Callable[[object], object]:
    """``field``'s value as the database takes it (``get_db_prep_save``), skipped for
    numbers and for text into a text column, and computed once per distinct date or
    time (every row of a batch carries the same ones)."""
    text = isinstance(field, CharField | TextField)
    prepare = field.get_db_prep_save
    seen: dict[date, object] = {}

    def prep(value):
        kind = type(value)
        if value is None or kind is int or kind is Decimal or kind is bool or (
                text and kind is str):
            return value
        if isinstance(value, date):
            if value not in seen:
                seen[value] = prepare(value, connection)
            return seen[value]
        return prepare(value, connection)

    return prep


class _Column:
    """How one field's values are written into a statement (``write``): its preparation
    (``get_db_prep_save``) and whether text goes in as it is. Built once per model, field
    list and database, so a one-row insert (an order) does not rebuild it."""

    __slots__ = ("prepare", "text")

    def __init__(self, field: Field) -> None:
        self.prepare = field.get_db_prep_save
        self.text = isinstance(field, CharField | TextField)

    def write(self, value, params: list, connection, dates: dict) -> str:
        """``sql_literal`` of the prepared value, in one call for the numbers and NULLs
        that make most of a batch, and a date or time written out once per distinct value
        in ``dates`` (the caller's, per statement: a batch's rows share one)."""
        kind = type(value)
        if kind is int:
            return str(value)
        if kind is Decimal and value.is_finite():
            return f"{value:f}"
        if value is None:
            return "NULL"
        if kind is bool or kind is Decimal or (self.text and kind is str):
            return sql_literal(value, params)  # taken as they are, as ``preparer`` does
        if isinstance(value, date):
            literal = dates.get(value)
            if literal is None:
                literal = sql_literal(self.prepare(value, connection), params)
                if literal != "%s":  # a parameter is appended once per use: not kept
                    dates[value] = literal
            return literal
        return sql_literal(self.prepare(value, connection), params)


@functools.cache
def _columns(model: type[Model], fields: tuple[str, ...], vendor: str) -> tuple[
        str, tuple[_Column, ...]]:
    """The quoted column list of ``fields`` and their writers (``vendor``: the database
    kind they were quoted for)."""
    connection = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    found = [meta.get_field(name) for name in fields]
    return (", ".join(connection.ops.quote_name(field.column) for field in found),
            tuple(_Column(field) for field in found))


def values_sql(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence],
               params: list) -> str:
    """The ``(..), (..)`` of an INSERT of ``rows`` (values in ``fields`` order, a foreign
    key's as its id), each value prepared by its field and written by ``sql_literal``."""
    connection = connections[DEFAULT_DB_ALIAS]
    _, columns = _columns(model, tuple(fields), connection.vendor)
    dates: list[dict] = [{} for _ in columns]
    return ", ".join(
        "(" + ", ".join([column.write(value, params, connection, memo) for column, memo, value
                         in zip(columns, dates, row, strict=True)]) + ")"
        for row in rows)


def insert_rows(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence], *,
                returning: bool = False) -> list[int] | None:
    """Insert ``rows`` (values in ``fields`` order) in multi-row INSERTs of
    ``INSERT_CHUNK``; with ``returning``, their new ids in order where the database can
    return them (MariaDB 10.5+, SQLite 3.35+), else None."""
    connection = connections[DEFAULT_DB_ALIAS]
    meta, qn = model._meta, connection.ops.quote_name
    columns, _ = _columns(model, tuple(fields), connection.vendor)
    can_return = returning and connection.features.can_return_rows_from_bulk_insert
    suffix = f" RETURNING {qn(meta.pk.column)}" if can_return else ""
    pks: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), INSERT_CHUNK):
            params: list = []
            values = values_sql(model, fields, rows[start:start + INSERT_CHUNK], params)
            # Identifiers come from the model's meta; values are literals or parameters.
            sql = (f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608
                   f"VALUES {values}{suffix}")
            cursor.execute(sql, params)
            if can_return:
                pks += [pk for (pk,) in cursor.fetchall()]
    return pks if can_return else None


@functools.cache
def _insert_fields(model: type[Model]) -> tuple[list[Field], list[str]]:
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    return fields, [field.name for field in fields]


def insert_instance(instance: Model) -> Model:
    """Insert the unsaved ``instance`` as ``save(force_insert=True)`` would (its
    ``auto_now`` fields stamped, its id set) but in one ``insert_rows`` statement with
    ``RETURNING``: the ORM's save of a model's fields cost more CPU than the insert itself
    on the paths that run on every order. Sends no model signals: for models without
    receivers. Where the database cannot return the new id, it is ``save``d."""
    model = type(instance)
    fields, names = _insert_fields(model)
    values = [field.pre_save(instance, True) for field in fields]
    pks = insert_rows(model, names, [values], returning=True)
    if pks is None:
        instance.save(force_insert=True)
        return instance
    instance.pk = pks[0]
    instance._state.adding, instance._state.db = False, DEFAULT_DB_ALIAS
    return instance


def update_rows(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of ``rows`` (instances of one model, already locked by the caller):
    ``update_values`` of their values."""
    if not rows:
        return
    attnames = [rows[0]._meta.get_field(name).attname for name in fields]
    update_values(type(rows[0]), fields,
                  [(row.pk, *[getattr(row, attname) for attname in attnames]) for row in rows])


def update_values(model: type[Model], fields: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Write ``fields`` of the rows of ``model`` whose primary keys and new values are
    ``rows`` (``(pk, value, ...)`` in ``fields`` order; the rows already locked by the
    caller): an UPDATE with a CASE per field for each ``UPDATE_CHUNK`` rows, values prepared
    as ``values_sql`` does. Chunked because the database tries a CASE's branches in turn:
    one statement for all rows would cost rows squared. A field with one value across a
    chunk (a batch's timestamp) is set to it, without a CASE."""
    if not rows:
        return
    connection = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    qn = connection.ops.quote_name
    pk = qn(meta.pk.column)
    columns = [qn(meta.get_field(name).column) for name in fields]
    preps = [preparer(meta.get_field(name), connection) for name in fields]

    with connection.cursor() as cursor:
        for start in range(0, len(rows), UPDATE_CHUNK):
            chunk = rows[start:start + UPDATE_CHUNK]
            pks = [f"{int(row[0]):d}" for row in chunk]
            params: list = []
            sets = []
            for n, (column, prep) in enumerate(zip(columns, preps, strict=True), start=1):
                values = [prep(row[n]) for row in chunk]
                first = values[0]
                if all(type(value) is type(first) and value == first for value in values):
                    sets.append(f"{column} = {sql_literal(first, params)}")
                    continue
                sets.append(f"{column} = CASE {pk} " + " ".join(
                    f"WHEN {row_pk} THEN {sql_literal(value, params)}"
                    for row_pk, value in zip(pks, values, strict=True)) + " END")
            # Identifiers come from the model's meta; values are literals or parameters.
            sql = (f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} "  # noqa: S608
                   f"WHERE {pk} IN ({', '.join(pks)})")
            cursor.execute(sql, params)
