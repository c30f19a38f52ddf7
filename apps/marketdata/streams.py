"""Live streams: the names, channel groups and messages that venues publish and
``apps.streaming`` forwards to WebSocket clients.

Stream names are what clients subscribe to: a venue's ticker (public) and the private
``orders``, ``balances``, ``fixedtime`` and ``positions`` (the connected user's own). A
ticker is keyed by venue and symbol: ``ticker@<venue>:<SYMBOL>``
(``ticker@spot:BTC/USDT``), except that the paper venue's keep the names they had before
quotes carried a venue, ``ticker@<SYMBOL>`` (``ticker@EUR/USD``); each ticker has exactly
one name. An internal market's book streams
(``apps.marketdata.books``) are ``depth@<venue>:<SYMBOL>`` and ``trades@<venue>:<SYMBOL>``
on every venue, numbered like tickers; so is a venue's mark price, ``mark@<venue>:<SYMBOL>``
(``mark_publish``: a venue with marks says so with ``register_mark_venue``). Each stream is
fed through one
channel-layer group: a ticker's group is derived from its venue and symbol, a user's
private streams share ``user.<id>`` and are told apart by the message's ``stream`` field.

A ticker message carries ``seq``, numbered at publish time by one counter per stream
(``next_ticker_seq``, in the cache: Redis in production, so every publisher process and
every web process agrees on it). Private streams are numbered per connection by the
consumer instead: their messages carry no ``seq``.

Guarantees:
- ``ticker_group`` maps every (venue, symbol) to a valid channel-layer group name (ASCII
  letters, digits, ``-``, ``_``, ``.``; under 100 characters), and distinct pairs to
  distinct names: short ones are escaped reversibly, long ones hashed (SHA-256).
  ``ticker_stream`` maps distinct pairs to distinct names too. Both, and
  ``next_ticker_seq``, raise ValueError for a malformed venue (``quotes.check_venue``):
  the venue's alphabet is what keeps the names apart.
- Sending never raises: a channel-layer failure (Redis down) is logged and dropped, because
  live streams are best-effort while the quote cache and the venues' listeners are not.
- A send from synchronous code runs on one event loop per process, kept on a daemon thread
  (re-created in a forked child), and waits for it at most ``SEND_TIMEOUT_SECONDS``. The
  channel layers keep their connections per event loop, so a publisher or a Celery worker
  holds one connection instead of opening one per send (``async_to_sync`` makes a new
  loop for every call from a thread that has none, and with it a new connection).
- ``next_ticker_seq`` returns strictly increasing numbers per ticker: +1 per call while
  the counter lives; if the cache loses it (a Redis restart without persistence, LocMem
  culling) it is re-seeded from the clock in microseconds, which is above any number
  handed out before (unless more than a million were taken per second), so a client
  sees a jump, never a repeat.
- ``publish_user_event`` sends only after the surrounding transaction commits (at once in
  autocommit), so a client never hears of an order or balance that was rolled back.

This module knows no venue (the paper venue's unqualified stream names are a naming rule
kept for its existing clients); venues call it.
"""
import asyncio
import hashlib
import os
import string
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

import structlog
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import transaction

from apps.marketdata.quotes import Quote, check_venue

log = structlog.get_logger(__name__)

TICKER_PREFIX: Final = "ticker@"
# Between a ticker's venue and its symbol in a qualified stream name.
VENUE_SEPARATOR: Final = ":"
# The venue whose tickers are named ``ticker@<SYMBOL>``: the names clients used before
# quotes carried a venue.
UNQUALIFIED_TICKER_VENUE: Final = "paper"
# Public streams of a venue's own order book (an internal market, ``apps.marketdata.books``):
# always venue-qualified, ``depth@<venue>:<SYMBOL>`` and ``trades@<venue>:<SYMBOL>``.
DEPTH: Final = "depth"
TRADES: Final = "trades"
BOOK_STREAMS: Final = frozenset({DEPTH, TRADES})
# The futures contracts' mark prices are quotes of this pseudo-venue (``apps.futures``),
# cached as its latest quotes; their stream is the contract venue's ``mark@<venue>:<SYMBOL>``
# (``MARK``), which carries the index and premium besides the price.
MARK_VENUE: Final = "mark"
MARK: Final = "mark"
ORDERS: Final = "orders"
BALANCES: Final = "balances"
# A user's fixed-time trades (``apps.fixedtime``): opened, then settled.
FIXEDTIME: Final = "fixedtime"
# A user's futures positions (``apps.futures``): on every change and every mark tick.
POSITIONS: Final = "positions"
USER_STREAMS: Final = frozenset({ORDERS, BALANCES, FIXEDTIME, POSITIONS})
# The channel-layer message type; ``apps.streaming``'s consumer handles it as ``stream_data``.
MESSAGE_TYPE: Final = "stream.data"

