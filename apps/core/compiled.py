"""Reads that the ORM builds once per process and that then run with other values: for the
few reads that run on every order.

Why: the ORM builds a statement anew on every call, and for a filtered read of one row
that cost about 1 ms of CPU, more than the database took to answer it (profiled on order
placement, docs/BENCHMARKS.md). ``CompiledQuery`` has the ORM build the statement once,
from the queryset the caller writes with stand-in values, and then runs that SQL with
the real values through ``Model.objects.raw``, which converts each column by its field
as any model query does.

Guarantees:
- The statement is the ORM's own for the queryset (locking clause, joins, annotations and
  quoting as this database's backend writes them); only the values change.
- Each value is a parameter, never spliced into the SQL.
- A queryset whose compiled parameters are not exactly the stand-ins (the ORM added or
  transformed one) is refused with TypeError on first use, never run with a wrong value.
"""
from collections.abc import Callable

from django.db.models import Model, QuerySet


class CompiledQuery:
    """``build(**values)``'s statement, compiled on first use (inside the transaction a
    locking read needs) and run again by ``first(**values)``. ``kinds`` names each value
    and its type (int or str)."""

    def __init__(self, build: Callable[..., QuerySet], **kinds: type) -> None:
        if any(kind not in (int, str) for kind in kinds.values()):
            raise TypeError("CompiledQuery values are int or str")
        self._build = build
        self._kinds = kinds
        # (model, database alias, SQL, the value names in parameter order)
        self._compiled: tuple[type[Model], str, str, list[str]] | None = None

    def first(self, **values: int | str) -> Model | None:
        """The first row of the statement run with ``values``, or None."""
        model, using, sql, order = self._compiled or self._compile()
        rows = model._default_manager.db_manager(using).raw(sql, [values[n] for n in order])
        return next(iter(rows), None)

    def _compile(self) -> tuple[type[Model], str, str, list[str]]:
        # Stand-ins no real value takes: negative ids, text with a control character.
        stand_ins = {name: -(10 ** 15 + n) if kind is int else f"\x1fstand-in-{n}"
                     for n, (name, kind) in enumerate(self._kinds.items())}
        queryset = self._build(**stand_ins)
        sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
        names = {value: name for name, value in stand_ins.items()}
        order = [names.get(param) for param in params]
        if None in order or set(order) != set(stand_ins):
            raise TypeError(f"CompiledQuery: the statement's parameters {params!r} are not "
                            f"the stand-ins of {sorted(stand_ins)}")
        self._compiled = (queryset.model, queryset.db, sql, order)
        return self._compiled

