"""POST /api/v1/futures/orders/: the core's order view with leverage and reduce-only."""
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.futures.models import OrderTerms
from apps.trading.models import Order
from tests.factories import ContractFactory
from tests.futures.helpers import futures_trader, wallet
from tests.trading.helpers import identity_reviewed

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/futures/orders/"
D = Decimal


@pytest.fixture
def client(currencies):
    ContractFactory()
    user = futures_trader("100000")
    identity_reviewed(user)
    client = APIClient()
    client.force_authenticate(user)
    client.user = user
    return client


def test_an_order_with_leverage_is_placed_and_holds_margin_plus_fee(client):
    answer = client.post(ORDERS, {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT",
                                  "amount": "1", "price": "60000", "leverage": 10},
                         format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["status"] == "NEW"
    assert OrderTerms.objects.get(order_id=answer.json()["id"]).leverage == 10
    assert wallet(client.user) == (D("100000"), D("6030"))
    assert client.get(ORDERS).json()["results"][0]["id"] == answer.json()["id"]


@pytest.mark.parametrize("body, code", [
    ({"leverage": 110}, "leverage_above_tier"),
    ({"leverage": 0}, "invalid"),
    ({"leverage": 126, "amount": "0.1"}, "invalid_leverage"),
    ({"reduce_only": True}, "reduce_only_increases"),
    ({"type": "STOP_MARKET", "stop_price": "59000"}, "invalid"),
])
def test_refused_futures_inputs_are_a_400_writing_nothing(client, body, code):
    order = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "amount": "1",
             "price": "60000", "leverage": 10, **body}
    answer = client.post(ORDERS, order, format="json")
    assert answer.status_code == 400, answer.content
    assert answer.json()["error"]["code"] == code
    assert not Order.objects.exists() and wallet(client.user) == (D("100000"), D(0))


@pytest.mark.parametrize("body", [
    {"leverage": "10"}, {"leverage": True}, {"leverage": 10.0}, {"leverage": 10.5},
    {"leverage": None}, {"leverage": [10]}, {"leverage": 10 ** 30},
    {"reduce_only": "maybe"}, {"reduce_only": True, "side": "SELL"},
    {"amount": "1e400"}, {"amount": "100000000000000000000000000000"},
    {"amount": "-1"}, {"amount": "NaN"}, {"price": "Infinity"},
    # The core's budget order (no amount, a quote_amount) is not a futures order.
    {"amount": None}, {"amount": None, "type": "MARKET", "quote_amount": "100"},
])
def test_hostile_futures_inputs_are_a_4xx_writing_nothing(client, body):
    order = {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT", "amount": "1",
             "price": "60000", "leverage": 10, **body}
    answer = client.post(ORDERS, order, format="json")
    assert 400 <= answer.status_code < 500, answer.content
    assert answer.json()["error"]["message"]
    assert not Order.objects.exists() and wallet(client.user) == (D("100000"), D(0))


def test_another_users_order_cannot_be_cancelled(client):
    placed = client.post(ORDERS, {"symbol": "BTC/USDT", "side": "BUY", "type": "LIMIT",
                                  "amount": "1", "price": "60000", "leverage": 10},
                         format="json").json()
    other = APIClient()
    other.force_authenticate(futures_trader("10"))
    answer = other.post(f"{ORDERS}{placed['id']}/cancel/", format="json")
    assert answer.status_code == 404
    assert Order.objects.get(pk=placed["id"]).status == "NEW"
    assert wallet(client.user) == (D("100000"), D("6030"))


def test_an_order_without_an_amount_is_a_400_writing_nothing(client):
    answer = client.post(ORDERS, {"symbol": "BTC/USDT", "side": "BUY", "type": "MARKET",
                                  "quote_amount": "100", "leverage": 10}, format="json")
    assert answer.status_code == 400, answer.content
    assert "amount" in answer.json()["error"]["fields"]
    assert not Order.objects.exists() and wallet(client.user) == (D("100000"), D(0))
