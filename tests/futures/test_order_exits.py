"""Take-profit and stop-loss given with a futures order (docs/FUTURES.md "Take-profit and
stop-loss"): checked at placement against the order's side and price (or the mark), kept
in its terms, and set on the position as its exits by the order's first fill."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.futures.models import OrderTerms
from apps.trading import services as trading
from apps.trading.constants import OrderStatus, OrderType, TriggerSource, Venue
from apps.trading.models import Order
from tests.futures import test_exits
from tests.futures.helpers import wallet
from tests.futures.test_engine_orders import SYMBOL, drain, place
from tests.futures.test_exits import exits_of, mark, position
from tests.trading.helpers import books_clean

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
contract, engine, book = test_exits.contract, test_exits.engine, test_exits.book
ORDERS = "/api/v1/futures/orders/"


@pytest.mark.parametrize("body, field", [
    ({"take_profit_price": "59999"}, "take_profit_price"),  # a BUY's TP below its price
    ({"stop_loss_price": "61000"}, "stop_loss_price"),  # a BUY's SL above its price
    ({"side": "SELL", "take_profit_price": "61000"}, "take_profit_price"),  # a SELL's: below
    ({"type": "MARKET", "price": None, "take_profit_price": "59000"}, "take_profit_price"),
    ({"stop_loss_price": "58000.005"}, "stop_loss_price"),  # off the tick
    ({"stop_loss_price": "-1"}, "stop_loss_price"),
    ({"stop_loss_price": "NaN"}, "stop_loss_price"),
    ({"stop_loss_price": "cheap"}, "stop_loss_price"),
    ({"stop_loss_price": True}, "stop_loss_price"),
    # a's long reduced by a reduce-only SELL: nothing to protect
    ({"side": "SELL", "reduce_only": True, "take_profit_price": "59000"}, "take_profit_price"),
])
def test_hostile_order_exits_are_refused_with_a_400_and_change_nothing(book, body, field):
    a = book[0]
    client = APIClient()
    client.force_authenticate(a)
    before = wallet(a), Order.objects.count()
    order = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "amount": "1",
             "price": "60000", "leverage": 10, **body}
    answer = client.post(ORDERS, {k: v for k, v in order.items() if v is not None},
                         format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()["error"]["fields"], answer.json()
    assert (wallet(a), Order.objects.count()) == before


def test_a_filled_order_sets_its_positions_exits_and_a_mark_tick_fires_the_stop(
        book, engine, contract):
    a, b, mm = book
    test_exits.services.position_exits_set(
        user_id=a.pk, position_id=position(a).pk, take_profit_price=D("61000"),
        stop_loss_price=D("59000"))
    earlier = exits_of(a)
    order = place(a, "BUY", "1", "60000", take_profit_price=D("62000"),
                  stop_loss_price=D("58000"))
    assert OrderTerms.objects.get(order=order).take_profit_price == D(62000)
    place(b, "SELL", "1", "60000")
    drain(engine)
    # the long is 2 now, its exits the order's (the earlier ones replaced)
    assert position(a).size == D(2)
    for replaced in earlier.values():
        replaced.refresh_from_db()
        assert (replaced.status, replaced.reason) == (OrderStatus.CANCELED, "Replaced.")
    assert {(t, o.side, o.stop_price, o.trigger_source, o.status)
            for t, o in exits_of(a).items() if o.status == OrderStatus.PENDING} == {
        (OrderType.TAKE_PROFIT_MARKET, "SELL", D(62000), TriggerSource.MARK, "PENDING"),
        (OrderType.STOP_MARKET, "SELL", D(58000), TriggerSource.MARK, "PENDING")}
    place(mm, "BUY", "5", "58000")
    drain(engine)
    mark(contract, "58000")
    stop = Order.objects.get(user_id=a.pk, type=OrderType.STOP_MARKET,
                             stop_price=D(58000))
    drain(engine)
    stop.refresh_from_db()
    assert (stop.status, stop.filled) == (OrderStatus.FILLED, D(2))
    assert position(a).status == "FLAT"
    assert books_clean() == []


def test_an_unfilled_then_cancelled_order_sets_nothing(book, engine, contract):
    a = book[0]
    order = place(a, "BUY", "1", "59000", take_profit_price=D("62000"),
                  stop_loss_price=D("58000"))
    drain(engine)
    assert not exits_of(a)
    trading.order_cancel(user_id=a.pk, venue=Venue.FUTURES, order_id=order.pk)
    drain(engine)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELED
    assert not exits_of(a)
    assert not OrderTerms.objects.get(order=order).exits_set
