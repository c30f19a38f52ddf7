"""Public streams of an internal market's order book: ``depth@<venue>:<SYMBOL>`` (a
snapshot, then diffs with the book's checksum) and ``trades@<venue>:<SYMBOL>`` (its recent
trades). The market's single writer (the engine runner) publishes after each settled batch;
``apps.streaming`` forwards, and a new subscriber reads the latest state here.

Contract for publishers:
- A market's depth and trades are published by its one writer, one batch after another,
  in the order the engine produced them (the runner's lease makes it one writer; a second
  thread publishing the same market would interleave frames and numbers).
- Publish after the batch's settlement has committed (DESIGN.md rule 3): a client must not
  see a trade that the ledger rolled back.
- Never inside an open transaction, and it never raises for a channel-layer failure (Redis
  down): that is logged in ``streams.send_to_group`` and the cached state is still
  written, so the next subscriber (or a resync) gets the current book.

What a client gets (``docs/STREAMING.md``, "Order book streams"):
- every depth item carries the engine's ``sequence`` after the batch and the checksum of
  the book's top ``DEPTH_LEVELS`` levels per side (``apps.matching.book.depth_checksum``,
  over integer ticks and lots); the frame's ``seq`` (``streams.next_book_seq``) grows by one
  per item, so a gap means an item was lost;
- a ``snapshot`` item holds the whole top ``DEPTH_LEVELS`` per side (sent when the engine
  (re)loads its book, and cached for subscribers after every item); an ``update`` holds the
  levels that changed, with their new totals (``"0"``: the level is gone).

The cached state is the book as of the latest item, written before that item is sent: a
subscriber joins the stream's group first and reads the cache second, so an item it
misses from the cache it gets live (same ``seq``: drop a live item whose ``seq`` is not
above the snapshot's). This module knows no venue: a venue that has books says so with
``register_book_venue`` (from its ``AppConfig.ready``).
"""
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import structlog
from django.core.cache import cache

from apps.core.money import decimal_text
from apps.marketdata import streams
from apps.marketdata.quotes import check_venue
from apps.matching.types import (
    BookChanged,
    DepthSnapshot,
    Event,
    MarketSpec,
    Side,
    Trade,
    named_event,
)

log = structlog.get_logger(__name__)

# Levels per side in a snapshot and under the checksum. A client keeps the levels diffs
# tell it beyond these too; one of them that was deeper than a snapshot and rises into the
# top makes the checksum differ, and the client resyncs.
DEPTH_LEVELS: Final = 50
# Trades a new trades@ subscriber gets at once, newest first.
RECENT_TRADES: Final = 50
# Long enough to outlive a quiet night; the engine republishes its book when it starts.
_TTL_SECONDS: Final = 7 * 24 * 3600

_book_venues: set[str] = set()
# One writer per market, but a process may run several markets' writers in threads.
_write_lock = threading.Lock()


def register_book_venue(venue: str) -> None:
    """Declare that ``venue`` runs its own books, so its markets have ``depth@`` and
    ``trades@`` streams (the stream consumer refuses them on other venues). Raises
    ValueError for a malformed venue."""
    _book_venues.add(check_venue(venue))


def is_book_venue(venue: str) -> bool:
    return venue in _book_venues


def _cache_key(kind: str, *, venue: str, symbol: str) -> str:
    # The stream's group name renders any market collision-free and cache-safe.
    return f"book-state:{streams.book_group(kind=kind, venue=venue, symbol=symbol)}"


def _levels(levels: Iterable[tuple[int, int]], spec: MarketSpec) -> list[list[str]]:
    return [[decimal_text(spec.price(price)), decimal_text(spec.qty(qty))]
            for price, qty in levels]


def _depth_data(*, kind: str, venue: str, symbol: str, spec: MarketSpec, sequence: int,
                bids: list[list[str]], asks: list[list[str]], checksum: int) -> dict[str, Any]:
    return {"type": kind, "venue": venue, "symbol": symbol, "sequence": sequence,
            "tick_size": decimal_text(spec.tick_size), "lot_size": decimal_text(spec.lot_size),
            "levels": DEPTH_LEVELS, "bids": bids, "asks": asks, "checksum": checksum}


def _check_depth(depth: DepthSnapshot) -> None:
    if len(depth.bids) > DEPTH_LEVELS or len(depth.asks) > DEPTH_LEVELS:
        raise ValueError(f"a depth snapshot holds at most {DEPTH_LEVELS} levels per side: "
                         f"pass book.depth(levels=DEPTH_LEVELS)")


