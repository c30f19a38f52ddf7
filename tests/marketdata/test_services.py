from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.marketdata import selectors, services
from apps.marketdata.quotes import Quote


@pytest.fixture
def listeners(monkeypatch):
    registered: list = []
    monkeypatch.setattr(services, "_listeners", registered)
    return registered


def quote(symbol="EUR/USD", price="1.10000", bid="1.09990", ask="1.10010") -> Quote:
    return Quote(symbol=symbol, price=Decimal(price), bid=Decimal(bid), ask=Decimal(ask),
                 timestamp=datetime(2026, 11, 22, 10, 0, tzinfo=UTC), source="test")


def test_publish_stores_latest_and_round_trips_exactly(listeners):
    services.publish(quote=quote(price="1.10000"))
    services.publish(quote=quote(price="1.12345"))
    latest = selectors.latest_quote(symbol="EUR/USD")
    assert latest == quote(price="1.12345")
    assert type(latest.price) is Decimal
    assert selectors.latest_quote(symbol="GBP/USD") is None


def test_a_failing_listener_does_not_starve_the_others(listeners):
    seen = []

    def broken(q):
        raise RuntimeError("bug in one venue")

    services.register_listener(broken)
    services.register_listener(seen.append)
    services.register_listener(seen.append)  # registering twice calls once
    services.publish(quote=quote())
    assert seen == [quote()]
