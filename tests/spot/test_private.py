"""The exchange's private order stream (ccxt.pro ``watch_orders`` against the emulator):
a fill there reaches the platform's order without the tracker."""
import threading
import time
from decimal import Decimal

import pytest

from apps.spot.private import OrderStream, order_id_of
from apps.trading import services as trading_services
from apps.trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)


def test_client_ids_of_other_origins_are_not_ours():
    assert [order_id_of(v) for v in ("x-ep-42", "x-ep-", "x-ep-4x", "web_1", None)] == [
        42, None, None, None, None]


def test_a_fill_on_the_exchange_is_settled_from_the_stream(spot, trader, binance):
    order = trading_services.order_place(user_id=trader.pk, venue="spot", symbol="BTC/USDT",
                                         side="BUY", type="LIMIT", amount=Decimal("0.3"),
                                         price=Decimal("59000"))
    assert Order.objects.get(pk=order.pk).status == "OPEN"
    stop = threading.Event()
    runner = threading.Thread(target=lambda: OrderStream().run(stop=stop))
    runner.start()
    try:
        time.sleep(1.5)  # subscribed
        binance.set_price("BTCUSDT", "59000", qty="0.1")
        for _ in range(100):
            order.refresh_from_db()
            if order.filled:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        runner.join(timeout=15)
    assert (order.status, order.filled, order.fills.count()) == (
        "PARTIALLY_FILLED", Decimal("0.1"), 1)
