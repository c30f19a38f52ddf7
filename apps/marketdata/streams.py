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
  (re-created in a forked child). The channel layers keep their connections per event
  loop, so a publisher or a Celery worker holds one connection instead of opening one per
  send (``async_to_sync`` makes a new loop for every call from a thread that has none, and
  with it a new connection). A ticker, book or mark send (``send_to_group``) waits for it at
  most ``SEND_TIMEOUT_SECONDS``; user events (``send_to_groups``) are handed off without
  waiting, so a settlement does not wait for its hundreds of events: each group's messages
  still arrive in the order handed off, across hand-offs; at most ``MAX_PENDING_MESSAGES``
  wait unsent (more waits, back-pressure); ``flush`` waits until all are sent, and a
  process exiting normally (a Celery pool's child too) flushes.
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
import atexit
import collections
import contextvars
import hashlib
import os
import string
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any, Final

import structlog
from celery.signals import worker_process_shutdown
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
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
# Messages handed off and not yet sent past which a hand-off waits for the send loop: a
# publisher faster than the channel layer slows down instead of queueing without bound.
# About a second of a local Redis's sends, a few MB of messages.
MAX_PENDING_MESSAGES: Final = 10_000
# The messages the send loop takes at once: one pipeline on the Redis pub/sub layer.
SEND_CHUNK_MESSAGES: Final = 1_000


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


class _HandOff:
    """One hand-off's messages on their way: ``done`` once each is sent or has failed."""

    __slots__ = ("context", "done", "errors", "messages", "remaining")

    def __init__(self, messages: list[tuple[str, dict[str, Any]]]) -> None:
        self.messages = messages
        self.remaining = len(messages)
        self.errors: list[BaseException] = []
        self.done = threading.Event()
        # The caller's log context (request id, task id): a failure is logged on the loop's
        # thread, with the line of the work that published it.
        self.context = contextvars.copy_context()


# What the send loop drains: (layer, group, message, its hand-off).
_Item = tuple[Any, str, dict[str, Any], _HandOff]
# Stands for a message of a chunk that is not sent yet.
_UNSENT: Final = object()


class _SendLoop:
    """The process's event loop for sends from synchronous code, and what is handed off to
    it and not yet sent (see the module)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Notified as messages are sent: a hand-off waiting for room.
        self._room = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending = 0  # messages handed off, not yet sent or failed
        self._unfinished: set[_HandOff] = set()
        # Handed off, not yet taken by the loop: one wake-up of the loop takes them all.
        self._inbox: list[tuple[Any, _HandOff]] = []
        # Touched on the loop's thread only: every message not yet sent, in the order
        # handed off, and the one task that drains it, a chunk at a time (one chunk after
        # another is what keeps each group's messages in order across hand-offs).
        self._queue: collections.deque[_Item] = collections.deque()
        self._drainer: asyncio.Task | None = None

    def _get(self) -> asyncio.AbstractEventLoop:
        # Under self._lock.
        if self._loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="stream-send-loop",
                             daemon=True).start()
            self._loop = loop
        return self._loop

    def hand_off(self, layer: Any, messages: list[tuple[str, dict[str, Any]]]
                 ) -> _HandOff | None:
        """Queue ``messages`` for the loop, after every message handed off before them;
        None if more than ``MAX_PENDING_MESSAGES`` stayed unsent for
        ``SEND_TIMEOUT_SECONDS`` (they are dropped). Waits while they would exceed it
        (a hand-off larger than it goes alone)."""
        handoff = _HandOff(messages)
        with self._room:
            if not self._room.wait_for(
                    lambda: not self._pending
                    or self._pending + len(messages) <= MAX_PENDING_MESSAGES,
                    timeout=SEND_TIMEOUT_SECONDS):
                return None
            self._pending += len(messages)
            self._unfinished.add(handoff)
            # Under the lock: the loop takes hand-offs in the order they were counted. A
            # burst (an order's events come in two hand-offs back to back, as its
            # transaction commits) wakes the loop once and goes out in one chunk: each
            # wake-up and send cost the process about as much CPU as the order's hold.
            self._inbox.append((layer, handoff))
            if len(self._inbox) == 1:
                self._get().call_soon_threadsafe(self._take)
        return handoff

    def flush(self, *, timeout: float | None) -> bool:
        """Wait until every message handed off so far is sent or has failed; False if
        ``timeout`` (seconds) passed first."""
        with self._lock:
            waiting = list(self._unfinished)
        deadline = None if timeout is None else time.monotonic() + timeout
        return all(handoff.done.wait(None if deadline is None
                                     else max(0.0, deadline - time.monotonic()))
                   for handoff in waiting)

    def _take(self) -> None:
        with self._lock:
            inbox, self._inbox = self._inbox, []
        for layer, handoff in inbox:
            self._queue.extend((layer, group, message, handoff)
                               for group, message in handoff.messages)
        if self._drainer is None:
            self._drainer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while self._queue:
            chunk = [self._queue.popleft()
                     for _ in range(min(len(self._queue), SEND_CHUNK_MESSAGES))]
            results: list[Any] = [_UNSENT] * len(chunk)
            try:
                await asyncio.wait_for(_send_chunk(chunk, results), SEND_TIMEOUT_SECONDS)
            except Exception as error:  # what was not sent by then failed with it
                results = [error if result is _UNSENT else result for result in results]
            self._sent(chunk, results)
        # Nothing ran between the empty check and here: no message was queued meanwhile.
        self._drainer = None

    def _sent(self, chunk: list[_Item], results: list[Any]) -> None:
        finished = []
        for (_, _, _, handoff), result in zip(chunk, results, strict=True):
            if result is not None:  # a best-effort stream: logged once per hand-off
                handoff.errors.append(result)
            handoff.remaining -= 1
            if not handoff.remaining:
                finished.append(handoff)
        for handoff in finished:
            if handoff.errors:  # logged before a waiting caller is let go
                handoff.context.run(
                    log.error, "stream_send_failed", groups=len(handoff.messages),
                    failed=len(handoff.errors), error=repr(handoff.errors[0]),
                    streams=sorted({m.get("stream") for _, m in handoff.messages}))
            handoff.done.set()
        with self._room:
            self._pending -= len(chunk)
            self._unfinished.difference_update(finished)
            self._room.notify_all()

    def forget(self) -> None:
        # In a forked child the loop's thread does not exist (and the lock may be held by
        # a thread that does not exist either): start afresh. What the parent handed off
        # is the parent's to send.
        self.__init__()


async def _send_chunk(chunk: list[_Item], results: list[Any]) -> None:
    """Send ``chunk``'s messages, each group's in order, and set each one's result (None:
    sent; else the error)."""
    by_layer: dict[int, tuple[Any, list[int]]] = {}
    for index, (layer, _, _, _) in enumerate(chunk):
        by_layer.setdefault(id(layer), (layer, []))[1].append(index)
    for layer, indexes in by_layer.values():
        if type(layer) is RedisPubSubChannelLayer:
            try:
                await _publish_pipelined(layer, [chunk[i][1:3] for i in indexes])
            except Exception as error:
                for index in indexes:
                    results[index] = error
            else:
                for index in indexes:
                    results[index] = None
        else:
            await _send_by_group(layer, chunk, indexes, results)


async def _send_by_group(layer: Any, chunk: list[_Item], indexes: list[int],
                         results: list[Any]) -> None:
    """``layer.group_send`` of the ``indexes`` of ``chunk``: each group's in order, up to
    ``SEND_GROUPS_AT_ONCE`` groups side by side (a round trip per message otherwise, one
    after another, and the order across users means nothing to any of them)."""
    by_group: dict[str, list[int]] = {}
    for index in indexes:
        by_group.setdefault(chunk[index][1], []).append(index)
    slots = asyncio.Semaphore(SEND_GROUPS_AT_ONCE)  # made on the loop that uses it

    async def send_group(sequence: list[int]) -> None:
        async with slots:
            for index in sequence:
                _, group, message, _ = chunk[index]
                try:
                    await layer.group_send(group, message)
                    results[index] = None
                except Exception as error:
                    results[index] = error

    await asyncio.gather(*(send_group(sequence) for sequence in by_group.values()))


async def _publish_pipelined(layer: RedisPubSubChannelLayer,
                             messages: list[tuple[str, dict[str, Any]]]) -> None:
    """``layer.group_send`` of each ``(group, message)``, in order, one pipeline per shard:
    one round trip for a chunk instead of one per message (a settlement's balance events
    are hundreds of PUBLISHes, and the layer sends one at a time under its shard's lock).
    channels_redis has no bulk send (django/channels_redis#399); this takes the same steps
    as its ``group_send`` (4.3.0, pinned), under the same lock, on the loop's connection."""
    loop_layer = layer._get_layer()
    by_shard: dict[Any, list[tuple[str, bytes]]] = {}
    for group, message in messages:
        channel = loop_layer._get_group_channel_name(group)
        by_shard.setdefault(loop_layer._get_shard(channel), []).append(
            (channel, layer.serialize(message)))
    for shard, publishes in by_shard.items():
        async with shard._lock:
            shard._ensure_redis()
            async with shard._redis.pipeline(transaction=False) as pipeline:
                for channel, payload in publishes:
                    pipeline.publish(channel, payload)
                await pipeline.execute()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_send_loop = _SendLoop()
os.register_at_fork(after_in_child=_send_loop.forget)


def _hand_off(messages: Sequence[tuple[str, dict[str, Any]]]) -> _HandOff | None:
    layer = get_channel_layer()
    if layer is None or not messages:
        return None
    if _running_loop() is not None:
        log.error("stream_send_failed", groups=len(messages),
                  error="called from async code")
        return None
    handoff = _send_loop.hand_off(layer, list(messages))
    if handoff is None:
        log.error("stream_send_failed", groups=len(messages),
                  error=f"more than {MAX_PENDING_MESSAGES} messages unsent for "
                        f"{SEND_TIMEOUT_SECONDS}s: dropped")
    return handoff


def send_to_groups(messages: Sequence[tuple[str, dict[str, Any]]]) -> bool:
    """Hand each ``(group, message)`` off to the send loop without waiting for it to be
    sent; True if handed off.

    Each group's messages are sent in the order handed off, this hand-off's after every
    earlier one's (from any thread of this process); up to ``SEND_GROUPS_AT_ONCE`` groups
    side by side. Waits while more than ``MAX_PENDING_MESSAGES`` are unsent (back-pressure),
    and drops the messages (False, logged) if that lasts ``SEND_TIMEOUT_SECONDS``. A
    channel-layer failure or a send taking over ``SEND_TIMEOUT_SECONDS`` is logged, once
    per hand-off, and that message dropped. False (logged) from a coroutine (async code
    awaits ``group_send`` itself). ``flush`` waits until they are sent. Never raises."""
    return _hand_off(messages) is not None


def send_to_group(group: str, message: dict[str, Any]) -> bool:
    """Send ``message`` to ``group`` and wait until it is sent (after whatever was handed off
    to ``group`` before it): True if it was, False (logged) if the channel layer failed or
    did not finish within ``SEND_TIMEOUT_SECONDS``, or if called from a coroutine. Never
    raises."""
    handoff = _hand_off([(group, message)])
    if handoff is None:
        return False
    if not handoff.done.wait(SEND_TIMEOUT_SECONDS):
        log.error("stream_send_failed", groups=1, stream=message.get("stream"),
                  error=f"not sent within {SEND_TIMEOUT_SECONDS}s")
        return False
    return not handoff.errors


def flush(*, timeout: float | None = None) -> bool:
    """Wait until every message this process handed off so far (``send_to_groups``) is
    sent or has failed; False if ``timeout`` seconds passed first. For a clock that must
    include the sends (a bench), a test, and a process's exit."""
    return _send_loop.flush(timeout=timeout)


# A process exiting normally sends what it handed off (the loop's thread is a daemon, so
# it would die with its queue): an interpreter's exit, and a Celery pool's child, which
# leaves through os._exit and never runs atexit.
atexit.register(flush, timeout=SEND_TIMEOUT_SECONDS)
worker_process_shutdown.connect(
    lambda **kwargs: flush(timeout=SEND_TIMEOUT_SECONDS), weak=False)


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
    in one hand-off (``send_to_groups``: not waited for), once the current transaction
    commits (dropped if it rolls back, with the savepoint that published them). ``data``
    must be JSON-serialisable and final: it is sent as it is now, so build it from the
    values this transaction writes."""
    messages = []
    for user_id, stream, data in events:
        if stream not in USER_STREAMS:
            raise ValueError(f"{stream!r} is not a user stream")
        messages.append((user_group(user_id), group_message(stream=stream, data=data)))
    if messages:
        transaction.on_commit(lambda: _send_events(messages), robust=True)


def _send_events(messages: list[tuple[str, dict[str, Any]]]) -> None:
    # Logged where the work that made them runs, when they are handed off, so the line
    # carries its request id or task id (apps/core/logs.py); the payloads the users get do
    # not.
    if send_to_groups(messages):
        log.debug("stream_events_sent", count=len(messages),
                  streams=sorted({message["stream"] for _, message in messages}))


def publish_user_event(*, user_id: int, stream: str, data: dict[str, Any]) -> None:
    """``publish_user_events`` of one event."""
    publish_user_events(events=[(user_id, stream, data)])
