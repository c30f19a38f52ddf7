"""The paper venue: simulated fills against TwelveData's quotes, on the trading core.

``PaperGateway`` is the venue's ``VenueGateway``; ``fill_crossing`` fills the resting orders
a quote crosses. Paper fills trade with the PAPER_MARKET system account.

Execution rules:
- A MARKET order fills at once against the latest quote if it is fresh (ask for a buy, bid
  for a sell, the last price where the feed has no book) as TAKER.
- Conditional orders are the platform's (``conditional_types`` is empty): each quote runs
  ``trading.services.conditional_trigger`` before the resting orders are filled, on the
  last price (``trigger_source`` LAST, the default) or the bid/ask (BID_ASK). A triggered
  order works as ``executes_as(type)``: a limit child as a LIMIT order (it may fill at
  once, else rests); it executes against the quote that fired it; a market child fills
  at the market however far it gapped through the trigger, a BUY only the whole lots its
  hold covers at that price (the rest EXPIRED, the reason says so).
- A LIMIT order that the latest fresh quote already crosses fills at once at the quote's
  price (price improvement, as on a real venue) as TAKER; otherwise it rests (GTC), or
  expires (IOC, FOK). A post-only order that would cross is rejected.
- A resting LIMIT fills at its limit price as MAKER when a quote crosses it (buy: ask <=
  limit; sell: bid >= limit), if that quote is fresh and newer than the time the order
  began to work (``trading.selectors.order_live_since``: placed, fired, or its bracket's
  entry filled).
- Where the quote gives sizes (``ask_size``/``bid_size``), a quote fills at most that much
  (oldest orders first, whole lots): the rest waits for the next quote, so orders fill
  partially; FOK expires unless its whole amount is there. The children a quote fires
  take from its sizes first, the resting orders it crosses share what they leave. Without
  sizes (TwelveData's feed) a crossing quote fills the whole order.
"""
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from django.core.cache import cache

from apps.core import conf
from apps.core.errors import Conflict, NotFound
from apps.marketdata.quotes import Quote
from apps.marketdata.selectors import latest_quote
from apps.trading import selectors as trading_selectors
from apps.trading import services as trading_services
from apps.trading.constants import (
    Liquidity,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TriggerSource,
    Venue,
    executes_as,
)
from apps.trading.models import Market, Order
from apps.trading.services import rules
from apps.trading.stores import store_for
from apps.trading.venues import Execution, Submission
from apps.wallets import selectors as wallet_selectors
from apps.wallets import services as wallet_services
from apps.wallets.constants import SystemAccount

log = structlog.get_logger(__name__)


def paper_account_ensure(*, user_id: int) -> None:
    """Grant the demo balance on a user's first paper action (once: keyed per user)."""
    key = f"paper:grant:{user_id}"
    # Asked on every order: the shared cache answers the many repeats without a query.
    if cache.get(key):
        return
    if wallet_selectors.journal_exists(key=key):
        cache.set(key, True, timeout=3600)
        return
    wallet_services.grant_paper_funds(
        user_id=user_id, currency=conf.PAPER_DEMO_CURRENCY,
        amount=Decimal(conf.PAPER_DEMO_BALANCE), key=key)


def is_fresh(quote: Quote) -> bool:
    return quote.age_seconds() <= conf.PAPER_QUOTE_MAX_AGE_SECONDS


def fresh_quote(symbol: str) -> Quote | None:
    quote = latest_quote(venue=Venue.PAPER, symbol=symbol)
    return quote if quote is not None and is_fresh(quote) else None


def taker_price(side: str, quote: Quote) -> Decimal:
    if side == Side.BUY:
        return quote.ask if quote.ask is not None else quote.price
    return quote.bid if quote.bid is not None else quote.price


def crosses(*, side: str, limit: Decimal, quote: Quote) -> bool:
    return (taker_price(side, quote) <= limit if side == Side.BUY
            else taker_price(side, quote) >= limit)


