"""The spot venue against the loopback Binance emulator (``devtools.binance``) through the
real ccxt: an active provider pointed at it, its markets imported, BTC/USDT enabled."""
from decimal import Decimal

import pytest

from apps.marketdata.services import publish
from apps.spot import exchange, prices, services
from apps.spot.models import SpotProvider
from apps.trading import services as trading_services
from apps.trading.constants import MarketStatus
from apps.trading.models import Market
from apps.wallets import services as wallet_services
from devtools.binance import running_emulator
from tests.trading.helpers import identity_reviewed

D = Decimal
SYMBOL = "BTC/USDT"


@pytest.fixture
def emulator_options() -> dict:
    """EmulatorConfig's options of the ``binance`` fixture (a test module may override)."""
    return {}


@pytest.fixture
def binance(emulator_options):
    with running_emulator(paused=True, **emulator_options) as emu:
        emu.set_book("BTCUSDT", bids=[["59990", "1"]], asks=[["60010", "1"]])
        yield emu


@pytest.fixture
def exchange_settings(settings, binance):
    settings.SPOT_EXCHANGE_URL = binance.url
    settings.SPOT_EXCHANGE_WS_URL = binance.ws_url
    settings.SPOT_EXCHANGE_WS_API_URL = binance.ws_api_url
    settings.SPOT_API_KEY = binance.api_key
    settings.SPOT_API_SECRET = binance.api_secret
    settings.SPOT_REQUEST_TIMEOUT_MS = 1500
    settings.SPOT_RECV_WINDOW_MS = 1000
    settings.SPOT_RESUBMIT_AFTER_SECONDS = 1
    exchange.reset()
    yield settings
    exchange.reset()


def binance_provider() -> SpotProvider:
    """The migration's provider row (a transactional test's flush may have removed it)."""
    provider, _ = SpotProvider.objects.get_or_create(
        name="binance", defaults={"title": "Binance", "exchange_id": "binance"})
    return provider


@pytest.fixture
def provider(db, currencies, exchange_settings, binance):
    """The active provider with the emulator's account as its opening balances."""
    provider = binance_provider()
    services.provider_activate(provider_id=provider.pk)
    provider.refresh_from_db()
    services.provider_record_opening_balances(provider=provider)
    return provider


@pytest.fixture
def spot(provider):
    """Markets imported, BTC/USDT enabled and priced from the exchange."""
    services.markets_import()
    market = Market.objects.get(venue="spot", symbol=SYMBOL)
    trading_services.markets_set_flags(market_ids=[market.pk], status=MarketStatus.ENABLED)
    prices.poll(publish=lambda quote: publish(quote=quote))
    return Market.objects.get(pk=market.pk)


@pytest.fixture
def trader(user):
    identity_reviewed(user)
    # As the import creates them (the exchange's precision), if it has not run yet.
    wallet_services.currencies_ensure(currencies=[("USDT", "USDT", 8), ("BTC", "BTC", 8)])
    wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="USDT",
                            amount=D("100000"), key=f"test:deposit:{user.pk}:usdt")
    wallet_services.deposit(user_id=user.pk, wallet_type="SPOT", currency="BTC",
                            amount=D("2"), key=f"test:deposit:{user.pk}:btc")
    return user
