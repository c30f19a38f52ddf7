"""Reads that the ORM builds once per process and that then run with other values: for the
few reads that run on every order.

Why: the ORM builds a statement anew on every call, and for a filtered read of one row
that cost about 1 ms of CPU, more than the database took to answer it (profiled on order
placement, docs/BENCHMARKS.md). ``CompiledQuery`` has the ORM build the statement once,
from the queryset the caller writes with stand-in values, together with what turns a row
into the model instance (the columns' converters, the fields' order, the annotations),
and then runs that SQL with the real values and builds the instance as the ORM's own
iterator does (``Model.objects.raw`` did the same work again on every call: half the
read's CPU).

Guarantees:
- The statement is the ORM's own for the queryset (locking clause, joins, annotations and
  quoting as this database's backend writes them); only the values change.
- Each value is a parameter, never spliced into the SQL.
- A queryset whose compiled parameters are not exactly the stand-ins (the ORM added or
  transformed one) is refused with TypeError on first use, never run with a wrong value.
"""
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connections
from django.db.models import Model, QuerySet


@dataclass(frozen=True)
class _Compiled:
    model: type[Model]
    using: str
    sql: str
    order: list[str]  # the value names, in parameter order
    fields: slice  # the row's model columns
    attnames: list[str]  # their fields' attribute names
    annotations: list[tuple[str, int]]  # (name, column)
    # (column, converters, expression): as the ORM's compiler applies them.
    converters: list[tuple[int, list, object]]


class CompiledQuery:
    """``build(**values)``'s statement, compiled on first use (inside the transaction a
    locking read needs) and run again by ``first(**values)``. ``kinds`` names each value
    and its type (int or str)."""

    def __init__(self, build: Callable[..., QuerySet], **kinds: type) -> None:
        if any(kind not in (int, str) for kind in kinds.values()):
            raise TypeError("CompiledQuery values are int or str")
        self._build = build
        self._kinds = kinds
        self._compiled: _Compiled | None = None

    def first(self, **values: int | str) -> Model | None:
        """The first row of the statement run with ``values``, or None."""
        c = self._compiled or self._compile()
        connection = connections[c.using]
        with connection.cursor() as cursor:
            cursor.execute(c.sql, [values[n] for n in c.order])
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row)
        for column, functions, expression in c.converters:
            value = row[column]
            for convert in functions:
                value = convert(value, expression, connection)
            row[column] = value
        instance = c.model.from_db(c.using, c.attnames, row[c.fields])
        for name, column in c.annotations:
            setattr(instance, name, row[column])
        return instance

    def _compile(self) -> _Compiled:
        # Stand-ins no real value takes: negative ids, text with a control character.
        stand_ins = {name: -(10 ** 15 + n) if kind is int else f"\x1fstand-in-{n}"
                     for n, (name, kind) in enumerate(self._kinds.items())}
        queryset = self._build(**stand_ins)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        names = {value: name for name, value in stand_ins.items()}
        order = [names.get(param) for param in params]
        if None in order or set(order) != set(stand_ins):
            raise TypeError(f"CompiledQuery: the statement's parameters {params!r} are not "
                            f"the stand-ins of {sorted(stand_ins)}")
        info = compiler.klass_info
        if info is None or info.get("related_klass_infos"):
            raise TypeError("CompiledQuery reads one model's rows, without select_related")
        selected = info["select_fields"]
        start, end = selected[0], selected[-1] + 1
        expressions = [column for column, _, _ in compiler.select]
        self._compiled = _Compiled(
            model=queryset.model, using=queryset.db, sql=sql, order=order,
            fields=slice(start, end),
            attnames=[column.target.attname for column in expressions[start:end]],
            annotations=list(compiler.annotation_col_map.items()),
            converters=[(column, functions, expression) for column, (functions, expression)
                        in compiler.get_converters(expressions).items()])
        return self._compiled
