import pytest

from tests.fixedtime.helpers import make_instrument


@pytest.fixture(autouse=True)
def fixedtime_settings(settings, monkeypatch):
    """The recorder re-reads its tickers on every quote; only it hears the bus (the paper
    executor's listener would only add work); the tolerances are the documented
    defaults, set here so that the tests do not depend on the environment."""
    from apps.fixedtime import services
    from apps.marketdata import services as bus
    from apps.trading.constants import Venue

    settings.FIXEDTIME_TICKERS_REFRESH_SECONDS = 0
    settings.FIXEDTIME_QUOTE_MAX_AGE_SECONDS = 30
    settings.FIXEDTIME_EXIT_TOLERANCE_SECONDS = 30
    settings.FIXEDTIME_SETTLE_GRACE_SECONDS = 2
    monkeypatch.setattr(bus, "_listeners", {venue: [services.quote_record]
                                            for venue in Venue.values})
    monkeypatch.setitem(services._recorded, "until", 0.0)


@pytest.fixture
def instrument(currencies):
    """Fixed-time EUR/USD on the paper venue: stakes 1..1000 USD, 85%, 60 s or 300 s,
    at most 3 open trades per user and mode, always open."""
    return make_instrument()
