"""Conditional orders, OCO pairs and brackets through the paper venue's API, as a client
sees them: placed, listed with their trigger fields, triggered by a later quote (with the
quote that fired them), cancelled; and every bad request a 4xx that writes nothing."""
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.marketdata.services import publish
from apps.trading.models import Fill, Order, OrderList
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold, Journal
from tests.factories import UserFactory
from tests.twelvedata.fixtures import make_quote

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/twd/orders/"
LISTS = "/api/v1/twd/order-lists/"


def quote(price: str, bid: str, ask: str, *, later: int = 0) -> None:
    """Publish an EUR/USD quote (``later`` seconds from now: newer than every order
    placed so far); the eager paper executor runs on it."""
    publish(quote=make_quote("EUR/USD", price, bid=bid, ask=ask,
                             at=datetime.now(UTC) + timedelta(seconds=later)))


@pytest.fixture
def quoted(markets):
    """EUR/USD quoted 1.09990 / 1.10010, last 1.10000."""
    quote("1.10000", "1.09990", "1.10010")
    return markets


def usd_held(user) -> Decimal:
    return wallet_selectors.wallet_get(user_id=user.pk, wallet_type="PAPER",
                                       currency="USD").held


# One row per type: the request's extra fields, then what the order shows.
PLACED = [
    ("STOP_MARKET", {"stop_price": "1.12000"},
     {"stop_price": "1.12", "trigger_direction": "RISE", "price": None}),
    ("STOP_LIMIT", {"stop_price": "1.12000", "price": "1.12500"},
     {"stop_price": "1.12", "trigger_direction": "RISE", "price": "1.125"}),
    ("TAKE_PROFIT_MARKET", {"stop_price": "1.08000", "trigger_source": "BID_ASK"},
     {"stop_price": "1.08", "trigger_direction": "FALL", "trigger_source": "BID_ASK"}),
    ("TAKE_PROFIT_LIMIT", {"stop_price": "1.08000", "price": "1.07900"},
     {"stop_price": "1.08", "trigger_direction": "FALL", "price": "1.079"}),
    ("TRAILING_STOP", {"trailing_delta": "0.00500"},
     {"stop_price": "1.105", "trailing_delta": "0.005", "trailing_best": "1.1",
      "trigger_direction": "RISE"}),
    ("TRAILING_STOP", {"trailing_rate": "0.01", "activation_price": "1.09000"},
     {"stop_price": None, "trailing_rate": "0.01", "activation_price": "1.09",
      "trailing_best": None}),
]


@pytest.mark.parametrize(("type", "extra", "shown"), PLACED)
def test_each_conditional_type_is_placed_pending_and_listed(quoted, api, user, type, extra,
                                                            shown):
    response = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": type,
                                 "amount": "100", **extra}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["type"], body["status"], body["filled"]) == (type, "PENDING", "0")
    assert body["triggered_at"] is None and body["trigger"] is None
    assert body["trigger_source"] == shown.get("trigger_source", "LAST")
    assert {key: body[key] for key in shown} == shown
    assert (body["group_id"], body["role"]) == (None, "")
    [listed] = api.get(ORDERS, {"status": "PENDING"}).json()["results"]
    assert listed == body
    assert usd_held(user) > 0  # held from now on: a trigger never fires unfunded


def test_a_stop_limit_triggers_on_a_later_quote_and_rests_at_its_limit(quoted, api):
    placed = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "STOP_LIMIT",
                               "amount": "100", "stop_price": "1.10500",
                               "price": "1.10600"}, format="json").json()
    quote("1.10400", "1.10390", "1.10410", later=1)  # not there yet
    assert api.get(ORDERS, {"status": "PENDING"}).json()["results"][0]["id"] == placed["id"]
    quote("1.10550", "1.10540", "1.10700", later=2)  # through the stop; the ask above 1.106
    [order] = api.get(ORDERS).json()["results"]
    assert order["status"] == "OPEN" and order["filled"] == "0"  # rests at its limit
    assert order["triggered_at"] is not None
    assert order["trigger"]["quote_price"] == "1.1055"
    assert (order["trigger"]["quote_bid"], order["trigger"]["quote_ask"]) == ("1.1054", "1.107")
    quote("1.10580", "1.10570", "1.10590", later=3)  # the ask comes down to the limit
    [order] = api.get(ORDERS).json()["results"]
    assert order["status"] == "FILLED" and order["fill"]["price"] == "1.106"


