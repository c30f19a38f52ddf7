"""The SQL backend of ``InternalOrderStore`` (``base``'s contract), on the default database.

``put_orders`` is one conditional upsert per chunk of orders: ``INSERT ... ON DUPLICATE
KEY UPDATE col = IF(new version > version, new, col)`` on MariaDB/MySQL, ``INSERT ... ON
CONFLICT DO UPDATE ... WHERE excluded.version > version`` on SQLite and PostgreSQL. The
condition is checked on the row's current state under its lock, so a concurrent writer's
newer state is never overwritten; each row is locked once, for writing (an insert that
ignored duplicates and updated them after would take a shared lock first, and two
writers upgrading theirs deadlock), in (venue, order_id) order. ``put_trades`` is the
same insert leaving a stored trade alone. Django's ``bulk_create`` cannot say "only if
newer", hence the SQL. Pages are key ranges on ``models``' indexes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from django.db import connection
from django.db.models import Model

from apps.core.bulk import values_sql
from apps.orderstore.base import Page, check_limit, decode_page, newest, page_of
from apps.orderstore.models import StoredOrder, StoredTrade
from apps.orderstore.records import OrderRecord, TradeRecord

_ORDER_FIELDS = [f.name for f in fields(OrderRecord)]
_TRADE_FIELDS = [f.name for f in fields(TradeRecord)]
_ORDER_COLUMNS = [*_ORDER_FIELDS, "is_open"]
# What a newer state rewrites: all but the key, the version last (MySQL assigns left to
# right, each later condition reading the row as updated so far).
_STATE = [name for name in _ORDER_COLUMNS if name not in ("venue", "order_id", "version")]
# Rows per statement (SQLite allows 32,766 parameters).
_CHUNK = 500


def _insert(model: type[Model], columns: list[str], keys: list[str],
            rows: list[list[Any]], *, newer_state: list[str] | None = None) -> None:
    """Insert ``rows`` (values in ``columns`` order), ``_CHUNK`` per statement. A row whose
    ``keys`` are taken is left as stored, or, given ``newer_state``, has those columns
    and its ``version`` replaced when its version is higher. Not ``INSERT IGNORE``: that
    would also turn a value the column cannot hold into a warning and a clipped value."""
    qn, meta = connection.ops.quote_name, model._meta
    table = qn(meta.db_table)
    names = ", ".join(qn(name) for name in columns)
    version = qn("version")
    if connection.vendor == "mysql":
        if newer_state is None:  # the key set to itself: a duplicate changes nothing
            sets = [f"{qn(keys[0])} = {qn(keys[0])}"]
        else:
            newer = f"VALUES({version}) > {version}"
            sets = [f"{qn(name)} = IF({newer}, VALUES({qn(name)}), {qn(name)})"
                    for name in newer_state]
            sets.append(f"{version} = GREATEST({version}, VALUES({version}))")
        tail = f"ON DUPLICATE KEY UPDATE {', '.join(sets)}"
    elif newer_state is None:
        tail = f"ON CONFLICT ({', '.join(qn(key) for key in keys)}) DO NOTHING"
    else:
        sets = [f"{qn(name)} = excluded.{qn(name)}" for name in [*newer_state, "version"]]
        tail = (f"ON CONFLICT ({', '.join(qn(key) for key in keys)}) DO UPDATE SET "
                f"{', '.join(sets)} WHERE excluded.{version} > {table}.{version}")
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            params: list = []
            values = values_sql(model, columns, rows[start:start + _CHUNK], params)
            # Identifiers come from the model's meta; values are literals or parameters.
            sql = f"INSERT INTO {table} ({names}) VALUES {values} {tail}"  # noqa: S608
            cursor.execute(sql, params)


class SqlInternalOrderStore:
    """Orders and trades of the internal markets in the default SQL database."""

    def put_orders(self, *, records: Sequence[OrderRecord]) -> None:
        """One statement per 500 orders (each its own transaction, or part of the
        caller's); locks the rows it writes, in (venue, order_id) order. See
        ``InternalOrderStore``."""
        records = sorted(newest(records), key=lambda record: (record.venue, record.order_id))
        _insert(StoredOrder, _ORDER_COLUMNS, ["venue", "order_id"],
                [[*(getattr(record, name) for name in _ORDER_FIELDS), record.is_open]
                 for record in records], newer_state=_STATE)

    def put_trades(self, *, records: Sequence[TradeRecord]) -> None:
        """One statement per 500 trades, rows locked in (venue, market, trade_id) order.
        See ``InternalOrderStore``."""
        records = sorted(records, key=lambda record: (record.venue, record.market,
                                                      record.trade_id))
        _insert(StoredTrade, _TRADE_FIELDS, ["venue", "market", "trade_id"],
                [[getattr(record, name) for name in _TRADE_FIELDS] for record in records])

    def order(self, *, venue: str, order_id: int) -> OrderRecord | None:
        row = StoredOrder.objects.filter(venue=venue, order_id=order_id).first()
        return None if row is None else _order(row)

    def user_orders(self, *, venue: str, user_id: int, open_only: bool = False,
                    limit: int = 50, page: str | None = None) -> Page[OrderRecord]:
        check_limit(limit)
        after = decode_page("o", page)
        rows = StoredOrder.objects.filter(venue=venue, user_id=user_id)
        if open_only:
            rows = rows.filter(is_open=True)
        if after is not None:
            rows = rows.filter(order_id__lt=after)
        found = [_order(row) for row in rows.order_by("-order_id")[:limit + 1]]
        return page_of(found, limit=limit, kind="o", key=lambda record: record.order_id)

    def open_orders(self, *, venue: str, market: str) -> list[OrderRecord]:
        rows = StoredOrder.objects.filter(venue=venue, market=market, is_open=True)
        return [_order(row) for row in rows.order_by("order_id").iterator(chunk_size=2000)]

    def market_trades(self, *, venue: str, market: str, limit: int = 50,
                      page: str | None = None) -> Page[TradeRecord]:
        check_limit(limit)
        after = decode_page("t", page)
        rows = StoredTrade.objects.filter(venue=venue, market=market)
        if after is not None:
            rows = rows.filter(seq__lt=after)
        found = [_trade(row) for row in rows.order_by("-seq")[:limit + 1]]
        return page_of(found, limit=limit, kind="t", key=lambda record: record.seq)


def _order(row: StoredOrder) -> OrderRecord:
    return OrderRecord(**{name: getattr(row, name) for name in _ORDER_FIELDS})


def _trade(row: StoredTrade) -> TradeRecord:
    return TradeRecord(**{name: getattr(row, name) for name in _TRADE_FIELDS})
