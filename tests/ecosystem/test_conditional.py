"""Conditional orders on the ecosystem venue: PENDING in the core, triggered by the
engine's quotes (the runner publishes one after each batch), then executed by the engine
like any order."""
import pytest
from django.test import override_settings

from apps.trading.constants import OrderStatus
from tests.engine.helpers import D, balance, drain, eco_market, place, runner, trader
from tests.trading.helpers import books_clean, fresh

pytestmark = pytest.mark.django_db(transaction=True)


@override_settings(CELERY_TASK_ALWAYS_EAGER=True)
def test_a_stop_market_fires_when_a_trade_prints_through_it_and_the_engine_fills_it(
        currencies):
    market = eco_market()
    r = runner(market)
    maker, taker, stopper = trader(), trader(), trader()
    place(maker, side="BUY", price="10.00", amount="1")
    place(taker, side="SELL", price="10.00", amount="0.1")  # the last price: 10.00
    drain(r)
    stop = place(stopper, side="SELL", type="STOP_MARKET", price=None, amount="0.5",
                 stop_price=D("9.50"))
    assert stop.status == OrderStatus.PENDING
    assert balance(stopper, "ABC") == (D("1000"), D("0.5"))
    place(maker, side="BUY", price="9.40", amount="2")
    place(taker, side="SELL", price="9.90", amount="0.9")  # takes the rest at 10.00: no fire
    drain(r)
    assert fresh(stop).status == OrderStatus.PENDING
    place(taker, side="SELL", price="9.40", amount="0.2")  # prints 9.40: fires the stop
    drain(r)  # the trade, whose quote fires the stop and writes its command
    assert fresh(stop).triggered_at is not None
    drain(r)  # the stop's command: it sells into the 9.40 bid
    stop = fresh(stop)
    assert (stop.status, stop.filled, stop.cost) == (OrderStatus.FILLED, D("0.5"), D("4.70"))
    assert balance(stopper, "ABC") == (D("999.5"), D(0))
    assert books_clean() == []
