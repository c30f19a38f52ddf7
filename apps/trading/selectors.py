"""Reads of the trading core: markets and orders of every venue."""
import copy
from collections.abc import Iterable
from datetime import datetime

from django.db.models import Prefetch, QuerySet

from apps.core.errors import Conflict, NotFound
from apps.trading.constants import MarketStatus, OrderRole, OrderStatus
from apps.trading.models import Fill, Market, Order, OrderList
from apps.wallets import selectors as wallet_selectors


def market_for_trading(*, venue: str, symbol: str) -> Market:
    """The market ``symbol`` of ``venue`` if orders may be placed in it now. The symbol
    is compared exactly in Python too (a database folding case must not match a
    look-alike). Raises NotFound (unknown or disabled), Conflict (halted or delisted)."""
    market = Market.objects.filter(venue=venue, symbol=symbol).first()
    _tradeable(market, venue=venue, symbol=symbol)
    return market


def _tradeable(market: Market | None, *, venue: str, symbol: str) -> None:
    if market is None or market.symbol != symbol or market.status == MarketStatus.DISABLED:
        raise NotFound(f"No enabled {venue} market {symbol!r}.", code="unknown_market")
    if market.status != MarketStatus.ENABLED:
        raise Conflict(f"Trading in {symbol} is halted." if market.status == MarketStatus.HALTED
                       else f"{symbol} is {market.get_status_display().lower()}.",
                       code=f"market_{market.status}")


# The fields an order's checks and terms use: a cached market is good while these are.
TRADING_FIELDS = ("venue", "symbol", "base_currency", "quote_currency", "tick_size",
                  "lot_size", "min_amount", "max_amount", "min_notional", "max_notional",
                  "maker_fee", "taker_fee", "status")
# Per process: (venue, symbol) -> (market, its quote currency's decimals), for placing
# orders without reading them each time. It may be stale (another process's admin edit):
# the placer confirms it under the order insert's lock (``market_unchanged``).
_placing: dict[tuple[str, str], tuple[Market, int]] = {}


def market_for_placing(*, venue: str, symbol: str,
                       cached: bool = True) -> tuple[Market, int, bool]:
    """``market_for_trading``'s market, its quote currency's decimals, and whether they
    came from this process's cache (``cached``: look there first; a miss reads both in
    one query and remembers them). A cached pair may be stale: the caller confirms it
    with ``services.orders.market_unchanged(market, decimals=...)`` inside its
    transaction and, if that raises, asks again with ``cached=False``. Each call returns
    its own copy of the market. Raises NotFound (unknown or disabled), Conflict (halted
    or delisted)."""
    key = (venue, symbol)
    hit = _placing.get(key) if cached else None
    if hit is not None:
        return copy.copy(hit[0]), hit[1], True
    market = (Market.objects.filter(venue=venue, symbol=symbol)
              .annotate(quote_decimals=wallet_selectors.currency_decimals_subquery(
                  code_field="quote_currency")).first())
    _tradeable(market, venue=venue, symbol=symbol)
    if market.quote_decimals is None:
        raise NotFound(f"Unknown currency {market.quote_currency!r}.",
                       code="unknown_currency")
    _placing[key] = (copy.copy(market), market.quote_decimals)
    return market, market.quote_decimals, False


def market_forget(*, venue: str | None = None, symbol: str | None = None) -> None:
    """Drop this process's cached market ``(venue, symbol)`` (all of them if not given):
    on every save or delete of a market, and when a placer found it stale."""
    if venue is None or symbol is None:
        _placing.clear()
    else:
        _placing.pop((venue, symbol), None)


def market_get_enabled(*, venue: str, symbol: str) -> Market:
    """The enabled market ``symbol`` of ``venue``. Raises NotFound."""
    market = Market.objects.filter(venue=venue, symbol=symbol,
                                   status=MarketStatus.ENABLED).first()
    if market is None or market.symbol != symbol:
        raise NotFound(f"No enabled {venue} market {symbol!r}.", code="unknown_market")
    return market


def markets_enabled(*, venue: str) -> QuerySet[Market]:
    """The enabled markets of ``venue``, hot and trending first."""
    return (Market.objects.filter(venue=venue, status=MarketStatus.ENABLED)
            .order_by("-is_hot", "-is_trending", "symbol"))


def enabled_symbols_in(*, venue: str, symbols: Iterable[str]) -> set[str]:
    """Those of ``symbols`` that name an enabled market of ``venue`` (one query)."""
    wanted = set(symbols)
    found = Market.objects.filter(venue=venue, status=MarketStatus.ENABLED,
                                  symbol__in=list(wanted)).values_list("symbol", flat=True)
    return {symbol for symbol in found if symbol in wanted}


def order_list(*, user_id: int, venue: str, status: str | None = None,
               symbol: str | None = None) -> QuerySet[Order]:
    """The user's orders on ``venue``, newest first, with their market and fills."""
    orders = (Order.objects.filter(user_id=user_id, venue=venue).select_related("market")
              .prefetch_related("fills").order_by("-id"))
    if status:
        orders = orders.filter(status=status)
    return orders.filter(market__symbol=symbol) if symbol else orders


def order_lists(*, user_id: int, venue: str, kind: str | None = None,
                symbol: str | None = None) -> QuerySet[OrderList]:
    """The user's order lists (OCO, bracket) on ``venue``, newest first, each with its
    market and its orders (id order, with their market and fills)."""
    lists = (OrderList.objects.filter(user_id=user_id, venue=venue)
             .select_related("market").order_by("-id")
             .prefetch_related(Prefetch("orders", queryset=Order.objects.select_related(
                 "market").prefetch_related("fills").order_by("id"))))
    if kind:
        lists = lists.filter(kind=kind)
    return lists.filter(market__symbol=symbol) if symbol else lists


def order_list_get(*, user_id: int, venue: str, list_id: int) -> OrderList:
    """The user's order list ``list_id`` on ``venue`` (prefetched as ``order_lists``).
    Raises NotFound (unknown, another venue's or another user's: not told apart)."""
    group = order_lists(user_id=user_id, venue=venue).filter(pk=list_id).first()
    if group is None:
        raise NotFound(f"No order list {list_id}.")
    return group


def order_live_since(*, order: Order) -> datetime:
    """Since when ``order`` may execute: a quote older than this is from before the order
    worked and never fills it (an executor that got its tick late). An order placed
    working: since it was placed. A triggered order: since the quote that fired it (the
    quote's own clock, as the quotes it is compared with). A bracket's exit: since the
    quote whose fill ended its entry (else, an entry cancelled or expired after a partial
    fill, since it ended), never before it was placed. Reads the entry and its last fill
    for an exit only."""
    fired_by = order.trigger_evidence.get("quote") if order.triggered_at else None
    if fired_by:
        return datetime.fromisoformat(fired_by["timestamp"])
    if order.group_id is None or order.role == OrderRole.ENTRY:
        return order.created_at
    entry = (Order.objects.filter(group_id=order.group_id, role=OrderRole.ENTRY)
             .only("pk", "status", "closed_at").first())
    if entry is None:  # an OCO's leg: working since placed
        return order.created_at
    started = entry.closed_at or order.created_at
    if entry.status == OrderStatus.FILLED:
        fill = Fill.objects.filter(order_id=entry.pk).order_by("-pk").only("evidence").first()
        filled_by = fill.evidence.get("quote") if fill is not None else None
        if filled_by:
            started = datetime.fromisoformat(filled_by["timestamp"])
    return max(started, order.created_at)
