"""The price history: what the recorder keeps, the look-up at an instant, the pruning."""
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.fixedtime import selectors, services
from apps.fixedtime.models import RecordedQuote
from tests.factories import MarketFactory
from tests.fixedtime.helpers import due, fund, open_trade, quote

pytestmark = pytest.mark.django_db


def test_only_fixed_time_instruments_quotes_are_recorded(instrument):
    MarketFactory(symbol="GBP/USD")
    quote("1.10000")
    quote("1.30000", symbol="GBP/USD")
    quote("1.10000", venue="spot")  # the same symbol on another venue is another ticker
    assert list(RecordedQuote.objects.values_list("venue", "symbol")) == [("paper", "EUR/USD")]


def test_a_disabled_instrument_is_still_recorded_while_it_has_open_trades(instrument, user):
    fund(user)
    quote("1.10000")
    trade = open_trade(user)
    instrument.enabled = False
    instrument.save()
    quote("1.20000", at=trade.expires_at)
    assert services.trade_settle(trade_id=trade.pk, now=due(trade)).status == "WON"
    quote("1.30000")  # nothing open any more: no longer recorded
    assert RecordedQuote.objects.count() == 2


def test_the_recorder_refreshes_its_tickers_only_when_told(instrument, settings):
    settings.FIXEDTIME_TICKERS_REFRESH_SECONDS = 3600
    quote("1.10000")
    instrument.enabled = False
    instrument.save()
    quote("1.10001")  # within the refresh period: still recorded
    assert RecordedQuote.objects.count() == 2


def test_quote_at_is_the_last_at_or_before_the_instant(instrument):
    t = timezone.now()
    for seconds, price in [(-10, "1.1"), (0, "1.2"), (0, "1.3"), (5, "1.4")]:
        quote(price, at=t + timedelta(seconds=seconds))
    found = selectors.quote_at(venue="paper", symbol="EUR/USD", at=t)
    assert str(found.price.normalize()) == "1.3"  # the later recorded of two at the instant
    assert selectors.quote_at(venue="paper", symbol="EUR/USD",
                              at=t - timedelta(seconds=11)) is None
    assert selectors.quote_at(venue="paper", symbol="eur/usd", at=t) is None


def test_pruning_keeps_what_an_open_trade_may_still_need(instrument, user, settings):
    settings.FIXEDTIME_QUOTE_RETENTION_SECONDS = 60
    fund(user)
    now = timezone.now()
    quote("1.0", at=now - timedelta(hours=2))
    quote("1.1", at=now - timedelta(minutes=2))
    quote("1.10000")
    trade = open_trade(user)
    quote("1.2", at=trade.expires_at - timedelta(seconds=10))  # what it would settle on
    # Even with a retention shorter than the trade, what it may settle on (from the
    # tolerance before its expiry) is kept; the older quotes go.
    settings.FIXEDTIME_QUOTE_RETENTION_SECONDS = 1
    later = trade.expires_at + timedelta(hours=1)
    assert services.quotes_prune(now=later) == 3
    assert str(RecordedQuote.objects.get().price.normalize()) == "1.2"
    assert services.trade_settle(trade_id=trade.pk, now=due(trade)).status == "WON"
    assert services.quotes_prune(now=later, batch=1) == 1  # now nothing is needed
    assert not RecordedQuote.objects.exists()