def _size(side: str, quote: Quote) -> Decimal | None:
    """What the quote offers to an order of ``side`` (None: the feed gives no size)."""
    return quote.ask_size if side == Side.BUY else quote.bid_size


# What is left of a quote's sizes, per side of the orders taking them (None: no size).
Budgets = dict[str, Decimal | None]


def _budgets(quote: Quote | None) -> Budgets:
    if quote is None:
        return {Side.BUY: None, Side.SELL: None}
    return {Side.BUY: _size(Side.BUY, quote), Side.SELL: _size(Side.SELL, quote)}


def _available(budgets: Budgets, *, side: str, wanted: Decimal, market: Market) -> Decimal:
    """As much of ``wanted`` as what is left of the quote's size for ``side`` offers
    (whole lots)."""
    budget = budgets[side]
    return wanted if budget is None else min(wanted, _whole_lots(budget, market))


def _spend(budgets: Budgets, *, side: str, amount: Decimal) -> None:
    """Take ``amount`` (filled) from what is left of the quote's size for ``side``."""
    if budgets[side] is not None:
        budgets[side] -= amount


def _whole_lots(amount: Decimal, market: Market) -> Decimal:
    return (amount // market.lot_size) * market.lot_size


def _execution(*, price: Decimal, amount: Decimal, liquidity: str, quote: Quote) -> Execution:
    return Execution(price=price, amount=amount, liquidity=liquidity,
                     executed_at=datetime.now(UTC), evidence={"quote": quote.to_dict()})


class PaperGateway:
    """The paper venue as the trading core sees it: synchronous, simulated against the
    latest TwelveData quote, PAPER_MARKET on the other side."""

    venue = Venue.PAPER
    synchronous = True
    counterparty = SystemAccount.PAPER_MARKET
    conditional_types: frozenset[str] = frozenset()
    trigger_sources = frozenset({TriggerSource.LAST, TriggerSource.BID_ASK})
    # A budget order's amount is what its budget buys at the ask it fills at (its
    # reference price): it fills as a MARKET BUY of that amount.
    quote_budget = True

    def reference_price(self, *, market: Market, side: str) -> Decimal:
        return taker_price(side, self.trigger_quote(market=market))

    def trigger_quote(self, *, market: Market) -> Quote:
        quote = fresh_quote(market.symbol)
        if quote is None:
            raise Conflict(f"No fresh price for {market.symbol}; try again shortly.",
                           code="stale_quote")
        return quote

    def before_place(self, *, user_id: int) -> None:
        paper_account_ensure(user_id=user_id)

    def submit(self, *, order: Order, market: Market) -> Submission:
        quote = fresh_quote(market.symbol)
        return _submit(order=order, market=market, quote=quote, budgets=_budgets(quote))

    def cancel(self, *, order: Order, market: Market) -> Submission:
        return Submission(status=OrderStatus.CANCELED)

    def fetch(self, *, order: Order, market: Market) -> Submission:
        # Nothing lives outside the core's own rows: the order is what it says.
        return Submission(status=order.status)


def _submit(*, order: Order, market: Market, quote: Quote | None,
            budgets: Budgets) -> Submission:
    """``order`` executed against ``quote`` (None: no fresh one), taking from
    ``budgets`` (what is left of the quote's sizes) what it fills."""
    reference = order.reference_price
    market_child = executes_as(order.type) == OrderType.MARKET
    if market_child and quote is None:
        raise Conflict(f"No fresh price for {market.symbol}; try again shortly.",
                       code="stale_quote")
    if market_child and order.triggered_at is not None:
        return _market_child(order=order, market=market, quote=quote, budgets=budgets)
    # A MARKET order crosses at the price it was held at, a LIMIT at its limit: a tick
    # since then never fills it beyond what its hold covers.
    crossed = quote is not None and crosses(side=order.side, limit=reference, quote=quote)
    if crossed and order.post_only:
        return Submission(status=OrderStatus.REJECTED,
                          reason="A post-only order may not take liquidity: the price "
                                 "would fill it at once.")
    if not crossed and market_child:
        return Submission(status=OrderStatus.EXPIRED,
                          reason=f"The price moved beyond {reference.normalize():f} "
                                 f"while the order was placed.")
    resting = OrderStatus.OPEN if order.time_in_force == TimeInForce.GTC else None
    if not crossed:
        return Submission(status=resting or OrderStatus.EXPIRED,
                          reason="" if resting else "Nothing to match at once.")
    amount = _available(budgets, side=order.side, wanted=order.remaining, market=market)
    if amount <= 0 or (order.time_in_force == TimeInForce.FOK
                       and amount < order.remaining):
        return Submission(status=resting or OrderStatus.EXPIRED,
                          reason="" if resting else "Not enough at the price to fill.")
    _spend(budgets, side=order.side, amount=amount)
    left = resting or OrderStatus.EXPIRED
    return Submission(
        status=OrderStatus.FILLED if amount == order.remaining else left,
        reason="" if amount == order.remaining or resting else "Filled in part; the rest "
                                                              "expired.",
        executions=(_execution(price=taker_price(order.side, quote), amount=amount,
                               liquidity=Liquidity.TAKER, quote=quote),))


def _market_child(*, order: Order, market: Market, quote: Quote,
                  budgets: Budgets) -> Submission:
    """A triggered order's MARKET child: it fills at the market (a gap through the
    trigger fills beyond it), as much as is left of the quote's size; a BUY as much as
    its hold covers at that price (``rules.covered_amount``). What does not fill EXPIRES
    (all of it for FOK, unless the whole amount fills)."""
    price = taker_price(order.side, quote)
    amount = _available(budgets, side=order.side, wanted=order.remaining, market=market)
    reason = ""
    if order.side == Side.BUY:
        covered = rules.covered_amount(amount=amount, reference=order.reference_price,
                                       price=price, lot=market.lot_size)
        if covered < amount:
            amount = covered
            reason = (f"The price gapped to {price.normalize():f}, beyond the "
                      f"{order.reference_price.normalize():f} its hold covers: "
                      f"{'the rest' if covered else 'it'} expired.")
    if amount <= 0 or (order.time_in_force == TimeInForce.FOK and amount < order.remaining):
        return Submission(status=OrderStatus.EXPIRED,
                          reason=reason or "Not enough at the price to fill.")
    _spend(budgets, side=order.side, amount=amount)
    if amount < order.remaining:
        return Submission(status=OrderStatus.EXPIRED,
                          reason=reason or "Filled in part; the rest expired.",
                          executions=(_execution(price=price, amount=amount,
                                                 liquidity=Liquidity.TAKER, quote=quote),))
    return Submission(status=OrderStatus.FILLED,
                      executions=(_execution(price=price, amount=amount,
                                             liquidity=Liquidity.TAKER, quote=quote),))


def _matcher(*, quote: Quote, market: Market,
             budgets: Budgets) -> Callable[[], trading_services.MatchResting]:
    """A factory of matchers of resting orders against ``quote``. Each matcher shares
    what is left of the quote's sizes (``budgets``, after the children the quote fired)
    among the orders it is shown (oldest first); a retry after a failed batch starts from
    what the failed attempt left, never from more (so a quote's size is never used
    twice)."""

    def matcher() -> trading_services.MatchResting:
        def match(order: Order) -> Submission | None:
            if (not crosses(side=order.side, limit=order.price, quote=quote)
                    or trading_selectors.order_live_since(order=order) >= quote.timestamp):
                return None
            amount = _available(budgets, side=order.side, wanted=order.remaining,
                                market=market)
            if amount <= 0:
                return None
            _spend(budgets, side=order.side, amount=amount)
            return Submission(
                status=(OrderStatus.FILLED if amount == order.remaining
                        else OrderStatus.PARTIALLY_FILLED),
                executions=(_execution(price=order.price, amount=amount,
                                       liquidity=Liquidity.MAKER, quote=quote),))
        return match

    return matcher


def _first_offer(quote: Quote) -> bool:
    """Whether ``quote`` (one with sizes) reaches the executor for the first time: its
    sizes may be taken once, though the sweep re-offers the latest quote and two executors
    may get the same tick. Claimed in the shared cache for as long as the quote is fresh."""
    digest = hashlib.sha256(json.dumps(quote.to_dict(), sort_keys=True).encode()).hexdigest()
    fresh_for = conf.PAPER_QUOTE_MAX_AGE_SECONDS - quote.age_seconds()
    return cache.add(f"paper:offered:{digest}", 1, timeout=int(fresh_for) + 1)


def fill_crossing(*, quote: Quote) -> int:
    """Trigger the conditional paper orders of ``quote.symbol`` that the quote fires
    (``trading.services.conditional_trigger``: a triggered limit child may then rest and
    fill as any), then fill the resting orders the quote crosses; returns how many
    orders got a fill or fired. A quote older than PAPER_QUOTE_MAX_AGE_SECONDS does
    neither, and none fires or fills an order placed after the quote's time.

    The crossing orders are found by one indexed range query and filled in batches of
    PAPER_FILL_BATCH orders, each batch one transaction (``trading.services.fill_resting``:
    order rows locked, fills settled in one ledger batch, exactly once per fill). A quote
    with sizes is matched in one batch, so its size is shared in order (the children it
    fired first), and once (a replay of it fires and fills nothing: ``_first_offer``). An
    order that cannot settle is set aside and never holds up the others.
    """
    if quote.venue != Venue.PAPER:  # another venue's price of a symbol paper trades too
        return 0
    if not is_fresh(quote):
        log.warning("paper_stale_quote_ignored", symbol=quote.symbol,
                    timestamp=quote.timestamp.isoformat())
        return 0
    try:
        market = trading_selectors.market_get_enabled(venue=Venue.PAPER, symbol=quote.symbol)
    except NotFound:  # not a market we trade (any more): nothing to fill
        return 0
    sized = quote.ask_size is not None or quote.bid_size is not None
    if sized and not _first_offer(quote):
        # Its sizes were offered once: a child it fired now would take them again.
        return 0
    # Triggers first, on every offer of a quote without sizes: firing is idempotent (each
    # order's row decides), and a sweep's replay is how a deferred trigger is retried.
    # A fired order executes against this quote and takes from its sizes first.
    budgets = _budgets(quote)
    fired = trading_services.conditional_trigger(
        market=market, quote=quote,
        execute=lambda order: _submit(order=order, market=market, quote=quote,
                                      budgets=budgets))
    ids = store_for(Venue.PAPER).crossing_ids(
        market=market, buy_at_or_above=taker_price(Side.BUY, quote),
        sell_at_or_below=taker_price(Side.SELL, quote), placed_before=quote.timestamp)
    batch = len(ids) if sized else conf.PAPER_FILL_BATCH
    matcher = _matcher(quote=quote, market=market, budgets=budgets)
    filled = 0
    for start in range(0, len(ids), max(batch, 1)):
        filled += trading_services.fill_resting(market=market, order_ids=ids[start:start + batch],
                                                matcher=matcher)
    if filled:
        log.info("paper_orders_filled", symbol=quote.symbol, count=filled)
    return fired + filled


def sweep(*, enqueue: Callable[[Quote], None]) -> int:
    """The safety net: hand every enabled paper market's fresh quote to ``enqueue``.
    Returns the number of markets swept."""
    count = 0
    for symbol in trading_selectors.markets_enabled(venue=Venue.PAPER).values_list(
            "symbol", flat=True):
        quote = fresh_quote(symbol)
        if quote is not None:
            enqueue(quote)
            count += 1
    return count
