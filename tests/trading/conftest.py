import pytest

from apps.marketdata import services as marketdata_services
from tests.factories import MarketFactory


@pytest.fixture
def market(currencies):
    """The paper venue's EUR/USD, enabled."""
    return MarketFactory()


@pytest.fixture
def quiet_bus(monkeypatch):
    """No listener hears published quotes: a test calls the executor itself."""
    monkeypatch.setattr(marketdata_services, "_listeners", {})
