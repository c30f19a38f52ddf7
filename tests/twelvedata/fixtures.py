"""Fixtures shared by every test that trades on paper (registered in the root conftest)."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.marketdata.quotes import Quote
from apps.trading.constants import MarketStatus, Venue
from apps.trading.models import Market
from apps.twelvedata import services
from apps.twelvedata.models import TwdMarket, TwdProvider
from devtools.twelvedata.runner import running_emulator
from exchange_platform.celery import app as celery_app


@pytest.fixture(scope="session")
def emulator():
    with running_emulator(paused=True, apikey="test-key") as handle:
        yield handle


@pytest.fixture(autouse=True)
def eager_celery():
    """Tasks run in-process (a worker-less test would otherwise queue them forever)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def td_settings(settings, emulator):
    settings.TWELVEDATA_BASE_URL = emulator.base_url
    settings.TWELVEDATA_WS_URL = emulator.ws_url.split("?")[0]
    settings.TWELVEDATA_API_KEY = ""
    return settings


@pytest.fixture
def provider(db, td_settings, emulator):
    # update_or_create: a transactional test's flush removes the migration's row.
    provider, _ = TwdProvider.objects.update_or_create(
        name="twelvedata", defaults={"title": "TwelveData", "status": True})
    services.provider_set_key(provider=provider, api_key=emulator.apikey)
    return provider


@pytest.fixture
def markets(provider, currencies):
    """The emulator's forex and stock catalogs imported; EUR/USD and AAPL enabled. Returns
    the enabled paper ``trading.Market`` rows by symbol."""
    services.catalog_import(kind="forex")
    services.catalog_import(kind="stocks")
    Market.objects.filter(venue=Venue.PAPER, symbol__in=["EUR/USD", "AAPL"]).update(
        status=MarketStatus.ENABLED)
    return {m.symbol: m for m in Market.objects.filter(venue=Venue.PAPER,
                                                        status=MarketStatus.ENABLED)}


def paper_market(symbol: str, *, enabled: bool = True, base: str | None = None,
                 quote: str | None = None, type: str = TwdMarket.Type.FOREX,
                 name: str | None = None, **trading) -> Market:
    """A paper market without the catalog: its ``trading.Market`` (a forex pair's steps:
    tick 0.00001, lot 0.01, and ``enabled``'s status, unless ``trading`` says otherwise)
    and its ``TwdMarket``."""
    pair_base, _, pair_quote = symbol.partition("/")
    market = Market.objects.create(
        venue=Venue.PAPER, symbol=symbol, base_currency=base or pair_base,
        quote_currency=quote or pair_quote or "USD",
        **{"tick_size": Decimal("0.00001"), "lot_size": Decimal("0.01"),
           "status": MarketStatus.ENABLED if enabled else MarketStatus.DISABLED, **trading})
    TwdMarket.objects.create(market=market, symbol=symbol, type=type, name=name or symbol)
    return market


def make_quote(symbol: str, price: str, bid: str | None = None, ask: str | None = None,
               at: datetime | None = None, *, venue: str = "paper",
               bid_size: str | None = None, ask_size: str | None = None) -> Quote:
    return Quote(venue=venue, symbol=symbol, price=Decimal(price),
                 bid=None if bid is None else Decimal(bid),
                 ask=None if ask is None else Decimal(ask),
                 bid_size=None if bid_size is None else Decimal(bid_size),
                 ask_size=None if ask_size is None else Decimal(ask_size),
                 timestamp=at or datetime.now(UTC), source="test")
