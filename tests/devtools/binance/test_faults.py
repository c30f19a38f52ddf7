"""Injected faults, as the real ``ccxt.binance`` sees them, and what they leave behind."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import ccxt
import pytest
import requests

from devtools.binance import EmulatorHandle, Fault, async_exchange, sync_exchange

from .conftest import BTC

ORDER = "POST /api/v3/order"


def place(ex: ccxt.binance, client_id: str) -> dict:
    return ex.create_order(BTC, "limit", "buy", 0.01, 50000, {"clientOrderId": client_id})


def test_accept_then_time_out_places_the_order_and_never_answers_in_time(
        emulator: EmulatorHandle) -> None:
    ex = sync_exchange(emulator, timeout=300)
    ex.load_markets()
    emulator.inject(Fault.TIMEOUT, endpoint=ORDER, delay=2)

    started = time.monotonic()
    with pytest.raises(ccxt.RequestTimeout):
        place(ex, "t-1")
    assert time.monotonic() - started < 1.5
    # The order is there: only asking by its client id tells.
    assert ex.fetch_order(None, BTC, {"clientOrderId": "t-1"})["status"] == "open"
    assert [o["clientOrderId"] for o in emulator.orders()] == ["t-1"]


def test_a_lost_request_changes_nothing(emulator: EmulatorHandle) -> None:
    ex = sync_exchange(emulator, timeout=300)
    ex.load_markets()
    emulator.inject(Fault.LOST, endpoint=ORDER, delay=2)

    with pytest.raises(ccxt.RequestTimeout):
        place(ex, "l-1")
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order(None, BTC, {"clientOrderId": "l-1"})


def test_duplicate_delivery_places_once_and_answers_duplicate(
        ex: ccxt.binance, emulator: EmulatorHandle) -> None:
    emulator.inject(Fault.DUPLICATE, endpoint=ORDER)

    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        place(ex, "d-1")
    assert [o["clientOrderId"] for o in emulator.orders()] == ["d-1"]
    assert ex.fetch_order(None, BTC, {"clientOrderId": "d-1"})["status"] == "open"


@pytest.mark.parametrize("applied", [False, True])
def test_server_error_is_exchange_not_available_applied_or_not(
        ex: ccxt.binance, emulator: EmulatorHandle, applied: bool) -> None:
    emulator.inject(Fault.SERVER_ERROR, endpoint=ORDER, status=502, applied=applied)

    with pytest.raises(ccxt.ExchangeNotAvailable):
        place(ex, "s-1")
    assert len(emulator.orders()) == int(applied)
    # One fault, one request: the next one goes through.
    assert place(ex, "s-2")["status"] == "open"


@pytest.mark.parametrize(("fault", "status"), [(Fault.RATE_LIMIT, 429), (Fault.IP_BAN, 418)])
def test_rate_limit_and_ban_carry_retry_after(emulator: EmulatorHandle, ex: ccxt.binance,
                                              fault: Fault, status: int) -> None:
    emulator.inject(fault, count=2, retry_after=7)

    with pytest.raises(ccxt.DDoSProtection):
        ex.fetch_ticker(BTC)
    raw = requests.get(f"{emulator.url}/api/v3/ticker/price", params={"symbol": "BTCUSDT"},
                       timeout=5)
    assert (raw.status_code, raw.headers["Retry-After"], raw.json()["code"]) == (
        status, "7", -1003)
    assert ex.fetch_ticker(BTC)["last"] == 60000


def test_a_probability_hits_a_seeded_share_until_cleared(emulator: EmulatorHandle) -> None:
    ex = sync_exchange(emulator)
    ex.load_markets()
    emulator.inject(Fault.SERVER_ERROR, count=None, endpoint="/api/v3/ticker/24hr",
                    probability=0.5)
    failures = 0
    for _ in range(40):
        try:
            ex.fetch_ticker(BTC)
        except ccxt.ExchangeNotAvailable:
            failures += 1
    assert 8 <= failures <= 32
    emulator.clear_faults()
    ex.fetch_ticker(BTC)


def test_concurrent_orders_under_mixed_faults_leave_one_order_per_client_id(
        emulator: EmulatorHandle) -> None:
    """A short seeded storm: every client id is on the exchange at most once, and what the
    client could not tell (timeouts, 5xx after applying, duplicates) is found by its id."""
    # The client's timeout well above a loaded machine's answer time, the held answers
    # well above it: only the injected faults time out (at 0.4 s, a request still on its
    # way to the emulator under load timed out too, never applied).
    emulator.inject(Fault.TIMEOUT, None, endpoint=ORDER, probability=0.3, delay=4)
    emulator.inject(Fault.DUPLICATE, None, endpoint=ORDER, probability=0.2)
    emulator.inject(Fault.SERVER_ERROR, None, endpoint=ORDER, probability=0.2, applied=True)
    ids = [f"storm-{n}" for n in range(60)]

    async def storm() -> dict[str, str]:
        exchange = async_exchange(emulator, timeout=1500)
        try:
            await exchange.load_markets()

            async def one(client_id: str) -> str:
                try:
                    await exchange.create_order(BTC, "limit", "buy", 0.001, 50000,
                                                {"clientOrderId": client_id})
                except ccxt.BaseError as error:
                    return type(error).__name__
                return "ok"

            return dict(zip(ids, await asyncio.gather(*map(one, ids)), strict=True))
        finally:
            await exchange.close()

    seen = asyncio.run(storm())
    assert set(seen.values()) == {"ok", "RequestTimeout", "InvalidOrder", "ExchangeNotAvailable"}
    placed = [o["clientOrderId"] for o in emulator.orders()]
    assert sorted(placed) == sorted(ids)  # every request applied once, none twice
    emulator.clear_faults()
    ex = sync_exchange(emulator)
    ex.load_markets()
    assert all(ex.fetch_order(None, BTC, {"clientOrderId": i})["status"] == "open" for i in ids)
    assert emulator.account_balances()["USDT"][1] == Decimal("0.001") * 50000 * 60
