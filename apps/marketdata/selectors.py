from django.core.cache import cache

from apps.marketdata.quotes import Quote
from apps.marketdata.services import quote_cache_key


def latest_quote(*, symbol: str) -> Quote | None:
    """The last published quote for ``symbol``, or None if none was seen."""
    data = cache.get(quote_cache_key(symbol))
    return Quote.from_dict(data) if data else None


def latest_quotes(*, symbols: list[str]) -> dict[str, Quote]:
    """The last published quote of each of ``symbols`` that has one."""
    return {symbol: quote for symbol, (_, quote) in latest_ticks(symbols=symbols).items()}


def latest_ticks(*, symbols: list[str]) -> dict[str, tuple[int | None, Quote]]:
    """The last published quote of each of ``symbols`` that has one, with its ticker
    sequence number (None for a quote cached before quotes were numbered)."""
    found = cache.get_many([quote_cache_key(s) for s in symbols])
    return {data["symbol"]: (data.get("seq"), Quote.from_dict(data)) for data in found.values()}
