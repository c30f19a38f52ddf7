"""Reads the stream consumer needs (synchronous: call through database_sync_to_async)."""
from collections.abc import Iterable

from apps.marketdata.selectors import latest_ticks
from apps.trading.selectors import enabled_symbols_in

Ticker = tuple[str, str]  # (venue, symbol)


def _by_venue(tickers: Iterable[Ticker]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for venue, symbol in tickers:
        grouped.setdefault(venue, []).append(symbol)
    return grouped


def unavailable_tickers(*, tickers: Iterable[Ticker]) -> set[Ticker]:
    """Those of ``tickers`` that have no enabled market on their venue (one query per
    venue)."""
    missing: set[Ticker] = set()
    for venue, symbols in _by_venue(tickers).items():
        enabled = enabled_symbols_in(venue=venue, symbols=symbols)
        missing.update((venue, symbol) for symbol in symbols if symbol not in enabled)
    return missing


def ticker_snapshots(*, tickers: Iterable[Ticker]) -> dict[Ticker, tuple[int | None, dict]]:
    """The latest cached quote of each ticker that has one: its ``seq`` (the live frame of
    that tick carries the same) and the quote as stream data (one cache read per venue)."""
    return {(venue, symbol): (seq, quote.to_dict())
            for venue, symbols in _by_venue(tickers).items()
            for symbol, (seq, quote) in latest_ticks(venue=venue, symbols=symbols).items()}