def test_a_stop_market_fills_at_the_market_through_a_gap(quoted, api):
    api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "STOP_MARKET",
                      "amount": "100", "stop_price": "1.10500"}, format="json")
    quote("1.10800", "1.10790", "1.10810", later=1)  # gaps over the stop
    [order] = api.get(ORDERS).json()["results"]
    assert order["status"] == "FILLED" and order["liquidity"] == "TAKER"
    assert order["fill"]["price"] == "1.1081" and order["trigger"]["quote_price"] == "1.108"


def test_a_pending_order_is_cancelled_and_its_hold_released(quoted, api, user):
    order = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "STOP_MARKET",
                              "amount": "100", "stop_price": "1.12000"}, format="json").json()
    # Sized at the trigger plus the 5% margin of a market child: 100 x 1.176 = 117.6, and
    # the 0.1% taker fee, 0.1176, rounded up to the cent.
    assert usd_held(user) == Decimal("117.72")
    canceled = api.post(f"{ORDERS}{order['id']}/cancel/")
    assert canceled.status_code == 200 and canceled.json()["status"] == "CANCELED"
    assert usd_held(user) == 0
    assert api.post(f"{ORDERS}{order['id']}/cancel/").status_code == 409
    assert wallet_selectors.reconcile() == []


def test_a_stale_price_is_409_and_writes_nothing(markets, api, user):
    response = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "type": "STOP_MARKET",
                                 "amount": "100", "stop_price": "1.12000"}, format="json")
    assert response.status_code == 409 and response.json()["error"]["code"] == "stale_quote"
    oco = api.post(LISTS, {"symbol": "EUR/USD", "kind": "OCO", "side": "BUY", "amount": "100",
                           "price": "1.05000", "stop_price": "1.12000"}, format="json")
    assert oco.status_code == 409 and oco.json()["error"]["code"] == "stale_quote"
    assert not Order.objects.exists() and not OrderList.objects.exists()


ORDER_BAD = [
    # The trigger on the wrong side of the market (it would fire at once): field errors.
    ({"type": "STOP_MARKET", "stop_price": "1.09000"}, "stop_price"),
    ({"type": "TAKE_PROFIT_MARKET", "stop_price": "1.11000"}, "stop_price"),
    ({"type": "TRAILING_STOP", "trailing_delta": "0.01", "activation_price": "1.11"},
     "activation_price"),
    # Parameters that do not go with the type, or are missing.
    ({"type": "STOP_MARKET"}, "stop_price"),
    ({"type": "STOP_LIMIT", "stop_price": "1.12"}, "price"),
    ({"type": "STOP_MARKET", "stop_price": "1.12", "price": "1.12"}, "price"),
    ({"type": "STOP_MARKET", "stop_price": "1.12", "trailing_delta": "0.01"}, "trailing_delta"),
    ({"type": "LIMIT", "price": "1.05", "stop_price": "1.12"}, "stop_price"),
    ({"type": "LIMIT", "price": "1.05", "trigger_source": "LAST"}, "trigger_source"),
    ({"type": "TRAILING_STOP"}, "trailing_delta"),
    ({"type": "TRAILING_STOP", "trailing_delta": "0.01", "trailing_rate": "0.01"},
     "trailing_delta"),
    ({"type": "TRAILING_STOP", "stop_price": "1.12", "trailing_delta": "0.01"}, "stop_price"),
    ({"type": "TRAILING_STOP", "trailing_rate": "0.5"}, "trailing_rate"),
    ({"type": "TRAILING_STOP", "trailing_rate": "0.0001"}, "trailing_rate"),
    ({"type": "TRAILING_STOP", "trailing_rate": "0.0100001"}, "trailing_rate"),
    # Hostile numbers and spellings.
    ({"type": "STOP_MARKET", "stop_price": "NaN"}, "stop_price"),
    ({"type": "STOP_MARKET", "stop_price": "-1.12"}, "stop_price"),
    ({"type": "STOP_MARKET", "stop_price": "1" + "0" * 40}, "stop_price"),
    ({"type": "STOP_MARKET", "stop_price": "1.120001"}, "stop_price"),
    ({"type": "STOP_MARKET", "stop_price": "Infinity"}, "stop_price"),
    ({"type": "TRAILING_STOP", "trailing_delta": "0.000001"}, "trailing_delta"),
    ({"type": "stop_market", "stop_price": "1.12"}, "type"),
    ({"type": "Stop_Market", "stop_price": "1.12"}, "type"),
    ({"type": "STOP", "stop_price": "1.12"}, "type"),
    ({"type": "STOP_MARKET", "stop_price": "1.12", "trigger_source": "MARK"}, "trigger_source"),
    ({"type": "STOP_MARKET", "stop_price": "1.12", "trigger_source": "last"},
     "trigger_source"),
]


