from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.marketdata.services import publish
from apps.trading.models import Fill, Market, Order
from apps.wallets.models import Journal, Wallet
from tests.factories import UserFactory
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/twd/orders/"


def test_markets_lists_enabled_only_with_type_filter(markets):
    client = APIClient()
    symbols = [m["symbol"] for m in client.get("/api/v1/twd/markets/").json()]
    assert sorted(symbols) == ["AAPL", "EUR/USD"]
    forex = client.get("/api/v1/twd/markets/?type=forex").json()
    assert [m["symbol"] for m in forex] == ["EUR/USD"]
    [eurusd] = forex
    assert {key: eurusd[key] for key in (
        "base_currency", "quote_currency", "price_precision", "amount_precision", "tick_size",
        "lot_size", "min_amount", "max_amount", "maker_fee", "taker_fee")} == {
        "base_currency": "EUR", "quote_currency": "USD", "price_precision": 5,
        "amount_precision": 2, "tick_size": "0.00001", "lot_size": "0.01", "min_amount": "0",
        "max_amount": None, "maker_fee": "0.000800", "taker_fee": "0.001000"}
    Market.objects.filter(venue="paper", symbol="AAPL").update(status="halted")
    assert [m["symbol"] for m in client.get("/api/v1/twd/markets/").json()] == ["EUR/USD"]
    bad = client.get("/api/v1/twd/markets/?type=bonds")
    assert bad.status_code == 400 and "type" in bad.json()["error"]["message"]


def test_ticker_from_the_latest_quote(markets):
    client = APIClient()
    missing = client.get("/api/v1/twd/ticker/?symbol=EUR/USD")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_quote"
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    body = client.get("/api/v1/twd/ticker/", {"symbol": "EUR/USD"}).json()
    assert (body["price"], body["bid"], body["ask"]) == ("1.1", "1.0999", "1.1001")
    assert client.get("/api/v1/twd/ticker/?symbol=GBP/USD").status_code == 404


def test_candles_come_from_time_series_and_are_cached(markets, emulator):
    client = APIClient()
    before = emulator.stats()
    first = client.get("/api/v1/twd/candles/", {"symbol": "AAPL", "interval": "1min",
                                                "outputsize": 30})
    assert first.status_code == 200
    bars = first.json()
    assert len(bars) == 30
    assert bars[0]["datetime"] < bars[-1]["datetime"]
    assert all(Decimal(b["low"]) <= Decimal(b["close"]) <= Decimal(b["high"]) for b in bars)
    client.get("/api/v1/twd/candles/", {"symbol": "AAPL", "interval": "1min", "outputsize": 30})
    after = emulator.stats()
    assert after["requests"].get("/time_series", 0) - before["requests"].get(
        "/time_series", 0) == 1
    bad = client.get("/api/v1/twd/candles/", {"symbol": "AAPL", "interval": "7min"})
    assert bad.status_code == 400


def test_place_list_and_cancel(markets, api, user):
    publish(quote=make_quote("EUR/USD", "1.10000", bid="1.09990", ask="1.10010"))
    market = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "MARKET",
                               "amount": "1000"}, format="json")
    assert market.status_code == 201, market.json()
    body = market.json()
    assert body["status"] == "FILLED" and body["fill"]["price"] == "1.1001"
    assert (body["fill"]["quote_bid"], body["fill"]["quote_ask"]) == ("1.0999", "1.1001")
    assert body["fill"]["quote_source"] == "test" and body["liquidity"] == "TAKER"
    assert (body["filled"], body["remaining"], body["cost"], body["fee"]) == (
        "1000", "0", "1100.1", "1.11")
    assert body["time_in_force"] == "IOC" and body["reason"] == ""
    [fill] = body["fills"]
    assert (fill["price"], fill["amount"], fill["quote_amount"], fill["fee"],
            fill["liquidity"]) == ("1.1001", "1000", "1100.1", "1.11", "TAKER")
    limit = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                              "amount": "100", "price": "1.05"}, format="json").json()
    assert limit["status"] == "OPEN" and limit["fill"] is None and limit["fills"] == []
    assert (limit["time_in_force"], limit["post_only"], limit["liquidity"]) == (
        "GTC", False, "")
    open_orders = api.get(ORDERS, {"status": "OPEN"}).json()["results"]
    assert [o["id"] for o in open_orders] == [limit["id"]]
    assert len(api.get(ORDERS).json()["results"]) == 2
    canceled = api.post(f"{ORDERS}{limit['id']}/cancel/")
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    again = api.post(f"{ORDERS}{limit['id']}/cancel/")
    assert again.status_code == 409


def test_other_users_orders_are_invisible(markets, api, user):
    other = UserFactory()
    client = APIClient()
    client.force_authenticate(other)
    order = client.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                                 "amount": "10", "price": "1.01"}, format="json").json()
    assert api.get(ORDERS).json()["results"] == []
    response = api.post(f"{ORDERS}{order['id']}/cancel/")
    assert response.status_code == 404
    assert Order.objects.get(pk=order["id"]).status == "OPEN"


BAD = [
    ({"amount": "NaN"}, 400), ({"amount": "-1"}, 400), ({"amount": "0"}, 400),
    ({"amount": "1e3"}, 400), ({"amount": "10.001"}, 400), ({"price": "1.000001"}, 400),
    ({"price": "-1"}, 400), ({"price": "Infinity"}, 400), ({"side": "LONG"}, 400),
    ({"type": "STOP"}, 400), ({"symbol": "XXX/YYY"}, 404), ({"symbol": "GBP/USD"}, 404),
    ({"client_order_id": "x" * 65}, 400), ({"amount": True}, 400), ({"price": [1]}, 400),
    ({"type": "MARKET"}, 400), ({"time_in_force": "DAY"}, 400), ({"time_in_force": "gtc"}, 400),
    ({"post_only": "maybe"}, 400), ({"type": "MARKET", "price": None, "post_only": True}, 400),
]


@pytest.mark.parametrize(("override", "status"), BAD)
def test_bad_orders_get_4xx_and_write_nothing(markets, api, user, override, status):
    payload = {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT", "amount": "10",
               "price": "1.05", **override}
    response = api.post(ORDERS, payload, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["error"]["message"]
    assert not Order.objects.exists() and not Fill.objects.exists()
    assert not Journal.objects.exists()
    assert not Wallet.objects.filter(user=user).exists()


def test_stale_market_order_is_409(markets, api):
    response = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "MARKET",
                                 "amount": "10"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "stale_quote"


@pytest.mark.parametrize(("status", "http", "code", "message"), [
    ("disabled", 404, "unknown_market", "No enabled paper market 'EUR/USD'."),
    ("halted", 409, "market_halted", "Trading in EUR/USD is halted."),
    ("delisted", 409, "market_delisted", "EUR/USD is delisted.")])
def test_a_market_not_enabled_takes_no_order(markets, api, status, http, code, message):
    Market.objects.filter(venue="paper", symbol="EUR/USD").update(status=status)
    response = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "LIMIT",
                                 "amount": "10", "price": "1.0"}, format="json")
    assert response.status_code == http
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"] == message
    assert not Order.objects.exists() and not Journal.objects.exists()


def test_orders_need_login(markets):
    assert APIClient().get(ORDERS).status_code == 401
