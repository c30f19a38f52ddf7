"""The quote bus: ``publish`` stores the latest quote, forwards it to its ticker stream
(``apps.marketdata.streams``) and tells every registered listener.

Venues register listeners (the paper executor is one) from their ``AppConfig.ready``;
this module knows no venue.
"""
from collections.abc import Callable

import structlog
from django.core.cache import cache

from apps.marketdata import streams
from apps.marketdata.quotes import Quote

log = structlog.get_logger(__name__)
QuoteListener = Callable[[Quote], None]
_listeners: list[QuoteListener] = []
# Long enough to outlive any freshness window; readers judge freshness by the timestamp.
_QUOTE_TTL_SECONDS = 24 * 3600


def quote_cache_key(symbol: str) -> str:
    return f"quote:{symbol}"


def register_listener(listener: QuoteListener) -> None:
    """Call ``listener(quote)`` on every published quote (idempotent per function)."""
    if listener not in _listeners:
        _listeners.append(listener)


def publish(*, quote: Quote) -> None:
    """Number ``quote`` in its ticker stream (``streams.next_ticker_seq``), store it as the
    latest for its symbol, send it to the ticker stream, then notify the listeners.

    Must not be called inside an open transaction (listeners enqueue work). A listener
    that raises is logged and does not stop the others: one venue's bug must not starve
    another of prices. The stream goes before the listeners (an eager executor must not
    delay live prices) and its failure (channel layer down) is logged inside
    ``send_quote``: the cache and the listeners still get every quote.
    """
    seq = streams.next_ticker_seq(quote.symbol)
    # The number rides with the cached quote so that a subscriber's snapshot carries the
    # same ``seq`` as the live frame of that tick (``selectors.latest_ticks``).
    cache.set(quote_cache_key(quote.symbol), {**quote.to_dict(), "seq": seq},
              _QUOTE_TTL_SECONDS)
    streams.send_quote(quote, seq=seq)
    for listener in list(_listeners):
        try:
            listener(quote)
        except Exception:
            log.exception("quote_listener_failed", listener=getattr(listener, "__name__", "?"),
                          symbol=quote.symbol)
