"""The quote bus: ``publish`` stores the latest quote of its venue and symbol, forwards it
to its ticker stream (``apps.marketdata.streams``) and tells the listeners of its venue.

Venues register listeners (the paper executor is one) from their ``AppConfig.ready``,
each for the venues whose quotes it acts on; this module knows no venue.
"""
from collections.abc import Callable, Iterable

import structlog
from django.core.cache import cache

from apps.marketdata import streams
from apps.marketdata.quotes import Quote, check_venue

log = structlog.get_logger(__name__)
QuoteListener = Callable[[Quote], None]
# venue -> its listeners, in registration order: a quote is offered only to its venue's.
_listeners: dict[str, list[QuoteListener]] = {}
# Long enough to outlive any freshness window; readers judge freshness by the timestamp.
_QUOTE_TTL_SECONDS = 24 * 3600


def quote_cache_key(*, venue: str, symbol: str) -> str:
    # A venue holds no ":" (quotes.VENUE_PATTERN), so distinct tickers get distinct keys.
    return f"quote:{check_venue(venue)}:{symbol}"


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
    latest for its venue and symbol, send it to the ticker stream, then notify the
    listeners of its venue.

    Must not be called inside an open transaction (listeners enqueue work). A listener
    that raises is logged and does not stop the others: one venue's bug must not starve
    another of prices. The stream goes before the listeners (an eager executor must not
    delay live prices) and its failure (channel layer down) is logged inside
    ``send_quote``: the cache and the listeners still get every quote.
    """
    seq = streams.next_ticker_seq(venue=quote.venue, symbol=quote.symbol)
    # The number rides with the cached quote so that a subscriber's snapshot carries the
    # same ``seq`` as the live frame of that tick (``selectors.latest_ticks``).
    cache.set(quote_cache_key(venue=quote.venue, symbol=quote.symbol),
              {**quote.to_dict(), "seq": seq}, _QUOTE_TTL_SECONDS)
    streams.send_quote(quote, seq=seq)
    for listener in list(_listeners.get(quote.venue, ())):
        try:
            listener(quote)
        except Exception:
            log.exception("quote_listener_failed", listener=getattr(listener, "__name__", "?"),
                          venue=quote.venue, symbol=quote.symbol)
