"""The quote bus: ``publish`` stores the latest quote of its venue and symbol, forwards it
to its ticker stream (``apps.marketdata.streams``) and tells the listeners of its venue.

Venues register listeners (the paper executor is one) from their ``AppConfig.ready``,
each for the venues whose quotes it acts on; this module knows no venue.
"""
import threading
from collections.abc import Callable, Iterable

import structlog
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache

from apps.marketdata import streams
from apps.marketdata.quotes import Quote, check_venue

log = structlog.get_logger(__name__)
QuoteListener = Callable[[Quote], None]
# venue -> its listeners, in registration order: a quote is offered only to its venue's.
_listeners: dict[str, list[QuoteListener]] = {}
# Long enough to outlive any freshness window; readers judge freshness by the timestamp.
_QUOTE_TTL_SECONDS = 24 * 3600
# Stores the quote (KEYS[1]) and its time (KEYS[2], microseconds) unless the stored one is
# newer: a tick that reaches the bus late (a second feed connection, a redelivery) never
# replaces a newer price, however two publishers interleave.
_STORE_UNLESS_NEWER = """
local stored = redis.call('GET', KEYS[2])
if stored and tonumber(stored) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[3])
return 1
"""
# The same rule for a per-process cache (``make run``, tests on SQLite).
_local_store = threading.Lock()


def quote_cache_key(*, venue: str, symbol: str) -> str:
    # A venue holds no ":" (quotes.VENUE_PATTERN), so distinct tickers get distinct keys.
    return f"quote:{check_venue(venue)}:{symbol}"


def _micros(quote: Quote) -> int:
    stamp = quote.timestamp
    return (int(stamp.timestamp()) * 1_000_000) + stamp.microsecond


def _store_latest(quote: Quote, *, seq: int) -> bool:
    """Store ``quote`` as its ticker's latest unless the stored one is newer; True if
    stored."""
    key = quote_cache_key(venue=quote.venue, symbol=quote.symbol)
    value = {**quote.to_dict(), "seq": seq}
    if isinstance(cache, RedisCache):
        client = cache._cache
        stored_key = cache.make_and_validate_key(key)
        stamp_key = cache.make_and_validate_key(f"{key}:at")
        return bool(client.get_client(stored_key, write=True).eval(
            _STORE_UNLESS_NEWER, 2, stored_key, stamp_key, _micros(quote),
            client._serializer.dumps(value), _QUOTE_TTL_SECONDS))
    with _local_store:
        stored = cache.get(key)
        if stored is not None and Quote.from_dict(stored).timestamp > quote.timestamp:
            return False
        cache.set(key, value, _QUOTE_TTL_SECONDS)
        return True


def register_listener(listener: QuoteListener, *, venues: Iterable[str]) -> None:
    """Call ``listener(quote)`` on every published quote of one of ``venues``. Registering
    a listener again adds venues; it is still called once per quote. Raises ValueError
    (registering nothing) for no venue, a malformed one, or a bare string (which would
    be read as one venue per letter)."""
    if isinstance(venues, str):
        raise ValueError(f"venues must be a collection of venue names, not {venues!r}")
    wanted = [check_venue(venue) for venue in venues]
    if not wanted:
        raise ValueError("a listener must hear at least one venue")
    for venue in wanted:
        heard = _listeners.setdefault(venue, [])
        if listener not in heard:
            heard.append(listener)


def publish(*, quote: Quote) -> None:
    """Number ``quote`` in its ticker stream (``streams.next_ticker_seq``), store it as the
    latest for its venue and symbol (unless the stored latest is newer: a late tick never
    replaces a newer price), send it to the ticker stream, then notify the listeners of
    its venue (each judges a late tick by its own rule).

    Must not be called inside an open transaction (listeners enqueue work). A listener
    that raises is logged and does not stop the others: one venue's bug must not starve
    another of prices. The stream goes before the listeners (an eager executor must not
    delay live prices) and its failure (channel layer down) is logged inside
    ``send_quote``: the cache and the listeners still get every quote.
    """
    seq = streams.next_ticker_seq(venue=quote.venue, symbol=quote.symbol)
    # The number rides with the cached quote so that a subscriber's snapshot carries the
    # same ``seq`` as the live frame of that tick (``selectors.latest_ticks``).
    if not _store_latest(quote, seq=seq):
        log.info("quote_older_than_latest_kept_out", venue=quote.venue, symbol=quote.symbol,
                 timestamp=quote.timestamp.isoformat())
    streams.send_quote(quote, seq=seq)
    for listener in list(_listeners.get(quote.venue, ())):
        try:
            listener(quote)
        except Exception:
            log.exception("quote_listener_failed", listener=getattr(listener, "__name__", "?"),
                          venue=quote.venue, symbol=quote.symbol)
