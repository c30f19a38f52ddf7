from django.core.cache import cache

from apps.marketdata.quotes import Quote
from apps.marketdata.services import quote_cache_key


def latest_quote(*, venue: str, symbol: str) -> Quote | None:
    """The last published quote of ``symbol`` on ``venue``, or None if none was seen."""
    data = cache.get(quote_cache_key(venue=venue, symbol=symbol))
    return Quote.from_dict(data) if data else None


def latest_quotes(*, venue: str, symbols: list[str]) -> dict[str, Quote]:
    """The last published quote on ``venue`` of each of ``symbols`` that has one."""
    return {symbol: quote
            for symbol, (_, quote) in latest_ticks(venue=venue, symbols=symbols).items()}


def latest_ticks(*, venue: str, symbols: list[str]) -> dict[str, tuple[int | None, Quote]]:
    """The last published quote on ``venue`` of each of ``symbols`` that has one, with its
    ticker sequence number (None for a quote cached before quotes were numbered). One
    cache round trip."""
    keys = {quote_cache_key(venue=venue, symbol=symbol): symbol for symbol in symbols}
    found = cache.get_many(list(keys))
    return {keys[key]: (data.get("seq"), Quote.from_dict(data)) for key, data in found.items()}
