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


def budget(client, **body):
    return client.post(URL + "orders/", {"symbol": "ABC/USDT", "side": "BUY",
                                         "type": "MARKET", **body}, format="json")


def test_a_market_buy_by_quote_amount_spends_its_budget(market):
    r = runner(market)
    order(client_of(trader()), side="SELL", type="LIMIT", price="10.00", amount="5")
    drain(r)
    buyer = client_of(trader())
    placed = budget(buyer, quote_amount="12.5")
    assert placed.status_code == 201, placed.json()
    assert (placed.json()["quote_amount"], placed.json()["status"]) == ("12.5", "NEW")
    drain(r)
    done = buyer.get(URL + "orders/").json()["results"][0]
    assert (done["status"], done["amount"], done["filled"], done["cost"],
            done["quote_amount"]) == ("FILLED", "1.25", "1.25", "12.5", "12.5")


@pytest.mark.parametrize(("body", "field"), [
    ({"quote_amount": "10", "amount": "1"}, "quote_amount"),      # both
    ({"quote_amount": "10", "side": "SELL"}, "quote_amount"),     # a sell
    ({"quote_amount": "10", "type": "LIMIT", "price": "10"}, "quote_amount"),
    ({"quote_amount": "10", "type": "STOP_MARKET", "stop_price": "11"}, "quote_amount"),
    ({"quote_amount": "0"}, "quote_amount"),
    ({"quote_amount": "-5"}, "quote_amount"),
    ({"quote_amount": "NaN"}, "quote_amount"),
    ({"quote_amount": "Infinity"}, "quote_amount"),
    ({"quote_amount": "1e400"}, "quote_amount"),
    ({"quote_amount": "10.000000001"}, "quote_amount"),           # USDT has 8 places
    ({"quote_amount": "1" + "0" * 30}, "quote_amount"),           # too large
    ({"quote_amount": "0.001"}, "quote_amount"),                  # not one lot at 10
    ({"quote_amount": "4.99"}, "quote_amount"),                   # below min notional
    ({}, "amount"),                                               # neither
])
def test_bad_quote_amounts_are_refused_and_write_nothing(market, body, field):
    from apps.trading.models import Market
    Market.objects.filter(pk=market.pk).update(min_notional=D("5"))
    r = runner(market)
    order(client_of(trader()), side="SELL", type="LIMIT", price="10.00", amount="5")
    drain(r)
    before = (Order.objects.count(), EngineCommand.objects.count())
    answer = budget(client_of(trader()), **body)
    assert answer.status_code == 400, answer.json()
    assert field in answer.json()["error"].get("fields", {}), answer.json()
    assert (Order.objects.count(), EngineCommand.objects.count()) == before
