"""The trade page of an internal market (a venue that runs its own books: the ecosystem
venue, later futures): the live order book and trades (``depth@``/``trades@``), the order
form with the engine's order types, and the trader's orders with their partial fills."""
from django.http import Http404
from django.shortcuts import render
from django.urls import NoReverseMatch, resolve, reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from apps.core.errors import NotFound
from apps.core.money import decimal_text
from apps.marketdata import books, streams
from apps.trade import selectors
from apps.trading.constants import Venue
from apps.trading.selectors import market_get_enabled

# The URL names' prefix of a venue's API where it is not the venue's name.
_API_PREFIX = {Venue.ECOSYSTEM: "eco"}


def _api(venue: str) -> dict[str, str | bool | None]:
    """The venue's order API (``<prefix>-orders``, cancel at ``<prefix>-order-cancel``),
    whether it takes a market buy by quote budget (a ``quote_amount`` in its place input)
    and the wallets' API; None where the venue has no order API (the page then shows no
    order form)."""
    prefix = _API_PREFIX.get(venue, venue)
    try:
        orders = reverse(f"{prefix}-orders")
        cancel = reverse(f"{prefix}-order-cancel", kwargs={"order_id": 0})
    except NoReverseMatch:
        return {"orders": None, "cancel": None, "budget": False,
                "wallets": reverse("wallet-list")}
    place_input = getattr(resolve(orders).func.view_class, "PlaceInput", None)
    budget = place_input is not None and "quote_amount" in place_input().fields
    return {"orders": orders, "cancel": cancel, "budget": budget,
            "wallets": reverse("wallet-list")}


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
    }
    return render(request, "trade/market.html", {
        "market": found, "config": config, "title": found.symbol,
        "type": found.venue, **selectors.page_nav()})
