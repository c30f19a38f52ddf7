"""The internal markets' order store: the contract every backend keeps, and ``get_store``.

The SQL ledger and the core's ``trading.Order``/``Fill`` rows stay the record of money
(written atomically with the holds). This store is what the engine keeps for scale: every
internal order's current state, a market's open orders (to rebuild a book), a user's
order history and a market's trades. The engine writes it after its trades settle in SQL,
so every write here is a replayable upsert:

- ``put_orders`` keeps, per order, the state with the highest ``version``; writing an
  older or equal version changes nothing, whatever the order writes arrive in. A version
  names one state: writing it again must carry the same record (a replay), never another
  state (ScyllaDB would settle two states of one version cell by cell).
- An order is in ``open_orders``/``user_orders(open_only=True)`` exactly when its newest
  state is open (``records.OPEN_STATUSES``); a closed order never comes back there by a
  replayed older write.
- ``put_trades`` is idempotent by (venue, market, trade_id).

Backends: ``sql`` (``apps.orderstore.sql``, Django models of its own) and ``scylla``
(``apps.orderstore.scylla``, cassandra-driver). ``tests/orderstore/test_contract.py`` runs
one suite against both.
"""
from __future__ import annotations

import base64
import binascii
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from django.core import signing

from apps.core import conf
from apps.orderstore.records import OrderRecord, TradeRecord

T = TypeVar("T")

# Pages are never longer than this, whatever a caller asks.
MAX_PAGE_LIMIT = 500


class InvalidPage(ValueError):
    """A page token this store did not hand out (a caller's 400, never a 500)."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page, newest first; ``next_page`` is the opaque token of the next page (None
    on the last one)."""

    items: list[T]
    next_page: str | None


class InternalOrderStore(Protocol):
    def put_orders(self, *, records: Sequence[OrderRecord]) -> None:
        """Upsert the orders' states: for each order the state with the highest
        ``version`` wins (an older or equal version changes nothing), and its place in the
        open-orders views follows that state. Idempotent and order-independent: a batch
        may be replayed, split, or race another writer's. Not atomic across orders: on an
        error, replay the whole batch."""
        ...

    def put_trades(self, *, records: Sequence[TradeRecord]) -> None:
        """Insert the trades; one already stored (same venue, market, trade_id) is left
        as it is. Idempotent; on an error, replay the whole batch."""
        ...

    def order(self, *, venue: str, order_id: int) -> OrderRecord | None:
        """The newest stored state of the order, or None."""
        ...

    def user_orders(self, *, venue: str, user_id: int, open_only: bool = False,
                    limit: int = 50, page: str | None = None) -> Page[OrderRecord]:
        """The user's orders on ``venue``, newest (highest order id) first, ``limit``
        (1..MAX_PAGE_LIMIT) per page; ``open_only`` keeps those whose newest state is
        open. ``page`` is a previous page's ``next_page``; raises ``InvalidPage`` for a
        token it did not hand out and ``ValueError`` for a bad ``limit``."""
        ...

    def open_orders(self, *, venue: str, market: str) -> list[OrderRecord]:
        """Every open order of the market, by ascending order id (what a book rebuild
        reads; the book sorts them into price-time priority itself)."""
        ...

    def market_trades(self, *, venue: str, market: str, limit: int = 50,
                      page: str | None = None) -> Page[TradeRecord]:
        """The market's trades, newest (highest ``seq``) first; paging as
        ``user_orders``."""
        ...


def newest(records: Sequence[OrderRecord]) -> list[OrderRecord]:
    """One record per (venue, order_id) of ``records``: the one with the highest version
    (a batch that carries two states of one order writes only the newer)."""
    kept: dict[tuple[str, int], OrderRecord] = {}
    for record in records:
        key = (record.venue, record.order_id)
        if key not in kept or record.version > kept[key].version:
            kept[key] = record
    return list(kept.values())


def check_limit(limit: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_PAGE_LIMIT}")


# Both backends page by key (the last id handed out), so a token is the same on both:
# "o:<id>" for order pages, "t:<seq>" for trade pages, urlsafe base64 so callers treat it
# as opaque, and signed: a token this server did not hand out (forged, padded, or naming
# a key of its own choosing) is refused.
_PAGE_SIGNER = signing.Signer(salt="apps.orderstore.page")


def encode_page(kind: str, after: int) -> str:
    return _PAGE_SIGNER.sign(
        base64.urlsafe_b64encode(f"{kind}:{after}".encode()).decode().rstrip("="))


def decode_page(kind: str, token: str | None) -> int | None:
    """The key a page token of ``kind`` resumes after (None: the first page)."""
    if token is None:
        return None
    try:
        token = _PAGE_SIGNER.unsign(token)
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (signing.BadSignature, binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidPage("unknown page token") from None
    prefix, _, number = text.partition(":")
    if prefix != kind or not number.isascii() or not number.isdigit():
        raise InvalidPage("unknown page token")
    return int(number)


def page_of(found: list[T], *, limit: int, kind: str, key: Callable[[T], int]) -> Page[T]:
    """The page of ``found`` (up to ``limit + 1`` items read: one more than a page says
    whether another follows), its token resuming after the last item's ``key``."""
    items = found[:limit]
    more = len(found) > limit
    return Page(items, encode_page(kind, key(items[-1])) if more else None)


_stores: dict[int, InternalOrderStore] = {}
_lock = threading.Lock()


def get_store() -> InternalOrderStore:
    """This process's order store, per ``conf.ORDER_STORE`` ("sql" or "scylla").

    Created on first use in each process (keyed by pid: a store made before a fork is
    never used by the child, whose driver sockets and threads did not survive it)."""
    pid = os.getpid()
    store = _stores.get(pid)
    if store is None:
        with _lock:
            store = _stores.get(pid)
            if store is None:
                store = _stores[pid] = _build()
    return store


def forget_stores() -> None:
    """Drop this process's store (after a settings change); the next ``get_store()``
    builds one from the settings then."""
    with _lock:
        stores = list(_stores.values())
        _stores.clear()
    for store in stores:
        close = getattr(store, "close", None)
        if close is not None:
            close()


def _build() -> InternalOrderStore:
    if conf.ORDER_STORE == "scylla":
        from apps.orderstore.scylla import ScyllaOrderStore
        return ScyllaOrderStore.from_settings()
    from apps.orderstore.sql import SqlInternalOrderStore
    return SqlInternalOrderStore()
