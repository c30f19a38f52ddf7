"""/api/v1/futures/: the liquidation price before an order, the next funding, positions and
their margin; bad input is a 4xx that changes nothing."""
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.futures.models import Position
from tests.factories import ContractFactory
from tests.futures.helpers import fill_pair, futures_trader, index_quote, wallet

pytestmark = pytest.mark.django_db
D = Decimal
PREVIEW = "/api/v1/futures/preview/"


@pytest.fixture
def contract(currencies):
    return ContractFactory()


def client_of(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_preview_shows_the_liquidation_price_before_the_order(contract):
    user = futures_trader()
    answer = client_of(user).get(PREVIEW, {"symbol": "BTC/USDT", "side": "BUY", "amount": "1",
                                           "price": "60000", "leverage": "10"})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["initial_margin"], body["fee"], body["maintenance_rate"]) == \
        ("6000", "30", "0.005")
    assert body["liquidation_price"].startswith("54221.1055276381909547")
    assert body["bankruptcy_price"] == "54000"
    assert not Position.objects.exists() and wallet(user) == (D(10000), 0)


def test_the_preview_starts_from_the_users_position(contract):
    user, other = futures_trader(), futures_trader()
    fill_pair(contract, buyer=user, seller=other, amount="1", price="60000", key="t")
    body = client_of(user).get(PREVIEW, {"symbol": "BTC/USDT", "side": "SELL",
                                         "amount": "0.5", "price": "62000",
                                         "leverage": "10"}).json()
    assert (body["size"], body["realised_pnl"], body["margin"]) == ("0.5", "1000", "3000")


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"leverage": "101"}, 400, "leverage_too_high"),  # notional 60,000: tier 2, 100x
    ({"leverage": "126"}, 400, "invalid_leverage"),
    ({"leverage": "10.0"}, 400, "invalid"),
    ({"leverage": "١٠"}, 400, "invalid"),
    ({"price": "60000.001"}, 400, "invalid"),
    ({"price": "NaN"}, 400, "invalid"),
    ({"amount": "-1"}, 400, "invalid"),
    ({"amount": "100000000000000", "price": "100000000"}, 400, "invalid"),
    ({"side": "buy"}, 400, "invalid"),
    ({"symbol": "ETH/USDT"}, 404, "not_found"),
    ({"symbol": "BTC USDT"}, 400, "invalid"),
])
def test_a_bad_preview_is_a_4xx(contract, change, status, code):
    query = {"symbol": "BTC/USDT", "side": "BUY", "amount": "1", "price": "60000",
             "leverage": "10", **change}
    answer = client_of(futures_trader()).get(PREVIEW, query)
    assert answer.status_code == status, answer.json()
    assert answer.json()["error"]["code"] == code


def test_a_disabled_contract_is_not_found(contract):
    contract.market.status = "disabled"
    contract.market.save()
    answer = client_of(futures_trader()).get(PREVIEW, {
        "symbol": "BTC/USDT", "side": "BUY", "amount": "1", "price": "60000", "leverage": "1"})
    assert answer.status_code == 404
    funding = APIClient().get("/api/v1/futures/funding/", {"symbol": "BTC/USDT"})
    assert funding.status_code == 404


def test_the_preview_needs_a_login(contract):
    assert APIClient().get(PREVIEW, {"symbol": "BTC/USDT"}).status_code in (401, 403)


def test_the_next_funding_is_shown_before_it_is_charged(contract):
    user, other = futures_trader(), futures_trader()
    fill_pair(contract, buyer=user, seller=other, amount="1", price="60000", key="t")
    assert APIClient().get("/api/v1/futures/funding/", {"symbol": "BTC/USDT"}).json()[
        "rate"] is None  # no index yet
    index_quote("62000", now=datetime.now(UTC))
    body = client_of(user).get("/api/v1/futures/funding/", {"symbol": "BTC/USDT"}).json()
    assert (body["rate"], body["mark"], body["amount"]) == ("0.0001", "62000", "6.2")
    public = APIClient().get("/api/v1/futures/funding/", {"symbol": "BTC/USDT"}).json()
    assert public["amount"] is None


def test_positions_and_their_margin(contract):
    user, other = futures_trader(), futures_trader()
    fill_pair(contract, buyer=user, seller=other, amount="1", price="60000", key="t")
    client = client_of(user)
    (position,) = client.get("/api/v1/futures/positions/").json()
    assert (position["side"], position["size"], position["margin"]) == ("LONG", "1", "6000")
    url = f"/api/v1/futures/positions/{position['id']}/margin/"
    body = {"action": "add", "amount": "500", "client_id": "m-1"}
    assert client.post(url, body, format="json").json()["margin"] == "6500"
    assert client.post(url, body, format="json").json()["margin"] == "6500"  # a retry
    refused = client.post(url, {**body, "amount": "1000000", "client_id": "m-2"},
                          format="json")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == \
        "insufficient_funds"
    removed = client.post(url, {"action": "remove", "amount": "1", "client_id": "m-3"},
                          format="json")
    assert removed.status_code == 409 and removed.json()["error"]["code"] == "stale_mark"
    theirs = client_of(other).post(url, {**body, "client_id": "x"}, format="json")
    assert theirs.status_code == 404
    assert wallet(user) == (D(9970), D(6500))
