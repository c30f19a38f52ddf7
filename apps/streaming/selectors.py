"""Reads the stream consumer needs (synchronous: call through database_sync_to_async)."""
from apps.marketdata.selectors import latest_ticks
from apps.twelvedata import selectors as twelvedata_selectors


def unavailable_tickers(*, symbols: list[str]) -> set[str]:
    """Those of ``symbols`` that have no enabled market (one query)."""
    return set(symbols) - twelvedata_selectors.enabled_symbols_in(symbols=symbols)


def ticker_snapshots(*, symbols: list[str]) -> dict[str, tuple[int | None, dict]]:
    """The latest cached quote of each symbol that has one: its ticker ``seq`` (the live
    frame of that tick carries the same) and the quote as stream data."""
    return {symbol: (seq, quote.to_dict())
            for symbol, (seq, quote) in latest_ticks(symbols=symbols).items()}
