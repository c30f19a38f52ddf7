"""What the trader's pages show: enabled paper markets with their latest prices."""
from dataclasses import dataclass
from decimal import Decimal

from apps.core.errors import DomainError
from apps.core.money import EXACT
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quotes
from apps.trading.constants import Venue
from apps.twelvedata import selectors as twd_selectors
from apps.twelvedata.models import TwdMarket

PAGE_TYPES = {"forex": "Forex", "stocks": "Stocks", "indices": "Indices"}


@dataclass(frozen=True)
class MarketRow:
    market: TwdMarket
    quote: Quote | None
    previous_close: Decimal | None

    @property
    def change_pct(self) -> Decimal | None:
        """Change of the last price against the previous daily close, in percent (2 dp)."""
        if self.quote is None or not self.previous_close:
            return None
        change = EXACT.subtract(self.quote.price, self.previous_close)
        return (change * 100 / self.previous_close).quantize(Decimal("0.01"))


def _previous_close(symbol: str) -> Decimal | None:
    # The day before the last daily bar; an unreachable provider shows no change rather
    # than breaking the page.
    try:
        bars = twd_selectors.candles(symbol=symbol, interval="1day", outputsize=2)
    except DomainError:
        return None
    return bars[-2]["close"] if len(bars) >= 2 else None


def market_rows(*, type: str) -> list[MarketRow]:
    markets = list(twd_selectors.market_list_enabled(type=type))
    quotes = latest_quotes(venue=Venue.PAPER, symbols=[m.symbol for m in markets])
    return [MarketRow(market=m, quote=quotes.get(m.symbol),
                      previous_close=_previous_close(m.symbol)) for m in markets]
