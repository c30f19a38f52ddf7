"""The real ``ccxt.pro.binance`` against the emulator's streams and WebSocket API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import ccxt
import pytest

from devtools.binance import EmulatorHandle, pro_exchange

from .conftest import BTC

ETH = "ETH/USDT"


def run_pro(emulator: EmulatorHandle, scenario: Callable[[Any], Awaitable[Any]]) -> Any:
    """Runs ``scenario(exchange)`` with a ccxt.pro exchange on the emulator, closing it."""

    async def main() -> Any:
        exchange = pro_exchange(emulator)
        try:
            await exchange.load_markets()
            return await asyncio.wait_for(scenario(exchange), 10)
        finally:
            await exchange.close()

    return asyncio.run(main())


def watching(watch: Awaitable[Any]) -> asyncio.Future[Any]:
    """A watch started now, to await after causing the event it waits for."""
    return asyncio.ensure_future(watch)


async def until(watch: Callable[[], Awaitable[Any]], done: Callable[[Any], bool]) -> Any:
    """Watches until ``done(result)``: each watch waits for a new message."""
    while not done(result := await watch()):
        pass
    return result


def test_watch_ticker_follows_prints_and_the_full_ticker_has_bid_and_ask(
        emulator: EmulatorHandle, btc_book: None) -> None:
    async def scenario(exchange: Any) -> tuple[dict, dict]:
        first = await exchange.watch_ticker(BTC)
        assert first["last"] == 60000
        await asyncio.to_thread(emulator.set_price, "BTCUSDT", "60123.45", "0.5")
        mini = await until(lambda: exchange.watch_ticker(BTC), lambda t: t["last"] == 60123.45)
        full = await exchange.watch_ticker(BTC, {"name": "ticker"})
        return mini, full

    mini, full = run_pro(emulator, scenario)
    assert mini["bid"] is None  # @miniTicker, what watch_ticker subscribes by default
    assert (full["last"], full["bid"], full["ask"]) == (60123.45, 59990, 60010)
    assert emulator.stats()["streams"] == {}  # closed with the exchange


def test_watch_tickers_bids_asks_and_trades(emulator: EmulatorHandle, btc_book: None) -> None:
    async def scenario(exchange: Any) -> tuple[set, set, dict, list]:
        some = await exchange.watch_tickers([BTC, ETH])
        every = await until(exchange.watch_tickers, lambda seen: len(seen) == 4)
        bid_ask = await exchange.watch_bids_asks([BTC])
        printed = watching(exchange.watch_trades(BTC))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(emulator.set_price, "BTCUSDT", "60002", "0.03")
        return set(some), set(every), bid_ask[BTC], await printed

    some, every, bid_ask, trades = run_pro(emulator, scenario)
    assert some <= {BTC, ETH} and some
    assert every == {BTC, ETH, "SOL/USDT", "BNB/USDT"}  # !miniTicker@arr
    assert (bid_ask["bid"], bid_ask["ask"], bid_ask["askVolume"]) == (59990, 60010, 0.2)
    assert [(t["price"], t["amount"]) for t in trades] == [(60002, 0.03)]


def test_watch_order_book_snapshot_then_diffs(emulator: EmulatorHandle,
                                              btc_book: None) -> None:
    async def scenario(exchange: Any) -> tuple[list, dict]:
        # ccxt updates the book it returned in place: keep what the snapshot said.
        first = [list(level) for level in (await exchange.watch_order_book(BTC))["asks"]]
        # Diffs come only when the book changes: watch before changing it.
        later = watching(exchange.watch_order_book(BTC))
        await asyncio.to_thread(emulator.set_book, "BTCUSDT", [["59995", "1"]],
                                [["60005", "2"], ["60020", "0.3"]])
        return first, await later

    first, later = run_pro(emulator, scenario)
    assert first == [[60010, 0.2], [60020, 0.3]]
    assert later["bids"] == [[59995, 1]]
    assert later["asks"] == [[60005, 2], [60020, 0.3]]


def test_a_ws_restart_drops_subscriptions_and_ccxt_resubscribes(
        emulator: EmulatorHandle) -> None:
    async def scenario(exchange: Any) -> tuple[int, dict]:
        await exchange.watch_ticker(BTC)
        dropped = await asyncio.to_thread(emulator.restart_ws)
        assert (await asyncio.to_thread(emulator.stats))["connections"] == 0
        await asyncio.to_thread(emulator.set_price, "BTCUSDT", "61000")
        # ccxt.pro connects again and subscribes anew on the next watch.
        await until(lambda: exchange.watch_ticker(BTC), lambda t: t["last"] == 61000)
        return dropped, await asyncio.to_thread(emulator.stats)

    dropped, stats = run_pro(emulator, scenario)
    assert dropped == 1
    assert (stats["ws_restarts"], stats["ws_accepted"]) == (1, 2)
    assert stats["streams"] == {"btcusdt@miniTicker": 1}


def test_a_watch_waiting_through_a_restart_gets_a_network_error(
        emulator: EmulatorHandle) -> None:
    async def scenario(exchange: Any) -> None:
        await exchange.watch_order_book(BTC)
        pending = watching(exchange.watch_order_book(BTC))  # no change comes: it waits
        await asyncio.sleep(0.1)
        await asyncio.to_thread(emulator.restart_ws)
        with pytest.raises(ccxt.NetworkError):
            await pending

    run_pro(emulator, scenario)


def test_watch_orders_balance_and_my_trades_through_the_user_data_stream(
        emulator: EmulatorHandle, btc_book: None) -> None:
    def seen(orders: list[dict]) -> list[tuple]:
        # ccxt updates the orders it returned in place: keep what each watch said.
        return [(o["clientOrderId"], o["status"], o["filled"], o["remaining"]) for o in orders]

    async def scenario(exchange: Any) -> tuple[list[tuple], list[tuple], dict, list]:
        placed = watching(exchange.watch_orders(BTC))
        await asyncio.sleep(0.2)  # subscribed before the order goes in
        await exchange.create_order(BTC, "limit", "buy", 0.5, 59000, {"clientOrderId": "ws-1"})
        new = seen(await placed)
        traded = watching(exchange.watch_orders(BTC))
        balance = watching(exchange.watch_balance())
        mine = watching(exchange.watch_my_trades(BTC))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(emulator.set_price, "BTCUSDT", "58990", "0.2")
        return new, seen(await traded), await balance, await mine

    new, traded, balance, mine = run_pro(emulator, scenario)
    assert [(t["side"], t["price"], t["amount"], t["takerOrMaker"], t["fee"]["cost"])
            for t in mine] == [("buy", 59000, 0.2, "maker", 0.0002)]
    assert new == [("ws-1", "open", 0, 0.5)]
    assert traded == [("ws-1", "open", 0.2, 0.3)]
    assert balance["BTC"]["free"] == pytest.approx(10 + 0.2 * 0.999)
    assert balance["USDT"]["used"] == pytest.approx(0.3 * 59000)
    assert emulator.stats()["user_streams"] == 0


def test_the_listen_key_stream_carries_execution_reports(emulator: EmulatorHandle,
                                                         btc_book: None) -> None:
    async def scenario(exchange: Any) -> tuple[dict, dict]:
        key = (await exchange.public_post_userdatastream())["listenKey"]
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(f"{emulator.url}/ws/{key}") as ws:

            async def report(exec_type: str) -> dict:
                while (event := json.loads(await ws.receive_str()))["e"] != "executionReport" \
                        or event["x"] != exec_type:
                    pass
                return event

            await exchange.create_order(BTC, "limit", "sell", 0.15, 59990,
                                        {"clientOrderId": "lk-1"})
            traded = await report("TRADE")
            await exchange.cancel_order(None, BTC, {"clientOrderId": "lk-1",
                                                    "newClientOrderId": "lk-cancel"})
            return traded, await report("CANCELED")

    traded, canceled = run_pro(emulator, scenario)
    assert (traded["c"], traded["X"], traded["l"], traded["L"], traded["N"]) == (
        "lk-1", "PARTIALLY_FILLED", "0.10000000", "59990.00000000", "USDT")
    # As Binance: a cancel's report names the cancel's own id and the order's in "C".
    assert (canceled["c"], canceled["C"], canceled["X"], canceled["z"]) == (
        "lk-cancel", "lk-1", "CANCELED", "0.10000000")


def test_the_combined_endpoint_wraps_payloads_with_their_stream_name(
        emulator: EmulatorHandle, btc_book: None) -> None:
    async def scenario() -> tuple[dict, dict]:
        async with aiohttp.ClientSession() as session, session.ws_connect(
                f"{emulator.url}/stream?streams=btcusdt@bookTicker/!miniTicker@arr") as ws:
            first = json.loads(await ws.receive_str())
            await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 3})
            while "id" not in (listed := json.loads(await ws.receive_str())):
                pass
            return first, listed

    first, listed = asyncio.run(asyncio.wait_for(scenario(), 10))
    assert first["stream"] in ("btcusdt@bookTicker", "!miniTicker@arr")
    assert listed == {"result": ["!miniTicker@arr", "btcusdt@bookTicker"], "id": 3}
