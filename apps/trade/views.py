"""The trader's web pages (thin: the data comes from selectors and the JSON API)."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from apps.core import conf
from apps.core.errors import NotFound
from apps.marketdata import books
from apps.marketdata.selectors import latest_quote
from apps.trade import selectors
from apps.trading.constants import OrderStatus, Venue
from apps.twelvedata import selectors as twd_selectors

CHART_INTERVALS = ("1min", "5min", "15min", "1h", "1day")


def _page(request, template: str, context: dict, status: int = 200):
    """Renders a trade page with what every one of them shows: the list pages' navigation
    and the symbol switcher."""
    return render(request, template, {**selectors.page_nav(), **context}, status=status)


def home(request):
    return redirect("trade:forex")


def markets(request, type: str):
    return _page(request, "trade/markets.html", {
        "rows": selectors.market_rows(type=type), "type": type,
        "title": selectors.PAGE_TYPES[type]})


def venue_markets(request, venue: str):
    """A book venue's markets, each linked to its internal market page."""
    if not books.is_book_venue(venue):
        raise Http404(f"The {venue} venue has no order books.")
    return _page(request, "trade/venue_markets.html", {
        "markets": selectors.venue_markets(venue=venue), "venue": venue, "type": venue,
        "title": f"{selectors.venue_pages()[venue]} markets"})


def switch(request):
    """The symbol switcher's target: to the market's trade page, or a 404 that says which
    symbol is unknown (with the switcher to try again)."""
    symbol = request.GET.get("symbol", "").strip()
    try:
        twd_selectors.market_get_enabled(symbol=symbol)
    except NotFound:
        return _page(request, "trade/not_found.html", {"symbol": symbol, "title": "No such market"},
                     status=404)
    return redirect("trade:trade", symbol=symbol)


@ensure_csrf_cookie
def trade(request, symbol: str):
    """A market's page: its chart and prices for anyone, the order form and the trader's
    orders and balances once logged in."""
    try:
        instrument = twd_selectors.market_get_enabled(symbol=symbol)
    except NotFound as exc:
        raise Http404(exc.message) from None
    market = instrument.market
    quote = latest_quote(venue=Venue.PAPER, symbol=market.symbol)
    day_open = selectors.day_open(symbol=market.symbol)
    config = {
        "symbol": market.symbol, "base": market.base_currency, "quote": market.quote_currency,
        "pricePrecision": market.price_precision, "amountPrecision": market.amount_precision,
        "quoteDecimals": selectors.currency_places(code=market.quote_currency),
        "makerFee": format(market.maker_fee.normalize(), "f"),
        "takerFee": format(market.taker_fee.normalize(), "f"),
        "dayOpen": None if day_open is None else format(day_open, "f"),
        "loggedIn": request.user.is_authenticated,
        "api": {"orders": reverse("twd-orders"), "orderLists": reverse("twd-order-lists"),
                "candles": reverse("twd-candles"), "wallets": reverse("wallet-list")},
    }
    change = selectors.change_percent(price=quote.price, base=day_open) if quote else None
    return _page(request, "trade/trade.html", {
        "market": market, "instrument": instrument, "config": config, "quote": quote,
        "change": change, "intervals": CHART_INTERVALS, "title": market.symbol})


class PortfolioFilter(forms.Form):
    venue = forms.ChoiceField(choices=[("", "All venues"), *Venue.choices], required=False)
    symbol = forms.CharField(max_length=32, required=False, label="Market")
    status = forms.ChoiceField(choices=[("", "Any status"), *OrderStatus.choices],
                               required=False)
    since = forms.DateField(required=False, label="From",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="To",
                            widget=forms.DateInput(attrs={"type": "date"}))


PORTFOLIO_ORDERS = 100


@login_required
def portfolio(request):
    """Balances valued in PORTFOLIO_CURRENCY, holdings with average cost and P&L, and the
    user's orders with their fills across venues, filtered by the query string (a bad
    filter is shown as the form's error, with no filter applied)."""
    filters = PortfolioFilter(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    orders = selectors.portfolio_orders(user_id=request.user.pk, **{
        name: value for name, value in chosen.items() if value})
    return _page(request, "trade/portfolio.html", {
        "title": "Portfolio", "type": "portfolio", "valuation": conf.PORTFOLIO_CURRENCY,
        "balances": selectors.portfolio_balances(user_id=request.user.pk),
        "holdings": selectors.portfolio_holdings(user_id=request.user.pk),
        "filters": filters, "orders": orders[:PORTFOLIO_ORDERS], "limit": PORTFOLIO_ORDERS})