_SAFE = frozenset(string.ascii_letters + string.digits + "-.")
# channels rejects group names of 100 characters or more.
_MAX_GROUP_LENGTH: Final = 99
# Long enough for a Redis that is reconnecting, short enough not to stall a publisher.
SEND_TIMEOUT_SECONDS: Final = 5.0
# The groups one hand-off sends to at once (each its own connection to the layer).
SEND_GROUPS_AT_ONCE: Final = 16


def ticker_stream(*, venue: str, symbol: str) -> str:
    """The public stream name of ``symbol``'s quotes on ``venue``: ``ticker@SYMBOL`` on the
    paper venue, ``ticker@venue:SYMBOL`` on the others. A paper symbol holding the
    separator (no market's does) is qualified too, so that no paper name can equal
    another venue's. (The ``MARK_VENUE`` pseudo-venue has no enabled market, so its
    ticker name is refused to subscribers: its ticks are streamed as ``mark_stream``.)"""
    check_venue(venue)
    if venue == UNQUALIFIED_TICKER_VENUE and VENUE_SEPARATOR not in symbol:
        return f"{TICKER_PREFIX}{symbol}"
    return f"{TICKER_PREFIX}{venue}{VENUE_SEPARATOR}{symbol}"


def _escape(text: str) -> str:
    return "".join(
        char if char in _SAFE
        else "".join(f"_{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in text)


def book_stream(*, kind: str, venue: str, symbol: str) -> str:
    """The public stream name of ``symbol``'s book ``kind`` (``DEPTH`` or ``TRADES``) on
    ``venue``: ``depth@venue:SYMBOL``, ``trades@venue:SYMBOL``, qualified on every venue.
    Raises ValueError for another kind or a malformed venue."""
    _check_book_kind(kind)
    return f"{kind}@{check_venue(venue)}{VENUE_SEPARATOR}{symbol}"


def _check_book_kind(kind: str) -> None:
    if kind not in BOOK_STREAMS:
        raise ValueError(f"{kind!r} is not a book stream (depth, trades)")


def book_group(*, kind: str, venue: str, symbol: str) -> str:
    """The channel group of ``book_stream``: ``ticker_group``'s rule with ``kind`` in
    place of ``ticker`` (``depth.ecosystem.ABC_2FUSDT``, or ``depthh.<sha256>``)."""
    _check_book_kind(kind)
    return _group(kind, venue=venue, symbol=symbol)


_mark_venues: set[str] = set()
# Long enough to outlive a quiet night; a mark is recomputed every few seconds anyway.
_MARK_TTL_SECONDS: Final = 24 * 3600


def register_mark_venue(venue: str) -> None:
    """Declare that ``venue``'s markets have a mark price, so ``mark@<venue>:<SYMBOL>`` is a
    stream (the consumer refuses it on other venues). Raises ValueError for a malformed
    venue."""
    _mark_venues.add(check_venue(venue))


def is_mark_venue(venue: str) -> bool:
    return venue in _mark_venues


def mark_stream(*, venue: str, symbol: str) -> str:
    """The public stream of the mark prices of ``venue``'s market ``symbol``:
    ``mark@venue:SYMBOL``, qualified as the book streams are. Raises ValueError for a
    malformed venue."""
    return f"{MARK}@{check_venue(venue)}{VENUE_SEPARATOR}{symbol}"


def mark_group(*, venue: str, symbol: str) -> str:
    """The channel group of ``mark_stream``: ``ticker_group``'s rule with ``mark`` in place
    of ``ticker`` (``mark.futures.BTC_2FUSDT``, or ``markh.<sha256>``)."""
    return _group(MARK, venue=venue, symbol=symbol)


def mark_publish(*, venue: str, symbol: str, data: dict[str, Any]) -> bool:
    """Number one mark tick of ``venue``'s market ``symbol`` (one counter per stream, as
    ``next_ticker_seq``), keep it as the stream's latest (a new subscriber's snapshot) and
    send it to the ``mark_stream``'s subscribers. ``data`` must be JSON-serialisable.
    Sending never raises (``send_to_group``); numbering and caching raise what the cache
    raises. Outside any transaction."""
    group = mark_group(venue=venue, symbol=symbol)
    seq = _next_seq(f"stream-seq:{group}")
    # Written before it is sent: a subscriber joins first and reads second (books.py's
    # rule), so a tick it misses in the cache it gets live with the same seq.
    cache.set(f"stream-state:{group}", (seq, data), timeout=_MARK_TTL_SECONDS)
    return send_to_group(group, group_message(
        stream=mark_stream(venue=venue, symbol=symbol), data=data, seq=seq))


def mark_state(*, venue: str, symbol: str) -> tuple[int, dict[str, Any]] | None:
    """The latest mark tick of ``venue``'s market ``symbol`` as (seq, data), or None."""
    return cache.get(f"stream-state:{mark_group(venue=venue, symbol=symbol)}")


def _group(kind: str, *, venue: str, symbol: str) -> str:
    check_venue(venue)
    name = f"{kind}.{_escape(venue)}.{_escape(symbol)}"
    if len(name) <= _MAX_GROUP_LENGTH:
        return name
    digest = hashlib.sha256(f"{venue}:{symbol}".encode("utf-8", "surrogatepass")).hexdigest()
    return f"{kind}h.{digest}"


def ticker_group(*, venue: str, symbol: str) -> str:
    """The channel group of ``symbol``'s quotes on ``venue``.

    ``ticker.<venue>.<symbol>``, each part escaped: every character outside
    ``[A-Za-z0-9.-]`` (``_`` included, which makes the escape unambiguous) becomes ``_XX``
    per UTF-8 byte, so (paper, ``EUR/USD``) -> ``ticker.paper.EUR_2FUSD``. A venue holds
    no ``.``, so the first one after the prefix ends it. When that would be too long, the
    name is ``tickerh.`` plus the SHA-256 of ``venue:symbol`` (a venue holds no ``:``
    either): the two prefixes differ, so an escaped name never equals a hashed one. Book
    streams' groups start with their kind instead (``book_group``), and no prefix is
    another's followed by ``.``, so no two kinds share a group.
    """
    return _group("ticker", venue=venue, symbol=symbol)


def user_group(user_id: int) -> str:
    """The channel group carrying one user's private streams."""
    return f"user.{int(user_id)}"


def group_message(*, stream: str, data: dict[str, Any],
                  seq: int | None = None) -> dict[str, Any]:
    """The channel-layer message that carries one data item of ``stream`` (``seq``: the
    publish-time number of a ticker's item; None for private streams)."""
    message = {"type": MESSAGE_TYPE, "stream": stream, "data": data}
    if seq is not None:
        message["seq"] = seq
    return message


def _seq_key(*, venue: str, symbol: str, kind: str = "ticker") -> str:
    # The group name is a safe, collision-free rendering of any stream (cache keys must
    # be short, printable and without spaces for memcached-style validation).
    group = (ticker_group(venue=venue, symbol=symbol) if kind == "ticker"
             else book_group(kind=kind, venue=venue, symbol=symbol))
    return f"stream-seq:{group}"


def next_ticker_seq(*, venue: str, symbol: str) -> int:
    """The next sequence number of the ticker stream of ``symbol`` on ``venue`` (see the
    module docstring).

    One atomic increment in the cache (Redis ``INCR``), so concurrent publishers never
    share a number. Raises what the cache raises (Redis down): ``publish`` writes the
    same cache just after, so a quote that cannot be numbered could not be cached either.
    """
    return _next_seq(_seq_key(venue=venue, symbol=symbol))


def next_book_seq(*, kind: str, venue: str, symbol: str) -> int:
    """The next sequence number of a book stream (``book_stream``): ``next_ticker_seq``'s
    rule and guarantees, one counter per stream."""
    return _next_seq(_seq_key(venue=venue, symbol=symbol, kind=kind))


def _next_seq(key: str) -> int:
    try:
        return cache.incr(key)
    except ValueError:  # no counter yet, or it was lost: seed it from the clock
        cache.add(key, time.time_ns() // 1000, timeout=None)
        return cache.incr(key)


class _SendLoop:
    """The process's event loop for sends from synchronous code (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="stream-send-loop",
                                 daemon=True).start()
                self._loop = loop
            return self._loop

    def forget(self) -> None:
        # In a forked child the loop's thread does not exist (and the lock may be held by
        # a thread that does not exist either): start afresh.
        self._lock = threading.Lock()
        self._loop = None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_send_loop = _SendLoop()
os.register_at_fork(after_in_child=_send_loop.forget)


def send_to_groups(messages: Sequence[tuple[str, dict[str, Any]]]) -> bool:
    """Send each ``(group, message)`` from synchronous code, in order within each group
    (the groups concurrently), in one hand-off to
    the send loop (one wait for all: a settlement's many events cost one round trip to
    the loop, not one each); False (and logged) if the channel layer failed or did not
    finish within ``SEND_TIMEOUT_SECONDS``, or if called from a coroutine (it would block
    that loop, which may be the one the send must reach: async code awaits
    ``group_send`` itself). Never raises."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return False
    if _running_loop() is not None:
        log.error("stream_send_failed", groups=len(messages),
                  error="send_to_groups called from async code")
        return False

    # In order within a group; up to SEND_GROUPS_AT_ONCE groups side by side (a
    # batch's hundreds of users' events cost a round trip per event in turn otherwise,
    # and the order across users means nothing to any of them).
    by_group: dict[str, list[dict[str, Any]]] = {}
    for group, message in messages:
        by_group.setdefault(group, []).append(message)

    async def send_group(slots: asyncio.Semaphore, group: str,
                         sequence: list[dict[str, Any]]) -> None:
        async with slots:
            for message in sequence:
                await layer.group_send(group, message)

    async def send_all() -> None:
        slots = asyncio.Semaphore(SEND_GROUPS_AT_ONCE)  # made on the loop that uses it
        await asyncio.gather(*(send_group(slots, group, sequence)
                               for group, sequence in by_group.items()))

    future = asyncio.run_coroutine_threadsafe(send_all(), _send_loop.get())
    try:
        future.result(timeout=SEND_TIMEOUT_SECONDS)
    except Exception:
        future.cancel()
        log.exception("stream_send_failed", groups=len(messages),
                      streams=sorted({m.get("stream") for _, m in messages}))
        return False
    return True


def send_to_group(group: str, message: dict[str, Any]) -> bool:
    """Send ``message`` to ``group`` (``send_to_groups`` of one)."""
    return send_to_groups([(group, message)])


def send_quote(quote: Quote, *, seq: int) -> bool:
    """Forward ``quote``, numbered ``seq`` (from ``next_ticker_seq``), to its ticker
    stream's subscribers (see ``send_to_group``)."""
    stream = ticker_stream(venue=quote.venue, symbol=quote.symbol)
    return send_to_group(ticker_group(venue=quote.venue, symbol=quote.symbol),
                         group_message(stream=stream, data=quote.to_dict(), seq=seq))


def send_book(*, kind: str, venue: str, symbol: str, data: dict[str, Any], seq: int) -> bool:
    """Forward one item of a book stream, numbered ``seq`` (from ``next_book_seq``), to its
    subscribers (see ``send_to_group``)."""
    return send_to_group(book_group(kind=kind, venue=venue, symbol=symbol),
                         group_message(stream=book_stream(kind=kind, venue=venue, symbol=symbol),
                                       data=data, seq=seq))


def publish_user_events(*, events: Iterable[tuple[int, str, dict[str, Any]]]) -> None:
    """Send each ``(user_id, stream, data)`` on the user's private ``stream``, in order and
    in one hand-off, once the current transaction commits (dropped if it rolls back, with
    the savepoint that published them). ``data`` must be JSON-serialisable and final: it
    is sent as it is now, so build it from the values this transaction writes."""
    messages = []
    for user_id, stream, data in events:
        if stream not in USER_STREAMS:
            raise ValueError(f"{stream!r} is not a user stream")
        messages.append((user_group(user_id), group_message(stream=stream, data=data)))
    if messages:
        transaction.on_commit(lambda: _send_events(messages), robust=True)


def _send_events(messages: list[tuple[str, dict[str, Any]]]) -> None:
    # Logged where the work that made them runs, so the line carries its request id or
    # task id (apps/core/logs.py); the payloads the users get do not.
    if send_to_groups(messages):
        log.debug("stream_events_sent", count=len(messages),
                  streams=sorted({message["stream"] for _, message in messages}))


def publish_user_event(*, user_id: int, stream: str, data: dict[str, Any]) -> None:
    """``publish_user_events`` of one event."""
    publish_user_events(events=[(user_id, stream, data)])
