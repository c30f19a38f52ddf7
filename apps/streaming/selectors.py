"""Reads the stream consumer needs (synchronous: call through database_sync_to_async)."""
from collections.abc import Iterable

from apps.futures import selectors as futures_selectors
from apps.marketdata import books
from apps.marketdata import streams as names
from apps.marketdata.selectors import latest_ticks
from apps.streaming.protocol import Stream
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


def unavailable_streams(*, streams: Iterable[Stream]) -> list[str]:
    """The names of those public ``streams`` that have no enabled market on their venue,
    or are book streams (``depth@``, ``trades@``) of a venue that runs no books, or mark
    streams (``mark@``) of a venue without marks."""
    streams = list(streams)
    missing = unavailable_tickers(tickers=[(s.venue, s.symbol) for s in streams])
    return sorted(s.name for s in streams if (s.venue, s.symbol) in missing
                  or (s.kind in names.BOOK_STREAMS and not books.is_book_venue(s.venue))
                  or (s.kind == names.MARK and not names.is_mark_venue(s.venue)))


def snapshots(*, streams: Iterable[Stream]) -> dict[str, tuple[int | None, dict]]:
    """The latest state of each public stream that has one, by name: a ticker's latest
    quote, a depth stream's book, a trades stream's recent trades, a mark stream's latest
    tick; with the ``seq`` of the live frame it is as of."""
    streams = list(streams)
    found: dict[str, tuple[int | None, dict]] = {}
    tickers = {(s.venue, s.symbol): s.name for s in streams if s.kind == "ticker"}
    if tickers:
        for ticker, snapshot in ticker_snapshots(tickers=list(tickers)).items():
            found[tickers[ticker]] = snapshot
    for stream in streams:
        if stream.kind == names.MARK:
            state = names.mark_state(venue=stream.venue, symbol=stream.symbol)
        elif stream.kind != "ticker":
            state = books.book_state(kind=stream.kind, venue=stream.venue, symbol=stream.symbol)
        else:
            continue
        if state is not None:
            found[stream.name] = state
    return found


def private_snapshots(*, user_id: int, streams: Iterable[Stream]) -> dict[str, dict]:
    """The current state of those private ``streams`` that have one, by name: the user's
    open futures positions for ``positions`` (``{"positions": [item, ...]}``)."""
    if any(s.name == names.POSITIONS for s in streams):
        return {names.POSITIONS: {"positions": futures_selectors.positions_data(
            user_id=user_id)}}
    return {}
