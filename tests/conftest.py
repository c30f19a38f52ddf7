import pytest
from django.core.cache import cache
from django.core.management import call_command
from rest_framework.test import APIClient

from apps.marketdata import streams
from apps.trading import selectors as trading_selectors
from tests.factories import UserFactory


@pytest.fixture
def currencies(db):
    call_command("loaddata", "fixtures/currencies.json", verbosity=0)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def sent(monkeypatch):
    """What would reach the channel layer, as (group, message) pairs, instead of sending
    it (a module may define its own ``sent`` with another shape)."""
    calls: list[tuple[str, dict]] = []
    monkeypatch.setattr(streams, "send_to_groups",
                        lambda messages: calls.extend(messages) or True)
    # Tickers, books and marks are sent one at a time, waited for (user events are not).
    monkeypatch.setattr(streams, "send_to_group",
                        lambda group, message: calls.append((group, message)) or True)
    return calls


@pytest.fixture(autouse=True)
def clear_cache():
    """Latest quotes live in the cache: no test may see another's prices. The placing
    cache of markets too: a test's markets are gone after it (rolled back), and on MariaDB
    the next test's get new ids (an order would name a market that no longer exists)."""
    cache.clear()
    trading_selectors.market_forget()
    yield
    cache.clear()
    trading_selectors.market_forget()
