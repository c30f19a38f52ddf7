"""What the trader's pages show: enabled paper markets with their latest prices and the
change since the day's open, and a user's portfolio (balances valued in one currency,
holdings with average cost and P&L, orders and fills across venues). Reads only."""
import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import QuerySet

from apps.core import conf
from apps.core.errors import DomainError
from apps.core.money import EXACT
from apps.marketdata import books
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote, latest_quotes
from apps.trading import selectors as trading_selectors
from apps.trading.constants import MarketStatus, Side, Venue
from apps.trading.models import Fill, Market, Order
from apps.twelvedata import selectors as twd_selectors
from apps.twelvedata.models import TwdMarket
from apps.wallets.constants import WalletType
from apps.wallets.selectors import currency_decimals_map, wallet_list

PAGE_TYPES = {"forex": "Forex", "stocks": "Stocks", "indices": "Indices", "etf": "ETF",
              "crypto": "Crypto"}
_CENT = Decimal("0.01")


def change_percent(*, price: Decimal, base: Decimal | None) -> Decimal | None:
    """(price - base) / base in percent, rounded half up to 2 places (platform.js rounds
    the live figure the same way); None without a base."""
    if not base:
        return None
    change = EXACT.subtract(price, base)
    return (change * 100 / base).quantize(_CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MarketRow:
    market: TwdMarket
    quote: Quote | None
    day_open: Decimal | None

    @property
    def change_pct(self) -> Decimal | None:
        """Change of the last price since the day's open, in percent (2 dp)."""
        if self.quote is None:
            return None
        return change_percent(price=self.quote.price, base=self.day_open)


def day_open(*, symbol: str) -> Decimal | None:
    """The open of the market's current daily bar; None when the provider cannot be
    reached (the page then shows no change rather than breaking)."""
    try:
        bars = twd_selectors.candles(symbol=symbol, interval="1day", outputsize=1)
    except DomainError:
        return None
    return bars[-1]["open"] if bars else None


def market_rows(*, type: str) -> list[MarketRow]:
    markets = list(twd_selectors.market_list_enabled(type=type))
    quotes = latest_quotes(venue=Venue.PAPER, symbols=[m.symbol for m in markets])
    return [MarketRow(market=m, quote=quotes.get(m.symbol), day_open=day_open(symbol=m.symbol))
            for m in markets]


def switcher_markets() -> list[TwdMarket]:
    """Every enabled paper market, for the trade pages' symbol search."""
    return list(twd_selectors.market_list_enabled().order_by("symbol"))


def venue_pages() -> dict[str, str]:
    """The venues that run their own books (each market has an internal market page),
    venue -> its name in the navigation, in the venues' order."""
    return {venue.value: venue.value.capitalize() for venue in Venue
            if books.is_book_venue(venue.value)}


def venue_markets(*, venue: str) -> list[Market]:
    """The enabled markets of a book venue, for its list page (hot and trending first)."""
    return list(trading_selectors.markets_enabled(venue=venue))


def page_nav() -> dict[str, object]:
    """What every trade page's header shows: the paper list pages, the book venues' list
    pages and the symbol switcher's markets."""
    return {"page_types": PAGE_TYPES, "venue_pages": venue_pages(),
            "switcher": switcher_markets()}


# --- the portfolio ---------------------------------------------------------------------

@dataclass(frozen=True)
class BalanceRow:
    currency: str
    decimals: int  # the currency's, to show its amounts with
    balance: Decimal
    held: Decimal
    available: Decimal
    price: Decimal | None  # of one unit, in the valuation currency; None: no price known
    value: Decimal | None


@dataclass
class WalletTypeTotal:
    type: str
    label: str
    rows: list[BalanceRow] = field(default_factory=list)
    value: Decimal = Decimal(0)
    unpriced: list[str] = field(default_factory=list)  # currencies left out of ``value``


@dataclass(frozen=True)
class Holding:
    market: Market
    amount: Decimal         # base currency bought and still held, by this market's fills
    average_cost: Decimal   # quote currency paid per unit, fees included
    realized_pnl: Decimal   # in the quote currency
    last_price: Decimal | None
    unrealized_pnl: Decimal | None


def _unit_price(*, currency: str, valuation: str,
                quotes: dict[tuple[str, str], Decimal]) -> Decimal | None:
    """One ``currency`` in ``valuation``: itself, a direct market, or the inverse of one."""
    if currency == valuation:
        return Decimal(1)
    if (currency, valuation) in quotes:
        return quotes[(currency, valuation)]
    inverse = quotes.get((valuation, currency))
    return Decimal(1) / inverse if inverse else None


def _conversion_quotes(*, currencies: set[str], valuation: str) -> dict[tuple[str, str], Decimal]:
    """The latest price of every enabled market pairing a currency with the valuation
    currency, on any venue (the paper venue's first: its quotes are the most common)."""
    markets = (Market.objects.filter(status=MarketStatus.ENABLED)
               .filter(base_currency__in=currencies | {valuation},
                       quote_currency__in=currencies | {valuation})
               .order_by("venue"))
    prices: dict[tuple[str, str], Decimal] = {}
    for market in sorted(markets, key=lambda m: m.venue != Venue.PAPER):
        pair = (market.base_currency, market.quote_currency)
        if valuation not in pair or pair in prices:
            continue
        quote = latest_quote(venue=market.venue, symbol=market.symbol)
        if quote is not None and quote.price > 0:
            prices[pair] = quote.price
    return prices


def portfolio_balances(*, user_id: int, valuation: str | None = None) -> list[WalletTypeTotal]:
    """The user's wallets per wallet type, each valued in ``valuation`` (default
    PORTFOLIO_CURRENCY) at the latest price of a market pairing its currency with it.
    A currency with no such price is listed with no value and named in ``unpriced``: it
    is left out of its type's total, never counted as zero."""
    valuation = valuation or conf.PORTFOLIO_CURRENCY
    wallets = list(wallet_list(user_id=user_id).select_related("currency")
                   .order_by("type", "currency_id"))
    quotes = _conversion_quotes(currencies={w.currency_id for w in wallets},
                                valuation=valuation)
    places = Decimal(1).scaleb(-currency_places(code=valuation))
    labels = dict(WalletType.choices)
    totals: dict[str, WalletTypeTotal] = {}
    for wallet in wallets:
        total = totals.setdefault(wallet.type, WalletTypeTotal(
            type=wallet.type, label=labels.get(wallet.type, wallet.type)))
        price = _unit_price(currency=wallet.currency_id, valuation=valuation, quotes=quotes)
        value = None if price is None else (wallet.balance * price).quantize(places)
        total.rows.append(BalanceRow(
            currency=wallet.currency_id, decimals=wallet.currency.decimals,
            balance=wallet.balance, held=wallet.held, available=wallet.balance - wallet.held,
            price=price, value=value))
        if value is None:
            total.unpriced.append(wallet.currency_id)
        else:
            total.value += value
    return list(totals.values())


def portfolio_holdings(*, user_id: int) -> list[Holding]:
    """Per market the user traded (SQL venues: paper and spot), what its fills leave held:
    buys add their amount (less a fee taken in the base currency) at their cost (plus a
    fee taken in the quote currency); sells take from it at the average cost, their
    proceeds (less fees) against that cost being the realized P&L. The unrealized P&L
    values what is held at the market's latest price. Markets sold out are left out."""
    fills = (Fill.objects.filter(order__user_id=user_id)
             .select_related("order__market").order_by("executed_at", "id"))
    book: dict[int, dict] = defaultdict(lambda: {"amount": Decimal(0), "cost": Decimal(0),
                                                 "realized": Decimal(0), "market": None})
    for fill in fills:
        market = fill.order.market
        entry = book[market.pk]
        entry["market"] = market
        fee_in_base = fill.fee if fill.fee_currency == market.base_currency else 0
        fee_in_quote = fill.fee if fill.fee_currency == market.quote_currency else 0
        if fill.order.side == Side.BUY:
            entry["amount"] += fill.amount - fee_in_base
            entry["cost"] += fill.quote_amount + fee_in_quote
        elif entry["amount"] > 0:
            sold = min(fill.amount, entry["amount"])
            cost = entry["cost"] * sold / entry["amount"]
            entry["realized"] += fill.quote_amount - fee_in_quote - cost
            entry["amount"] -= sold
            entry["cost"] -= cost
    holdings = []
    for entry in book.values():
        market: Market = entry["market"]
        if entry["amount"] <= 0:
            continue
        places = Decimal(1).scaleb(-market.price_precision)
        average = (entry["cost"] / entry["amount"]).quantize(places, rounding=ROUND_HALF_UP)
        quote = latest_quote(venue=market.venue, symbol=market.symbol)
        last = quote.price if quote is not None else None
        unrealized = (None if last is None
                      else ((last * entry["amount"]) - entry["cost"]).quantize(_CENT))
        holdings.append(Holding(market=market, amount=entry["amount"], average_cost=average,
                                realized_pnl=entry["realized"].quantize(_CENT),
                                last_price=last, unrealized_pnl=unrealized))
    return sorted(holdings, key=lambda h: (h.market.venue, h.market.symbol))


def portfolio_orders(*, user_id: int, venue: str | None = None, symbol: str | None = None,
                     status: str | None = None, since: datetime.date | None = None,
                     until: datetime.date | None = None) -> QuerySet[Order]:
    """The user's orders on every SQL venue, newest first, with their market and fills,
    filtered by venue, market symbol, status and creation date (both days included)."""
    orders = (Order.objects.filter(user_id=user_id).select_related("market")
              .prefetch_related("fills").order_by("-created_at", "-id"))
    if venue:
        orders = orders.filter(venue=venue)
    if symbol:
        orders = orders.filter(market__symbol=symbol)
    if status:
        orders = orders.filter(status=status)
    # Day bounds as instants (UTC days): a __date lookup would need MariaDB's time zone
    # tables.
    if since:
        orders = orders.filter(created_at__gte=_day_start(since))
    if until and until < datetime.date.max:  # the last day has no next one (OverflowError)
        orders = orders.filter(created_at__lt=_day_start(until + datetime.timedelta(days=1)))
    return orders


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(), tzinfo=datetime.UTC)


def currency_places(*, code: str) -> int:
    """The decimals a currency is shown with (2 for one not in the table)."""
    return currency_decimals_map(codes=[code]).get(code, 2)
