"""A spot cancel racing a send still in flight, and a cancel whose answer is lost (MariaDB,
real row locks, the emulator through the real ccxt): the platform never calls an order
CANCELED (nor releases its hold) while the exchange may still hold it; the tracker settles
it exactly once when the exchange's answer is certain."""
import time
from decimal import Decimal

import pytest

from apps.spot import exchange, services
from apps.spot.gateway import claim_send, client_id, resend_after
from apps.trading import services as trading_services
from apps.trading.models import Fill, Order
from apps.wallets import selectors as wallet_selectors
from devtools.binance import Fault, sync_exchange
from tests.trading.helpers import wallet

pytestmark = [pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]
D = Decimal
AMOUNT = D("0.01")


@pytest.fixture(autouse=True)
def short_lease(exchange_settings, monkeypatch):
    # A short send lease (resend_after: 0.5 s) keeps the waits short.
    exchange_settings.SPOT_RECV_WINDOW_MS = 100
    exchange_settings.SPOT_REQUEST_TIMEOUT_MS = 400
    # The tasks' part is played here, step by step.
    monkeypatch.setattr("apps.spot.gateway.SpotGateway.dispatch", lambda *a, **k: None)


def _place(trader, price: str) -> Order:
    return trading_services.order_place(user_id=trader.pk, venue="spot", symbol="BTC/USDT",
                                        side="BUY", type="LIMIT", amount=AMOUNT,
                                        price=D(price))


def _cancel(trader, order: Order) -> Order:
    """The user's cancel, then what its task runs."""
    trading_services.order_cancel(user_id=trader.pk, venue="spot", order_id=order.pk)
    return trading_services.order_cancel_remote(order_id=order.pk)


def _settle_down() -> Order:
    """Run the tracker until the order's outcome is certain (the lease passed)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        services.orders_track()
        order = Order.objects.filter(venue="spot").get()
        if order.status not in ("NEW", "UNKNOWN"):
            return order
        time.sleep(0.2)
    raise AssertionError(f"order still {order.status}")


def _in_flight_send_lands(binance, order: Order, price: str) -> None:
    """The request a worker sent before the cancel reaches the exchange now."""
    sync_exchange(binance).create_order("BTC/USDT", "limit", "buy", str(AMOUNT), price,
                                        {"clientOrderId": client_id(order)})


@pytest.mark.parametrize(("price", "there", "final"), [
    ("50000", "CANCELED", "CANCELED"),  # it rests there: cancelled there, once
    ("60010", "FILLED", "FILLED"),      # it filled there at once: its fill settles
])
def test_a_cancel_while_the_send_is_in_flight_waits_for_the_exchange(
        spot, trader, binance, price, there, final):
    order = _place(trader, price)
    held = wallet(trader, "USDT", "SPOT").held
    assert claim_send(order)  # a worker has sent it; the exchange has not seen it yet
    cancelled = _cancel(trader, order)
    # The exchange does not know it, but the request may still arrive: not CANCELED yet.
    assert cancelled.status == "UNKNOWN"
    assert "cancel" in cancelled.reason.lower()
    assert wallet(trader, "USDT", "SPOT").held == held
    _in_flight_send_lands(binance, order, price)
    order = _settle_down()
    assert order.status == final
    assert "pending" not in order.reason.lower()
    [placed] = binance.orders("BTCUSDT")
    assert placed["status"] == there
    assert wallet(trader, "USDT", "SPOT").held == 0
    assert Fill.objects.filter(order=order).count() == (1 if final == "FILLED" else 0)
    assert wallet_selectors.reconcile() == []
    assert services.reconcile() == []


def test_a_send_that_lands_after_the_cancel_cancels_it_there_itself(
        spot, trader, binance, monkeypatch):
    order = _place(trader, "50000")
    ex = exchange.client()
    create = ex.create_order

    def cancelled_on_the_way(*args, **kwargs):
        # The user cancels after the worker claimed the send, before the request lands.
        assert _cancel(trader, order).status == "UNKNOWN"
        return create(*args, **kwargs)

    monkeypatch.setattr(ex, "create_order", cancelled_on_the_way)
    assert trading_services.order_submit(order_id=order.pk).status == "CANCELED"
    assert [o["status"] for o in binance.orders("BTCUSDT")] == ["CANCELED"]
    assert wallet(trader, "USDT", "SPOT").held == 0
    assert wallet_selectors.reconcile() == []


def test_a_cancel_of_a_send_that_never_arrives_ends_once_the_lease_has_passed(
        spot, trader, binance):
    order = _place(trader, "50000")
    assert claim_send(order)  # sent; the request is lost on the way
    assert _cancel(trader, order).status == "UNKNOWN"
    time.sleep(resend_after().total_seconds())
    trading_services.order_reconcile(order_id=order.pk)
    order.refresh_from_db()
    assert order.status == "CANCELED"
    # Never sent again after the cancel: the exchange never had it.
    assert client_id(order) not in {o["clientOrderId"] for o in binance.orders()}


def test_a_cancel_of_an_order_never_sent_ends_at_once_and_it_is_never_sent(
        spot, trader, binance):
    order = _place(trader, "50000")
    assert _cancel(trader, order).status == "CANCELED"
    assert wallet(trader, "USDT", "SPOT").held == 0
    trading_services.order_submit(order_id=order.pk)  # a late submit task: nothing sent
    assert binance.orders() == []
    assert Order.objects.get(pk=order.pk).status == "CANCELED"


@pytest.mark.parametrize("fault", [Fault.TIMEOUT, Fault.LOST])
def test_a_cancel_whose_answer_is_lost_is_not_canceled_until_reconciled(
        spot, trader, binance, fault):
    order = _place(trader, "50000")
    assert trading_services.order_submit(order_id=order.pk).status == "OPEN"
    binance.inject(fault, 1, endpoint="DELETE /api/v3/order", delay=1)
    cancelled = _cancel(trader, order)
    assert cancelled.status == "UNKNOWN"
    assert wallet(trader, "USDT", "SPOT").held > 0
    order = _settle_down()
    # TIMEOUT: it was cancelled there; LOST: the cancel never arrived, and is sent again.
    assert order.status == "CANCELED"
    assert [o["status"] for o in binance.orders("BTCUSDT")] == ["CANCELED"]
    assert wallet(trader, "USDT", "SPOT").held == 0
    assert wallet_selectors.reconcile() == []
    assert services.reconcile() == []
