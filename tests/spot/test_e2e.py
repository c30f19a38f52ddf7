"""The spot venue end to end: the admin sets the provider up, imports and enables a market;
a trader's market and limit orders go to the emulated exchange through ccxt, fill there
partially then fully, and the wallet, the ledger, the order history and the exchange's
account agree."""
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command

from apps.marketdata.services import publish
from apps.spot import prices, services
from apps.spot.models import SpotImportJob, SpotMarket
from apps.trading.models import Fill, Market, Order
from apps.wallets import selectors as wallet_selectors
from apps.wallets.models import Hold
from tests.factories import UserFactory
from tests.spot.conftest import binance_provider
from tests.trading.helpers import wallet

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def action(admin_client, model: str, name: str, pks: list[int]):
    return admin_client.post(f"/admin/spot/{model}/", {"action": name,
                                                        ACTION_CHECKBOX_NAME: pks},
                             follow=True)


def place(api, capture, **data):
    with capture(execute=True):
        response = api.post("/api/v1/spot/orders/", {"symbol": "BTC/USDT", **data},
                            format="json")
    assert response.status_code == 201, response.json()
    return Order.objects.get(pk=response.json()["id"])


def test_admin_sets_up_and_a_trader_trades_through_the_exchange(
        admin_client, api, trader, currencies, exchange_settings, binance,
        django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    provider = binance_provider()
    action(admin_client, "spotprovider", "activate", [provider.pk])
    action(admin_client, "spotprovider", "test_connection", [provider.pk])
    action(admin_client, "spotprovider", "record_opening_balances", [provider.pk])
    with capture(execute=True):
        action(admin_client, "spotprovider", "import_markets", [provider.pk])
    provider.refresh_from_db()
    assert provider.is_active and provider.opening_balances["BTC"] == "10"
    job = SpotImportJob.objects.get()
    assert (job.status, job.progress, job.created) == ("DONE", 100, 7)
    # Spot pairs, and the perpetuals as the futures venue's markets; all disabled.
    assert set(Market.objects.values_list("venue", "kind", "status").distinct()) == {
        ("spot", "spot", "disabled"), ("futures", "perpetual", "disabled")}
    btc = SpotMarket.objects.get(ccxt_symbol="BTC/USDT")
    action(admin_client, "spotmarket", "enable", [btc.pk])
    prices.poll(publish=lambda quote: publish(quote=quote))
    markets = api.get("/api/v1/spot/markets/").json()
    assert [(m["symbol"], m["tick_size"], m["lot_size"]) for m in markets] == [
        ("BTC/USDT", "0.01", "0.00001")]

    # A limit below the market rests; a market buy takes the ask.
    limit = place(api, capture, side="BUY", type="LIMIT", amount="0.5", price="59000")
    market = place(api, capture, side="BUY", type="MARKET", amount="0.3")
    limit.refresh_from_db()
    market.refresh_from_db()
    assert (limit.status, limit.external_id != "") == ("OPEN", True)
    assert (market.status, market.filled, market.fills.get().price) == (
        "FILLED", D("0.3"), D("60010"))
    # The exchange prints through the limit: 0.2 of it, then the rest.
    binance.set_price("BTCUSDT", "59000", qty="0.2")
    services.orders_track()
    limit.refresh_from_db()
    assert (limit.status, limit.filled) == ("PARTIALLY_FILLED", D("0.2"))
    binance.set_price("BTCUSDT", "59000")
    services.orders_track()
    services.orders_track()  # nothing new: nothing changes
    limit.refresh_from_db()
    assert (limit.status, limit.filled, limit.fills.count()) == ("FILLED", D("0.5"), 2)
    # A sell rests and is cancelled; a market sell takes the bid.
    rest = place(api, capture, side="SELL", type="LIMIT", amount="0.4", price="65000")
    with capture(execute=True):
        cancelled = api.post(f"/api/v1/spot/orders/{rest.pk}/cancel/")
    assert cancelled.status_code == 200
    rest.refresh_from_db()
    assert rest.status == "CANCELED"
    sell = place(api, capture, side="SELL", type="MARKET", amount="0.1")
    sell.refresh_from_db()
    assert (sell.status, sell.fills.get().price) == ("FILLED", D("59990"))

    # The order history as the trader reads it.
    history = {o["id"]: o for o in api.get("/api/v1/spot/orders/").json()["results"]}
    assert {k: (v["status"], v["filled"]) for k, v in history.items()} == {
        limit.pk: ("FILLED", "0.5"), market.pk: ("FILLED", "0.3"),
        rest.pk: ("CANCELED", "0"), sell.pk: ("FILLED", "0.1")}
    assert [f["trade_id"] for f in history[limit.pk]["fills"]] == [
        f.trade_id for f in limit.fills.order_by("id")]
    # The wallet: what the fills say, nothing held.
    fills = Fill.objects.filter(order__user=trader)
    paid = sum(f.quote_amount + f.fee for f in fills if f.order.side == "BUY")
    got = sum(f.quote_amount - f.fee for f in fills if f.order.side == "SELL")
    usdt, btc_wallet = wallet(trader, "USDT", "SPOT"), wallet(trader, "BTC", "SPOT")
    assert (usdt.balance, usdt.held) == (D("100000") - paid + got, 0)
    assert (btc_wallet.balance, btc_wallet.held) == (D("2") + D("0.8") - D("0.1"), 0)
    assert not Hold.objects.filter(status=Hold.Status.OPEN).exists()
    # The exchange saw each order once, under its client order id.
    sent = binance.orders("BTCUSDT")
    assert sorted(o["clientOrderId"] for o in sent) == sorted(
        f"x-ep-{o.pk}" for o in (limit, market, rest, sell))
    # Its account moved by exactly the fills (0.1 % commission in what each received).
    btc_there = sum(binance.account_balances()["BTC"])
    assert btc_there == D("10") + D("0.8") * D("0.999") - D("0.1")
    assert wallet_selectors.reconcile() == []
    call_command("spot_reconcile")  # raises CommandError on any difference


def test_a_stop_limit_is_the_exchanges_and_a_stop_market_the_platforms(
        spot, trader, binance, django_capture_on_commit_callbacks, api):
    # Conditional orders (#18): native where ccxt's features say the exchange takes
    # trigger prices for the type, triggered by the platform on the spot quotes otherwise.
    native = place(api, django_capture_on_commit_callbacks, type="STOP_LIMIT", side="SELL",
                   amount="0.1", price="57000", stop_price="57500")
    platform = place(api, django_capture_on_commit_callbacks, type="STOP_MARKET", side="SELL",
                     amount="0.1", stop_price="57500")
    native.refresh_from_db()
    platform.refresh_from_db()
    assert (native.status, platform.status) == ("OPEN", "PENDING")
    assert [o["type"] for o in binance.orders()] == ["STOP_LOSS_LIMIT"]
    shown = {o["id"]: o["trigger_by"] for o in api.get("/api/v1/spot/orders/").json()[
        "results"]}
    assert shown == {native.pk: "venue", platform.pk: "platform"}
    # A print at the stop: the exchange fires its own; the platform's fires on the quote.
    binance.set_book("BTCUSDT", bids=[["57400", "1"]], asks=[["57420", "1"]])
    binance.set_price("BTCUSDT", "57400")
    with django_capture_on_commit_callbacks(execute=True):
        prices.poll(publish=lambda quote: publish(quote=quote))
    services.orders_track()
    native.refresh_from_db()
    platform.refresh_from_db()
    assert (platform.status, platform.filled) == ("FILLED", D("0.1"))
    assert D(platform.trigger_evidence["quote"]["price"]) == D("57400")
    assert (native.status, native.filled) == ("FILLED", D("0.1"))
    assert [o["type"] for o in binance.orders()] == ["STOP_LOSS_LIMIT", "MARKET"]
    assert wallet_selectors.reconcile() == []


def test_an_oco_on_spot_its_stop_fired_by_the_platform_cancels_its_limit_on_the_exchange(
        spot, trader, binance, django_capture_on_commit_callbacks, api):
    capture = django_capture_on_commit_callbacks
    with capture(execute=True):
        response = api.post("/api/v1/spot/order-lists/", {
            "symbol": "BTC/USDT", "kind": "OCO", "side": "SELL", "amount": "0.2",
            "price": "62000", "stop_price": "57500"}, format="json")
    assert response.status_code == 201, response.json()
    legs = {o["role"]: o for o in response.json()["orders"]}
    assert (legs["LIMIT"]["trigger_by"], legs["STOP"]["trigger_by"]) == ("", "platform")
    assert [o["status"] for o in binance.orders()] == ["NEW"]  # the limit leg rests there
    binance.set_book("BTCUSDT", bids=[["57400", "1"]], asks=[["57420", "1"]])
    binance.set_price("BTCUSDT", "57410")
    with capture(execute=True):
        prices.poll(publish=lambda quote: publish(quote=quote))
    group = api.get(f"/api/v1/spot/order-lists/{response.json()['id']}/").json()
    legs = {o["role"]: o for o in group["orders"]}
    assert (legs["STOP"]["status"], legs["STOP"]["filled"]) == ("FILLED", "0.2")
    assert (legs["LIMIT"]["status"], group["executed_role"]) == ("CANCELED", "STOP")
    assert sorted(o["status"] for o in binance.orders()) == ["CANCELED", "FILLED"]
    assert wallet(trader, "BTC", "SPOT").held == 0
    assert wallet_selectors.reconcile() == []
    call_command("spot_reconcile")
