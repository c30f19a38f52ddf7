"""Reads the stream consumer needs (synchronous: call through database_sync_to_async)."""
from apps.marketdata.selectors import latest_quotes
from apps.twelvedata import selectors as twelvedata_selectors


def unavailable_tickers(*, symbols: list[str]) -> set[str]:
    """Those of ``symbols`` that have no enabled market (one query)."""
    return set(symbols) - twelvedata_selectors.enabled_symbols_in(symbols=symbols)


def ticker_snapshots(*, symbols: list[str]) -> dict[str, dict]:
    """The latest cached quote of each symbol that has one, as stream data."""
    return {symbol: quote.to_dict()
            for symbol, quote in latest_quotes(symbols=symbols).items()}
