"""The SQL backend of ``InternalOrderStore`` (``base``'s contract), on the default database.

``put_orders`` is one conditional upsert per chunk of orders: ``INSERT ... ON DUPLICATE
KEY UPDATE col = IF(new version > version, new, col)`` on MariaDB/MySQL, ``INSERT ... ON
CONFLICT DO UPDATE ... WHERE excluded.version > version`` on SQLite and PostgreSQL. The
condition is checked on the row's current state under its lock, so a concurrent writer's
newer state is never overwritten; each row is locked once, for writing (an insert that
ignored duplicates and updated them after would take a shared lock first, and two
writers upgrading theirs deadlock), in (venue, order_id) order. Django's ``bulk_create``
cannot say "only if newer", hence the SQL. Pages are key ranges on ``models``' indexes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields

from django.db import connection

from apps.orderstore.base import Page, check_limit, decode_page, newest, page_of
from apps.orderstore.models import StoredOrder, StoredTrade
from apps.orderstore.records import OrderRecord, TradeRecord

_ORDER_FIELDS = [f.name for f in fields(OrderRecord)]
_TRADE_FIELDS = [f.name for f in fields(TradeRecord)]
_COLUMNS = [*_ORDER_FIELDS, "is_open"]
# What a newer state rewrites: all but the key, the version last (MySQL assigns left to
# right, each later condition reading the row as updated so far).
_STATE = [name for name in _COLUMNS if name not in ("venue", "order_id", "version")]
# Rows per statement (SQLite allows 32,766 parameters).
_CHUNK = 500


def _upsert_sql(rows: int) -> str:
    qn = connection.ops.quote_name
    table = qn(StoredOrder._meta.db_table)
    columns = ", ".join(qn(name) for name in _COLUMNS)
    values = ", ".join(["(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"] * rows)
    version = qn("version")
    if connection.vendor == "mysql":
        newer = f"VALUES({version}) > {version}"
        sets = [f"{qn(name)} = IF({newer}, VALUES({qn(name)}), {qn(name)})" for name in _STATE]
        sets.append(f"{version} = GREATEST({version}, VALUES({version}))")
        tail = f"ON DUPLICATE KEY UPDATE {', '.join(sets)}"
    else:
        sets = [f"{qn(name)} = excluded.{qn(name)}" for name in [*_STATE, "version"]]
        tail = (f"ON CONFLICT ({qn('venue')}, {qn('order_id')}) DO UPDATE SET "
                f"{', '.join(sets)} WHERE excluded.{version} > {table}.{version}")
    # Identifiers come from the model's meta; every value is a parameter.
    return f"INSERT INTO {table} ({columns}) VALUES {values} {tail}"  # noqa: S608


class SqlInternalOrderStore:
    """Orders and trades of the internal markets in the default SQL database."""

    def put_orders(self, *, records: Sequence[OrderRecord]) -> None:
        """One statement per 500 orders (each its own transaction, or part of the
        caller's); locks the rows it writes, in (venue, order_id) order. See
        ``InternalOrderStore``."""
        records = sorted(newest(records), key=lambda record: (record.venue, record.order_id))
        meta = StoredOrder._meta
        prepare = [meta.get_field(name).get_db_prep_save for name in _COLUMNS]
        with connection.cursor() as cursor:
            for start in range(0, len(records), _CHUNK):
                chunk = records[start:start + _CHUNK]
                params = []
                for record in chunk:
                    values = [*(getattr(record, name) for name in _ORDER_FIELDS),
                              record.is_open]
                    params += [to_db(value, connection)
                               for to_db, value in zip(prepare, values, strict=True)]
                cursor.execute(_upsert_sql(len(chunk)), params)

    def put_trades(self, *, records: Sequence[TradeRecord]) -> None:
        """Locks nothing; one statement. See ``InternalOrderStore``."""
        if records:
            StoredTrade.objects.bulk_create([StoredTrade(**asdict(r)) for r in records],
                                            ignore_conflicts=True)

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
