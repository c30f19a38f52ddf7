"""The spot venue's prices: the exchange's tickers for the enabled spot markets, published
to the quote bus under the spot venue, and their order books as ``depth@spot:<symbol>``
snapshots (``book_publish``), which the market page (/market/spot/<symbol>/) shows.

``poll`` reads them once (``fetch_tickers``, one request); ``PriceStream`` keeps them
coming from ccxt.pro's ``watch_tickers`` (the exchange's ticker streams, with bid and ask)
and falls back to polling every ``poll_seconds`` where the exchange streams none or the
stream fails. The enabled markets are re-read every ``refresh_seconds``; no error ends the
stream (logged, retried with backoff).
"""
import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime

import ccxt
import structlog

from apps.core.money import positive_decimal
from apps.marketdata import books
from apps.marketdata.quotes import Quote
from apps.matching.book import depth_checksum
from apps.matching.types import DepthSnapshot, MarketSpec, PrecisionError
from apps.spot import exchange as exchanges
from apps.spot import selectors
from apps.trading.constants import Venue
from apps.trading.models import Market

log = structlog.get_logger(__name__)


def quote_from_ticker(*, symbol: str, ticker: dict, source: str) -> Quote | None:
    """A ccxt ticker as the spot market ``symbol``'s quote; None without a price."""
    price = positive_decimal(ticker.get("last")) or positive_decimal(ticker.get("close"))
    if price is None:
        return None
    ms = ticker.get("timestamp")
    when = (datetime.fromtimestamp(ms / 1000, UTC) if isinstance(ms, int | float)
            else datetime.now(UTC))
    return Quote(venue=Venue.SPOT, symbol=symbol, price=price, timestamp=when, source=source,
                 bid=positive_decimal(ticker.get("bid")), ask=positive_decimal(ticker.get("ask")),
                 bid_size=positive_decimal(ticker.get("bidVolume")),
                 ask_size=positive_decimal(ticker.get("askVolume")))


def enabled() -> dict[str, Market]:
    """The enabled spot markets by ccxt symbol."""
    return {m.spot.ccxt_symbol: m for m in selectors.markets_enabled()}


def poll(*, publish: Callable[[Quote], None]) -> int:
    """Publish the current ticker of every enabled spot market; returns how many. Raises
    ccxt's errors."""
    markets = enabled()
    if not markets:
        return 0
    ex = exchanges.client()
    count = 0
    for ccxt_symbol, ticker in ex.fetch_tickers(list(markets)).items():
        market = markets.get(ccxt_symbol)
        quote = market and quote_from_ticker(symbol=market.symbol, ticker=ticker,
                                             source=f"{ex.id}:rest")
        if quote is not None:
            publish(quote)
            count += 1
    return count


def depth_of(*, market: Market, book: dict, seq: int) -> DepthSnapshot | None:
    """A ccxt order book as the market's depth snapshot (top DEPTH_LEVELS per side, in
    the market's ticks and lots, with its checksum); None if a level is off the market's
    steps (the exchange's and the platform's steps differ: the import is stale)."""
    spec = MarketSpec(market_id=str(market.pk), tick_size=market.tick_size,
                      lot_size=market.lot_size)
    try:
        sides = [tuple((spec.to_ticks(positive_decimal(price)), spec.to_lots(positive_decimal(qty)))
                       for price, qty, *_ in levels[:books.DEPTH_LEVELS]
                       if positive_decimal(price) and positive_decimal(qty))
                 for levels in (book.get("bids") or [], book.get("asks") or [])]
    except PrecisionError:
        log.warning("spot_book_off_steps", symbol=market.symbol)
        return None
    bids, asks = sides
    return DepthSnapshot(seq=seq, bids=bids, asks=asks, checksum=depth_checksum(bids, asks))


def book_publish(*, market: Market, book: dict, seq: int) -> bool:
    """Publish the exchange's order book of ``market`` as a ``depth@spot:<symbol>``
    snapshot (each replaces the subscribers' book). Returns whether it was published."""
    depth = depth_of(market=market, book=book, seq=seq)
    if depth is None:
        return False
    spec = MarketSpec(market_id=str(market.pk), tick_size=market.tick_size,
                      lot_size=market.lot_size)
    books.depth_snapshot_set(venue=Venue.SPOT, symbol=market.symbol, spec=spec, depth=depth)
    return True


class PriceStream:
    """``run(stop=)`` blocks until ``stop`` is set, publishing the enabled markets'
    tickers as they stream (ccxt.pro) or every ``poll_seconds`` (polling), and with
    ``books`` their order books (ccxt.pro ``watch_order_book``)."""

    def __init__(self, *, publish: Callable[[Quote], None], refresh_seconds: float = 30,
                 poll_seconds: float = 2, max_backoff_seconds: float = 30,
                 books: bool = True) -> None:
        self.publish = publish
        self.books = books
        self.refresh_seconds = refresh_seconds
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds

    def run(self, *, stop: threading.Event) -> None:
        exchanges.run_streaming(self._stream, stop=stop, event="spot_price_stream_failed",
                                max_backoff_seconds=self.max_backoff_seconds)

    async def _stream(self, pro, stop: threading.Event) -> None:
        if not pro.has.get("watchTickers"):
            await self._poll(stop)
            return
        await pro.load_markets()
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            markets = await asyncio.to_thread(enabled)
            if not markets:
                await asyncio.sleep(self.poll_seconds)
                continue
            deadline = loop.time() + self.refresh_seconds
            watching = [self._tickers(pro, markets, stop, deadline)]
            if self.books and pro.has.get("watchOrderBook"):
                watching += [self._book(pro, ccxt_symbol, market, stop, deadline)
                             for ccxt_symbol, market in markets.items()]
            await asyncio.gather(*watching)

    async def _tickers(self, pro, markets: dict[str, Market], stop: threading.Event,
                       deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set() and loop.time() < deadline:
            try:
                tickers = await asyncio.wait_for(
                    pro.watch_tickers(list(markets), {"name": "ticker"}),
                    timeout=max(deadline - loop.time(), 0.1))
            except TimeoutError:
                continue
            for ccxt_symbol, ticker in tickers.items():
                quote = ccxt_symbol in markets and quote_from_ticker(
                    symbol=markets[ccxt_symbol].symbol, ticker=ticker, source=f"{pro.id}:ws")
                if quote is not None:
                    await asyncio.to_thread(self.publish, quote)

    async def _book(self, pro, ccxt_symbol: str, market: Market, stop: threading.Event,
                    deadline: float) -> None:
        loop = asyncio.get_running_loop()
        seq = 0
        while not stop.is_set() and loop.time() < deadline:
            try:
                book = await asyncio.wait_for(pro.watch_order_book(ccxt_symbol),
                                              timeout=max(deadline - loop.time(), 0.1))
            except TimeoutError:
                continue
            seq += 1
            await asyncio.to_thread(book_publish, market=market, book=book,
                                    seq=book.get("nonce") or seq)

    async def _poll(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(poll, publish=self.publish)
            except ccxt.BaseError:
                log.warning("spot_price_poll_failed", exc_info=True)
            await asyncio.sleep(self.poll_seconds)