@pytest.mark.parametrize(("override", "field"), ORDER_BAD)
def test_bad_conditional_orders_get_400_with_the_field_and_write_nothing(quoted, api, override,
                                                                        field):
    response = api.post(ORDERS, {"symbol": "EUR/USD", "side": "BUY", "amount": "100",
                                 **override}, format="json")
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert error["message"] and field in error["fields"], error
    assert not Order.objects.exists() and not Journal.objects.filter(
        key__startswith="fill:").exists()


def oco(api, **extra) -> dict:
    response = api.post(LISTS, {"symbol": "EUR/USD", "kind": "OCO", "side": "BUY",
                                "amount": "100", "price": "1.09000", "stop_price": "1.11000",
                                "stop_limit_price": "1.11100", **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def legs(body: dict) -> dict[str, dict]:
    return {o["role"]: o for o in body["orders"]}


def test_an_oco_is_placed_listed_and_cancelled_as_one(quoted, api, user):
    body = oco(api, client_order_id="my-oco-1")
    assert (body["kind"], body["symbol"], body["client_order_id"]) == ("OCO", "EUR/USD",
                                                                      "my-oco-1")
    assert body["live"] is True and body["executed_role"] is None
    limit, stop = legs(body)["LIMIT"], legs(body)["STOP"]
    assert (limit["type"], limit["status"], limit["price"]) == ("LIMIT", "OPEN", "1.09")
    assert (stop["type"], stop["status"], stop["stop_price"], stop["price"]) == (
        "STOP_LIMIT", "PENDING", "1.11", "1.111")
    assert limit["group_id"] == stop["group_id"] == body["id"]
    # One hold for the pair, the larger leg's need: 100 x 1.111 + 0.1% fee.
    assert usd_held(user) == Decimal("111.22")
    assert api.get(LISTS).json()["results"] == [body]
    assert api.get(f"{LISTS}{body['id']}/").json() == body
    assert api.get(LISTS, {"kind": "BRACKET"}).json()["results"] == []
    # A replay of the same list answers the first; with other content it is a conflict.
    assert oco(api, client_order_id="my-oco-1")["id"] == body["id"]
    other = api.post(LISTS, {"symbol": "EUR/USD", "kind": "OCO", "side": "BUY",
                             "amount": "200", "price": "1.09000", "stop_price": "1.11000",
                             "client_order_id": "my-oco-1"}, format="json")
    assert other.status_code == 409

    canceled = api.post(f"{LISTS}{body['id']}/cancel/")
    assert canceled.status_code == 200, canceled.json()
    after = canceled.json()
    assert after["live"] is False
    assert {o["status"] for o in after["orders"]} == {"CANCELED"}
    assert usd_held(user) == 0
    again = api.post(f"{LISTS}{body['id']}/cancel/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "order_list_not_live"
    assert wallet_selectors.reconcile() == []


def test_the_leg_that_executes_cancels_the_other(quoted, api, user):
    body = oco(api)
    quote("1.11050", "1.11040", "1.11060", later=1)  # through the stop, below its limit
    after = api.get(f"{LISTS}{body['id']}/").json()
    limit, stop = legs(after)["LIMIT"], legs(after)["STOP"]
    assert stop["status"] == "FILLED" and stop["trigger"]["quote_price"] == "1.1105"
    assert stop["fill"]["price"] == "1.1106"
    assert limit["status"] == "CANCELED" and limit["reason"] == "OCO: the other leg triggered."
    assert after["executed_role"] == "STOP" and after["live"] is False
    assert usd_held(user) == 0
    assert wallet_selectors.reconcile() == []


def test_a_bracket_with_a_market_entry_places_its_exits_as_an_oco(quoted, api, user):
    response = api.post(LISTS, {"symbol": "EUR/USD", "kind": "BRACKET", "side": "BUY",
                                "amount": "100", "entry_type": "MARKET",
                                "take_profit_price": "1.12000", "stop_price": "1.09000"},
                        format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    entry, take_profit, stop = (legs(body)[role] for role in ("ENTRY", "LIMIT", "STOP"))
    assert entry["status"] == "FILLED" and entry["fill"]["price"] == "1.1001"
    assert (take_profit["side"], take_profit["status"], take_profit["price"]) == (
        "SELL", "OPEN", "1.12")
    assert (stop["side"], stop["type"], stop["status"], stop["stop_price"]) == (
        "SELL", "STOP_MARKET", "PENDING", "1.09")
    quote("1.12000", "1.12000", "1.12020", later=1)  # the bid reaches the take-profit
    after = api.get(f"{LISTS}{body['id']}/").json()
    assert legs(after)["LIMIT"]["status"] == "FILLED"
    assert legs(after)["STOP"]["status"] == "CANCELED"
    assert after["executed_role"] == "LIMIT"
    assert wallet_selectors.reconcile() == []


def test_a_bracket_waits_for_its_entry_and_is_cancelled_whole(quoted, api, user):
    body = api.post(LISTS, {"symbol": "EUR/USD", "kind": "BRACKET", "side": "BUY",
                            "amount": "100", "price": "1.09000",
                            "take_profit_price": "1.12000", "stop_price": "1.08000",
                            "stop_limit_price": "1.07900"}, format="json").json()
    assert {o["role"]: o["status"] for o in body["orders"]} == {
        "ENTRY": "OPEN", "LIMIT": "WAITING", "STOP": "WAITING"}
    assert legs(body)["STOP"]["type"] == "STOP_LIMIT"
    canceled = api.post(f"{LISTS}{body['id']}/cancel/").json()
    assert {o["status"] for o in canceled["orders"]} == {"CANCELED"}
    assert usd_held(user) == 0


def test_other_users_lists_are_404(quoted, api, user):
    other = UserFactory()
    client = APIClient()
    client.force_authenticate(other)
    theirs = oco(client)
    assert api.get(LISTS).json()["results"] == []
    for response in (api.get(f"{LISTS}{theirs['id']}/"),
                     api.post(f"{LISTS}{theirs['id']}/cancel/"),
                     api.get(f"{LISTS}{10 ** 30}/"), api.post(f"{LISTS}0/cancel/")):
        assert response.status_code == 404, response.json()
        assert response.json()["error"]["code"] == "not_found"
    assert {o.status for o in Order.objects.filter(group_id=theirs["id"])} == {"OPEN",
                                                                              "PENDING"}
    assert APIClient().get(LISTS).status_code == 401


def test_a_users_order_is_not_cancelled_as_someone_elses_list(quoted, api, user):
    mine = oco(api)
    other = APIClient()
    other.force_authenticate(UserFactory())
    assert other.post(f"{LISTS}{mine['id']}/cancel/").status_code == 404
    assert api.get(f"{LISTS}{mine['id']}/").json()["live"] is True


LIST_BAD = [
    ({"kind": "oco"}, "kind", 400), ({"kind": "Oco"}, "kind", 400),
    ({"kind": "OTO"}, "kind", 400), ({"kind": None}, "kind", 400),
    ({"side": "buy"}, "side", 400),
    ({"price": "1.11500"}, "price", 400),  # a buy limit above the market would fill now
    ({"stop_price": "1.09500"}, "stop_price", 400),  # a buy stop below the market
    ({"stop_price": None}, "stop_price", 400),
    ({"price": None}, "price", 400),
    ({"take_profit_price": "1.12"}, "take_profit_price", 400),  # an OCO has none
    ({"entry_type": "MARKET"}, "entry_type", 400),
    ({"entry_type": "STOP_MARKET"}, "entry_type", 400),
    ({"amount": "NaN"}, "amount", 400), ({"amount": "-100"}, "amount", 400),
    ({"amount": "1" + "0" * 40}, "amount", 400), ({"amount": "100.001"}, "amount", 400),
    ({"stop_price": "1.110001"}, "stop_price", 400),
    ({"stop_limit_price": "Infinity"}, "stop_limit_price", 400),
    ({"trigger_source": "MARK"}, "trigger_source", 400),
    ({"symbol": "XXX/YYY"}, "symbol", 404), ({"symbol": "GBP/USD"}, "symbol", 404),
    ({"symbol": "EUR\uff0fUSD"}, "symbol", 400),
    ({"kind": "BRACKET"}, "take_profit_price", 400),
    ({"kind": "BRACKET", "take_profit_price": "1.08", "stop_price": "1.07"},
     "take_profit_price", 400),
    ({"kind": "BRACKET", "take_profit_price": "1.12", "stop_price": "1.095"}, "stop_price",
     400),
]


@pytest.mark.parametrize(("override", "field", "status"), LIST_BAD)
def test_bad_order_lists_get_4xx_and_write_nothing(quoted, api, user, override, field, status):
    payload = {"symbol": "EUR/USD", "kind": "OCO", "side": "BUY", "amount": "100",
               "price": "1.09000", "stop_price": "1.11000", **override}
    response = api.post(LISTS, payload, format="json")
    assert response.status_code == status, response.json()
    error = response.json()["error"]
    assert error["message"]
    if status == 400:
        assert field in error["fields"], error
    assert not Order.objects.exists() and not OrderList.objects.exists()
    assert not Fill.objects.exists()
    assert not Hold.objects.exists()


def test_cancelling_a_bracket_after_its_entry_filled_cancels_its_exits(quoted, api, user):
    body = api.post(LISTS, {"symbol": "EUR/USD", "kind": "BRACKET", "side": "BUY",
                            "amount": "100", "entry_type": "MARKET",
                            "take_profit_price": "1.12000", "stop_price": "1.09000"},
                    format="json").json()
    eur = wallet_selectors.wallet_get(user_id=user.pk, wallet_type="PAPER", currency="EUR")
    assert (eur.balance, eur.held) == (Decimal("100"), Decimal("100"))  # the exits' hold
    canceled = api.post(f"{LISTS}{body['id']}/cancel/").json()
    assert {o["role"]: o["status"] for o in canceled["orders"]} == {
        "ENTRY": "FILLED", "LIMIT": "CANCELED", "STOP": "CANCELED"}
    assert canceled["live"] is False and canceled["executed_role"] is None
    eur.refresh_from_db()
    assert (eur.balance, eur.held) == (Decimal("100"), Decimal("0"))
    assert wallet_selectors.reconcile() == []
