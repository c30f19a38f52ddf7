"""``manage.py futures_demo_setup`` (make run's demo contract): the BTC/USDT perpetual the
spot import listed becomes an enabled contract indexed on the spot BTC/USDT, and the demo
trader's FUTURES USDT is funded once."""
import io

import pytest
from django.core.management import CommandError, call_command

from apps.futures.models import Contract
from apps.trading.constants import MarketStatus, Venue
from apps.trading.models import Market
from apps.wallets.selectors import wallet_list
from tests.factories import MarketFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_the_demo_setup_makes_the_imported_perpetual_a_funded_contract(settings, currencies):
    settings.DEBUG = True
    trader = UserFactory(username="trader")
    market = MarketFactory(venue=Venue.FUTURES, symbol="BTC/USDT", kind="perpetual",
                           tick_size="0.1", lot_size="0.001", status=MarketStatus.DISABLED)
    call_command("futures_demo_setup", stdout=io.StringIO())
    call_command("futures_demo_setup", stdout=io.StringIO())  # idempotent
    contract = Contract.objects.get(market=market)
    assert contract.index_sources == [{"venue": "spot", "symbol": "BTC/USDT"}]
    assert [t.max_leverage for t in contract.tiers.all()] == [100, 75, 50]
    assert Market.objects.get(pk=market.pk).status == MarketStatus.ENABLED
    [wallet] = [w for w in wallet_list(user_id=trader.pk) if w.type == "FUTURES"]
    assert (wallet.currency_id, wallet.balance, wallet.held) == ("USDT", 100000, 0)


def test_the_demo_setup_is_for_debug_only_and_needs_the_import(settings, currencies):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG only"):
        call_command("futures_demo_setup", stdout=io.StringIO())
    settings.DEBUG = True
    with pytest.raises(CommandError, match="spot_import"):
        call_command("futures_demo_setup", stdout=io.StringIO())
