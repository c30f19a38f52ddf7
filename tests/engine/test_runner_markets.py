"""A runner follows its markets while it runs (``Runner.markets_of``): a market listed
after its start is taken, restored and run; one disabled or mapped to another runner is
released; one another runner holds is skipped until that runner lets it go."""
import threading
import time

import pytest
from django.db import connection
from django.test import override_settings

from apps.engine.models import EngineLease
from apps.engine.runner import Runner
from apps.engine.selectors import markets_of_runner
from apps.trading.constants import MarketStatus, OrderStatus
from apps.trading.models import Market
from tests.engine.helpers import drain, eco_market, place, trader
from tests.trading.helpers import books_clean, fresh

pytestmark = pytest.mark.django_db(transaction=True)
XYZ = "XYZ/USDT"


def following(name: str = "default") -> Runner:
    """A started runner of what ``markets_of_runner`` gives ``name``, following it."""
    r = Runner(name=name, markets=markets_of_runner(runner=name),
               markets_of=lambda: markets_of_runner(runner=name))
    r.start()
    return r


def crossing_pair(symbol: str = XYZ):
    """A resting ask and a bid that takes it whole, on ``symbol``."""
    seller, buyer = trader(abc="0", xyz="10"), trader(abc="0")
    ask = place(seller, side="SELL", price="10.00", amount="1", symbol=symbol)
    return ask, place(buyer, side="BUY", price="10.00", amount="1", symbol=symbol)


def holder(market: Market) -> str:
    return EngineLease.objects.get(pk=market.pk).owner


def test_a_market_listed_after_the_start_is_taken_and_run(currencies):
    eco_market()
    r = following()
    xyz = eco_market(base="XYZ")
    ask, bid = crossing_pair()
    assert drain(r) == 0  # not its market yet
    r.refresh_markets()
    assert holder(xyz) == r.owner
    assert drain(r) == 2
    assert (fresh(ask).status, fresh(bid).status) == (OrderStatus.FILLED, OrderStatus.FILLED)
    assert books_clean() == []


def test_markets_moved_away_or_disabled_are_released_and_run_elsewhere(currencies, settings):
    abc, xyz = eco_market(), eco_market(base="XYZ")
    r = following()
    ask, bid = crossing_pair()
    settings.ENGINE_RUNNER_MARKETS = {"ecosystem:XYZ/USDT": "other"}
    r.refresh_markets()
    assert [m.pk for m in r.markets] == [abc.pk] and list(r.states) == [abc.pk]
    assert holder(xyz) == "" and holder(abc) == r.owner
    other = following("other")  # the lease is free: no refusal
    assert drain(r) == 0 and drain(other) == 2
    assert fresh(bid).status == OrderStatus.FILLED
    Market.objects.filter(pk=abc.pk).update(status=MarketStatus.DISABLED)
    r.refresh_markets()
    assert r.markets == [] and holder(abc) == ""


def test_a_market_another_runner_holds_is_skipped_until_it_is_let_go(currencies):
    r = following()  # no market yet
    xyz = eco_market(base="XYZ")  # the default runner's, but "elsewhere" holds its lease
    elsewhere = Runner(name="elsewhere", markets=[xyz])
    elsewhere.start()
    r.refresh_markets()
    assert r.markets == [] and holder(xyz) == elsewhere.owner
    ask, bid = crossing_pair()
    elsewhere.release()
    r.refresh_markets()
    assert holder(xyz) == r.owner and drain(r) == 2
    assert fresh(bid).status == OrderStatus.FILLED


def wait_for(condition, *, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.mariadb  # the runner's thread writes while the test does
@override_settings(ENGINE_LEASE_SECONDS=3)  # a renewal, and so a re-read, every second
def test_a_running_runner_fills_on_a_market_listed_after_it_started(currencies):
    eco_market()
    r = following()

    def run() -> None:
        try:
            r.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run, name="runner")
    thread.start()
    try:
        xyz = eco_market(base="XYZ")
        ask, bid = crossing_pair()
        assert wait_for(lambda: fresh(bid).status == OrderStatus.FILLED)
        assert fresh(ask).status == OrderStatus.FILLED and holder(xyz) == r.owner
        Market.objects.filter(pk=xyz.pk).update(status=MarketStatus.DISABLED)
        assert wait_for(lambda: holder(xyz) == "")
    finally:
        r.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert books_clean() == []
