"""The fixed-time page, served where ``apps.fixedtime`` is installed (``urls.py`` imports
this module only then: importing it loads that app's models)."""
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import ensure_csrf_cookie

from apps.core.errors import NotFound
from apps.fixedtime import selectors as fixedtime_selectors
from apps.marketdata import streams
from apps.marketdata.selectors import latest_quote
from apps.trade import selectors


@login_required
@ensure_csrf_cookie
def fixedtime(request, venue: str, symbol: str):
    """The up/down page of one fixed-time instrument (any venue)."""
    try:
        instrument = fixedtime_selectors.instrument_for_trading(venue=venue, symbol=symbol)
    except NotFound as exc:
        raise Http404(exc.message) from None
    market = instrument.market
    quote = latest_quote(venue=market.venue, symbol=market.symbol)
    config = {
        "venue": market.venue, "symbol": market.symbol, "currency": market.quote_currency,
        "pricePrecision": market.price_precision,
        "stream": streams.ticker_stream(venue=market.venue, symbol=market.symbol),
        "quote": quote.to_dict() if quote else None,
        "api": {"trades": reverse("fixedtime-trades")},
    }
    return render(request, "trade/fixedtime.html", {
        "market": market, "instrument": instrument, "config": config, "quote": quote,
        "expiries": sorted(instrument.expiries), **selectors.page_nav()})
