"""The ecosystem API: markets, orders (the core's shapes, the engine's STP exposed),
cancels and trades; bad input is a 4xx that writes nothing."""
import pytest
from rest_framework.test import APIClient

from apps.engine.models import EngineCommand
from apps.trading.models import Order
from tests.engine.helpers import D, drain, eco_market, runner, trader

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/ecosystem/"


@pytest.fixture
def market(currencies):
    return eco_market()


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def order(client, **body):
    return client.post(URL + "orders/", {"symbol": "ABC/USDT", "amount": "1", **body},
                       format="json")


def test_markets_are_listed_with_their_token_and_steps(market):
    found = APIClient().get(URL + "markets/").json()
    assert [(m["symbol"], m["tick_size"], m["lot_size"], m["contract_address"],
             m["stp_default"]) for m in found] == [
        ("ABC/USDT", "0.01", "0.001", "0x" + "ab" * 20, "CANCEL_TAKER")]


def test_orders_go_to_the_engine_and_trade(market):
    r = runner(market)
    seller, buyer = client_of(trader()), client_of(trader())
    ask = order(seller, side="SELL", type="LIMIT", price="10.00")
    assert ask.status_code == 201 and ask.json()["status"] == "NEW"
    bid = order(buyer, side="BUY", type="LIMIT", price="10.50", time_in_force="IOC",
                amount="0.4")
    assert bid.status_code == 201
    drain(r)
    mine = buyer.get(URL + "orders/").json()["results"]
    assert [(o["status"], o["filled"], o["fills"][0]["liquidity"]) for o in mine] == [
        ("FILLED", "0.4", "TAKER")]
    trades = APIClient().get(URL + "trades/", {"symbol": "ABC/USDT"}).json()
    assert [(t["price"], t["amount"], t["taker_side"]) for t in trades["trades"]] == [
        ("10", "0.4", "BUY")]
    # A market order is sized at the published ask and fills there.
    market_buy = order(buyer, side="BUY", type="MARKET", amount="0.1")
    assert market_buy.status_code == 201
    drain(r)
    assert Order.objects.get(pk=market_buy.json()["id"]).cost == D("1.00")


def test_self_trade_prevention_is_the_orders_choice(market):
    r = runner(market)
    me = client_of(trader())
    order(me, side="SELL", type="LIMIT", price="10.00")
    taker = order(me, side="BUY", type="LIMIT", price="10.00", stp="CANCEL_TAKER").json()
    drain(r)
    taken = Order.objects.get(pk=taker["id"])
    assert (taken.status, taken.filled, taken.reason) == ("CANCELED", 0,
                                                          "Self-trade prevention.")
    both = order(me, side="BUY", type="LIMIT", price="10.00", stp="NONE").json()
    drain(r)
    assert Order.objects.get(pk=both["id"]).status == "FILLED"


def test_cancel_through_the_api(market):
    r = runner(market)
    me = client_of(trader())
    placed = order(me, side="BUY", type="LIMIT", price="9.00").json()
    drain(r)
    assert me.post(URL + f"orders/{placed['id']}/cancel/").status_code == 200
    drain(r)
    assert Order.objects.get(pk=placed["id"]).status == "CANCELED"


@pytest.mark.parametrize("body", [
    {"side": "BUY", "type": "LIMIT", "price": "10.005"},          # off the tick
    {"side": "BUY", "type": "LIMIT", "price": "10", "amount": "0.0001"},  # off the lot
    {"side": "BUY", "type": "LIMIT", "price": "10", "stp": "SOMETIMES"},
    {"side": "BUY", "type": "STOP_MARKET", "stop_price": "11"},
    {"side": "BUY", "type": "LIMIT", "price": "NaN"},
    {"side": "BUY", "type": "MARKET"},                            # an empty book: 409
])
def test_bad_orders_are_refused_and_write_nothing(market, body):
    answer = order(client_of(trader()), **body)
    assert answer.status_code in (400, 409) and "error" in answer.json()
    assert not Order.objects.exists() and not EngineCommand.objects.exists()


def test_trades_of_an_unknown_market_are_a_404(market):
    assert APIClient().get(URL + "trades/", {"symbol": "NOPE/USDT"}).status_code == 404
