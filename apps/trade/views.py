"""The trader's web pages (thin: the data comes from selectors and the JSON API)."""
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from apps.core.errors import NotFound
from apps.marketdata.selectors import latest_quote
from apps.trade import selectors
from apps.trading.constants import Venue
from apps.twelvedata import selectors as twd_selectors

CHART_INTERVALS = ("1min", "5min", "15min", "1h", "1day")


def home(request):
    return redirect("trade:forex")


def markets(request, type: str):
    return render(request, "trade/markets.html", {
        "rows": selectors.market_rows(type=type), "type": type,
        "title": selectors.PAGE_TYPES[type], "page_types": selectors.PAGE_TYPES})


@login_required
@ensure_csrf_cookie
def trade(request, symbol: str):
    try:
        instrument = twd_selectors.market_get_enabled(symbol=symbol)
    except NotFound as exc:
        raise Http404(exc.message) from None
    market = instrument.market
    config = {
        "symbol": market.symbol, "base": market.base_currency, "quote": market.quote_currency,
        "pricePrecision": market.price_precision, "amountPrecision": market.amount_precision,
        "api": {"orders": reverse("twd-orders"), "orderLists": reverse("twd-order-lists"),
                "candles": reverse("twd-candles"), "wallets": reverse("wallet-list")},
    }
    return render(request, "trade/trade.html", {
        "market": market, "instrument": instrument, "config": config,
        "quote": latest_quote(venue=Venue.PAPER, symbol=market.symbol),
        "intervals": CHART_INTERVALS, "page_types": selectors.PAGE_TYPES})
