"""The spot gateway's promises one by one, against the emulated exchange: what the
exchange does not offer is refused before any hold; an order is never sent twice while an
earlier request for it may still be acted on; an order the exchange never received is sent again."""
from dataclasses import replace
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.core.errors import InvalidInput
from apps.spot import services
from apps.spot.gateway import SpotGateway, resend_after
from apps.spot.models import SpotSubmission
from apps.trading import services as trading_services
from apps.trading.models import Order
from apps.wallets.models import Hold, Journal
from devtools.binance import Fault
from devtools.binance.markets import default_spot
from tests.trading.helpers import wallet

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def emulator_options():
    # BTC/USDT without MARKET orders (LIMIT and LIMIT_MAKER only).
    btc, *others = default_spot()
    return {"spot": (replace(btc, order_types=("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT")),
                     *others)}


def place(user, capture, **kwargs) -> Order:
    terms = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "amount": D("0.1"),
             "price": D("59000"), **kwargs}
    with capture(execute=True):
        order = trading_services.order_place(user_id=user.pk, venue="spot", **terms)
    order.refresh_from_db()
    return order


@pytest.mark.parametrize(("terms", "field"), [
    ({"type": "MARKET", "price": None, "side": "SELL"}, "type"),
    ({"type": "TAKE_PROFIT_LIMIT", "stop_price": D("58000")}, "type"),
    ({"price": D("59000.001")}, "price"),
])
def test_what_the_exchange_does_not_offer_is_refused_before_anything_is_held(
        spot, trader, binance, django_capture_on_commit_callbacks, terms, field):
    journals = Journal.objects.count()
    with pytest.raises(InvalidInput) as refused:
        place(trader, django_capture_on_commit_callbacks, **terms)
    assert refused.value.status == 400 and field in refused.value.fields
    assert not Order.objects.exists() and not Hold.objects.exists()
    assert Journal.objects.count() == journals
    assert binance.orders() == []


def test_the_api_answers_an_unoffered_type_with_a_400_and_holds_nothing(api, spot, trader):
    response = api.post("/api/v1/spot/orders/", {"symbol": "BTC/USDT", "side": "SELL",
                                                 "type": "MARKET", "amount": "0.1"},
                        format="json")
    assert response.status_code == 400
    assert "MARKET orders are not offered on BTC/USDT" in response.json()["error"]["message"]
    assert wallet(trader, "BTC", "SPOT").held == 0


def test_an_order_is_not_sent_again_while_its_last_request_may_still_be_acted_on(
        spot, trader, binance, django_capture_on_commit_callbacks, settings):
    # A redelivered submit task runs while the first one's answer is not yet applied (the
    # order still NEW). The limit crosses, so it closes at once on the exchange, whose
    # client ids are unique among OPEN orders only: a second request would place it twice.
    binance.set_book("BTCUSDT", bids=[["59990", "5"]], asks=[["60010", "5"]])
    with django_capture_on_commit_callbacks(execute=False):
        order = trading_services.order_place(
            user_id=trader.pk, venue="spot", symbol="BTC/USDT", side="BUY", type="LIMIT",
            amount=D("0.1"), price=D("60010"))
    gateway = SpotGateway()
    first = gateway.submit(order=order, market=order.market)
    again = gateway.submit(order=order, market=order.market)
    assert (first.status, again.status) == ("FILLED", "NEW")
    assert len(binance.orders("BTCUSDT")) == 1
    trading_services.order_apply(order_id=order.pk, submission=first)
    assert Order.objects.get(pk=order.pk).status == "FILLED"


def test_an_order_the_exchange_never_received_is_sent_again_by_the_tracker(
        spot, trader, binance, django_capture_on_commit_callbacks):
    binance.inject(Fault.SERVER_ERROR, 1, endpoint="POST /api/v3/order")  # not applied
    order = place(trader, django_capture_on_commit_callbacks)
    assert order.status == "UNKNOWN" and binance.orders() == []
    services.orders_track()  # its request may still arrive: not sent again yet
    assert Order.objects.get(pk=order.pk).status == "UNKNOWN" and binance.orders() == []
    SpotSubmission.objects.update(sent_at=timezone.now() - resend_after())  # time passes
    services.orders_track()
    order.refresh_from_db()
    assert order.status == "OPEN"
    assert [o["clientOrderId"] for o in binance.orders()] == [f"x-ep-{order.pk}"]