def depth_snapshot_set(*, venue: str, symbol: str, spec: MarketSpec,
                       depth: DepthSnapshot) -> None:
    """Publish the whole book, ``depth`` (``OrderBook.depth(levels=DEPTH_LEVELS)``), as a
    ``snapshot`` item: subscribers replace their book with it. The runner calls this when
    it has loaded or restored a market's book (clients' books may be from before).

    Caches it as the market's latest depth, then sends it. Raises ValueError for a
    malformed venue or a depth of more than ``DEPTH_LEVELS`` levels per side; a channel
    failure is logged, not raised."""
    _check_depth(depth)
    data = _depth_data(kind="snapshot", venue=venue, symbol=symbol, spec=spec,
                       sequence=depth.seq, bids=_levels(depth.bids, spec),
                       asks=_levels(depth.asks, spec), checksum=depth.checksum)
    _send(streams.DEPTH, venue=venue, symbol=symbol, data=data, state=data)


def depth_publish(*, venue: str, symbol: str, spec: MarketSpec, depth: DepthSnapshot,
                  changes: Iterable[Event]) -> None:
    """Publish one batch's book changes as an ``update`` item.

    ``changes`` are the batch's engine events in order (only ``BookChanged`` ones are
    read; a level changed twice counts once, with its last total); ``depth`` is the book
    after the batch (``OrderBook.depth(levels=DEPTH_LEVELS)``): its ``seq`` and checksum go
    with the update and it becomes the cached snapshot. A batch that changed no level
    sends nothing. Raises ValueError as ``depth_snapshot_set``; a channel failure is
    logged, not raised."""
    _check_depth(depth)
    changed: dict[tuple[int, int], int] = {}
    for event in changes:
        if event[0] is BookChanged:
            change = named_event(event)
            changed[(change.side, change.price)] = change.qty
    if not changed:
        return
    sides = {side: sorted(((price, qty) for (s, price), qty in changed.items() if s == side),
                          reverse=side == Side.BUY)
             for side in (Side.BUY, Side.SELL)}
    update = _depth_data(kind="update", venue=venue, symbol=symbol, spec=spec,
                         sequence=depth.seq, bids=_levels(sides[Side.BUY], spec),
                         asks=_levels(sides[Side.SELL], spec), checksum=depth.checksum)
    state = _depth_data(kind="snapshot", venue=venue, symbol=symbol, spec=spec,
                        sequence=depth.seq, bids=_levels(depth.bids, spec),
                        asks=_levels(depth.asks, spec), checksum=depth.checksum)
    _send(streams.DEPTH, venue=venue, symbol=symbol, data=update, state=state)


def trades_publish(*, venue: str, symbol: str, spec: MarketSpec, trades: Sequence[Event],
                   executed_at: datetime) -> None:
    """Publish one batch's trades (the engine's ``Trade`` events, in order; others are
    skipped) as one ``trades@`` item, and keep the newest ``RECENT_TRADES`` for new
    subscribers. Each trade: ``id`` (the engine's trade id), ``price``, ``amount``,
    ``side`` (the taker's: ``buy`` or ``sell``), ``time`` (``executed_at``, ISO 8601).
    Sends nothing for a batch without trades. A channel failure is logged, not raised."""
    items = []
    for event in trades:
        if event[0] is Trade:
            trade = named_event(event)
            items.append({"id": trade.trade_id, "price": decimal_text(spec.price(trade.price)),
                          "amount": decimal_text(spec.qty(trade.qty)),
                          "side": "sell" if trade.maker_side == Side.BUY else "buy",
                          "time": executed_at.isoformat()})
    if not items:
        return
    newest_first = items[::-1]
    data = {"venue": venue, "symbol": symbol, "trades": newest_first}
    with _write_lock:
        held = cache.get(_cache_key(streams.TRADES, venue=venue, symbol=symbol))
        recent = held["data"]["trades"] if held else []
        state = {"venue": venue, "symbol": symbol,
                 "trades": (newest_first + recent)[:RECENT_TRADES]}
    _send(streams.TRADES, venue=venue, symbol=symbol, data=data, state=state)


def _send(kind: str, *, venue: str, symbol: str, data: dict[str, Any],
          state: dict[str, Any]) -> None:
    # Numbered, cached, then sent: see the module docstring for why in this order.
    with _write_lock:
        seq = streams.next_book_seq(kind=kind, venue=venue, symbol=symbol)
        cache.set(_cache_key(kind, venue=venue, symbol=symbol), {"seq": seq, "data": state},
                  _TTL_SECONDS)
    streams.send_book(kind=kind, venue=venue, symbol=symbol, data=data, seq=seq)


def book_state(*, kind: str, venue: str, symbol: str) -> tuple[int, dict[str, Any]] | None:
    """The latest state of a book stream, for a new subscriber: ``(seq, data)``, where
    ``data`` is a depth ``snapshot`` item or the recent trades, and ``seq`` the number of
    the last item it includes; None if nothing was published (or the cache lost it)."""
    held = cache.get(_cache_key(kind, venue=venue, symbol=symbol))
    return (held["seq"], held["data"]) if held else None
