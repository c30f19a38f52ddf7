"""The SQL backend of ``InternalOrderStore`` (``base``'s contract), on the default database.

Writes are bulk: ``put_orders`` inserts the orders it has never seen in one statement
(duplicates ignored), reads the stored versions in one query, and updates only the
orders whose stored version is older, each with ``WHERE version < new`` so a concurrent
writer with a newer state is never overwritten (no row locks are taken or needed). Pages
are key ranges on the indexes of ``models``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, fields

from django.db import transaction

from apps.orderstore.base import Page, check_limit, decode_page, newest, page_of
from apps.orderstore.models import StoredOrder, StoredTrade
from apps.orderstore.records import OrderRecord, TradeRecord

_ORDER_FIELDS = [f.name for f in fields(OrderRecord)]
_TRADE_FIELDS = [f.name for f in fields(TradeRecord)]
# What a newer state rewrites (the key and the creation never change).
_STATE_FIELDS = [name for name in _ORDER_FIELDS if name not in ("venue", "order_id")]


class SqlInternalOrderStore:
    """Orders and trades of the internal markets in the default SQL database."""

    def put_orders(self, *, records: Sequence[OrderRecord]) -> None:
        """Locks nothing; one transaction (or the caller's). See ``InternalOrderStore``."""
        records = newest(records)
        if not records:
            return
        with transaction.atomic():
            StoredOrder.objects.bulk_create(
                [StoredOrder(**asdict(record), is_open=record.is_open) for record in records],
                ignore_conflicts=True)
            by_venue: dict[str, list[int]] = {}
            for record in records:
                by_venue.setdefault(record.venue, []).append(record.order_id)
            stored: dict[tuple[str, int], int] = {}
            for venue, ids in by_venue.items():
                stored.update(((venue, order_id), version) for order_id, version in
                              StoredOrder.objects.filter(venue=venue, order_id__in=ids)
                              .values_list("order_id", "version"))
            for record in records:
                if stored[record.venue, record.order_id] < record.version:
                    state = {name: getattr(record, name) for name in _STATE_FIELDS}
                    StoredOrder.objects.filter(
                        venue=record.venue, order_id=record.order_id,
                        version__lt=record.version,
                    ).update(**state, is_open=record.is_open)

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
