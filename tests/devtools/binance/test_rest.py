"""The real ``ccxt.binance`` (sync and async) against the emulator's REST API."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import ccxt
import pytest
import requests

from devtools.binance import EmulatorHandle, async_exchange, redirect, sync_exchange

from .conftest import BTC


def test_load_markets_lists_spot_pairs_with_their_filters_and_usdt_perpetuals(
        ex: ccxt.binance) -> None:
    btc = ex.market(BTC)
    assert (btc["spot"], btc["active"], btc["base"], btc["quote"]) == (True, True, "BTC", "USDT")
    assert {k: btc["precision"][k] for k in ("amount", "price", "base", "quote")} == {
        "amount": 1e-05, "price": 0.01, "base": 1e-08, "quote": 1e-08}
    assert btc["limits"]["cost"]["min"] == 5
    perpetual = ex.market("BTC/USDT:USDT")
    assert (perpetual["swap"], perpetual["linear"], perpetual["settle"]) == (True, True, "USDT")
    assert sorted(s for s, m in ex.markets.items() if m["swap"]) == [
        "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]


def test_default_options_with_a_key_load_markets_too(emulator: EmulatorHandle) -> None:
    # ccxt's defaults ask sapi for currencies and margin pairs and dapi for inverse
    # contracts: empty answers, never an error.
    exchange = ccxt.binance({"apiKey": emulator.api_key, "secret": emulator.api_secret})
    redirect(exchange, emulator.url)
    assert "BTC/USDT" in exchange.load_markets()
    assert emulator.stats()["requests"]["GET /sapi/v1/capital/config/getall"] == 1


def test_tickers_and_order_book_follow_the_control(ex: ccxt.binance, emulator: EmulatorHandle,
                                                   btc_book: None) -> None:
    emulator.set_price("BTCUSDT", "60001.50", qty="0.25")

    ticker = ex.fetch_ticker(BTC)
    assert (ticker["last"], ticker["bid"], ticker["ask"]) == (60001.5, 59990, 60010)
    assert ticker["bidVolume"] == 0.1 and ticker["baseVolume"] == 0.25
    assert set(ex.fetch_tickers([BTC, "ETH/USDT"])) == {BTC, "ETH/USDT"}
    book = ex.fetch_order_book(BTC, 5)
    assert book["bids"] == [[59990, 0.1], [59980, 0.4]]
    assert book["asks"] == [[60010, 0.2], [60020, 0.3]]
    assert ex.fetch_bids_asks([BTC])[BTC]["ask"] == 60010
    assert [(t["price"], t["amount"]) for t in ex.fetch_trades(BTC)] == [(60001.5, 0.25)]
    assert abs(ex.fetch_time() - ex.milliseconds()) < 5000


def test_limit_buy_takes_the_book_rests_then_fills_partially_and_fully(
        ex: ccxt.binance, emulator: EmulatorHandle, btc_book: None) -> None:
    order = ex.create_order(BTC, "limit", "buy", 0.5, 60010, {"clientOrderId": "plat-1"})

    assert (order["status"], order["filled"], order["remaining"]) == ("open", 0.2, 0.3)
    assert order["clientOrderId"] == "plat-1" and order["trades"][0]["price"] == 60010
    usdt_free, usdt_locked = emulator.account_balances()["USDT"]
    assert usdt_locked == Decimal("0.3") * 60010

    emulator.set_price("BTCUSDT", "60005", qty="0.1")
    partial = ex.fetch_order(None, BTC, {"clientOrderId": "plat-1"})
    assert (partial["status"], partial["filled"]) == ("open", 0.3)

    emulator.set_book("BTCUSDT", bids=[], asks=[["60000", "1"]])
    done = ex.fetch_order(order["id"], BTC)
    assert (done["status"], done["filled"], done["remaining"]) == ("closed", 0.5, 0)
    assert ex.fetch_open_orders(BTC) == []
    trades = ex.fetch_my_trades(BTC)
    assert [(t["takerOrMaker"], t["amount"], t["price"]) for t in trades] == [
        ("taker", 0.2, 60010), ("maker", 0.1, 60010), ("maker", 0.2, 60010)]
    assert len({t["id"] for t in trades}) == 3
    assert trades[0]["fee"] == {"currency": "BTC", "cost": 0.0002}
    # What remains in the book after the resting order took 0.2 of the new offer.
    assert ex.fetch_order_book(BTC)["asks"] == [[60000, 0.8]]
    balance = ex.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(10 + 0.5 * 0.999)
    assert balance["USDT"]["used"] == 0
    assert balance["USDT"]["free"] == pytest.approx(1_000_000 - 0.5 * 60010)


def test_market_orders_by_amount_and_by_cost(ex: ccxt.binance, emulator: EmulatorHandle,
                                             btc_book: None) -> None:
    by_amount = ex.create_order(BTC, "market", "sell", 0.3)
    assert (by_amount["status"], by_amount["filled"], by_amount["average"]) == (
        "closed", 0.3, pytest.approx((59990 * 0.1 + 59980 * 0.2) / 0.3))
    assert by_amount["fee"]["currency"] == "USDT"

    # 6002 USDT buys 0.10001 at 60010 (whole steps of 0.00001); 0.4001 USDT stay unspent.
    by_cost = ex.create_order(BTC, "market", "buy", None, None, {"cost": 6002})
    assert by_cost["info"]["origQuoteOrderQty"] == "6002.00000000"
    assert (by_cost["status"], by_cost["filled"], by_cost["cost"]) == (
        "closed", 0.10001, pytest.approx(6001.6001))


def test_a_market_order_larger_than_the_book_expires_its_rest(
        ex: ccxt.binance, btc_book: None) -> None:
    order = ex.create_order(BTC, "market", "buy", 1)
    assert (order["status"], order["filled"]) == ("expired", 0.5)


def test_ioc_fok_and_post_only(ex: ccxt.binance, btc_book: None) -> None:
    ioc = ex.create_order(BTC, "limit", "buy", 0.5, 60010, {"timeInForce": "IOC"})
    assert (ioc["status"], ioc["filled"]) == ("expired", 0.2)
    fok = ex.create_order(BTC, "limit", "buy", 0.5, 60020, {"timeInForce": "FOK"})
    assert (fok["status"], fok["filled"]) == ("expired", 0)
    with pytest.raises(ccxt.OrderImmediatelyFillable):
        ex.create_order(BTC, "limit", "buy", 0.1, 60030, {"postOnly": True})
    maker = ex.create_order(BTC, "limit", "buy", 0.1, 59000, {"postOnly": True})
    assert maker["info"]["type"] == "LIMIT_MAKER" and maker["status"] == "open"


def test_cancel_by_id_and_by_client_order_id(ex: ccxt.binance, emulator: EmulatorHandle) -> None:
    first = ex.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "c-1"})
    ex.create_order(BTC, "limit", "sell", 0.01, 70000, {"clientOrderId": "c-2"})
    assert {o["clientOrderId"] for o in ex.fetch_open_orders(BTC)} == {"c-1", "c-2"}

    canceled = ex.cancel_order(first["id"], BTC)
    assert canceled["status"] == "canceled" and canceled["info"]["origClientOrderId"] == "c-1"
    ex.cancel_order(None, BTC, {"clientOrderId": "c-2"})
    assert ex.fetch_open_orders(BTC) == []
    assert emulator.account_balances()["USDT"][1] == 0
    assert emulator.account_balances()["BTC"] == (Decimal(10), Decimal(0))
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order(first["id"], BTC)
    assert [o["status"] for o in ex.fetch_orders(BTC)] == ["canceled", "canceled"]
    ex.create_order(BTC, "limit", "buy", 0.01, 50000)
    ex.create_order(BTC, "limit", "sell", 0.01, 70000)
    assert [o["status"] for o in ex.cancel_all_orders(BTC)] == ["canceled", "canceled"]
    assert emulator.account_balances()["BTC"] == (Decimal(10), Decimal(0))
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_all_orders(BTC)


def test_order_errors_are_binances(ex: ccxt.binance, emulator: EmulatorHandle) -> None:
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("999999", BTC)
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order(None, BTC, {"clientOrderId": "never-sent"})
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order(BTC, "limit", "buy", 100, 60000)
    with pytest.raises(ccxt.InvalidOrder, match="LOT_SIZE"):
        ex.create_order(BTC, "limit", "buy", 9001, 1)
    with pytest.raises(ccxt.BadRequest, match="NOTIONAL"):
        ex.create_order(BTC, "limit", "buy", 0.00001, 100)
    ex.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "dup"})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        ex.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": "dup"})
    assert len(emulator.orders()) == 1
    # Nothing refused held anything.
    assert emulator.account_balances()["USDT"][1] == Decimal("500")


def test_price_off_the_tick_is_a_price_filter_failure(emulator: EmulatorHandle,
                                                      ex: ccxt.binance) -> None:
    # ccxt rounds prices to the tick itself, so send the raw request.
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                               "timeInForce": "GTC", "quantity": "0.01",
                               "price": "50000.001"})


def test_signature_key_and_timestamp_are_checked(emulator: EmulatorHandle) -> None:
    wrong_secret = sync_exchange(emulator, secret="not-the-secret")
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        wrong_secret.fetch_balance()
    wrong_key = sync_exchange(emulator, apiKey="someone-else")
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        wrong_key.fetch_balance()
    late = sync_exchange(emulator)
    late.options["timeDifference"] = 20_000  # its clock 20 s behind, recvWindow 10 s
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        late.fetch_balance()
    assert emulator.orders() == []


def test_async_client_places_and_queries(emulator: EmulatorHandle, btc_book: None) -> None:
    async def run() -> tuple[dict, dict]:
        exchange = async_exchange(emulator)
        try:
            placed = await exchange.create_order(BTC, "limit", "buy", 0.3, 60010,
                                                 {"clientOrderId": "async-1"})
            return placed, await exchange.fetch_order(placed["id"], BTC)
        finally:
            await exchange.close()

    placed, fetched = asyncio.run(run())
    assert placed["filled"] == 0.2 and fetched["clientOrderId"] == "async-1"


def test_unknown_paths_and_methods_are_plain_http_errors(ex: ccxt.binance,
                                                         emulator: EmulatorHandle) -> None:
    assert requests.get(f"{emulator.url}/api/v3/nothing", timeout=5).status_code == 404
    assert requests.put(f"{emulator.url}/api/v3/depth", timeout=5).status_code == 405
    with pytest.raises(ccxt.ExchangeNotAvailable):
        ex.public_get_historicaltrades({"symbol": "BTCUSDT"})
