"""The spot venue's prices: the exchange's tickers for the enabled spot markets, published
to the quote bus under the spot venue.

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
from decimal import Decimal, InvalidOperation

import ccxt
import structlog

from apps.marketdata.quotes import Quote
from apps.spot import exchange as exchanges
from apps.spot import selectors
from apps.trading.constants import Venue

log = structlog.get_logger(__name__)


def _decimal(value: object) -> Decimal | None:
    # ccxt parses numbers to float; str() gives back the exchange's short decimal.
    if value is None or isinstance(value, bool):
        return None
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        return None
    return result if result.is_finite() and result > 0 else None


def quote_from_ticker(*, symbol: str, ticker: dict, source: str) -> Quote | None:
    """A ccxt ticker as the spot market ``symbol``'s quote; None without a price."""
    price = _decimal(ticker.get("last")) or _decimal(ticker.get("close"))
    if price is None:
        return None
    ms = ticker.get("timestamp")
    when = (datetime.fromtimestamp(ms / 1000, UTC) if isinstance(ms, int | float)
            else datetime.now(UTC))
    return Quote(venue=Venue.SPOT, symbol=symbol, price=price, timestamp=when, source=source,
                 bid=_decimal(ticker.get("bid")), ask=_decimal(ticker.get("ask")),
                 bid_size=_decimal(ticker.get("bidVolume")),
                 ask_size=_decimal(ticker.get("askVolume")))


def enabled() -> dict[str, str]:
    """The enabled spot markets: ccxt symbol -> the platform's symbol."""
    return {m.ccxt_symbol: m.market.symbol for m in selectors.market_list_enabled()}


def poll(*, publish: Callable[[Quote], None]) -> int:
    """Publish the current ticker of every enabled spot market; returns how many. Raises
    ccxt's errors."""
    symbols = enabled()
    if not symbols:
        return 0
    ex = exchanges.client()
    count = 0
    for ccxt_symbol, ticker in ex.fetch_tickers(list(symbols)).items():
        symbol = symbols.get(ccxt_symbol)
        quote = symbol and quote_from_ticker(symbol=symbol, ticker=ticker,
                                             source=f"{ex.id}:rest")
        if quote is not None:
            publish(quote)
            count += 1
    return count


class PriceStream:
    """``run(stop=)`` blocks until ``stop`` is set, publishing the enabled markets'
    tickers as they stream (ccxt.pro) or every ``poll_seconds`` (polling)."""

    def __init__(self, *, publish: Callable[[Quote], None], refresh_seconds: float = 30,
                 poll_seconds: float = 2, max_backoff_seconds: float = 30) -> None:
        self.publish = publish
        self.refresh_seconds = refresh_seconds
        self.poll_seconds = poll_seconds
        self.max_backoff_seconds = max_backoff_seconds

    def run(self, *, stop: threading.Event) -> None:
        asyncio.run(self._run(stop))

    async def _run(self, stop: threading.Event) -> None:
        backoff = 1.0
        while not stop.is_set():
            try:
                await self._stream(stop)
                backoff = 1.0
            except Exception:
                log.warning("spot_price_stream_failed", exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_seconds)

    async def _stream(self, stop: threading.Event) -> None:
        import ccxt.pro

        provider = await asyncio.to_thread(selectors.provider_active)
        pro = exchanges.build(provider, module=ccxt.pro)
        try:
            if not pro.has.get("watchTickers"):
                await self._poll(stop)
                return
            await pro.load_markets()
            loop = asyncio.get_running_loop()
            while not stop.is_set():
                symbols = await asyncio.to_thread(enabled)
                if not symbols:
                    await asyncio.sleep(self.poll_seconds)
                    continue
                deadline = loop.time() + self.refresh_seconds
                while not stop.is_set() and loop.time() < deadline:
                    try:
                        tickers = await asyncio.wait_for(
                            pro.watch_tickers(list(symbols), {"name": "ticker"}),
                            timeout=self.refresh_seconds)
                    except TimeoutError:
                        continue
                    for ccxt_symbol, ticker in tickers.items():
                        quote = symbols.get(ccxt_symbol) and quote_from_ticker(
                            symbol=symbols[ccxt_symbol], ticker=ticker, source=f"{pro.id}:ws")
                        if quote is not None:
                            await asyncio.to_thread(self.publish, quote)
        finally:
            await pro.close()

    async def _poll(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(poll, publish=self.publish)
            except ccxt.BaseError:
                log.warning("spot_price_poll_failed", exc_info=True)
            await asyncio.sleep(self.poll_seconds)
