"""What a hostile case could change, read the same way before and after it.

A case reads the whole state twice; compiling some twenty querysets each time was most of
a case's cost (the suites run thousands of cases on each database), so each is compiled
once, on first use, and then run as the SQL it compiled to."""
from collections.abc import Mapping

from django.db import connection
from django.db.models import QuerySet


class StateReader:
    """``read()`` returns, per name, the rows of its queryset (ordered, so two reads of
    an unchanged database are equal)."""

    def __init__(self, querysets: Mapping[str, QuerySet]) -> None:
        self._querysets = dict(querysets)
        self._statements: dict[str, tuple[str, tuple]] | None = None

    def read(self) -> dict[str, list[tuple]]:
        if self._statements is None:
            self._statements = {name: queryset.query.sql_with_params()
                                for name, queryset in self._querysets.items()}
        state = {}
        with connection.cursor() as cursor:
            for name, (sql, params) in self._statements.items():
                cursor.execute(sql, params)
                state[name] = cursor.fetchall()
        return state


def rows_of(*models, **listings: QuerySet) -> StateReader:
    """A reader of every row's primary key of ``models`` (what a case could add or
    delete) and of ``listings`` (the values it could change)."""
    querysets = {model.__name__: model.objects.order_by("pk").values_list("pk")
                 for model in models}
    querysets.update(listings)
    return StateReader(querysets)
