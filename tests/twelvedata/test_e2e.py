"""The whole paper-trading path: admin imports and enables markets from the emulator, a
trader trades through the API, the emulator's WebSocket moves prices through the real
twelvedata library, limit orders fill, and the books agree."""
import time
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.trading.models import Market
from apps.twelvedata.models import TwdImportJob, TwdMarket
from tests.factories import UserFactory
from tests.twelvedata.stream import running_stream, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


def test_admin_imports_trader_trades_prices_move_orders_fill(provider, currencies, emulator,
                                                             capsys):
    admin = Client()
    admin.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = admin.post("/admin/twelvedata/twdmarket/import/", {"kind": "forex"})
    assert response.status_code == 302
    job = TwdImportJob.objects.get()
    assert (job.status, job.progress) == ("DONE", 100) and job.created > 10
    assert b"DONE" in admin.get("/admin/twelvedata/twdimportjob/").content
    ids = TwdMarket.objects.filter(symbol__in=["EUR/USD", "GBP/USD"]).values_list("pk",
                                                                                   flat=True)
    admin.post("/admin/twelvedata/twdmarket/", {"action": "enable",
                                                ACTION_CHECKBOX_NAME: list(ids)})
    assert set(Market.objects.filter(venue="paper", status="enabled").values_list(
        "symbol", flat=True)) == {"EUR/USD", "GBP/USD"}

    trader = UserFactory()
    api = APIClient()
    token = api.post("/api/v1/auth/token/", {"username": trader.username,
                                             "password": "pw-for-tests-only"},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    def ticker_ask():
        body = api.get("/api/v1/twd/ticker/?symbol=EUR/USD").json()
        return body.get("ask")

    def order(order_id):
        return next(o for o in api.get("/api/v1/twd/orders/").json()["results"]
                    if o["id"] == order_id)

    with running_stream(apikey=emulator.apikey, ws_url=emulator.ws_url.split("?")[0]):
        wait_for(lambda: emulator.stats()["subscribers"].get("EUR/USD"), what="subscription")
        emulator.set_price("EUR/USD", "1.10000", bid="1.09990", ask="1.10010")
        wait_for(lambda: ticker_ask() == "1.1001", what="first tick")

        bought = api.post("/api/v1/twd/orders/", {"symbol": "EUR/USD", "side": "BUY",
                                                  "type": "MARKET", "amount": "1000"},
                          format="json").json()
        assert bought["status"] == "FILLED" and bought["fill"]["price"] == "1.1001"
        limit_buy = api.post("/api/v1/twd/orders/", {"symbol": "EUR/USD", "side": "BUY",
                                                     "type": "LIMIT", "amount": "1000",
                                                     "price": "1.09"}, format="json").json()
        limit_sell = api.post("/api/v1/twd/orders/", {"symbol": "EUR/USD", "side": "SELL",
                                                      "type": "LIMIT", "amount": "500",
                                                      "price": "1.12"}, format="json").json()
        assert limit_buy["status"] == limit_sell["status"] == "OPEN"
        # Only a quote taken after an order may fill it, and the feed stamps its quotes in
        # whole seconds: let the clock pass the second the orders were placed in.
        placed = time.time()
        wait_for(lambda: int(time.time()) > placed, what="the next second")

        emulator.set_price("EUR/USD", "1.08995", bid="1.08990", ask="1.09000")
        wait_for(lambda: order(limit_buy["id"])["status"] == "FILLED", what="limit buy fill")
        assert order(limit_sell["id"])["status"] == "OPEN"
        emulator.set_price("EUR/USD", "1.12015", bid="1.12010", ask="1.12020")
        wait_for(lambda: order(limit_sell["id"])["status"] == "FILLED", what="limit sell fill")

    filled_buy, filled_sell = order(limit_buy["id"]), order(limit_sell["id"])
    assert filled_buy["liquidity"] == filled_sell["liquidity"] == "MAKER"
    assert filled_buy["fill"]["price"] == "1.09" and filled_buy["fill"]["quote_ask"] == "1.09"
    assert filled_buy["fill"]["quote_source"] == "twelvedata"
    assert filled_sell["fill"]["price"] == "1.12"
    assert [len(o["fills"]) for o in (bought, filled_buy, filled_sell)] == [1, 1, 1]
    # 100,000 - (1100.10 + 1.11 taker) - (1090.00 + 0.88 maker) + (560.00 - 0.45 maker)
    expected_usd = D("100000") - D("1101.21") - D("1090.88") + D("559.55")
    wallets = {(w["type"], w["currency"]): w for w in api.get("/api/v1/wallets/").json()}
    assert D(wallets["PAPER", "USD"]["balance"]) == expected_usd
    assert D(wallets["PAPER", "USD"]["held"]) == 0
    assert D(wallets["PAPER", "EUR"]["balance"]) == D("1500")
    assert set(wallets) == {("PAPER", "USD"), ("PAPER", "EUR")}
    ledger = api.get("/api/v1/wallets/PAPER/USD/ledger/").json()["results"]
    assert D(ledger[0]["balance_after"]) == expected_usd
    assert [e["kind"] for e in ledger] == ["TRADE", "TRADE", "TRADE", "FAUCET"]
    call_command("wallets_reconcile")
    assert "no violations" in capsys.readouterr().out
