"""The trade page of an internal market (a venue that runs its own books: the ecosystem
and futures venues): the live order book and trades (``depth@``/``trades@``), the order
form with the engine's order types, and the trader's orders with their partial fills. A
futures contract's page adds its mark, funding, leverage, the liquidation-price preview
and the trader's positions (``trade/futures.html``)."""
from django.apps import apps as django_apps
from django.http import Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, resolve, reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from apps.core.errors import NotFound
from apps.core.money import decimal_text
from apps.marketdata import books, streams
from apps.trade import selectors
from apps.trading.constants import VENUE_WALLET_TYPE, OrderType, Venue
from apps.trading.selectors import market_get_enabled
from apps.trading.venues import gateway_for, takes_quote_budget

# The URL names' prefix of a venue's API where it is not the venue's name.
_API_PREFIX = {Venue.ECOSYSTEM: "eco"}


def _api(venue: str) -> dict[str, str | bool | None]:
    """The venue's order API (``<prefix>-orders``, cancel at ``<prefix>-order-cancel``),
    whether it takes a market buy by quote budget (a ``quote_amount`` in its place input,
    on a venue whose gateway fills one: futures inherit the input and refuse it), whether
    its place input takes the conditional types (``conditional``), its OCO pairs and
    brackets (``<prefix>-order-lists``, cancel at ``<prefix>-order-list-cancel``; None
    where it has none) and the wallets' API; None where the venue has no order API (the
    page then shows no order form)."""
    prefix = _API_PREFIX.get(venue, venue)
    wallets = reverse("wallet-list")
    try:
        orders = reverse(f"{prefix}-orders")
        cancel = reverse(f"{prefix}-order-cancel", kwargs={"order_id": 0})
    except NoReverseMatch:
        return {"orders": None, "cancel": None, "budget": False, "conditional": False,
                "orderLists": None, "listCancel": None, "wallets": wallets}
    place_input = getattr(resolve(orders).func.view_class, "PlaceInput", None)
    fields = {} if place_input is None else place_input().fields
    budget = "quote_amount" in fields and takes_quote_budget(gateway_for(venue))
    conditional = "type" in fields and OrderType.STOP_LIMIT in fields["type"].choices
    try:
        lists = reverse(f"{prefix}-order-lists")
        list_cancel = reverse(f"{prefix}-order-list-cancel", kwargs={"list_id": 0})
    except NoReverseMatch:
        lists = list_cancel = None
    return {"orders": orders, "cancel": cancel, "budget": budget,
            "conditional": conditional, "orderLists": lists, "listCancel": list_cancel,
            "wallets": wallets}


def _futures(symbol: str) -> dict[str, object]:
    """What the futures page adds for the contract ``symbol``: its leverage limits (the
    tiers' maxima by notional), funding interval and the futures API; Http404 for a
    futures market without a contract, or where ``apps.futures`` is not installed (the
    apps as a plug-in: a host may leave the futures venue out)."""
    if not django_apps.is_installed("apps.futures"):
        raise Http404("Futures trading is not installed here.")
    from apps.futures import selectors as futures_selectors

    try:
        contract = futures_selectors.contract_get(symbol=symbol)
    except NotFound as exc:
        raise Http404(exc.message) from None
    tiers = futures_selectors.contract_tiers(contract_id=contract.pk)
    return {
        "maxLeverage": contract.max_leverage,
        "tiers": [{"floor": decimal_text(t.floor),
                   "cap": None if t.cap is None else decimal_text(t.cap),
                   "maxLeverage": t.max_leverage} for t in tiers],
        "fundingHours": contract.funding_interval_hours,
        "api": {"preview": reverse("futures-preview"), "funding": reverse("futures-funding"),
                "positions": reverse("futures-positions"),
                "margin": reverse("futures-position-margin", kwargs={"position_id": 0}),
                "exits": reverse("futures-position-exits", kwargs={"position_id": 0})},
    }


@ensure_csrf_cookie
def market(request, venue: str, symbol: str):
    """An internal market's page: the book and trades for anyone, the order form and the
    trader's orders once logged in."""
    if not books.is_book_venue(venue):
        raise Http404(f"The {venue} venue has no order books.")
    try:
        found = market_get_enabled(venue=venue, symbol=symbol)
    except NotFound as exc:
        raise Http404(exc.message) from None
    config = {
        "venue": found.venue, "symbol": found.symbol,
        "base": found.base_currency, "quote": found.quote_currency,
        "pricePrecision": found.price_precision, "amountPrecision": found.amount_precision,
        "quoteDecimals": selectors.currency_places(code=found.quote_currency),
        "tickSize": decimal_text(found.tick_size), "lotSize": decimal_text(found.lot_size),
        "makerFee": decimal_text(found.maker_fee), "takerFee": decimal_text(found.taker_fee),
        "streams": {kind: streams.book_stream(kind=kind, venue=found.venue,
                                              symbol=found.symbol)
                    for kind in (streams.DEPTH, streams.TRADES)},
        "loggedIn": request.user.is_authenticated,
        "api": _api(found.venue),
        # The balances the form shows: what an order holds (a futures order: margin in
        # the quote currency alone).
        "walletType": VENUE_WALLET_TYPE[found.venue],
        "balanceCurrencies": ([found.quote_currency] if found.venue == Venue.FUTURES
                              else [found.base_currency, found.quote_currency]),
    }
    template = "trade/market.html"
    if found.venue == Venue.FUTURES:
        config["futures"] = _futures(found.symbol)
        config["streams"]["mark"] = streams.mark_stream(venue=found.venue, symbol=found.symbol)
        template = "trade/futures.html"
    return render(request, template, {
        "market": found, "config": config, "title": found.symbol,
        "type": found.venue, **selectors.page_nav()})
